"""The main job's time: `python -m keras_vae train` (no arguments) from this checkout against
another revision, side by side in one run.

Usage: python benchmarks/main_job.py [--baseline REV] [--rounds 2] [-- TRAIN ARGS...]

Each round runs the job once per contender, in fresh processes, one after the other (the
order alternates between rounds, so drift in this machine's speed hits both alike): this
checkout's package, and, with ``--baseline``, the package of revision ``REV`` (checked out
into a temporary git worktree and put first on ``PYTHONPATH``). Every run writes to its own
temporary folder. The table gives, per contender, the median over rounds of the wall time,
the CPU time (user + system), the training epochs' seconds (as ``fit`` prints them: their
sum, fastest and slowest), the time after training (sampler, pictures, saving, export), the
peak resident memory and the final validation -ELBO of each run. Arguments after ``--`` go
to ``train`` (e.g. ``-- --epochs 3``).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCH_LINE = re.compile(r"^\s*\d+/\d+ - (\d+)s - ")
VALIDATION = re.compile(r"^Validation: .*?elbo (-?[\d.]+)")
sys.path.insert(0, ROOT)
from tests.machine import describe  # noqa: E402


def environment(package_root):
    """This process's environment with ``package_root`` first on ``PYTHONPATH``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (package_root, os.environ.get("PYTHONPATH")) if p))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def check_import(package_root):
    """Refuses to time a contender whose ``keras_vae`` would come from elsewhere (an install
    that takes precedence over ``PYTHONPATH``), naming both folders."""
    found = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; "
                               "print(u.find_spec('keras_vae').submodule_search_locations[0])"],
        capture_output=True, text=True, env=environment(package_root), cwd=tempfile.gettempdir())
    where = os.path.realpath(found.stdout.strip())
    expected = os.path.realpath(os.path.join(package_root, "keras_vae"))
    if where != expected:
        raise SystemExit(f"keras_vae would be imported from {where or found.stderr[-500:]}, "
                         f"not {expected}: an installed keras_vae takes precedence over "
                         "PYTHONPATH here.")


def run_job(package_root, train_args):
    """One `python -m keras_vae train` with ``package_root`` first on the path: a dict of
    wall and CPU seconds, epoch seconds, peak MiB and validation -ELBO."""
    output = tempfile.mkdtemp(prefix="main_job_")
    env = environment(package_root)
    command = [sys.executable, "-m", "keras_vae", "train", "--output",
               os.path.join(output, "run"), *train_args]
    try:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=output, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        text = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)  # this run's own CPU time and peak
        wall = time.perf_counter() - start
        process.stdout.close()
    finally:
        shutil.rmtree(output, ignore_errors=True)
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(command)} failed in {package_root}:\n{text[-3000:]}")
    epochs = [int(m.group(1)) for m in map(EPOCH_LINE.match, text.splitlines()) if m]
    validation = [float(m.group(1)) for m in map(VALIDATION.match, text.splitlines()) if m]
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mib": usage.ru_maxrss / 1024, "epochs": epochs,
            "neg_elbo": -validation[-1] if validation else float("nan")}


def worktree(rev):
    """A temporary checkout of ``rev`` (removed by the caller); an error naming ``rev`` if
    git does not know it."""
    folder = tempfile.mkdtemp(prefix="main_job_baseline_")
    process = subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", folder, rev],
                             capture_output=True, text=True)
    if process.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        raise SystemExit(f"--baseline {rev}: {process.stderr.strip()}")
    return folder


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    train_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision to time beside this checkout")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    contenders = [("this checkout", ROOT)]
    baseline = worktree(args.baseline) if args.baseline else None
    if baseline:
        contenders.append((f"baseline {args.baseline}", baseline))
    results = {name: [] for name, _ in contenders}
    try:
        for _, root in contenders:
            check_import(root)
        for round_index in range(args.rounds):
            order = contenders if round_index % 2 == 0 else contenders[::-1]
            for name, root in order:
                result = run_job(root, train_args)
                results[name].append(result)
                print(f"round {round_index + 1}: {name}: {result['wall']:.0f} s wall, "
                      f"{result['cpu']:.0f} s CPU, epochs {result['epochs']}, "
                      f"-ELBO {result['neg_elbo']:.3f}", flush=True)
    finally:
        if baseline:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", baseline],
                           capture_output=True)
    print()
    print(f"`python -m keras_vae train {' '.join(train_args)}`, {describe()}; median of "
          f"{args.rounds} round(s)")
    print("| contender | wall s | CPU s | epochs s (sum; fastest-slowest) | after training s "
          "| peak MiB | -ELBO per run |")
    print("| --- | ---: | ---: | --- | ---: | ---: | --- |")
    for name, _ in contenders:
        runs = results[name]
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        sums = [sum(r["epochs"]) for r in runs]
        fastest = min(min(r["epochs"], default=0) for r in runs)
        slowest = max(max(r["epochs"], default=0) for r in runs)
        after = statistics.median(r["wall"] - sum(r["epochs"]) for r in runs)
        elbos = " / ".join(f"{r['neg_elbo']:.3f}" for r in runs)
        peak = statistics.median(r["peak_mib"] for r in runs)
        print(f"| {name} | {wall:.0f} | {cpu:.0f} | {statistics.median(sums):.0f}; "
              f"{fastest}-{slowest} | {after:.0f} | {peak:.0f} | {elbos} |")
    print("after training: wall time minus the epochs' seconds (start-up, tracing, the "
          "sampler, pictures, saving and export)")


if __name__ == "__main__":
    main()
