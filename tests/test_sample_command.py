"""``keras-vae sample``: from a .keras file or a SavedModel export, the same draws for the
same seed; labels, condition vectors and temperature; bad requests named in one line."""

import keras
import numpy as np
import pytest

import keras_vae as kv
from keras_vae import cli
from tests import registry as reg

#: Registry entries covering each kind of sample input: a number, labels, condition vectors,
#: and the labels of a VQ-VAE's class-conditional prior.
SAMPLED = ("vae_mlp", "cvae_one_hot_mlp", "cvae_float_conditions",
           "vqvae_ema_dead_codes_class_prior", "vae_tabular_gaussian_real")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("sampled")
    files = {}
    for name in SAMPLED:
        model = reg.trained(name)
        if reg.is_vq(model):
            x, _ = reg.batch(model)
            model.fit_prior((x, np.arange(len(x)) % 3), epochs=1, verbose=0)
        model.save(root / f"{name}.keras")
        files[name] = (str(root / f"{name}.keras"),
                       kv.export.export_saved_model(model, str(root / f"export_{name}")))
    return files


def sample(tmp_path, source, *flags, name="out.npz"):
    out = tmp_path / name
    assert cli.main(["sample", source, "--out", str(out), *flags]) == 0
    return dict(np.load(out)) if name.endswith(".npz") else out


@pytest.mark.parametrize("name, flags, rows", [
    ("vae_mlp", ["--num", "5"], 5),
    ("cvae_one_hot_mlp", ["--num", "2"], 6),  # every class, 2 each
    ("cvae_one_hot_mlp", ["--label", "2,0", "--num", "3"], 6),
    ("cvae_float_conditions", ["--condition", "0.5,-1,2", "--condition", "0,0,1"], 16),
    ("vqvae_ema_dead_codes_class_prior", ["--label", "1", "--num", "4"], 4),
    ("vae_tabular_gaussian_real", [], 64),
])
def test_keras_file_and_export_draw_the_same_samples(trained, tmp_path, name, flags, rows):
    keras_file, export = trained[name]
    from_file = sample(tmp_path, keras_file, "--seed", "3", *flags, name="a.npz")
    from_export = sample(tmp_path, export, "--seed", "3", *flags, name="b.npz")
    assert from_file["x"].shape[0] == rows
    np.testing.assert_allclose(from_file["x"], from_export["x"], atol=1e-5)
    other_seed = sample(tmp_path, keras_file, "--seed", "4", *flags, name="c.npz")
    assert np.max(np.abs(other_seed["x"] - from_file["x"])) > 1e-3
    for key in ("labels", "conditions"):
        if key in from_file:
            np.testing.assert_array_equal(from_file[key], from_export[key])
    if "--label" in flags:
        wanted = [int(v) for v in flags[flags.index("--label") + 1].split(",")]
        assert list(from_file["labels"]) == list(np.repeat(wanted, rows // len(wanted)))


def test_labels_decide_what_a_conditional_model_draws(trained, tmp_path):
    keras_file, _ = trained["cvae_one_hot_mlp"]
    model = keras.models.load_model(keras_file)
    got = sample(tmp_path, keras_file, "--label", "1", "--num", "4", "--seed", "5")
    np.testing.assert_allclose(got["x"], model.sample(np.full(4, 1, np.int32), seed=5),
                               atol=1e-6)


def test_temperature_scales_the_prior_and_zero_decodes_its_mean(trained, tmp_path):
    keras_file, export = trained["vae_mlp"]
    model = keras.models.load_model(keras_file)
    cold = sample(tmp_path, keras_file, "--temperature", "0", "--num", "3")
    np.testing.assert_allclose(cold["x"], model.decode(np.zeros((3, 2), np.float32)),
                               atol=1e-6)
    half = sample(tmp_path, keras_file, "--temperature", "0.5", "--num", "3", "--seed", "2")
    np.testing.assert_allclose(half["x"], model.sample(3, seed=2, temperature=0.5), atol=1e-6)
    assert float(half["temperature"]) == 0.5


def test_png_grid_is_written_for_images(trained, tmp_path):
    path = sample(tmp_path, trained["cvae_one_hot_mlp"][0], "--num", "2", name="grid.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial file


@pytest.mark.parametrize("name, flags, message", [
    ("vae_mlp", ["--label", "1"], "--label applies to class-conditional models"),
    ("cvae_one_hot_mlp", ["--label", "3"], "--label 3 is outside the model's classes 0-2"),
    ("cvae_one_hot_mlp", ["--condition", "1,2"], "--condition applies to condition-vector"),
    ("cvae_float_conditions", [], "pass --condition"),
    ("cvae_float_conditions", ["--condition", "1,2"], "expected rows of 3 finite numbers"),
    ("cvae_float_conditions", ["--condition", "1,nan,2"], "expected rows of 3 finite numbers"),
    ("vae_mlp", ["--temperature", "-1"], "a number >= 0"),
    ("vae_mlp", ["--num", "0"], "a positive integer"),
])
def test_bad_requests_are_usage_errors(trained, tmp_path, capsys, name, flags, message):
    for source in trained[name]:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["sample", source, "--out", str(tmp_path / "x.npz"), *flags])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("flags, message", [
    (["--out", "x.jpg"], "expected a file ending in .png or .npz"),
    (["--temperature", "2", "--out", "x.npz"], "samples at temperature 1 only"),
])
def test_what_an_export_cannot_do_is_named(trained, tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["sample", trained["vae_mlp"][1], *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_tabular_samples_refuse_a_picture_and_a_missing_model_is_named(trained, tmp_path,
                                                                        capsys):
    with pytest.raises(SystemExit):
        cli.main(["sample", trained["vae_tabular_gaussian_real"][0], "--out",
                  str(tmp_path / "t.png")])
    assert "is not images in [0, 1]: write the samples to an .npz" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["sample", str(tmp_path / "nothing"), "--out", str(tmp_path / "t.npz")])
    assert "Nor is it a SavedModel export" in capsys.readouterr().err


def test_a_train_folder_samples_from_its_keras_model_and_a_base_folder_from_its_newest(
        trained, tmp_path):
    _, export = trained["vae_mlp"]
    base = tmp_path / "base"
    model = keras.models.load_model(trained["vae_mlp"][0])
    kv.export.export_saved_model(model, str(base), version=3)
    assert kv.export.find_export(str(base)) == str(base / "3")
    got = sample(tmp_path, str(base), "--seed", "1", "--num", "2")
    np.testing.assert_allclose(got["x"], model.sample(2, seed=1), atol=1e-5)
    assert isinstance(kv.training.load_model_or_export(export), kv.export.ExportedModel)
