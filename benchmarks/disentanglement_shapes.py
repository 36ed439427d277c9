"""Quality: disentanglement of a VAE (β = 1) and a β-VAE (β = 4) on the embedded shapes
dataset, trained with the same budget.

Usage: python benchmarks/disentanglement_shapes.py [--epochs 20] [--betas 1 4] [--reuse]

Each model is what `keras-vae train --model vae|beta_vae --beta B --dataset shapes --epochs E`
trains (conv 32,32,64,64, latent 10, Bernoulli, Adam 1e-3, batch 128, 100 steps per epoch),
into benchmarks/output/shapes_beta<B>/ (--reuse evaluates models already there). The metrics
are `keras-vae evaluate`'s defaults: 10,000 observations for MIG, DCI and SAP; 1,000 / 500
points of 64 pairs for the β-VAE and FactorVAE scores. Prints one table.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_vae as kv  # noqa: E402
from keras_vae import training  # noqa: E402

COLUMNS = ("mig", "beta_vae_score", "factor_vae_score", "dci_disentanglement",
           "dci_completeness", "dci_informativeness", "sap")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--betas", type=float, nargs="+", default=[1.0, 4.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "output"))
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()

    rows = []
    for beta in args.betas:
        folder = os.path.join(args.output, f"shapes_beta{beta:g}")
        start = time.perf_counter()
        if not args.reuse:
            model_kwargs = dict(latent_dim=10, architecture="conv", filters=(32, 32, 64, 64))
            if beta != 1.0:
                model_kwargs["beta"] = beta
            training.train(model="vae" if beta == 1.0 else "beta_vae", dataset="shapes",
                           output=folder, epochs=args.epochs, seed=args.seed, verbose=0,
                           export=False, backup=False, model_kwargs=model_kwargs)
        trained = time.perf_counter() - start
        model = training.load_trained(folder)
        start = time.perf_counter()
        report = kv.evaluation.disentanglement_report(
            kv.evaluation.ShapesGroundTruth(), kv.evaluation.representation(model),
            seed=args.seed)
        collapse = kv.evaluation.collapse_report(
            model, kv.data.load("shapes", split="test", batch_size=512), max_examples=5000)
        rows.append((beta, report, collapse, trained, time.perf_counter() - start))

    print(f"\nshapes, {args.epochs} epochs x 100 steps, batch 128, latent 10")
    print("| β | " + " | ".join(COLUMNS) + " | active units | KL (nats) | train s | metrics s |")
    print("| --- " * (len(COLUMNS) + 5) + "|")
    for beta, report, collapse, trained, measured in rows:
        print(f"| {beta:g} | " + " | ".join(f"{report[c]:.3f}" for c in COLUMNS)
              + f" | {collapse['active_units']} | {collapse['kl_total']:.1f} | {trained:.0f} | "
              f"{measured:.0f} |")


if __name__ == "__main__":
    main()
