"""The tests that compare numbers across precisions, devices or kernels, run under each
kernel setting a CPU can give them, side by side: a table of passed and failed tests per
setting.

Usage: python benchmarks/numerics_settings.py [--settings default onednn-off ...]
       [--tests tests/test_mixed_precision.py ...] [--workers 2]

Each setting runs the selected tests in a fresh pytest process with these environment
variables (nothing else changes):

    default        what the machine does by itself (oneDNN on, every core, its widest ISA)
    onednn-off     TF_ENABLE_ONEDNN_OPTS=0: TensorFlow's own kernels instead of oneDNN's
    one-thread     TF_NUM_INTRAOP_THREADS=1: other reduction orders inside each kernel
    avx2           ONEDNN_MAX_CPU_ISA=AVX2: oneDNN's kernels of an AVX2-only CPU (the AMD
                   EPYC with AVX2 and FMA on which the bfloat16 perplexity test once failed),
                   on a machine with AVX-512

TensorFlow's pip wheel compiles its own kernels without AVX2 (it says so at start-up), so on
an x86 CPU the ISA reaches the numbers through oneDNN: ``avx2`` reproduces that machine's
oneDNN kernels here, though not its memory system or its cores' timing.

The default selection is the tests whose tolerances depend on which kernels ran: mixed
precision against float32, two replicas against one device (Gaussian and VQ models), the
nearest-code search, the layer harness, and the reference implementations (sonnet's
quantizer, disentanglement_lib's metrics). The rest of the suite compares a run with itself.
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
from tests.machine import KERNEL_VARIABLES  # noqa: E402
from tests.machine import describe  # noqa: E402

SETTINGS = {
    "default": {},
    "onednn-off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    "one-thread": {"TF_NUM_INTRAOP_THREADS": "1"},
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
}
#: Each run starts with every kernel variable unset but its setting's own.
assert {name for env in SETTINGS.values() for name in env} <= set(KERNEL_VARIABLES)

SENSITIVE = [
    "tests/test_mixed_precision.py",
    "tests/test_distributed.py",
    "tests/test_vq_distributed.py",
    "tests/test_vq_vae.py",
    "tests/test_layer_harness.py",
    "tests/test_disentanglement_reference.py",
]


def run(setting, tests, workers):
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_VARIABLES}
    env.update(SETTINGS[setting])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *tests]
    if workers > 1:
        command[3:3] = ["-n", str(workers), "--dist", "loadfile"]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|error)", summary)}
    failed = [line.split(" ", 1)[1].split(" - ")[0] for line in proc.stdout.splitlines()
              if line.startswith("FAILED ")]
    return counts, failed, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--tests", nargs="+", default=SENSITIVE)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"{describe()} (before each setting's own)\ntests: {' '.join(args.tests)}\n")
    print("| setting | environment | passed | failed | seconds |\n| --- | --- | --- | --- | --- |",
          flush=True)
    failures = {}
    for setting in args.settings:
        counts, failed, seconds = run(setting, args.tests, args.workers)
        env = " ".join(f"{k}={v}" for k, v in SETTINGS[setting].items()) or "(none)"
        print(f"| {setting} | {env} | {counts.get('passed', 0)} | "
              f"{counts.get('failed', 0) + counts.get('error', 0)} | {seconds:.0f} |", flush=True)
        failures[setting] = failed
    for setting, failed in failures.items():
        for name in failed:
            print(f"{setting}: FAILED {name}")
    return 1 if any(failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
