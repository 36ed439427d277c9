"""Quality: disentanglement of the VAE family on the embedded shapes dataset, every model
trained with the same budget.

Usage: python benchmarks/disentanglement_shapes.py [--models vae beta_vae:beta=4 ...]
       [--epochs 2] [--steps-per-epoch 5000] [--seeds 0 1 2] [--dense-units 256 256]
       [--batch-size 64] [--learning-rate 5e-4] [--threads N] [--reuse]

A model is ``kind[:arg=value,...]``, a kind of `keras-vae train --model` with constructor
arguments; the default list is VAE, β-VAE (β = 4), the capacity-controlled β-VAE (C rising
to 25 nats over the 10,000 steps), FactorVAE
(γ = 10, 40), β-TCVAE (β = 6, minibatch-weighted sampling over the 727,280 training images)
and DIP-VAE-I and -II. Each is what `keras-vae train --model KIND --dataset shapes
--dense-units 256,256 --batch-size 64 --learning-rate 5e-4 --steps-per-epoch S --epochs E`
trains (Burgess et al.'s dSprites network: conv 32,32,64,64 then dense 256,256; latent 10,
Bernoulli), once per seed, into benchmarks/output/shapes_<model>_seed<S>/ (--reuse evaluates
models already there, and reads the saved metrics of those evaluated before). Single runs
vary a lot with the seed (Locatello et al. 2019), so the table gives every seed and the mean.
Two processes with --threads 1 and disjoint --models train side by side on a 2-core machine;
a last run with --reuse and every model prints the whole table.
The metrics are `keras-vae evaluate`'s defaults: 10,000 observations for MIG, DCI and SAP;
1,000 / 500 points of 64 pairs for the β-VAE and FactorVAE scores. Prints one table.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

COLUMNS = ("mig", "beta_vae_score", "factor_vae_score", "dci_disentanglement",
           "dci_completeness", "dci_informativeness", "sap")
#: Training images of the shapes dataset (all 737,280 but the 10,000 of the test split).
SHAPES_TRAIN_SIZE = 727_280
DEFAULT_MODELS = ("vae", "beta_vae:beta=4", "beta_vae_capacity:capacity_steps=10000",
                  "factor_vae:gamma=10",
                  "factor_vae:gamma=40", f"beta_tc_vae:beta=6,dataset_size={SHAPES_TRAIN_SIZE}",
                  "dip_vae:dip_type=i", "dip_vae:dip_type=ii")


def parse_model(spec):
    """``"kind:a=1,b=x"`` -> ``("kind", {"a": 1.0, "b": "x"})`` (numbers as numbers)."""
    kind, _, text = spec.partition(":")
    kwargs = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        try:
            number = float(value)
            value = int(number) if number.is_integer() and name != "beta" and \
                name != "gamma" else number
        except ValueError:
            pass
        kwargs[name] = value
    return kind, kwargs


def folder_name(spec):
    kind, kwargs = parse_model(spec)
    shown = {k: v for k, v in kwargs.items() if k != "dataset_size"}
    return "_".join([kind, *(f"{k}{v:g}" if isinstance(v, float) else f"{k}{v}"
                             for k, v in shown.items())])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps-per-epoch", type=int, default=5000)
    parser.add_argument("--dense-units", type=int, nargs="*", default=[256, 256])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    from keras_vae.evaluation.disentanglement import DCI_ESTIMATORS

    parser.add_argument("--dci-estimator", choices=DCI_ESTIMATORS, default="gbt",
                        help="gbt: disentanglement_lib's (default; minutes per model), "
                        "forest: fast, comparable only within this table")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra- and inter-op threads (default: TensorFlow's choice)")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "output"))
    parser.add_argument("--reuse", action="store_true",
                        help="evaluate models already trained (and reuse their saved metrics)")
    args = parser.parse_args()
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    rows = []
    for spec in args.models:
        for seed in args.seeds:
            folder = os.path.join(args.output, f"shapes_{folder_name(spec)}_seed{seed}")
            rows.append((spec, seed, *measure(args, spec, seed, folder)))

    print(f"\nshapes, {args.epochs} epochs x {args.steps_per_epoch} steps, batch "
          f"{args.batch_size}, Adam {args.learning_rate:g}, conv 32,32,64,64 + dense "
          f"{','.join(map(str, args.dense_units)) or 'none'}, latent 10; metrics seed 0")
    print("| model | seed | " + " | ".join(COLUMNS)
          + " | reconstruction (nats) | active units | KL (nats) | train s |")
    print("| --- " * (len(COLUMNS) + 6) + "|")
    for spec, seed, report, trained in rows:
        print(f"| {folder_name(spec)} | {seed} | "
              + " | ".join(f"{report[c]:.3f}" for c in COLUMNS)
              + f" | {report['reconstruction']:.1f} | {report['active_units']}"
              f" | {report['kl_total']:.1f} | {trained:.0f} |")
    for spec in args.models:
        reports = [report for s, _, report, _ in rows if s == spec]
        print(f"| {folder_name(spec)} | mean | " + " | ".join(
            f"{np.mean([r[c] for r in reports]):.3f}" for c in COLUMNS)
            + f" | {np.mean([r['reconstruction'] for r in reports]):.1f} | | | |")


def measure(args, spec, seed, folder):
    """Trains (unless --reuse) and evaluates one model: ``(metrics, training seconds)``."""
    import keras_vae as kv
    from keras_vae import training

    saved = os.path.join(folder, "disentanglement.json")
    start = time.perf_counter()
    if not args.reuse:
        kind, extra = parse_model(spec)
        model_kwargs = dict(latent_dim=10, architecture="conv", filters=(32, 32, 64, 64),
                            dense_units=tuple(args.dense_units), **extra)
        training.train(model=kind, dataset="shapes",
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
        kv.evaluation.ShapesGroundTruth(), kv.evaluation.representation(model), seed=0,
        dci_estimator=args.dci_estimator)
    collapse = kv.evaluation.collapse_report(
        model, kv.data.load("shapes", split="test", batch_size=512), max_examples=5000)
    test = model.evaluate(kv.data.load("shapes", split="test", batch_size=512), verbose=0,
                          return_dict=True)
    report.update(active_units=int(collapse["active_units"]),
                  kl_total=float(collapse["kl_total"]),
                  reconstruction=float(test["reconstruction_loss"]))
    with open(saved, "w") as f:
        json.dump(report, f, indent=1, default=float)
    return report, trained


if __name__ == "__main__":
    main()
