"""benchmarks/mnist_likelihood.py: every row builds, on every network, the model it names."""

import glob
import json
import os
import sys

import numpy as np
import pytest

from keras_vae import outputs
from keras_vae.models.registry import model_class
from tests.runs import held_elsewhere

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import mnist_likelihood  # noqa: E402
import runstore  # noqa: E402


@pytest.mark.parametrize("network", sorted(mnist_likelihood.NETWORKS))
def test_every_row_builds_its_model_on_the_network(network):
    latent = mnist_likelihood.NETWORKS[network]["latent_dim"]
    x = np.zeros((2, 28, 28, 1), np.float32)
    for row in mnist_likelihood.ROWS:
        kind, kwargs = mnist_likelihood.row_arguments(network, row)
        model = model_class(kind)[0](input_shape=(28, 28, 1), **kwargs)
        assert model.kind == kind, row
        assert model.architecture == mnist_likelihood.NETWORKS[network]["architecture"], row
        # The ladder's bottom layer has the network's latent size, its top layer half.
        expected = (latent, latent // 2) if kind == "hvae" else None
        assert getattr(model, "latent_dims", None) == expected, row
        assert model.encode(x)[0].shape == (2, sum(expected or (latent,))), row
        assert row in mnist_likelihood.PUBLISHED, row


def test_the_conv_network_halves_mnist_twice():
    model = model_class("vae")[0](input_shape=(28, 28, 1),
                                   **mnist_likelihood.row_arguments("conv", "vae")[1])
    convs = [layer for layer in model.encoder.layers if "conv" in type(layer).__name__.lower()]
    assert [layer.output.shape[1:3] for layer in convs] == [(14, 14), (7, 7)]


def test_a_finished_run_is_reused_and_trained_on_only_when_asked(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = tmp_path / "mnist.npz"
    np.savez(data, x_train=rng.integers(0, 256, (256, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 256), x_test=rng.integers(0, 256, (32, 28, 28),
                                                                    dtype=np.uint8),
             y_test=rng.integers(0, 10, 32))
    run = tmp_path / "out" / "course_vae_seed0"

    def main(epochs, *more, samples=2):
        tables = mnist_likelihood.main([
            "--mnist", str(data), "--output", str(tmp_path / "out"), "--epochs", str(epochs),
            "--rows", "vae", "--nll-samples", str(samples), "--max-examples", "16", *more])
        assert list(tables) == ["course"]
        return tables["course"][1][0]

    first = main(1)
    assert first["settings"]["epochs"] == 1 and first["num_examples"] == 16
    # The scoring kept its batches, so a killed one would pick up where it stopped.
    assert (run / "iwae_nll_k2_first16.npz").is_file()
    assert mnist_likelihood.read_json(run / "likelihood_k2_first16.json") == first
    assert first["latent_units"] == 20 and first["train_seconds"] > 0
    assert first["cpu"] and first["date"]
    trained = os.path.getmtime(run / "model.keras")
    with held_elsewhere(run):  # another process training or scoring this run
        assert main(1) == first  # a finished result is read, needing no claim
        with pytest.raises(outputs.FolderInUse, match="course_vae_seed0 is in use by another"):
            main(1, samples=5)  # scoring it anew is refused
    assert not list(run.glob("*_k5_*"))
    assert main(1) == first  # read back, not retrained
    assert os.path.getmtime(run / "model.keras") == trained
    assert "reusing its result" in capsys.readouterr().out
    # A scoring of other images (all of them, not --max-examples 16) at another K.
    mnist_likelihood.outputs.write_json(run / "likelihood_k9.json", {
        **first, "settings": {**first["settings"], "nll_samples": 9, "max_examples": None}})
    capsys.readouterr()
    rescored = main(1, samples=3)  # scored anew on the same trained model
    assert rescored["settings"]["nll_samples"] == 3 and rescored["nll"] != first["nll"]
    # Its table shows the same run's other K, on the same images, beside.
    printed = capsys.readouterr().out.splitlines()
    assert [line for line in printed if line.startswith("| vae | 0 |")] == [
        f"| vae | 0 | {rescored['nll']:.2f} ± {rescored['nll_std_error']:.2f} | "
        f"K = 2: {first['nll']:.2f} | {-rescored['elbo']:.2f} | 20 of 20 | "
        f"{rescored['train_seconds']:.0f} | {mnist_likelihood.PUBLISHED['vae']} |"]
    os.remove(run / "likelihood_k9.json")
    assert os.path.getmtime(run / "model.keras") == trained
    assert rescored["train_seconds"] == first["train_seconds"]
    assert main(1) == first  # and back: each K's result is kept
    assert "reusing its result" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="trained for 1 epochs, not 2"):
        main(2)
    assert main(1) == first  # the refusal left the run as it was
    assert (run / "iwae_nll_k3_first16.npz").is_file()
    resumed = main(2, "--resume")  # the scorings of the 1-epoch model are not reused
    assert sorted(p.name for p in run.glob("*_k*")) == ["iwae_nll_k2_first16.npz",
                                                        "likelihood_k2_first16.json"]
    assert resumed["settings"]["epochs"] == 2
    assert resumed["train_seconds"] > first["train_seconds"]  # the first epoch's included
    here = runstore.this_machine(None)
    assert resumed["train_machines"] == [{"epochs": [1, 2], "machine": here}]
    with open(run / "metrics.json") as f:
        assert json.load(f)["steps"] == 2 * 2  # two epochs of two batches: trained on
    with pytest.raises(SystemExit, match="trained for 2 epochs, not 1"):
        main(1)
    assert main(1, "--overwrite")["settings"]["epochs"] == 1  # retrained from the start
    with open(run / "metrics.json") as f:
        assert json.load(f)["steps"] == 2


def test_the_readme_cites_every_stored_result():
    """The README's likelihood tables are the store's results: a run retrained (with
    --overwrite) or added without its figures in the README fails here."""
    readme = open(os.path.join(ROOT, "README.md")).read()
    # A run still training has no result file yet, so it is not asked for.
    results = sorted(glob.glob(os.path.join(mnist_likelihood.RESULTS, "*",
                                            mnist_likelihood.scoring_files()[0])))
    assert results, mnist_likelihood.RESULTS
    for run in results:
        result = mnist_likelihood.read_json(run)
        for figure in (result["nll"], -result["elbo"]):
            assert f"{figure:.2f}" in readme, (run, figure)
        assert f"{result['train_seconds']:,.0f}" in readme, (run, result["train_seconds"])
