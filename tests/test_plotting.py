"""kv.plotting: every picture is written without a display, at the expected size."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import keras_vae as kv

RNG = np.random.default_rng(0)
X = RNG.random((8, 8, 8, 1)).astype("float32")


def _size(path):
    with Image.open(path) as image:
        return image.size


@pytest.fixture(scope="module")
def vae():
    return kv.VAE(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(8,), seed=0)


def test_traversals_one_row_per_dimension_sorted_by_kl(vae, tmp_path):
    images = kv.plotting.traversal_images(vae, X[0], values=np.linspace(-2, 2, 5), order=[2, 0])
    assert images.shape == (10, 8, 8, 1)
    # Row 0 moves z2 only: decoding z with z2 = -2 equals the first image.
    base = np.asarray(vae.encode(X[:1])[0])[0]
    z = base.copy()
    z[2] = -2.0
    np.testing.assert_allclose(images[0], np.asarray(vae.decode(z[None]))[0], atol=1e-6)
    path = kv.plotting.save_traversals(tmp_path / "t.png", vae, X[0], kl_per_dimension=[0.1, 0.0,
                                                                                        3.0])
    assert _size(path)[0] >= 400


def test_interpolations_start_and_end_at_the_two_images(vae, tmp_path):
    for method in ("linear", "slerp"):
        images = kv.plotting.interpolation_images(vae, X[0], X[1], steps=6, method=method)
        ends = np.asarray(vae.decode(np.asarray(vae.encode(X[:2])[0])))
        np.testing.assert_allclose(images[[0, -1]], ends, atol=1e-5)
    with pytest.raises(ValueError, match="'linear' or 'slerp'"):
        kv.plotting.interpolation_images(vae, X[0], X[1], method="cubic")
    path = kv.plotting.save_interpolations(tmp_path / "i.png", vae, [(X[0], X[1]), (X[2], X[3])])
    assert _size(path)[0] >= 400


def test_slerp_keeps_the_norm_between_equal_norm_vectors():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    points = kv.plotting.slerp(a, b, np.linspace(0, 1, 5))
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(points[[0, -1]], [a, b], atol=1e-6)


def test_latent_scatter_projects_with_pca_and_tsne(tmp_path):
    points = RNG.normal(size=(60, 5)) * np.array([5.0, 1.0, 0.1, 0.1, 0.1])
    xy = kv.plotting.project_2d(points)
    assert xy.shape == (60, 2)
    assert np.var(xy[:, 0]) > 10 * np.var(xy[:, 1])  # the first component carries most
    assert kv.plotting.project_2d(points, "tsne").shape == (60, 2)
    for labels in (None, RNG.integers(0, 10, 60)):
        path = kv.plotting.save_latent_scatter(tmp_path / "s.png", points, labels)
        assert _size(path) == (600, 500)
    with pytest.raises(ValueError, match="'pca' or 'tsne'"):
        kv.plotting.project_2d(points, "umap")


def test_manifold_needs_a_2d_latent(vae, tmp_path):
    two = kv.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), seed=0)
    assert _size(kv.plotting.save_manifold(tmp_path / "m.png", two, n=5))[0] >= 400
    with pytest.raises(ValueError, match="2-D latent"):
        kv.plotting.save_manifold(tmp_path / "m.png", vae)


def test_training_curves_from_history_csv_and_tensorboard(tmp_path):
    model = kv.BetaVAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), beta=2.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    ds = tf.data.Dataset.from_tensor_slices(X).batch(4)
    history = model.fit(ds, validation_data=ds, epochs=3, verbose=0, callbacks=[
        keras.callbacks.CSVLogger(str(tmp_path / "history.csv")),
        keras.callbacks.TensorBoard(str(tmp_path / "logs"))])
    from_csv = kv.plotting.read_history(tmp_path / "history.csv")
    from_logs = kv.plotting.read_history(tmp_path / "logs")
    for read in (from_csv, from_logs):
        np.testing.assert_allclose(read["loss"], history.history["loss"], rtol=1e-5)
        np.testing.assert_allclose(read["val_elbo"], history.history["val_elbo"], rtol=1e-5)
        assert read["beta"] == pytest.approx([2.0] * 3)
    for source in (history, tmp_path / "history.csv", tmp_path / "logs"):
        path = kv.plotting.save_training_curves(tmp_path / "c.png", source)
        assert _size(path) == (1200, 600)  # 5 panels: 3 x 2 at 4 x 3 inches
    with pytest.raises(FileNotFoundError, match="No history"):
        kv.plotting.read_history(tmp_path / "missing.csv")


def test_writing_a_png_keeps_the_backend_pyplot_already_uses(tmp_path):
    # In a notebook pyplot runs on the inline backend; writing a PNG here must not switch it
    # (it once forced Agg, and later plt.show() calls displayed nothing). A fresh process,
    # so the backend of this test process stays as it is.
    script = (
        "import matplotlib; matplotlib.use('svg'); import matplotlib.pyplot as plt\n"
        "import numpy as np, keras_vae as kv\n"
        f"kv.plotting.save_image_grid({str(tmp_path / 'grid.png')!r}, np.zeros((4, 8, 8, 1)))\n"
        "print(matplotlib.get_backend())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, check=True)
    assert result.stdout.strip().splitlines()[-1] == "svg"
    assert (tmp_path / "grid.png").stat().st_size > 0
