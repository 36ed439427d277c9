"""The whole test suite, in fresh processes: ``python -m tests.run [pytest options]``.

Why not one long pytest session: TensorFlow never gives back what it compiled for a model
(every XLA-compiled step stays in its device compiler's cache after the model is gone:
about 24 MiB per MLP model trained, against 3.6 MiB without XLA and 0.6 MiB eagerly, measured
with TF 2.21 on 2026-12-05; TensorFlow issue 64170), so a process that runs the whole suite
only grows. Under ``pytest -n 2`` each worker reached 9-12 GiB; two of them filled this 24 GiB
machine, a worker was killed and xdist hung replacing it until CI's time ran out.

So the test files are cut into chunks of about ``--chunk-seconds`` each (from the per-file
times in ``tests/durations.json``; a file not listed there counts as the median), and each
chunk runs in its own ``python -m pytest`` process, ``--jobs`` of them at a time (one per
core), longest first. A process ends with its chunk, and its memory with it. A chunk that
runs past ``--timeout-factor`` times its expected time (and at least ``--min-timeout``
seconds) is killed and counted as failed, so a hang ends the run instead of CI's clock.

Each chunk gets a line with its time and the peak memory of its process; its pytest output is
kept under ``--logs``, and printed whole if it failed. The last line is the suite's total,
``suite: N passed, N failed, N skipped``, and the exit status is 0 only if every chunk
passed. ``--record`` rewrites ``tests/durations.json`` from this run's times.

Options after ``--`` (or any the runner does not know) go to every chunk's pytest, e.g.
``python -m tests.run -- -m "not slow"``. For one file or one test, call pytest directly.
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DURATIONS = os.path.join(ROOT, "tests", "durations.json")
#: The package's docstring examples run as one unit (setup.cfg's --doctest-modules).
DOCTESTS = "keras_vae"


def units():
    """Every test file, and the package for its doctests, as paths relative to the root."""
    files = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "tests",
                                                                             "test_*.py")))
    return [*files, DOCTESTS]


def expected_seconds(names, durations):
    """Each unit's expected seconds: its recorded time, or the median of the recorded ones."""
    known = [durations[n] for n in names if n in durations]
    default = statistics.median(known) if known else 60.0
    return {n: float(durations.get(n, default)) for n in names}


def chunks(seconds, chunk_seconds):
    """Units grouped into chunks of about ``chunk_seconds`` (a longer unit is a chunk of its
    own), longest chunk first. Greedy: each unit, longest first, joins the chunk with the least
    time so far."""
    total = sum(seconds.values())
    count = max(1, round(total / chunk_seconds))
    groups = [[0.0, []] for _ in range(count)]
    for name in sorted(seconds, key=lambda n: (-seconds[n], n)):
        group = min(groups, key=lambda g: g[0])
        group[0] += seconds[name]
        group[1].append(name)
    groups = [(t, sorted(names)) for t, names in groups if names]
    return sorted(groups, key=lambda g: -g[0])


def unit_of(classname):
    """The unit a junit ``classname`` belongs to: ``tests.test_cli.TestX`` is
    ``tests/test_cli.py``; every doctest belongs to the package."""
    if classname.startswith(DOCTESTS):
        return DOCTESTS
    return "/".join(classname.split(".")[:2]) + ".py"


def tally(junit_path):
    """``(passed, failed, skipped, {unit: seconds}, [(seconds, test id)])`` from a junit file."""
    passed = failed = skipped = 0
    per_unit, slowest = {}, []
    for case in ElementTree.parse(junit_path).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            failed += 1
        elif "skipped" in kinds:
            skipped += 1
        else:
            passed += 1
        seconds = float(case.get("time", 0.0))
        module = case.get("classname", "")
        unit = unit_of(module)
        per_unit[unit] = per_unit.get(unit, 0.0) + seconds
        slowest.append((seconds, f"{module}::{case.get('name')}"))
    return passed, failed, skipped, per_unit, slowest


