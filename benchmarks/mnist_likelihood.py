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
K = 5,000 takes about an hour a run for the conv network on 2 cores); a call with another
--nll-samples scores the trained runs again and keeps the results of the other K. So the
table's one command can be split (two processes with --threads 1 and disjoint --rows or
--seeds share a 2-core machine) or stopped and started again, and run once more at the end
to print the whole table from the stored results.
"""

import argparse
import datetime
import glob
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_vae as kv  # noqa: E402
from keras_vae import outputs  # noqa: E402
from keras_vae import training  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.machine import cpu_and_cores  # noqa: E402

#: Where the runs go by default. Git keeps each run's results, ``likelihood_k<K>.json``
#: (nothing else): the README's tables are these results, and the next call reuses them.
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "mnist_likelihood")
#: Seconds in ``fit`` so far, kept by :class:`TrainClock` in the run's folder.
CLOCK_FILE = "train_seconds.json"

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


class TrainClock(keras.callbacks.Callback):
    """Seconds in ``fit`` up to the end of each epoch, kept in ``path``: a run that resumes
    (from its backup or with --resume) adds its seconds to those of the epochs it keeps, not
    to those of an epoch it trains again (stopped after the clock recorded the epoch and before
    the backup did). An epoch the backup holds and the clock missed counts 0 seconds, and
    ``untimed`` says how many there are. ``machines`` names, per epoch, the ``machine`` that
    trained it (``None`` where an older clock file did not say), since a run resumed in
    another session may have moved to another CPU."""

    def __init__(self, path, machine):
        super().__init__()
        self.path = path
        self.machine = machine
        self.start = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.start is None:  # the first epoch of this call: the earlier ones are kept
            clock = read_json(self.path) if os.path.isfile(self.path) else {}
            self.seconds = clock.get("seconds", [])[:epoch]
            self.machines = epoch_machines(clock)[:epoch]
            self.untimed = clock.get("untimed", 0) + epoch - len(self.seconds)
            missed = epoch - len(self.seconds)
            self.seconds += [self.seconds[-1] if self.seconds else 0.0] * missed
            self.machines += [None] * missed
            self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        before = self.seconds[-1] if self.seconds else 0.0
        self.seconds.append(before + time.perf_counter() - self.start)
        self.machines.append(self.machine)
        self.start = time.perf_counter()
        outputs.write_json(self.path, {"seconds": self.seconds, "untimed": self.untimed,
                                       "machines": self.machines})

    def on_train_end(self, logs=None):
        self.start = None


def epoch_machines(clock):
    """A clock file's machine per epoch; ``None`` for each epoch of a file written before the
    clock named machines."""
    return clock.get("machines", [None] * len(clock.get("seconds", [])))


def stretches(machines):
    """The clock's per-epoch machines as runs of epochs: ``[{"epochs": [first, last],
    "machine": name}]``, epochs counted from 1."""
    runs = []
    for epoch, machine in enumerate(machines, start=1):
        if runs and runs[-1]["machine"] == machine:
            runs[-1]["epochs"][1] = epoch
        else:
            runs.append({"epochs": [epoch, epoch], "machine": machine})
    return runs


def this_machine(threads):
    """The CPU, its cores and the threads TensorFlow was given (``None``: its own choice)."""
    return f"{cpu_and_cores()}, threads {threads or 'default'}"


def git_commit():
    """The commit of the code that ran (``None`` outside a git checkout)."""
    done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.abspath(__file__)))
    return done.stdout.strip() if done.returncode == 0 else None


def scoring_files(nll_samples="*", max_examples=None):
    """``(result, progress)``: the names of a scoring's files in its run's folder (by default
    glob patterns that match every scoring's). A run keeps one result per K (and
    --max-examples), so scoring it with another K adds a result; the progress file keeps a
    scoring's finished batches, so a killed one picks up where it stopped
    (``kv.evaluation.iwae_nll``'s ``progress_file``)."""
    scoring = f"k{nll_samples}" + (f"_first{max_examples}" if max_examples else "")
    return f"likelihood_{scoring}.json", f"iwae_nll_{scoring}.npz"


def read_json(path):
    with open(path) as f:
        return json.load(f)


def run(args, test, network, row, seed, epochs):
    """Trains and scores one run, reusing what an earlier call finished: its result when the
    settings are the same, its trained model when only the scoring differs (or the earlier
    call stopped while scoring). Returns the result (a dict, as in ``likelihood_k<K>.json``)."""
    settings = {"network": network, "row": row, "seed": seed, "epochs": epochs,
                "nll_samples": args.nll_samples, "max_examples": args.max_examples}
    output = os.path.join(args.output, run_name(settings))
    result_path, progress = (os.path.join(output, name) for name in
                             scoring_files(args.nll_samples, args.max_examples))
    recorded = read_json(result_path) if os.path.isfile(result_path) else None
    if recorded is not None and recorded["settings"] == settings and not args.overwrite:
        print(f"{output}: reusing its result (same settings)", flush=True)
        return recorded
    with outputs.claimed(output):  # another process training or scoring it: refused
        metrics = os.path.join(output, outputs.METRICS_FILE)  # written when training finishes
        trained = read_json(metrics)["epochs"] if os.path.isfile(metrics) else None
        resume = trained is not None and trained < epochs and args.resume
        if trained is not None and trained != epochs and not (resume or args.overwrite):
            raise SystemExit(
                f"{output} holds a run trained for {trained} epochs, not {epochs}: pass --resume "
                "to train it on to more epochs, --overwrite to retrain it, or another --output")
        clock = os.path.join(output, CLOCK_FILE)
        if trained != epochs or args.overwrite:
            kind, kwargs = row_arguments(network, row)
            training.train(model=kind, dataset=args.mnist, output=output, epochs=epochs,
                           binarize="dynamic", seed=seed, verbose=0, export=False, resume=resume,
                           overwrite=args.overwrite, image_logs=False, model_kwargs=kwargs,
                           callbacks=[TrainClock(clock, this_machine(args.threads))])
            for pattern in scoring_files():  # the scorings of the model this one replaced
                for stale in glob.glob(os.path.join(output, pattern)):
                    os.remove(stale)
        model = training.load_trained(output)
        active, latent = active_units(model, test)
        timed = read_json(clock)
        nll = kv.evaluation.iwae_nll(model, test, num_samples=args.nll_samples, seed=0,
                                     max_examples=args.max_examples, progress_file=progress)
        result = {"settings": settings, "nll": nll["nll"], "nll_std_error": nll["nll_std_error"],
                  "elbo": nll["elbo"], "num_examples": nll["num_examples"],
                  "active_units": active, "latent_units": latent,
                  "train_seconds": timed["seconds"][-1], "untimed_epochs": timed["untimed"],
                  # Where the seconds were measured (per stretch of epochs) and the NLL estimated.
                  "train_machines": stretches(epoch_machines(timed)),
                  "cpu": cpu_and_cores(), "threads": args.threads,
                  "date": datetime.date.today().isoformat(), "commit": git_commit()}
        outputs.write_json(result_path, result)
        print(f"{row} seed {seed}: NLL {result['nll']:.2f}, -ELBO {-result['elbo']:.2f}, "
              f"{result['train_seconds']:.0f} s", flush=True)
        return result


def timing_notes(result):
    """What the train seconds leave out or mix: untimed epochs, stretches on other machines
    (or on a machine an older clock did not record)."""
    count = result.get("untimed_epochs", 0)
    machines = {stretch["machine"] for stretch in result.get("train_machines", [])}
    notes = [f"+ {count} untimed epochs"] if count else []
    if len(machines - {None}) > 1:
        notes.append(f"on {len(machines - {None})} machines")
    if None in machines and len(machines) > 1:
        notes.append("some epochs' machine unrecorded")
    return f" ({'; '.join(notes)})" if notes else ""


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
              f"{r['train_seconds']:.0f}{timing_notes(r)} | {PUBLISHED[row]} |")
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
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

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
    main()
