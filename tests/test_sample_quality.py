"""Sample-quality metrics: precision/recall against their definition, the shapes validity
check on real and broken images, the feature model trained here, and what evaluate reports."""

import numpy as np
import pytest

import keras_vae as kv
from keras_vae.data.shapes import Shapes
from keras_vae.evaluation import generation


def reference_precision_recall(real, fake, k):
    """Kynkäänniemi et al. 2019 written out point by point."""
    def radii(points):
        d = np.linalg.norm(points[:, None] - points[None], axis=-1)
        return np.sort(d, axis=1)[:, k]  # column 0: the point itself

    def covered(queries, centres):
        d = np.linalg.norm(queries[:, None] - centres[None], axis=-1)
        return np.mean([(row <= radii(centres)).any() for row in d])

    return covered(fake, real), covered(real, fake)


@pytest.mark.parametrize("shift, spread", [(0.0, 1.0), (1.5, 1.0), (0.0, 0.3), (0.0, 2.0)])
def test_precision_recall_is_the_published_definition(shift, spread):
    rng = np.random.default_rng(0)
    real = rng.normal(size=(150, 3))
    fake = shift + spread * rng.normal(size=(120, 3))
    got = kv.evaluation.precision_recall(real, fake, k=3, chunk=37)
    precision, recall = reference_precision_recall(real, fake, 3)
    assert (got["precision"], got["recall"]) == pytest.approx((precision, recall), abs=1e-12)


def test_precision_and_recall_tell_collapse_from_noise():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(500, 4))
    collapsed = kv.evaluation.precision_recall(real, 0.2 * rng.normal(size=(500, 4)))
    noisy = kv.evaluation.precision_recall(real, 3.0 * rng.normal(size=(500, 4)))
    assert collapsed["precision"] > 0.95 and collapsed["recall"] < 0.3
    assert noisy["precision"] < 0.5 and noisy["recall"] > 0.9
    with pytest.raises(ValueError, match="more than k = 3 rows"):
        kv.evaluation.precision_recall(real[:3], real)


def test_shapes_validity_accepts_real_shapes_and_refuses_blanks_blobs_and_mixtures():
    shapes = Shapes()  # test images of every shape, scale and orientation (index order is not)
    real = shapes.images(np.random.default_rng(0).choice(shapes.split_indices("test"), 600,
                                                          replace=False))
    validity = kv.evaluation.shapes_validity(real)
    assert validity["valid_fraction"] == 1.0 and validity["exact_fraction"] >= 0.97
    assert kv.evaluation.shapes_validity(np.zeros((5, 64, 64, 1)))["valid_fraction"] == 0.0
    two = np.clip(real[:300] + real[300:], 0, 1)  # two shapes in one image
    assert kv.evaluation.shapes_validity(two)["valid_fraction"] <= 0.08
    # Round blobs: some pass as small shapes, none is an exact one.
    yy, xx = np.mgrid[0:64, 0:64]
    blobs = np.stack([np.exp(-((yy - 32) ** 2 + (xx - 30) ** 2) / (2 * s ** 2))
                      for s in np.linspace(2, 10, 30)])[..., None]
    assert kv.evaluation.shapes_validity(blobs)["exact_fraction"] <= 0.05
    # Soft edges (what a decoder trained briefly draws) still count as the shape.
    soft = np.stack([np.convolve(np.ones(3) / 3, row, "same") for row in
                     real[:100].reshape(-1, 64)]).reshape(100, 64, 64, 1)
    assert kv.evaluation.shapes_validity(soft)["valid_fraction"] >= 0.95
    with pytest.raises(ValueError, match=r"\[N, 64, 64, 1\]"):
        kv.evaluation.shapes_validity(np.zeros((2, 28, 28, 1)))


def test_a_trained_feature_model_separates_mnist_and_scores_the_test_set_against_itself(
        mnist_path):
    data = np.load(mnist_path)
    x = data["x_train"][:3000, ..., None].astype("float32") / 255
    features, classifier = kv.evaluation.train_feature_model(x, data["y_train"][:3000],
                                                             epochs=2, seed=0)
    test = data["x_test"][:1000, ..., None].astype("float32") / 255
    accuracy = np.mean(np.argmax(classifier.predict(test, verbose=0), 1) == data["y_test"][:1000])
    assert accuracy > 0.85
    assert features(test[:2]).shape == (2, 128)
    a = generation.features_of(features, test[:500])
    b = generation.features_of(features, test[500:])
    noise = generation.features_of(features, np.random.default_rng(0).uniform(
        size=(500, 28, 28, 1)).astype("float32"))
    floor, bad = generation.frechet_distance(a, b), generation.frechet_distance(a, noise)
    assert floor < 0.1 * bad
    assert kv.evaluation.precision_recall(a, b)["precision"] > 0.8
    # Noise lands in one spot of feature space: it covers none of the digits' variety.
    # (Its precision is high here: with 500 real points, outlying digits have wide balls.)
    assert kv.evaluation.precision_recall(a, noise)["recall"] < 0.05
    with pytest.raises(ValueError, match="one label each"):
        kv.evaluation.train_feature_model(x[:10], data["y_train"][:9])


def test_sample_quality_reports_distance_precision_and_recall():
    vae = kv.VAE(input_shape=(6,), latent_dim=2, hidden_units=(8,), seed=0)
    images = np.random.default_rng(0).uniform(size=(50, 6)).astype("float32")
    import keras

    identity = keras.Sequential([keras.Input((6,)), keras.layers.Identity()])
    quality = kv.evaluation.sample_quality(vae, images, identity, seed=0)
    assert set(quality) == {"frechet_distance", "precision", "recall", "k"}
    expected = generation.frechet_distance(images, generation.draw_samples(vae, 50, seed=0))
    assert quality["frechet_distance"] == pytest.approx(expected)


def test_shapes_validity_renders_its_templates_in_bounded_memory():
    # All 18,000 templates rendered in one call took the process to 4.2 GB, which beside two
    # grown test workers got one killed by the kernel's OOM killer; in chunks it stays near
    # 1.2 GB.
    import subprocess
    import sys

    from tests.runs import subprocess_env

    # VmHWM, the peak of this address space: ru_maxrss would carry over the peak of the
    # (large) test worker that started the subprocess, as Linux keeps it across exec.
    code = ("import numpy as np\n"
            "from keras_vae.evaluation import generation\n"
            "generation.shapes_validity(np.zeros((4, 64, 64, 1), np.float32))\n"
            "print(open('/proc/self/status').read())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=subprocess_env(), check=True)
    peak_kib = next(int(line.split()[1]) for line in out.stdout.splitlines()
                    if line.startswith("VmHWM:"))
    assert peak_kib / 2**20 < 3.0, peak_kib / 2**20
