"""Quality: disentanglement of the VAE family on the embedded shapes dataset, every model
trained with the same budget.

Usage: python benchmarks/disentanglement_shapes.py [--models vae beta_vae:beta=4 ...]
       [--epochs 10] [--steps-per-epoch 1000] [--seeds 0 1 2] [--dense-units 256 256]
       [--batch-size 64] [--learning-rate 5e-4] [--threads N] [--resume | --overwrite]
       [--rescore]

A model is ``kind[:arg=value,...]``, a kind of `keras-vae train --model` with constructor
arguments; the default list is VAE, β-VAE (β = 4), the capacity-controlled β-VAE (C rising
to 25 nats over the 10,000 steps), FactorVAE
(γ = 10, 40), β-TCVAE (β = 6, minibatch-weighted sampling over the 727,280 training images)
and DIP-VAE-I and -II. Each is what `keras-vae train --model KIND --dataset shapes
--dense-units 256,256 --batch-size 64 --learning-rate 5e-4 --steps-per-epoch S --epochs E`
trains (Burgess et al.'s dSprites network: conv 32,32,64,64 then dense 256,256; latent 10,
Bernoulli), once per seed. Single runs vary a lot with the seed (Locatello et al. 2019), so
the table gives every seed and the mean.
The metrics are `keras-vae evaluate`'s defaults: 10,000 observations for MIG, DCI and SAP;
1,000 / 500 points of 64 pairs for the β-VAE and FactorVAE scores (--eval-examples and
--score-points shrink them for a quick look). Prints one table.

Each run keeps its model and results in `--output/<model>_seed<seed>/` (by default
`benchmarks/results/disentanglement_shapes/`, where git keeps each run's
`disentanglement.json`: its figures, settings, and the machine, threads, date and commit that
produced them; `benchmarks/runstore.py`). A call reuses the runs an earlier call finished
with the same settings (--overwrite retrains them, --rescore measures the trained models
again, e.g. after a change to a metric), and a run interrupted while training trains on from
its last finished epoch (its backup: hence 10 epochs of 1,000 steps rather than fewer,
longer ones). So the table's one command can be split (two processes with --threads 1 and
disjoint --models or --seeds share a 2-core machine) or stopped and started again, and run
once more at the end to print the whole table from the stored results."""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import keras_vae as kv  # noqa: E402
from keras_vae import outputs  # noqa: E402
from keras_vae import training  # noqa: E402
from keras_vae.evaluation.disentanglement import DCI_ESTIMATORS  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runstore  # noqa: E402

