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
                   on a machine with AVX-512. Where the CPU has AVX512_BF16 the
                   bfloat16 tests skip themselves in this setting: TensorFlow still sends
                   bfloat16 matmuls to oneDNN, which segfaults without the kernels the cap
                   removed (tests/machine.py; test_machine checks that the crash is real)

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


OUTPUT = os.path.join(HERE, "output", "numerics_settings")


def run(setting, tests, workers, timeout):
    """``(counts, failed, seconds, log)`` of one setting's pytest process. A worker that
    crashes (a kernel abort kills the process) is not restarted: its test is reported as
    crashed and the run ends, instead of xdist waiting on a worker that is gone."""
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_VARIABLES}
    env.update(SETTINGS[setting])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *tests]
    if workers > 1:
        command[3:3] = ["-n", str(workers), "--dist", "loadfile", "--max-worker-restart", "0"]
    os.makedirs(OUTPUT, exist_ok=True)
    log = os.path.join(OUTPUT, f"{setting}.log")
    start = time.perf_counter()
    with open(log, "w") as out:
        try:
            proc = subprocess.run(command, cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, text=True, timeout=timeout)
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            returncode = None
    seconds = time.perf_counter() - start
    text = open(log).read()
    summary = text.strip().splitlines()[-1] if text.strip() else ""
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|error)", summary)}
    failed = [line.split(" ", 1)[1].split(" - ")[0] for line in text.splitlines()
              if line.startswith(("FAILED ", "ERROR "))]
    failed += [f"{name} (worker crashed)"
               for name in re.findall(r"crashed while running '([^']+)'", text)]
    if returncode is None:
        failed.append(f"(timed out after {timeout} s)")
    elif returncode not in (0, 1) and not failed:
        failed.append(f"(pytest exited with {returncode})")
    return counts, failed, seconds, log


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--tests", nargs="+", default=SENSITIVE)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=1800,
                        help="seconds a setting may take before it counts as hung")
    args = parser.parse_args()
    print(f"{describe()} (before each setting's own)\ntests: {' '.join(args.tests)}\n")
    print("| setting | environment | passed | failed | seconds |\n| --- | --- | --- | --- | --- |",
          flush=True)
    failures = {}
    for setting in args.settings:
        counts, failed, seconds, log = run(setting, args.tests, args.workers, args.timeout)
        env = " ".join(f"{k}={v}" for k, v in SETTINGS[setting].items()) or "(none)"
        bad = max(len(failed), counts.get("failed", 0) + counts.get("error", 0))
        print(f"| {setting} | {env} | {counts.get('passed', 0)} | {bad} | {seconds:.0f} |",
              flush=True)
        failures[setting] = (failed, log)
    for setting, (failed, log) in failures.items():
        for name in failed:
            print(f"{setting}: FAILED {name} (log: {os.path.relpath(log, ROOT)})")
    return 1 if any(failed for failed, _ in failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
