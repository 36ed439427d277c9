"""Ex-post samplers (kv.samplers): what each fits, that the draws follow the fitted
distribution, and that an attached sampler is what model.sample, the .keras file, the export
and the CLI use."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv
from keras_vae import cli
from keras_vae import samplers
from tests import registry as reg

X = np.random.default_rng(0).uniform(size=(240, 6)).astype("float32")


def tiny_vae(**kwargs):
    vae = kv.VAE(input_shape=(6,), latent_dim=2, hidden_units=(8,), seed=0, **kwargs)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    return vae


@pytest.fixture(scope="module")
def trained():
    vae = tiny_vae()
    vae.fit(X, epochs=2, batch_size=40, verbose=0)
    return vae


def quick(kind, model):
    return {
        "gmm": lambda: samplers.GaussianMixture(model, num_components=3, seed=0),
        "maf": lambda: samplers.MAF(model, num_steps=2, hidden_units=(16,), epochs=3, seed=0),
        "two_stage": lambda: samplers.TwoStage(model, hidden_units=(16,), epochs=3, seed=0),
    }[kind]()


def mixture_moments(weights, means, covariances):
    mean = (weights[:, None] * means).sum(0)
    second = sum(w * (c + np.outer(m, m)) for w, m, c in zip(weights, means, covariances))
    return mean, second - np.outer(mean, mean)


def test_gaussian_mixture_draws_follow_the_fitted_mixture(trained):
    from sklearn.mixture import GaussianMixture as Reference

    gmm = samplers.GaussianMixture(trained, num_components=3, seed=0).fit(X)
    codes, _ = gmm.encode_data(X)
    reference = Reference(3, covariance_type="full", random_state=0, reg_covar=1e-6).fit(codes)
    np.testing.assert_allclose(np.sort(gmm.means.numpy()[0], axis=0),
                               np.sort(reference.means_, axis=0), rtol=1e-4, atol=1e-5)
    z = np.asarray(gmm.latents(None, 40_000, seed=1), np.float64)
    mean, cov = mixture_moments(reference.weights_, reference.means_, reference.covariances_)
    scale = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(z.mean(0), mean, atol=0.03 * scale.max())
    np.testing.assert_allclose(np.cov(z, rowvar=False), cov, atol=0.05 * scale.max() ** 2)
    # The draw is seeded: the same seed, the same latents; another seed, others.
    np.testing.assert_array_equal(gmm.latents(None, 5, seed=3), gmm.latents(None, 5, seed=3))
    assert not np.allclose(gmm.latents(None, 5, seed=3), gmm.latents(None, 5, seed=4))


def test_maf_is_invertible_and_fits_a_gaussian_by_likelihood():
    model = tiny_vae()
    maf = samplers.MAF(model, num_steps=3, hidden_units=(32,), epochs=40, seed=0)
    rng = np.random.default_rng(1)
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    codes = rng.multivariate_normal([2.0, -1.0], cov, size=4000)
    maf.fit_codes(codes, np.zeros(len(codes), np.int64))
    maf.fitted.assign(1.0)
    # The draw inverts the density's map: noise -> code -> the same noise.
    noise = rng.standard_normal((50, 2)).astype("float32")
    z = maf.codes_from_noise(tf.constant(noise), tf.zeros(50, tf.int32))
    y = (z - maf.shift) / maf.scale
    for k in range(maf.num_steps):
        m, s = maf.shift_and_log_scale(k, y)
        y = tf.reverse((y - m) * tf.exp(-s), axis=[-1])
    np.testing.assert_allclose(y, noise, atol=1e-4)
    # Its likelihood of held-out draws is that of the true Gaussian, within 0.05 nats.
    test = rng.multivariate_normal([2.0, -1.0], cov, size=4000)
    true = -0.5 * np.einsum("ni,ij,nj->n", test - [2, -1], np.linalg.inv(cov), test - [2, -1]) \
        - np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(cov))
    assert abs(float(np.mean(maf.log_prob(test))) - true.mean()) < 0.05


def test_two_stage_matches_the_moments_of_its_codes():
    model = tiny_vae()
    two = samplers.TwoStage(model, hidden_units=(64, 64), epochs=60, learning_rate=3e-3,
                           seed=0)
    rng = np.random.default_rng(2)
    centres = np.array([[3.0, 0.0], [-3.0, 0.0]])
    codes = centres[rng.integers(0, 2, 4000)] + 0.5 * rng.standard_normal((4000, 2))
    two.fit_codes(codes, np.zeros(len(codes), np.int64))
    two.fitted.assign(1.0)
    z = np.asarray(two.latents(None, 4000, seed=0))
    np.testing.assert_allclose(z.mean(0), codes.mean(0), atol=0.25)
    np.testing.assert_allclose(z.std(0), codes.std(0), rtol=0.15)
    # Two modes, not one blob: few draws fall in the empty middle.
    assert np.mean(np.abs(z[:, 0]) < 1.0) < 0.15
    assert np.exp(float(two.log_gamma.numpy())) < 0.5  # the learned scale shrank


@pytest.mark.parametrize("kind", ["gmm", "maf", "two_stage"])
def test_an_attached_sampler_is_what_the_model_saves_and_exports(trained, kind, tmp_path):
    model = trained
    weights_before = len(model.trainable_weights)
    sampler = quick(kind, model).fit(X)
    own = np.asarray(sampler.sample(6, seed=5))
    prior = np.asarray(model.sample(6, seed=5))
    model.attach_sampler(sampler)
    try:
        # Frozen towards the model: its optimizer's state is unchanged by attaching.
        assert len(model.trainable_weights) == weights_before
        np.testing.assert_array_equal(model.sample(6, seed=5), own)
        assert not np.allclose(own, prior)
        model.save(tmp_path / "m.keras")
        loaded = keras.models.load_model(tmp_path / "m.keras")
        assert type(loaded.latent_sampler) is type(sampler)
        np.testing.assert_array_equal(loaded.sample(6, seed=5), own)
        for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
            np.testing.assert_array_equal(a, b)
        version = kv.export.export_saved_model(model, tmp_path / "export")
        served = kv.export.ExportedModel(version)
        np.testing.assert_allclose(served.sample(6, seed=5), own, atol=1e-6)
        meta = json.loads((tmp_path / "export" / "1" / "assets" / "keras_vae.json").read_text())
        assert meta["sampler"] == type(sampler).__name__
    finally:
        model.attach_sampler(None)
    np.testing.assert_array_equal(model.sample(6, seed=5), prior)  # detached: the prior again
    model.save(tmp_path / "detached.keras")
    assert keras.models.load_model(tmp_path / "detached.keras").latent_sampler is None


def test_a_class_conditional_model_gets_one_mixture_per_class():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300).astype("int32")
    x = np.clip(rng.uniform(size=(300, 6)) * 0.3 + labels[:, None] * 0.3, 0, 1).astype("float32")
    cvae = kv.ConditionalVAE(input_shape=(6,), num_classes=3, latent_dim=2, hidden_units=(8,),
                             seed=0)
    cvae.compile(optimizer="adam")
    cvae.fit(x, labels, epochs=1, batch_size=50, verbose=0)
    gmm = samplers.GaussianMixture(cvae, num_components=2, seed=0).fit(x, labels)
    assert gmm.means.shape == (3, 2, 2)
    codes, classes = gmm.encode_data(x, labels)
    for c in range(3):
        z = np.asarray(gmm.latents(tf.fill([4000], c), 4000, seed=c))
        np.testing.assert_allclose(z.mean(0), codes[classes == c].mean(0), atol=0.1)
    cvae.attach_sampler(gmm)
    assert cvae.sample(np.array([0, 1, 2]), seed=0).shape == (3, 6)
    with pytest.raises(ValueError, match="one per class: use kv.samplers.GaussianMixture"):
        samplers.MAF(cvae)
    with pytest.raises(ValueError, match="needs labels"):
        samplers.GaussianMixture(cvae, num_components=2).fit(x)


def test_bad_samplers_and_models_are_named(trained):
    with pytest.raises(ValueError, match="not fitted"):
        trained.attach_sampler(samplers.GaussianMixture(num_components=2))
    with pytest.raises(ValueError, match="not fitted"):
        samplers.GaussianMixture(trained).sample(3)
    with pytest.raises(ValueError, match="has no model"):
        samplers.GaussianMixture().fit(X)
    with pytest.raises(ValueError, match="must be a keras_vae sampler"):
        trained.attach_sampler(kv.flows.IAF(2))
    vq = kv.VQVAE(input_shape=(8, 8, 1), num_embeddings=4, embedding_dim=2, filters=(4,))
    with pytest.raises(ValueError, match="VQ-VAE samples its codes"):
        samplers.GaussianMixture(vq)
    other = kv.VAE(input_shape=(6,), latent_dim=3, hidden_units=(8,))
    with pytest.raises(ValueError, match="built for codes of size 2"):
        samplers.GaussianMixture(trained, 2).build_for(other)
    with pytest.raises(ValueError, match="at least 5 examples"):
        samplers.GaussianMixture(trained, 5).fit(X[:4])
    with pytest.raises(ValueError, match="Unknown sampler"):
        samplers.from_spec("kde:3")
    floats = kv.ConditionalVAE(input_shape=(6,), condition_dim=2, latent_dim=2,
                               hidden_units=(8,))
    with pytest.raises(ValueError, match="continuous condition"):
        samplers.GaussianMixture(floats)
    spec = samplers.from_spec("gmm:4")
    assert (type(spec), spec.num_components) == (samplers.GaussianMixture, 4)
    assert samplers.from_spec("maf:3").num_steps == 3
    assert samplers.from_spec("two_stage").second_latent_dim is None


def test_a_sampler_config_round_trips():
    for sampler in (samplers.GaussianMixture(num_components=4, covariance="diag", seed=1),
                    samplers.MAF(num_steps=3, hidden_units=(8, 8), epochs=2, seed=2),
                    samplers.TwoStage(hidden_units=(8,), latent_dim=2, epochs=2, seed=3)):
        again = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(sampler))
        assert again.get_config() == sampler.get_config()


def test_cli_attaches_a_sampler_after_training(tiny_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--dataset", tiny_npz, "--epochs", "1", "--batch-size", "16",
                     "--output", str(out), "--architecture", "mlp", "--hidden-units", "8",
                     "--latent-dim", "2", "--sampler", "gmm:3", "--quiet"]) == 0
    assert "Fitting the gmm:3 sampler" in capsys.readouterr().out
    model = keras.models.load_model(out / "model.keras")
    assert model.latent_sampler.num_components == 3 and model.latent_sampler.is_fitted
    served = kv.export.ExportedModel(str(out / "1"))
    np.testing.assert_allclose(served.sample(4, seed=2), model.sample(4, seed=2), atol=1e-6)
    with pytest.raises(SystemExit):
        cli.main(["train", "--dataset", tiny_npz, "--model", "vqvae", "--output",
                  str(tmp_path / "vq"), "--sampler", "gmm:2", "--quiet"])
    assert "--sampler does not apply to --model vqvae" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--dataset", tiny_npz, "--output", str(tmp_path / "bad"),
                  "--sampler", "kde", "--quiet"])
    assert "Unknown sampler" in capsys.readouterr().err


def test_the_cli_fits_a_mixture_by_default_to_models_without_labels(tiny_npz, tmp_path, capsys):
    tiny = ["--dataset", tiny_npz, "--epochs", "1", "--batch-size", "16", "--architecture",
            "mlp", "--hidden-units", "8", "--no-export", "--quiet"]
    runs = {"default": [], "none": ["--sampler", "none"], "cvae": ["--model", "cvae"]}
    for name, flags in runs.items():
        assert cli.main(["train", "--output", str(tmp_path / name), *tiny, *flags]) == 0
    assert f"Fitting the {cli.CLI_NETWORK_DEFAULTS['sampler']} sampler" in \
        capsys.readouterr().out
    default = keras.models.load_model(tmp_path / "default" / "model.keras")
    assert isinstance(default.latent_sampler, samplers.GaussianMixture)
    assert default.latent_sampler.num_components == 10 and default.latent_sampler.is_fitted
    for name in ("none", "cvae"):  # a mixture per class would need ten of each of 10 labels
        assert keras.models.load_model(tmp_path / name / "model.keras").latent_sampler is None


GAUSSIAN_IDS = sorted(i for i, (cls, _) in reg.MODELS.items()
                      if cls.latent_kind == "gaussian")


@pytest.mark.parametrize("model_id", GAUSSIAN_IDS)
def test_every_gaussian_registry_model_samples_from_an_attached_mixture(model_id, tmp_path):
    model = reg.build(model_id)
    x, labels = reg.batch(model, n=48)
    if getattr(model, "condition_dim", None):
        with pytest.raises(ValueError, match="continuous condition"):
            samplers.GaussianMixture(model)
        return
    gmm = samplers.GaussianMixture(model, num_components=2, seed=0).fit(x, labels)
    want = np.asarray(gmm.sample(4 if labels is None else reg.sample_labels(model, 4), seed=1))
    model.attach_sampler(gmm)
    np.testing.assert_array_equal(reg.sample(model, 4, seed=1), want)
    model.save(tmp_path / "m.keras")
    np.testing.assert_array_equal(
        reg.sample(keras.models.load_model(tmp_path / "m.keras"), 4, seed=1), want)
    served = kv.export.ExportedModel(kv.export.export_saved_model(model, tmp_path / "export"))
    np.testing.assert_allclose(
        served.sample(4 if labels is None else reg.sample_labels(model, 4), seed=1), want,
        atol=1e-5)


def test_a_sampler_fits_after_mirrored_mixed_precision_training(tiny_npz, tmp_path):
    out = tmp_path / "run"
    assert cli.main(["train", "--dataset", tiny_npz, "--epochs", "1", "--batch-size", "16",
                     "--output", str(out), "--architecture", "mlp", "--hidden-units", "8",
                     "--latent-dim", "2", "--sampler", "maf:2", "--strategy", "mirrored",
                     "--mixed-precision", "mixed_float16", "--quiet"]) == 0
    model = keras.models.load_model(out / "model.keras")
    assert model.compute_dtype == "float16" and model.latent_sampler.dtype == "float32"
    served = kv.export.ExportedModel(str(out / "1"))
    drawn = np.asarray(served.sample(4, seed=2))
    assert drawn.dtype == np.float32
    np.testing.assert_allclose(drawn, model.sample(4, seed=2), atol=2e-3)
