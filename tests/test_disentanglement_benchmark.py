"""benchmarks/disentanglement_shapes.py: runs kept in the store, reused, measured again or
refused, and the README citing every stored result."""

import glob
import os
import subprocess
import sys

import pytest

from keras_vae import outputs
from tests.runs import held_elsewhere
from tests.runs import subprocess_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import disentanglement_shapes  # noqa: E402
import runstore  # noqa: E402


def test_a_finished_run_is_reused_measured_again_and_trained_on_only_when_asked(tmp_path,
                                                                                capsys):
    run = tmp_path / "beta_vae_beta4_seed0"

    def main(*more, epochs=1):
        return disentanglement_shapes.main([
            "--models", "beta_vae:beta=4", "--seeds", "0", "--epochs", str(epochs),
            "--steps-per-epoch", "2", "--batch-size", "8", "--dense-units", "16",
            "--dci-estimator", "forest", "--eval-examples", "200", "--score-points", "10", "5",
            "--output", str(tmp_path), *more])

    [first] = main()
    assert first["settings"]["model"] == "beta_vae:beta=4" and first["settings"]["epochs"] == 1
    assert runstore.read_json(run / "disentanglement.json") == first
    assert 0 <= first["mig"] <= 1 and first["reconstruction"] > 0
    assert first["train_seconds"] > 0 and first["cpu"] and first["date"]
    assert first["train_cpu_seconds"] > 0
    assert first["train_machines"] == [{"epochs": [1, 1], "machine": runstore.this_machine(None)}]
    printed = capsys.readouterr().out
    assert f"| beta_vae_beta4 | 0 | {first['mig']:.3f} | " in printed
    assert f" | {first['train_cpu_seconds']:,.0f} |\n" in printed
    trained = os.path.getmtime(run / "model.keras")
    with held_elsewhere(run):  # another process training or measuring this run
        assert main() == [first]  # a finished result is read, needing no claim
        with pytest.raises(outputs.FolderInUse, match="beta_vae_beta4_seed0 is in use"):
            main("--rescore")
    assert "reusing its result" in capsys.readouterr().out
    [again] = main("--rescore")  # measured again, not retrained
    assert os.path.getmtime(run / "model.keras") == trained
    assert again["train_seconds"] == first["train_seconds"] and again["mig"] == first["mig"]
    with pytest.raises(SystemExit, match="trained for 1 epochs, not 2: pass --resume"):
        main(epochs=2)
    [resumed] = main("--resume", epochs=2)
    assert runstore.read_json(run / "metrics.json")["steps"] == 4  # trained on, not anew
    assert resumed["settings"]["epochs"] == 2 and resumed["train_seconds"] > first["train_seconds"]
    assert resumed["train_cpu_seconds"] > first["train_cpu_seconds"]  # the first epoch's kept
    with pytest.raises(SystemExit, match="4 steps in 2 epochs, not 3 steps per epoch"):
        main("--steps-per-epoch", "3", epochs=2)
    assert runstore.read_json(run / "disentanglement.json") == resumed  # left as it was


def test_a_held_run_ends_the_script_with_one_line(tmp_path):
    run = tmp_path / "vae_seed0"
    with held_elsewhere(run):
        done = subprocess.run(
            [sys.executable, os.path.join(ROOT, "benchmarks", "disentanglement_shapes.py"),
             "--models", "vae", "--seeds", "0", "--output", str(tmp_path)],
            capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert done.returncode == 2, done.stderr[-2000:]
    last = [line for line in done.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("disentanglement_shapes.py: ") and "vae_seed0 is in use" in last
    assert "Traceback" not in done.stderr
    assert os.listdir(run) == []  # nothing written


def test_the_readme_cites_every_stored_result():
    """The README's disentanglement figures are the store's results: a run retrained (with
    --overwrite) or added without its figures in the README fails here."""
    readme = open(os.path.join(ROOT, "README.md")).read()
    for path in sorted(glob.glob(os.path.join(disentanglement_shapes.RESULTS, "*",
                                              disentanglement_shapes.RESULT_FILE))):
        result = runstore.read_json(path)
        for column in ("mig", "beta_vae_score", "factor_vae_score"):
            figure = disentanglement_shapes.figure(result[column])
            assert figure in readme, (path, column, figure)
        assert disentanglement_shapes.figure(result["reconstruction"], 1) in readme, path