def reap(process, block=False):
    """``(exit code, peak resident MiB)`` of a finished chunk process, ``(None, None)`` while
    it runs. The peak is the largest resident size of the process or of any process it
    waited for (``wait4``'s ``ru_maxrss``): what tells a chunk that outgrows the machine. A
    forked child starts from this runner's own size (tens of MiB), so that is the floor."""
    pid, status, usage = os.wait4(process.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None, None
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return process.returncode, usage.ru_maxrss / 1024.0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tests.run", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="chunks run at a time (default: the machine's cores)")
    parser.add_argument("--chunk-seconds", type=float, default=240.0,
                        help="expected seconds of one chunk (default 240)")
    parser.add_argument("--timeout-factor", type=float, default=4.0)
    parser.add_argument("--min-timeout", type=float, default=900.0)
    parser.add_argument("--durations", type=int, default=10,
                        help="list the N slowest tests at the end (default 10)")
    parser.add_argument("--logs", default=None,
                        help="folder for each chunk's output (default: a temporary folder)")
    parser.add_argument("--record", action="store_true",
                        help="rewrite tests/durations.json with this run's times")
    args, pytest_args = parser.parse_known_args(argv)
    pytest_args = [a for a in pytest_args if a != "--"]
    if args.jobs < 1 or args.chunk_seconds <= 0:
        parser.error("--jobs must be at least 1 and --chunk-seconds positive")

    from tests.machine import describe

    with open(DURATIONS) as f:
        durations = json.load(f)
    plan = chunks(expected_seconds(units(), durations), args.chunk_seconds)
    logs = args.logs or tempfile.mkdtemp(prefix="keras-vae-tests-")
    os.makedirs(logs, exist_ok=True)
    print(describe())
    print(f"{len(plan)} chunks, {args.jobs} at a time; logs in {logs}", flush=True)

    start = time.monotonic()
    queue = list(enumerate(plan, 1))
    running = {}  # process -> (index, expected seconds, names, started, log file)
    results = []  # (index, names, returncode or None on timeout, junit path, seconds)
    try:
        while queue or running:
            while queue and len(running) < args.jobs:
                index, (expected, names) = queue.pop(0)
                junit = os.path.join(logs, f"chunk-{index:02d}.xml")
                log = open(os.path.join(logs, f"chunk-{index:02d}.log"), "w")
                command = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p",
                           "no:cacheprovider", f"--junitxml={junit}", *pytest_args, *names]
                process = subprocess.Popen(command, cwd=ROOT, stdout=log,
                                           stderr=subprocess.STDOUT)
                running[process] = (index, expected, names, time.monotonic(), log)
            time.sleep(1.0)
            for process in list(running):
                index, expected, names, started, log = running[process]
                elapsed = time.monotonic() - started
                limit = max(args.min_timeout, args.timeout_factor * expected)
                timed_out = elapsed > limit
                if timed_out:
                    process.kill()
                code, peak = reap(process, block=timed_out)
                if code is None:
                    continue
                code = None if timed_out else code
                log.close()
                del running[process]
                junit = os.path.join(logs, f"chunk-{index:02d}.xml")
                results.append((index, names, code, junit, elapsed))
                ok = code in (0, 5)  # 5: every test deselected by the options given
                status = "passed" if ok else (f"TIMED OUT after {elapsed:.0f} s (limit "
                                              f"{limit:.0f} s)" if code is None
                                              else f"FAILED (exit {code})")
                print(f"chunk {index}/{len(plan)} {status} in {elapsed:.0f} s "
                      f"(expected {expected:.0f} s), peak {peak:.0f} MiB: {' '.join(names)}",
                      flush=True)
                if not ok:
                    with open(log.name) as f:
                        sys.stdout.write(f.read())
                    sys.stdout.flush()
    except KeyboardInterrupt:
        for process in running:
            process.kill()
        raise

    passed = failed = skipped = 0
    measured, slowest = {}, []
    for index, names, code, junit, elapsed in results:
        if os.path.exists(junit) and code is not None:
            p, f, s, per_unit, slow = tally(junit)
            passed, failed, skipped = passed + p, failed + f, skipped + s
            measured.update(per_unit)
            slowest.extend(slow)
        if code not in (0, 5):
            failed += code is None or not os.path.exists(junit)  # a run that left no count
    if args.durations:
        print(f"slowest {args.durations} tests:")
        for seconds, name in sorted(slowest, reverse=True)[:args.durations]:
            print(f"  {seconds:8.1f} s  {name}")
    every_chunk_passed = all(code in (0, 5) for _, _, code, _, _ in results)
    if args.record and every_chunk_passed:
        with open(DURATIONS, "w") as f:
            json.dump({k: round(v, 1) for k, v in sorted(measured.items())}, f, indent=1)
            f.write("\n")
        print(f"recorded {len(measured)} files' times in {os.path.relpath(DURATIONS, ROOT)}")
    print(f"wall time {time.monotonic() - start:.0f} s")
    print(f"suite: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if every_chunk_passed and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
