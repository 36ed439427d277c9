"""benchmarks/main_job.py: the main job timed against another revision, end to end on a short
run, and its refusals."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import main_job  # noqa: E402


def test_fit_and_validation_lines_are_read():
    out = ["Epoch 1/2", "100/100 - 14s - 144ms/step - elbo: -8.8e+02 - loss: 884.0",
           "Epoch 2/2", "  100/100 - 9s - 90ms/step - loss: 297.5", "",
           "Validation: elbo -69.316, kl_loss 17.709, loss 69.316"]
    assert [int(m.group(1)) for m in map(main_job.EPOCH_LINE.match, out) if m] == [14, 9]
    assert [m.group(1) for m in map(main_job.VALIDATION.match, out) if m] == ["-69.316"]


def test_an_unknown_baseline_is_refused_by_name():
    with pytest.raises(SystemExit, match="no-such-revision"):
        main_job.worktree("no-such-revision")


@pytest.mark.slow
def test_a_short_run_against_this_revision_prints_both_rows():
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "main_job.py"), "--baseline", "HEAD",
         "--rounds", "1", "--", "--epochs", "1", "--steps-per-epoch", "2",
         "--validation-steps", "1", "--no-export", "--sampler", "none"],
        capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in done.stdout.splitlines()
            if line.startswith("| this checkout") or line.startswith("| baseline HEAD")}
    assert set(rows) == {"this checkout", "baseline HEAD"}
    for cells in rows.values():
        assert float(cells[1]) > 0 and float(cells[2]) > 0  # wall and CPU seconds
        assert cells[3].split(";")[0].strip().isdigit()  # the epochs' seconds
        assert float(cells[6].split(" / ")[0].strip(" |")) > 0  # -ELBO
    listed = subprocess.run(["git", "-C", ROOT, "worktree", "list"], capture_output=True,
                            text=True).stdout
    assert "main_job_baseline_" not in listed  # the temporary checkout is gone
