"""The pictures of a run: TensorBoard images every epoch (ImageLogger), and the traversal and
KL-per-dimension pictures of ``keras-vae train``."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv
from keras_vae import cli
from keras_vae import training
from keras_vae.plotting import previews
from tests import registry as reg
from tests.test_cli import TINY


def logged_images(log_dir):
    """``{tag: [steps]}`` of the image summaries under ``log_dir/images``."""
    found = {}
    for path in glob.glob(os.path.join(log_dir, "images", "*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                assert value.metadata.plugin_data.plugin_name == "images"
                found.setdefault(value.tag, []).append(event.step)
    return found


@pytest.mark.parametrize("name, tags", [
    ("vae_mlp", {"reconstructions", "samples", "traversals"}),
    ("cvae_float_conditions", {"reconstructions", "samples", "traversals"}),
    # Built with a (class-conditional) prior, so it samples; codes have no axes to traverse.
    ("vqvae_ema_dead_codes_class_prior", {"reconstructions", "samples"}),
])
def test_image_logger_writes_the_pictures_that_apply_every_epoch(tmp_path, name, tags):
    model = reg.build(name, seed=0)
    batch = reg.batch(model, n=16)
    batch = batch[0] if batch[1] is None or not model.needs_labels else batch
    reg.trained(name, 3, callbacks=[kv.callbacks.ImageLogger(tmp_path, batch, every=1)])
    found = logged_images(tmp_path)
    assert set(found) == tags
    assert all(steps == [1, 2, 3] for steps in found.values()), found


def test_image_logger_every_and_what_it_refuses(tmp_path):
    model = reg.build("vae_mlp")
    x, _ = reg.batch(model, n=8)
    logger = kv.callbacks.ImageLogger(tmp_path, x, every=2, traversals=False)
    reg.trained("vae_mlp", 4, callbacks=[logger])
    assert logged_images(tmp_path) == {"reconstructions": [2, 4], "samples": [2, 4]}
    with pytest.raises(ValueError, match="`every` must be a positive integer"):
        kv.callbacks.ImageLogger(tmp_path, x, every=0)
    # Tabular rows are no pictures: nothing is written.
    table = tmp_path / "table"
    model = reg.build("vae_tabular_gaussian_real")
    reg.trained("vae_tabular_gaussian_real",
                callbacks=[kv.callbacks.ImageLogger(table, reg.batch(model, n=8)[0])])
    assert logged_images(table) == {}


def test_traversal_rows_follow_the_kl_of_each_dimension():
    model = reg.trained("factor_vae_mlp", 2)
    x, _ = reg.batch(model, n=32)
    pictures = previews.run_pictures(model, x, seed=0, title="t")
    images, ncols, _, kl = pictures["traversals"]
    np.testing.assert_allclose(kl, model.kl_per_dimension(x), rtol=1e-5)
    order = np.argsort(-kl, kind="stable")
    assert images.shape[0] == ncols * model.latent_dim
    for row, dim in enumerate(order):
        expected = kv.plotting.traversal_images(model, x[0], np.linspace(-3, 3, 9), [dim])
        np.testing.assert_allclose(images[row * ncols:(row + 1) * ncols], expected, atol=1e-5)


def test_train_writes_traversals_kl_bars_and_image_logs(tiny_npz, tmp_path):
    out = tmp_path / "run"
    assert cli.main(["train", "--dataset", tiny_npz, "--epochs", "2", "--output", str(out),
                     *TINY]) == 0
    for name in training.PICTURES:
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    assert logged_images(str(out / "logs")) == {
        tag: [1, 2] for tag in ("reconstructions", "samples", "traversals")}
    quiet = tmp_path / "quiet"
    assert cli.main(["train", "--dataset", tiny_npz, "--epochs", "1", "--output", str(quiet),
                     "--no-image-logs", *TINY]) == 0
    assert not (quiet / "logs" / "images").exists()


def test_a_model_without_a_kl_has_traversals_in_index_order_and_no_kl_bars(tmp_path):
    model = reg.trained("aae_mixture_prior_gaussian_encoder")
    x, _ = reg.batch(model, n=16)
    paths = {name: str(tmp_path / f"{name}.png") for name in training.PICTURES}
    training.save_pictures(model, x, paths, seed=0, title="aae")
    assert set(paths) == {"reconstructions", "samples", "traversals"}
    assert all(os.path.isfile(p) for p in paths.values())
    assert previews.run_pictures(model, x, 0, "aae")["traversals"][3] is None
