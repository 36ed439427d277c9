"""What a process keeps after each model it trained and dropped: a table per compile setting.

Usage: python benchmarks/memory_growth.py [--models vae_mlp vae_conv_gaussian] [--repeats 12]
       [--settings xla graph eager] [--cleanup none clear]

For each model (an entry of tests/registry.py) and compile setting, a fresh process builds the
model, trains it one epoch on its 32-example batch (``registry.trained``: Adam 1e-2, batches
of 16), drops it and collects garbage, ``--repeats`` times; with ``--cleanup clear`` it also
calls ``keras.backend.clear_session(free_memory=True)`` after each model. The table gives the
resident memory after the first model and the growth per further model (a least-squares
slope over the rest), in MiB.

Settings (``compile`` arguments):
    xla    ``jit_compile=True`` (what ``"auto"`` picks for dense models on a CPU)
    graph  ``jit_compile=False``
    eager  ``run_eagerly=True``

Why it exists: TensorFlow keeps every XLA-compiled step after its model is gone (its
compilation cache has no eviction; TensorFlow issue 64170), which grew one pytest process
running the whole suite past 12 GiB; ``python -m tests.run`` runs the suite in chunks for
that reason (README: Testing).
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = {"xla": dict(jit_compile=True), "graph": dict(jit_compile=False),
            "eager": dict(run_eagerly=True)}

CHILD = """
import gc, json, os, sys
sys.path.insert(0, {root!r})
import keras
from tests import registry

def resident_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0

sizes = []
for _ in range({repeats}):
    model = registry.trained({model!r}, **{settings!r})
    del model
    if {clear!r}:
        keras.backend.clear_session(free_memory=True)
    gc.collect()
    sizes.append(resident_mib())
print(json.dumps(sizes))
"""


def slope(values):
    """Least-squares growth per step of ``values``."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2.0, sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    return num / sum((i - mean_x) ** 2 for i in range(n))


def measure(model, setting, repeats, clear):
    code = CHILD.format(root=ROOT, repeats=repeats, model=model, settings=SETTINGS[setting],
                        clear=clear)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{model} / {setting} failed:\n{done.stderr[-3000:]}")
    sizes = json.loads(done.stdout.strip().splitlines()[-1])
    return sizes[0], slope(sizes[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["vae_mlp", "vae_conv_gaussian"])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS),
                        default=list(SETTINGS))
    parser.add_argument("--cleanup", nargs="+", choices=["none", "clear"], default=["none"])
    parser.add_argument("--repeats", type=int, default=12)
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error("--repeats must be at least 3 (a slope needs two models after the first)")

    sys.path.insert(0, ROOT)
    from tests.machine import describe

    print(describe())
    print(f"{args.repeats} models per row, each trained one epoch and dropped\n")
    print("| model | setting | cleanup | MiB after the first | MiB kept per further model |")
    print("| --- | --- | --- | --- | --- |")
    for model in args.models:
        for setting in args.settings:
            for cleanup in args.cleanup:
                first, growth = measure(model, setting, args.repeats, cleanup == "clear")
                print(f"| {model} | {setting} | {cleanup} | {first:.0f} | {growth:.1f} |",
                      flush=True)


if __name__ == "__main__":
    main()
