"""Every tutorial notebook runs from top to bottom on its quick budget."""

import os
import re
import sys

import pytest

TUTORIALS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tutorials")
sys.path.insert(0, TUTORIALS)
import execute  # noqa: E402  (tutorials/execute.py)

NOTEBOOKS = [os.path.basename(p) for p in execute.notebooks()]


def test_every_tutorial_is_listed_in_the_readme():
    readme = open(os.path.join(TUTORIALS, "..", "README.md")).read()
    assert len(NOTEBOOKS) == 13
    for name in NOTEBOOKS:
        assert f"tutorials/{name}" in readme, name


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_tutorial_runs_in_quick_mode(name, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_VAE_MNIST", execute.MNIST)
    # Raises CellExecutionError, naming the cell and its traceback, on any error (a failed
    # assert of a notebook's own figures included).
    notebook = execute.execute(os.path.join(TUTORIALS, name), quick=True, workdir=str(tmp_path))
    assert any(o.get("output_type") in ("stream", "display_data", "execute_result")
               for cell in notebook.cells for o in cell.get("outputs", []))


def test_every_tutorial_stores_a_run_whose_time_the_readme_gives():
    # A notebook committed without outputs fails here, and so does a README table whose run
    # time (whole minutes, at least 1) is not that of the stored outputs.
    readme = open(os.path.join(TUTORIALS, "..", "README.md")).read()
    for name in NOTEBOOKS:
        seconds, day = execute.stored_run(os.path.join(TUTORIALS, name))
        assert seconds is not None and seconds > 0, name
        row = re.search(rf"^\| `tutorials/{re.escape(name)}` \|.*\| (\d+) min \|$", readme, re.M)
        assert row, f"no table row with a run time for {name}"
        assert abs(int(row.group(1)) - max(1, round(seconds / 60))) <= 1, (name, seconds)