#: Where the runs go by default; git keeps each run's ``RESULT_FILE``.
RESULTS = os.path.join(runstore.RESULTS, "disentanglement_shapes")
RESULT_FILE = "disentanglement.json"
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps-per-epoch", type=int, default=1000)
    parser.add_argument("--dense-units", type=int, nargs="*", default=[256, 256])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dci-estimator", choices=DCI_ESTIMATORS, default="gbt",
                        help="gbt: disentanglement_lib's (default; minutes per model), "
                        "forest: fast, comparable only within this table")
    parser.add_argument("--eval-examples", type=int, default=10_000,
                        help="observations for MIG, DCI and SAP, and test images for the "
                        "reconstruction (at most 5,000 for the active units)")
    parser.add_argument("--score-points", type=int, nargs=2, default=[1000, 500],
                        metavar=("TRAIN", "EVAL"),
                        help="points of the β-VAE and FactorVAE scores")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra- and inter-op threads (default: TensorFlow's choice)")
    parser.add_argument("--output", default=RESULTS,
                        help="the runs' folder (default: the repository's, where the results "
                        "of the README's tables are kept)")
    parser.add_argument("--resume", action="store_true",
                        help="train a run finished at fewer epochs on to --epochs (exact "
                        "resume) instead of refusing it")
    parser.add_argument("--overwrite", action="store_true",
                        help="retrain and measure every run asked for, even a finished one")
    parser.add_argument("--rescore", action="store_true",
                        help="measure the trained runs again (after a change to a metric)")
    args = parser.parse_args(argv)
    runstore.set_threads(args.threads)

    results = [run(args, spec, seed) for spec in args.models for seed in args.seeds]
    print_table(args, results)
    return results


def figure(value, decimals=3):
    """A stored figure as the table prints it; a metric that came out undefined (stored as
    ``null``) as a dash."""
    return "—" if value is None else f"{value:.{decimals}f}"


def cpu_seconds(result):
    """A result's CPU seconds in ``fit`` as printed (a dash where its clock did not count them)."""
    cpu = result.get("train_cpu_seconds")
    return "—" if cpu is None else f"{cpu:,.0f}"


def mean(values):
    """The mean of the seeds' figures, or ``None`` when one of them is undefined."""
    values = list(values)
    return None if None in values else float(np.mean(values))


def print_table(args, results):
    print(f"\nshapes, {args.epochs} epochs x {args.steps_per_epoch} steps, batch "
          f"{args.batch_size}, Adam {args.learning_rate:g}, conv 32,32,64,64 + dense "
          f"{','.join(map(str, args.dense_units)) or 'none'}, latent 10; metrics seed 0")
    print("| model | seed | " + " | ".join(COLUMNS)
          + " | reconstruction (nats) | active units | KL (nats) | train s | CPU s |")
    print("| --- " * (len(COLUMNS) + 7) + "|")
    for r in results:
        print(f"| {folder_name(r['settings']['model'])} | {r['settings']['seed']} | "
              + " | ".join(figure(r[c]) for c in COLUMNS)
              + f" | {figure(r['reconstruction'], 1)} | {r['active_units']}"
              f" | {r['kl_total']:.1f} | {r['train_seconds']:,.0f}{runstore.timing_notes(r)}"
              f" | {cpu_seconds(r)} |")
    for spec in args.models:
        rows = [r for r in results if r["settings"]["model"] == spec]
        if len(rows) > 1:
            print(f"| {folder_name(spec)} | mean | " + " | ".join(
                figure(mean(r[c] for r in rows)) for c in COLUMNS)
                + f" | {figure(mean(r['reconstruction'] for r in rows), 1)} | | | | |")


def run(args, spec, seed):
    """Trains (unless an earlier call did) and measures one model; returns its result (a dict,
    as in its ``disentanglement.json``)."""
    settings = {"model": spec, "seed": seed, "epochs": args.epochs,
                "steps_per_epoch": args.steps_per_epoch, "batch_size": args.batch_size,
                "learning_rate": args.learning_rate, "dense_units": list(args.dense_units),
                "dci_estimator": args.dci_estimator, "eval_examples": args.eval_examples,
                "score_points": list(args.score_points)}
    output = os.path.join(args.output, f"{folder_name(spec)}_seed{seed}")
    result_path = os.path.join(output, RESULT_FILE)
    result = runstore.recorded(result_path, settings, args.overwrite or args.rescore)
    if result is not None:
        print(f"{output}: reusing its result (same settings)", flush=True)
        return result
    with outputs.claimed(output):  # another process training or measuring it: refused
        kind, extra = parse_model(spec)
        model_kwargs = dict(latent_dim=10, architecture="conv", filters=(32, 32, 64, 64),
                            dense_units=tuple(args.dense_units), **extra)
        if runstore.train_run(output, args.epochs, resume=args.resume, overwrite=args.overwrite,
                              threads=args.threads, steps_per_epoch=args.steps_per_epoch,
                              model=kind, dataset="shapes", batch_size=args.batch_size,
                              learning_rate=args.learning_rate, seed=seed, image_logs=False,
                              model_kwargs=model_kwargs) and os.path.isfile(result_path):
            os.remove(result_path)  # measured on the model this one replaced
        model = training.load_trained(output)
        report = kv.evaluation.disentanglement_report(
            kv.evaluation.ShapesGroundTruth(), kv.evaluation.representation(model), seed=0,
            num_examples=args.eval_examples, sampled_points=tuple(args.score_points),
            dci_estimator=args.dci_estimator)
        test = kv.data.load("shapes", split="test", batch_size=500)
        test = test.take(-(-args.eval_examples // 500))
        collapse = kv.evaluation.collapse_report(model, test,
                                                 max_examples=min(5000, args.eval_examples))
        scores = model.evaluate(test, verbose=0, return_dict=True)
        result = {"settings": settings, **report,
                  "active_units": int(collapse["active_units"]),
                  "kl_total": float(collapse["kl_total"]),
                  "reconstruction": float(scores["reconstruction_loss"]),
                  **runstore.provenance(output, args.threads)}
        outputs.write_json(result_path, result)
        print(f"{spec} seed {seed}: MIG {figure(result['mig'])}, reconstruction "
              f"{figure(result['reconstruction'], 1)}, {result['train_seconds']:,.0f} s",
              flush=True)
        return outputs.finite_or_none(result)  # as stored


if __name__ == "__main__":
    runstore.run_script(main)
