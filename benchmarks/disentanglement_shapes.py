"""Quality: disentanglement of a VAE (β = 1) and a β-VAE (β = 4) on the embedded shapes
dataset, trained with the same budget.

Usage: python benchmarks/disentanglement_shapes.py [--epochs 2] [--steps-per-epoch 5000]
       [--betas 1 4] [--seeds 0 1 2] [--dense-units 256 256] [--batch-size 64]
       [--learning-rate 5e-4] [--reuse]

Each model is what `keras-vae train --model vae|beta_vae --beta B --dataset shapes
--dense-units 256,256 --batch-size 64 --learning-rate 5e-4 --steps-per-epoch S --epochs E`
trains (Burgess et al.'s dSprites network: conv 32,32,64,64 then dense 256,256; latent 10,
Bernoulli), once per seed, into benchmarks/output/shapes_beta<B>_seed<S>/ (--reuse evaluates
models already there). Single runs vary a lot with the seed (Locatello et al. 2019), so the
table gives every seed and the mean.
The metrics are `keras-vae evaluate`'s defaults: 10,000 observations for MIG, DCI and SAP;
1,000 / 500 points of 64 pairs for the β-VAE and FactorVAE scores. Prints one table.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import keras_vae as kv  # noqa: E402
from keras_vae import training  # noqa: E402

COLUMNS = ("mig", "beta_vae_score", "factor_vae_score", "dci_disentanglement",
           "dci_completeness", "dci_informativeness", "sap")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps-per-epoch", type=int, default=5000)
    parser.add_argument("--betas", type=float, nargs="+", default=[1.0, 4.0])
    parser.add_argument("--dense-units", type=int, nargs="*", default=[256, 256])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "output"))
    parser.add_argument("--reuse", action="store_true",
                        help="evaluate models already trained (and reuse their saved metrics)")
    args = parser.parse_args()

    rows = []
    for beta in args.betas:
        for seed in args.seeds:
            folder = os.path.join(args.output, f"shapes_beta{beta:g}_seed{seed}")
            rows.append((beta, seed, *measure(args, beta, seed, folder)))

    print(f"\nshapes, {args.epochs} epochs x {args.steps_per_epoch} steps, batch "
          f"{args.batch_size}, Adam {args.learning_rate:g}, conv 32,32,64,64 + dense "
          f"{','.join(map(str, args.dense_units)) or 'none'}, latent 10; metrics seed 0")
    print("| β | seed | " + " | ".join(COLUMNS) + " | active units | KL (nats) | train s |")
    print("| --- " * (len(COLUMNS) + 5) + "|")
    for beta, seed, report, trained in rows:
        print(f"| {beta:g} | {seed} | " + " | ".join(f"{report[c]:.3f}" for c in COLUMNS)
              + f" | {report['active_units']} | {report['kl_total']:.1f} | {trained:.0f} |")
    for beta in args.betas:
        reports = [report for b, _, report, _ in rows if b == beta]
        print(f"| {beta:g} | mean | " + " | ".join(
            f"{np.mean([r[c] for r in reports]):.3f}" for c in COLUMNS) + " | | | |")


def measure(args, beta, seed, folder):
    """Trains (unless --reuse) and evaluates one model: ``(metrics, training seconds)``."""
    saved = os.path.join(folder, "disentanglement.json")
    start = time.perf_counter()
    if not args.reuse:
        model_kwargs = dict(latent_dim=10, architecture="conv", filters=(32, 32, 64, 64),
                            dense_units=tuple(args.dense_units))
        if beta != 1.0:
            model_kwargs["beta"] = beta
        training.train(model="vae" if beta == 1.0 else "beta_vae", dataset="shapes",
                       output=folder, epochs=args.epochs,
                       steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
                       learning_rate=args.learning_rate, seed=seed, verbose=0,
                       export=False, backup=False, model_kwargs=model_kwargs)
    elif os.path.exists(saved):
        with open(saved) as f:
            return json.load(f), 0.0
    trained = time.perf_counter() - start
    model = training.load_trained(folder)
    report = kv.evaluation.disentanglement_report(
        kv.evaluation.ShapesGroundTruth(), kv.evaluation.representation(model), seed=0)
    collapse = kv.evaluation.collapse_report(
        model, kv.data.load("shapes", split="test", batch_size=512), max_examples=5000)
    report.update(active_units=int(collapse["active_units"]),
                  kl_total=float(collapse["kl_total"]))
    with open(saved, "w") as f:
        json.dump(report, f, indent=1, default=float)
    return report, trained


if __name__ == "__main__":
    main()
