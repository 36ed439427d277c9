"""The adversarial autoencoder: its prior, its two updates, its codes matched to the prior,
the supervised form, and the arguments it refuses."""

import keras
import numpy as np
import pytest

import keras_vae as kv

SHAPE = (8, 8, 1)
TINY = dict(input_shape=SHAPE, latent_dim=2, hidden_units=(16,), discriminator_units=(16,))


def test_mixture_prior_draws_each_component_equally_around_its_mean():
    model = kv.AdversarialAutoencoder(**TINY, prior_type="mixture", num_components=4,
                                      mixture_radius=3.0, mixture_scale=0.2, seed=0)
    z = np.asarray(model.prior_sample(None, 4000, seed=1))
    means = np.asarray(model.mixture_means())
    np.testing.assert_allclose(means, [[3, 0], [0, 3], [-3, 0], [0, -3]], atol=1e-6)
    nearest = np.argmin(((z[:, None] - means[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=4) / 4000, 0.25, atol=0.03)
    spread = z - means[nearest]
    np.testing.assert_allclose(spread.std(axis=0), 0.2, rtol=0.1)
    # Seeded draws repeat; the temperature scales the spread around the means only.
    np.testing.assert_array_equal(z, np.asarray(model.prior_sample(None, 4000, seed=1)))
    cold = np.asarray(model.prior_sample(None, 4000, seed=1, temperature=0.0))
    assert set(map(tuple, np.round(cold, 5))) <= set(map(tuple, np.round(means, 5)))


def test_the_deterministic_code_is_the_mean():
    model = kv.AdversarialAutoencoder(**TINY, seed=0)
    x = np.random.default_rng(0).random((4, *SHAPE)).astype("float32")
    mean, log_var = model.encode(x)
    np.testing.assert_array_equal(np.asarray(log_var), -30.0)
    # A "sample" of a point mass moves the code by a standard deviation of exp(-15).
    np.testing.assert_allclose(np.asarray(model.reconstruct(x, sample=True)),
                               np.asarray(model.reconstruct(x)), atol=1e-5)


def test_the_loss_is_reconstruction_plus_the_weighted_adversarial_term():
    model = kv.AdversarialAutoencoder(**TINY, adversarial_weight=3.0, seed=0)
    x = np.random.default_rng(0).random((16, *SHAPE)).astype("float32")
    values = {k: np.asarray(v) for k, v in model.objective_values(
        model.compute_terms(model.check_data(x))).items()}
    np.testing.assert_allclose(values["loss"], values["reconstruction_loss"]
                               + 3.0 * values["adversarial_loss"], rtol=1e-6)
    assert set(values) == set(model.metric_names())


def blobs(n=512, seed=0):
    """8x8 images of a bright square at a random place: a two-factor data set."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, *SHAPE), "float32")
    for i, (r, c) in enumerate(rng.integers(0, 6, (n, 2))):
        x[i, r:r + 3, c:c + 3] = 1.0
    return x


def code_statistics(adversarial_weight):
    keras.utils.set_random_seed(0)
    model = kv.AdversarialAutoencoder(
        input_shape=SHAPE, latent_dim=2, hidden_units=(64,), discriminator_units=(64, 64),
        adversarial_weight=adversarial_weight, seed=0,
        discriminator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    x = blobs()
    model.fit(x, batch_size=64, epochs=60, verbose=0)
    z = np.asarray(model.encode(x)[0])
    return z.mean(axis=0), z.std(axis=0)


def test_the_adversary_matches_the_codes_to_the_prior():
    # Codes of the same autoencoder with and without the adversary, 480 steps each: the
    # adversary pulls them to N(0, I)'s mean and scale (measured: means 0.02, 0.04, standard
    # deviations 1.4, 1.5); unregularized they wander off (means -5.5, -10, deviations 17, 14).
    mean, std = code_statistics(1.0)
    assert np.all(np.abs(mean) < 0.35), mean
    assert np.all((std > 0.6) & (std < 2.0)), std
    free_mean, free_std = code_statistics(0.0)
    assert np.all(free_std > 4.0) and np.max(np.abs(free_mean)) > 1.0, (free_mean, free_std)


def test_the_supervised_form_decodes_the_label_it_is_given():
    model = kv.ConditionalAdversarialAutoencoder(**TINY, num_classes=3, seed=0)
    z = np.zeros((3, 2), "float32")
    images = np.asarray(model.decode(z, np.array([0, 1, 2], "int32")))
    assert not np.allclose(images[0], images[1])  # the same code, another label
    with pytest.raises(ValueError, match="ConditionalAdversarialAutoencoder trains on"):
        model.compile(optimizer="adam")
        model.fit(np.zeros((4, *SHAPE), "float32"), epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(encoder_type="stochastic"), "`encoder_type` must be one of"),
    (dict(prior_type="laplace"), "`prior_type` must be one of"),
    (dict(free_bits=0.5), "free_bits does not apply to AdversarialAutoencoder: .*no KL"),
    (dict(prior_type="mixture", latent_dim=1), "latent_dim must be >= 2"),
    (dict(mixture_scale=0.0), "`mixture_scale` must be > 0"),
    (dict(beta=4.0), "AdversarialAutoencoder has no argument beta"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kv.AdversarialAutoencoder(**{**TINY, **kwargs})
