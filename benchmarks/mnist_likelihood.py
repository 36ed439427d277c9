"""Quality: the MNIST likelihood table. Test NLL of VAE, IWAE, flow posteriors and learned
priors on dynamically binarized MNIST, one network and one budget for every row.

Usage: python benchmarks/mnist_likelihood.py [--mnist ../shared/data/mnist.npz]
       [--network course iwae conv] [--epochs N] [--seeds 0 1] [--rows vae iaf ...]
       [--nll-samples 1000] [--max-examples N] [--threads N] [--resume | --overwrite]

Every row trains with `kv.training.train` (what `keras-vae train` calls): Adam 1e-3, batch 128,
dynamic binarization, each network's budget (EPOCHS; --epochs sets one for all), no warm-up
(but the *_warmup rows), no early stopping (the last epoch's model).
`kv.evaluation.iwae_nll` then estimates -log p(x) with --nll-samples importance samples on the
10,000 test images binarized once with seed 0 (the same images for every row), through each
model's own posterior (flow included) and prior. Prints a table per network: NLL ± standard
error, the test -ELBO, active units (posterior-mean variance > 0.01, Burda et al.), the seconds
in `fit`, the published figure of the row's method (their networks and budgets, which differ:
see PUBLISHED), and with several seeds each row's spread.

Each run keeps its model and results in `--output/<network>_<row>_seed<seed>/` (by default
`benchmarks/results/mnist_likelihood/`, where git keeps each run's results,
`likelihood_k<K>.json`, one per --nll-samples K: the README's tables, with the machine,
threads, date and commit of each run, and the machine of each stretch of its training epochs,
since a run resumed later may train elsewhere: the table marks seconds that mix machines). A
call reuses the runs an earlier call finished with the same settings (pass --overwrite to
retrain them after a change to the code), and an interrupted run resumes from its backup, an
interrupted scoring from its last finished batch of images (the run's `iwae_nll_k<K>.npz`;
K = 5,000 takes 30 to 75 minutes a run for the conv network on 2 cores, by the CPU); a call
with another --nll-samples scores the trained runs again and keeps the results of the other
K. So the table's one command can be split (two processes with --threads 1 and disjoint --rows or
--seeds share a 2-core machine) or stopped and started again, and run once more at the end
to print the whole table from the stored results.
"""

import argparse
import glob
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import keras_vae as kv  # noqa: E402
from keras_vae import outputs  # noqa: E402
from keras_vae import training  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runstore  # noqa: E402
from runstore import read_json  # noqa: E402

#: Where the runs go by default. Git keeps each run's results, ``likelihood_k<K>.json``
#: (nothing else): the README's tables are these results, and the next call reuses them.
RESULTS = os.path.join(runstore.RESULTS, "mnist_likelihood")

NETWORKS = {
    "course": dict(latent_dim=20, architecture="mlp", hidden_units=(400,)),  # 784-400-20
    "iwae": dict(latent_dim=50, architecture="mlp", hidden_units=(200, 200)),  # Burda et al.
    # Stride-2 convolutions 28 -> 14 -> 7, a dense layer of 512, transposed convolutions back.
    "conv": dict(latent_dim=32, architecture="conv", filters=(32, 64), dense_units=(512,)),
}
#: Each network's budget in epochs (the README's tables), unless --epochs sets one for all.
EPOCHS = {"course": 20, "iwae": 20, "conv": 60}


def one_layer(make=dict):
    """A row's arguments for a one-layer model: the network's latent size plus ``make()``."""
    return lambda latent_dim: {"latent_dim": latent_dim, **make()}


