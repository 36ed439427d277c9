"""Every tutorial notebook runs from top to bottom on its quick budget."""

import os
import sys

import pytest

TUTORIALS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tutorials")
sys.path.insert(0, TUTORIALS)
import execute  # noqa: E402  (tutorials/execute.py)

NOTEBOOKS = [os.path.basename(p) for p in execute.notebooks()]


def test_every_tutorial_is_listed_in_the_readme():
    readme = open(os.path.join(TUTORIALS, "..", "README.md")).read()
    assert len(NOTEBOOKS) == 12
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


def test_every_tutorial_stores_the_outputs_of_a_run():
    # The README's run times are these; a notebook committed without outputs fails here.
    for name in NOTEBOOKS:
        seconds, day = execute.stored_run(os.path.join(TUTORIALS, name))
        assert seconds is not None and seconds > 0, name
