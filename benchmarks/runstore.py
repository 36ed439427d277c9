"""The store of the benchmarks whose runs take hours: each run trains into its own folder under
``benchmarks/results/<benchmark>/``, where git keeps its result files (see ``.gitignore``) and
this machine keeps the rest (model, backup, logs). A later call, in this session or the next,
reuses a finished run with the same settings, trains on an interrupted one from its backup,
and prints its table from the stored results; each result says which machine, threads, date
and commit produced it, and which machine trained each stretch of its epochs.

Used by ``mnist_likelihood.py`` and ``disentanglement_shapes.py``.
"""

import datetime
import functools
import json
import os
import subprocess
import sys
import time

import keras

from keras_vae import outputs
from keras_vae import training

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.machine import cpu_and_cores  # noqa: E402

#: Where each benchmark's runs go by default: ``RESULTS/<benchmark>/<run>/``.
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
#: Seconds in ``fit`` so far, kept by :class:`TrainClock` in the run's folder.
CLOCK_FILE = "train_seconds.json"


def read_json(path):
    with open(path) as f:
        return json.load(f)


def run_script(main):
    """Runs a benchmark's ``main`` as a script: a run folder another process holds (training
    or scoring it) ends the script with that one line and exit status 2, as ``keras-vae``
    does, not with a traceback. It reads the commit first (see :func:`git_commit`)."""
    git_commit()
    try:
        main()
    except outputs.FolderInUse as err:
        print(f"{os.path.basename(sys.argv[0])}: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def recorded(path, settings, overwrite=False):
    """The result at ``path`` if an earlier call stored it with these ``settings`` (and
    ``overwrite`` is off), else ``None``."""
    if overwrite or not os.path.isfile(path):
        return None
    result = read_json(path)
    return result if result["settings"] == settings else None


class TrainClock(keras.callbacks.Callback):
    """Seconds in ``fit`` up to the end of each epoch, kept in ``path``: a run that resumes
    (from its backup or with --resume) adds its seconds to those of the epochs it keeps, not
    to those of an epoch it trains again (stopped after the clock recorded the epoch and before
    the backup did). An epoch the backup holds and the clock missed counts 0 seconds, and
    ``untimed`` says how many there are. ``machines`` names, per epoch, the ``machine`` that
    trained it (``None`` where an older clock file did not say), since a run resumed in
    another session may have moved to another CPU. ``cpu_seconds`` counts the process's CPU
    time the same way: unlike the wall-clock seconds it leaves out the time the process was
    stopped (``SIGSTOP``, e.g. to keep a CI run or a timed benchmark alone on the machine)
    or waiting for a core; ``None`` from the first epoch an older clock file did not count."""

    def __init__(self, path, machine):
        super().__init__()
        self.path = path
        self.machine = machine
        self.start = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.start is None:  # the first epoch of this call: the earlier ones are kept
            clock = read_json(self.path) if os.path.isfile(self.path) else {}
            self.seconds = clock.get("seconds", [])[:epoch]
            self.cpu_seconds = clock.get("cpu_seconds", [None] * len(self.seconds))[:epoch]
            self.machines = epoch_machines(clock)[:epoch]
            self.untimed = clock.get("untimed", 0) + epoch - len(self.seconds)
            missed = epoch - len(self.seconds)
            self.seconds += [self.seconds[-1] if self.seconds else 0.0] * missed
            self.cpu_seconds += [self.cpu_seconds[-1] if self.cpu_seconds else 0.0] * missed
            self.machines += [None] * missed
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        before = self.seconds[-1] if self.seconds else 0.0
        self.seconds.append(before + time.perf_counter() - self.start)
        cpu_before = self.cpu_seconds[-1] if self.cpu_seconds else 0.0
        self.cpu_seconds.append(None if cpu_before is None
                                else cpu_before + time.process_time() - self.cpu_start)
        self.machines.append(self.machine)
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        outputs.write_json(self.path, {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                                       "untimed": self.untimed, "machines": self.machines})

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


@functools.lru_cache(maxsize=None)
def git_commit():
    """The commit of the code that ran (``None`` outside a git checkout): read once per
    process, first by :func:`run_script` as the script starts, so that a checkout moved on
    while a run trains does not give the run a commit it never ran."""
    done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.abspath(__file__)))
    return done.stdout.strip() if done.returncode == 0 else None


def set_threads(threads):
    """Gives TensorFlow ``threads`` intra- and inter-op threads (``None``: its own choice), so
    two processes with 1 thread each share a 2-core machine."""
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def train_run(output, epochs, *, resume, overwrite, threads, steps_per_epoch=None,
              **train_kwargs):
    """Trains the run in ``output`` (claimed by the caller) up to ``epochs`` with
    ``kv.training.train(**train_kwargs)``, unless it is trained already: returns ``True`` when
    it trained, so the caller drops what it had measured on the model this one replaced. A run
    trained for other epochs is refused (``SystemExit`` naming --resume and --overwrite)
    unless ``resume`` (train on to more epochs) or ``overwrite`` (retrain) says what to do; an
    interrupted one trains on from its backup. With ``steps_per_epoch``, a run trained with
    another number of steps per epoch is refused too."""
    metrics = os.path.join(output, outputs.METRICS_FILE)  # written when training finishes
    done = read_json(metrics) if os.path.isfile(metrics) else None
    trained = done and done["epochs"]
    if done and steps_per_epoch and done["steps"] != trained * steps_per_epoch and not overwrite:
        raise SystemExit(f"{output} holds a run of {done['steps']} steps in {trained} epochs, "
                         f"not {steps_per_epoch} steps per epoch: pass --overwrite to retrain "
                         "it, or another --output")
    resume = bool(trained) and trained < epochs and resume
    if trained and trained != epochs and not (resume or overwrite):
        raise SystemExit(
            f"{output} holds a run trained for {trained} epochs, not {epochs}: pass --resume "
            "to train it on to more epochs, --overwrite to retrain it, or another --output")
    if trained == epochs and not overwrite:
        return False
    training.train(output=output, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0,
                   export=False, resume=resume, overwrite=overwrite, **train_kwargs,
                   callbacks=[TrainClock(os.path.join(output, CLOCK_FILE),
                                         this_machine(threads))])
    return True


def provenance(output, threads):
    """What a result records beside its figures: the run's seconds in ``fit`` (and the
    epochs the clock missed), its CPU seconds there (``None`` when an older clock did not
    count them), the machine of each stretch of its epochs, and the machine, threads, date
    and commit of this call."""
    timed = read_json(os.path.join(output, CLOCK_FILE))
    return {"train_seconds": timed["seconds"][-1], "untimed_epochs": timed["untimed"],
            "train_cpu_seconds": timed.get("cpu_seconds", [None])[-1],
            "train_machines": stretches(epoch_machines(timed)),
            "cpu": cpu_and_cores(), "threads": threads,
            "date": datetime.date.today().isoformat(), "commit": git_commit()}


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