def ladder(make=dict):
    """A row's arguments for the ladder: two stochastic layers, the network's latent size at the
    bottom and half of it on top, ladder MLPs of 256, plus ``make()``."""
    return lambda latent_dim: {"latent_dims": (latent_dim, latent_dim // 2),
                               "ladder_units": (256,), **make()}


def warmup():
    """β from 0 to 1 over the first 5 epochs (469 steps of 128 each)."""
    return kv.schedules.LinearWarmup(0.0, 1.0, steps=5 * 469)


#: ``row -> (model kind, latent size -> constructor arguments beyond the network)``; the
#: arguments (flows, priors, schedules) are made afresh for every run.
ROWS = {
    "vae": ("vae", one_layer()),
    "iwae_k5": ("iwae", one_layer(lambda: {"num_samples": 5})),
    "iwae_k50": ("iwae", one_layer(lambda: {"num_samples": 50})),
    # The plain VAE with the warm-up of the hvae_warmup row, to tell the two apart.
    "vae_warmup": ("beta_vae", one_layer(lambda: {"beta": warmup()})),
    "planar": ("vae", one_layer(lambda: {"flow": kv.flows.Planar(num_steps=8)})),
    "iaf": ("vae", one_layer(lambda: {"flow": kv.flows.IAF(num_steps=4, hidden_units=(320,))})),
    "mixture": ("vae", one_layer(lambda: {"prior": kv.priors.MixturePrior(num_components=10)})),
    "vamp": ("vae", one_layer(lambda: {"prior": kv.priors.VampPrior(num_components=500)})),
    "iaf_vamp": ("vae", one_layer(lambda: {
        "flow": kv.flows.IAF(num_steps=4, hidden_units=(320,)),
        "prior": kv.priors.VampPrior(num_components=500)})),
    "hvae": ("hvae", ladder()),
    # The ladder VAE's KL warm-up (Sønderby et al.).
    "hvae_warmup": ("hvae", ladder(lambda: {"beta": warmup()})),
    # The warmed-up ladder with a VampPrior over its top layer.
    "hvae_vamp_warmup": ("hvae", ladder(lambda: {
        "beta": warmup(), "prior": kv.priors.VampPrior(num_components=500)})),
}

#: Published test NLL of each method on dynamically binarized MNIST, with its setting.
PUBLISHED = {
    "vae": "86.76 (Burda et al., 784-200-200-50, 3,280 epochs)",
    "vae_warmup": "as vae",
    "iwae_k5": "85.54 (Burda et al., same)",
    "iwae_k50": "84.78 (Burda et al., same)",
    "planar": "≤ 85.1 with 80 steps (Rezende & Mohamed, a bound, DLGM)",
    "iaf": "79.88 (Kingma et al., ResNet VAE; no MLP figure)",
    "mixture": "—",
    "vamp": "85.57 (Tomczak & Welling, 1-layer MLP VAE)",
    "iaf_vamp": "—",
    "hvae": "85.33 (2-layer VAE, Burda et al.; their 2-layer IWAE k=50: 82.90)",
    "hvae_warmup": "as hvae",
    "hvae_vamp_warmup": "83.19 (Tomczak & Welling, 2-layer HVAE + VampPrior, MLP)",
}


def row_arguments(network, row):
    """``(model kind, constructor arguments)`` of ``row`` on ``network``, made afresh."""
    kind, arguments = ROWS[row]
    kwargs = dict(NETWORKS[network])
    kwargs.update(arguments(kwargs.pop("latent_dim")))
    return kind, kwargs


def active_units(model, test):
    """``(active, latent)``: the active latent units of ``model`` on ``test``, and all of them."""
    count, variances = kv.evaluation.active_units(kv.evaluation.posterior_statistics(model, test))
    return count, len(variances)


def scoring_files(nll_samples="*", max_examples=None):
    """``(result, progress)``: the names of a scoring's files in its run's folder (by default
    glob patterns that match every scoring's). A run keeps one result per K (and
    --max-examples), so scoring it with another K adds a result; the progress file keeps a
    scoring's finished batches, so a killed one picks up where it stopped
    (``kv.evaluation.iwae_nll``'s ``progress_file``)."""
    scoring = f"k{nll_samples}" + (f"_first{max_examples}" if max_examples else "")
    return f"likelihood_{scoring}.json", f"iwae_nll_{scoring}.npz"


def run(args, test, network, row, seed, epochs):
    """Trains and scores one run, reusing what an earlier call finished: its result when the
    settings are the same, its trained model when only the scoring differs (or the earlier
    call stopped while scoring). Returns the result (a dict, as in ``likelihood_k<K>.json``)."""
    settings = {"network": network, "row": row, "seed": seed, "epochs": epochs,
                "nll_samples": args.nll_samples, "max_examples": args.max_examples}
    output = os.path.join(args.output, run_name(settings))
    result_path, progress = (os.path.join(output, name) for name in
                             scoring_files(args.nll_samples, args.max_examples))
    result = runstore.recorded(result_path, settings, args.overwrite)
    if result is not None:
        print(f"{output}: reusing its result (same settings)", flush=True)
        return result
    with outputs.claimed(output):  # another process training or scoring it: refused
        kind, kwargs = row_arguments(network, row)
        if runstore.train_run(output, epochs, resume=args.resume, overwrite=args.overwrite,
                              threads=args.threads, model=kind, dataset=args.mnist,
                              binarize="dynamic", seed=seed, image_logs=False,
                              model_kwargs=kwargs):
            for pattern in scoring_files():  # the scorings of the model this one replaced
                for stale in glob.glob(os.path.join(output, pattern)):
                    os.remove(stale)
        model = training.load_trained(output)
        active, latent = active_units(model, test)
        nll = kv.evaluation.iwae_nll(model, test, num_samples=args.nll_samples, seed=0,
                                     max_examples=args.max_examples, progress_file=progress)
        result = {"settings": settings, "nll": nll["nll"], "nll_std_error": nll["nll_std_error"],
                  "elbo": nll["elbo"], "num_examples": nll["num_examples"],
                  "active_units": active, "latent_units": latent,
                  **runstore.provenance(output, args.threads)}
        outputs.write_json(result_path, result)
        print(f"{row} seed {seed}: NLL {result['nll']:.2f}, -ELBO {-result['elbo']:.2f}, "
              f"{result['train_seconds']:.0f} s", flush=True)
        return result


def other_scorings(output, result):
    """The NLL of the same trained run (and the same images) at every other K kept in its
    folder ``output``, as ``"K = 1000: 94.82"``, so a table at one K shows the others."""
    settings = result["settings"]
    others = []
    for path in glob.glob(os.path.join(output, run_name(settings), scoring_files()[0])):
        other = read_json(path)
        k = other["settings"]["nll_samples"]
        if k != settings["nll_samples"] and ({**other["settings"], "nll_samples": k}
                                             == {**settings, "nll_samples": k}):
            others.append((k, other["nll"]))
    return "; ".join(f"K = {k}: {nll:.2f}" for k, nll in sorted(others))


def run_name(settings):
    return f"{settings['network']}_{settings['row']}_seed{settings['seed']}"


def print_table(network, epochs, results, nll_samples, output):
    described = ", ".join(f"{k} {v}" for k, v in NETWORKS[network].items())
    print(f"\nMNIST, dynamically binarized; {network} network ({described}); {epochs} epochs "
          f"of Adam 1e-3, batch 128; test NLL by IWAE with K = {nll_samples} "
          f"({results[0]['num_examples']} images)")
    print("| row | seed | test NLL (nats) | at other K | test −ELBO | active units | train s | "
          "published |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        row, seed = r["settings"]["row"], r["settings"]["seed"]
        print(f"| {row} | {seed} | {r['nll']:.2f} ± {r['nll_std_error']:.2f} | "
              f"{other_scorings(output, r) or '—'} | "
              f"{-r['elbo']:.2f} | {r['active_units']} of {r['latent_units']} | "
              f"{r['train_seconds']:.0f}{runstore.timing_notes(r)} | {PUBLISHED[row]} |")
    rows = list(dict.fromkeys(r["settings"]["row"] for r in results))
    if len(results) > len(rows):
        print("\n| row | NLL spread across seeds (nats) |\n| --- | --- |")
        for row in rows:
            values = [r["nll"] for r in results if r["settings"]["row"] == row]
            print(f"| {row} | {np.ptp(values):.2f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                        "shared", "data", "mnist.npz"))
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of every row (default: each network's budget)")
    parser.add_argument("--network", nargs="+", choices=NETWORKS, default=["course"])
    parser.add_argument("--nll-samples", type=int, default=1000)
    parser.add_argument("--max-examples", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rows", nargs="+", choices=ROWS,
                        default=["vae", "iwae_k5", "planar", "iaf", "mixture", "vamp"])
    parser.add_argument("--resume", action="store_true",
                        help="train a run finished at fewer epochs on to --epochs (exact "
                             "resume) instead of refusing it")
    parser.add_argument("--overwrite", action="store_true",
                        help="retrain and rescore every run asked for, even a finished one "
                             "(after a change to the code)")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra- and inter-op threads (default: TensorFlow's choice)")
    parser.add_argument("--output", default=RESULTS,
                        help="the runs' folder (default: the repository's, where the results "
                             "of the README's tables are kept)")
    args = parser.parse_args(argv)
    runstore.set_threads(args.threads)

    test = kv.data.load(args.mnist, split="test", batch_size=500, binarize="static", seed=0)
    tables = {}
    for network in args.network:
        epochs = args.epochs or EPOCHS[network]
        tables[network] = (epochs, [run(args, test, network, row, seed, epochs)
                                    for seed in args.seeds for row in args.rows])
    for network, (epochs, results) in tables.items():
        print_table(network, epochs, results, args.nll_samples, args.output)
    return tables


if __name__ == "__main__":
    runstore.run_script(main)
