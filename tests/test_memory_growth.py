"""benchmarks/memory_growth.py, the measurement behind the chunked test runner: its slope and
one small run end to end."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import memory_growth  # noqa: E402


def test_slope_is_the_least_squares_growth_per_step():
    assert memory_growth.slope([10.0, 12.0, 14.0, 16.0]) == pytest.approx(2.0)
    assert memory_growth.slope([5.0, 7.0, 5.0, 7.0]) == pytest.approx(0.4)
    assert memory_growth.slope([3.0, 3.0, 3.0]) == 0.0


def test_a_small_run_prints_one_row_per_model_setting_and_cleanup():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "memory_growth.py"),
                           "--models", "vae_mlp", "--settings", "eager", "--repeats", "3",
                           "--cleanup", "none", "clear"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| vae_mlp ")]
    assert [row.split(" | ")[1:3] for row in rows] == [["eager", "none"], ["eager", "clear"]]
    first = float(rows[0].split(" | ")[3])
    assert 100 < first < 4000  # MiB resident after one model: TensorFlow is loaded


def test_fewer_than_three_repeats_is_refused():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "memory_growth.py"),
                           "--repeats", "2"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--repeats must be at least 3" in done.stderr
