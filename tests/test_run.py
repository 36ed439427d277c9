"""The suite runner (tests/run.py): how it cuts the suite, what it counts, and that a failing
or hanging chunk fails the run with its output shown."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_test_file_and_the_doctests_are_units():
    names = run.units()
    files = sorted(f"tests/{f}" for f in os.listdir(os.path.join(ROOT, "tests"))
                   if f.startswith("test_") and f.endswith(".py"))
    assert names == [*files, "keras_vae"]


def test_chunks_balance_their_times_longest_first():
    seconds = {"a": 500.0, "b": 200.0, "c": 180.0, "d": 60.0, "e": 50.0, "f": 10.0}
    plan = run.chunks(seconds, chunk_seconds=250.0)
    # 1,000 s in chunks of about 250 s: four; a unit longer than a chunk is a chunk of its
    # own, and each unit, longest first, joins the chunk with the least time so far.
    assert plan == [(500.0, ["a"]), (200.0, ["b"]), (180.0, ["c"]), (120.0, ["d", "e", "f"])]


def test_a_unit_without_a_recorded_time_counts_as_the_median():
    expected = run.expected_seconds(["x", "y", "z", "new"], {"x": 10, "y": 30, "z": 200})
    assert expected == {"x": 10.0, "y": 30.0, "z": 200.0, "new": 30.0}


def test_the_recorded_times_name_only_units_that_exist():
    with open(run.DURATIONS) as f:
        recorded = json.load(f)
    assert set(recorded) <= set(run.units())
    assert all(v >= 0 for v in recorded.values())


@pytest.mark.parametrize("classname, unit", [
    ("tests.test_cli", "tests/test_cli.py"),
    ("tests.test_cli.TestBadInput", "tests/test_cli.py"),
    ("keras_vae.losses", "keras_vae"),
    ("keras_vae.evaluation.generation.sample_quality", "keras_vae")])
def test_junit_class_names_map_to_their_units(classname, unit):
    assert run.unit_of(classname) == unit


def _suite(tmp_path, bodies):
    """A folder laid out like the project (tests/ with the runner, a package for doctests),
    with one test file per entry of ``bodies``."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "keras_vae").mkdir()
    (tmp_path / "keras_vae" / "__init__.py").write_text('"""\n>>> 1 + 1\n2\n"""\n')
    (tmp_path / "tests" / "__init__.py").write_text("")
    for name in ("run.py", "machine.py"):
        (tmp_path / "tests" / name).write_text(open(os.path.join(ROOT, "tests", name)).read())
    for name, body in bodies.items():
        (tmp_path / "tests" / f"test_{name}.py").write_text(textwrap.dedent(body))
    (tmp_path / "tests" / "durations.json").write_text(json.dumps(
        {f"tests/test_{name}.py": 1.0 for name in bodies}))
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\naddopts = --doctest-modules\n")
    return tmp_path


def _run(folder, *args):
    return subprocess.run([sys.executable, "-m", "tests.run", "--chunk-seconds", "1",
                           "--logs", str(folder / "logs"), *args], cwd=folder,
                          capture_output=True, text=True, timeout=300)


def test_a_passing_suite_ends_with_its_total_and_records_its_times(tmp_path):
    folder = _suite(tmp_path, {"a": "def test_one():\n    pass\n",
                               "b": "import pytest\n\n@pytest.mark.skip\ndef test_skipped():\n"
                                    "    pass\n\ndef test_two():\n    pass\n"})
    done = _run(folder, "--record")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "suite: 3 passed, 0 failed, 1 skipped"
    assert "3 chunks, " in done.stdout  # a, b and the doctests
    recorded = json.loads((folder / "tests" / "durations.json").read_text())
    assert set(recorded) == {"tests/test_a.py", "tests/test_b.py", "keras_vae"}


def test_each_chunk_reports_the_peak_memory_of_its_process(tmp_path):
    folder = _suite(tmp_path, {"big": "def test_holds_300_mib():\n"
                                      "    block = bytearray(300 * 2**20)\n"
                                      "    assert block[-1] == 0\n"})
    done = _run(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if "tests/test_big.py" in line)
    peak = float(line.split("peak ")[1].split(" MiB")[0])
    assert 300 < peak < 600, line


def test_a_failing_chunk_fails_the_run_and_shows_its_output(tmp_path):
    folder = _suite(tmp_path, {"good": "def test_one():\n    pass\n",
                               "bad": "def test_broken():\n    assert 1 == 2, 'the broken one'\n"})
    done = _run(folder, "--record")
    assert done.returncode == 1
    assert "the broken one" in done.stdout  # the failed chunk's pytest output, whole
    assert done.stdout.splitlines()[-1] == "suite: 2 passed, 1 failed, 0 skipped"
    recorded = json.loads((folder / "tests" / "durations.json").read_text())
    assert recorded == {"tests/test_good.py": 1.0, "tests/test_bad.py": 1.0}  # not rewritten


def test_a_hanging_chunk_is_killed_and_counted_as_failed(tmp_path):
    folder = _suite(tmp_path, {"hang": "import time\n\ndef test_hangs():\n"
                                       "    time.sleep(600)\n"})
    done = _run(folder, "--min-timeout", "5", "--timeout-factor", "1")
    assert done.returncode == 1
    assert "TIMED OUT" in done.stdout
    assert done.stdout.splitlines()[-1] == "suite: 1 passed, 1 failed, 0 skipped"


def test_options_after_the_runners_own_go_to_pytest(tmp_path):
    folder = _suite(tmp_path, {"a": "def test_one():\n    pass\n\ndef test_two():\n    pass\n"})
    done = _run(folder, "--", "-k", "two")  # deselects the doctest chunk whole: no failure
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "suite: 1 passed, 0 failed, 0 skipped"
