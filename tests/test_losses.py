"""Loss values against closed forms worked by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_vae import losses


def test_bernoulli_nll_matches_hand_computation():
    x = np.array([[1.0, 0.0, 1.0]], "float32")
    logits = np.array([[0.0, 2.0, -1.0]], "float32")
    # -log sigmoid(0) - log(1 - sigmoid(2)) - log sigmoid(-1)
    expected = math.log(2.0) + math.log(1.0 + math.exp(2.0)) + math.log(1.0 + math.exp(1.0))
    np.testing.assert_allclose(losses.bernoulli_nll(x, logits).numpy(), [expected], rtol=1e-6)


def test_bernoulli_nll_is_per_example_sum_over_pixels():
    x = np.zeros((2, 2, 2, 1), "float32")
    logits = np.zeros((2, 2, 2, 1), "float32")
    np.testing.assert_allclose(losses.bernoulli_nll(x, logits).numpy(), [4 * math.log(2)] * 2,
                               rtol=1e-6)


def test_gaussian_nll_matches_closed_form():
    x = np.array([[0.5, 0.2]], "float32")
    mean = np.array([[0.3, 0.2]], "float32")
    sigma = 0.1
    expected = sum(
        0.5 * ((a - m) / sigma) ** 2 + math.log(sigma) + 0.5 * math.log(2 * math.pi)
        for a, m in zip(x[0], mean[0])
    )
    got = losses.gaussian_nll(x, mean, math.log(sigma)).numpy()
    np.testing.assert_allclose(got, [expected], rtol=1e-5)


def test_kl_is_zero_at_the_prior():
    kl = losses.gaussian_kl(np.zeros((3, 4), "float32"), np.zeros((3, 4), "float32"))
    np.testing.assert_array_equal(kl.numpy(), np.zeros(3))


def test_kl_matches_closed_form():
    mean = np.array([[1.0, -2.0]], "float32")
    log_var = np.array([[math.log(4.0), 0.0]], "float32")
    # 0.5 (var + mu^2 - 1 - log var) per dimension
    expected = 0.5 * (4.0 + 1.0 - 1.0 - math.log(4.0)) + 0.5 * (1.0 + 4.0 - 1.0 - 0.0)
    np.testing.assert_allclose(losses.gaussian_kl(mean, log_var).numpy(), [expected], rtol=1e-6)


def test_kl_against_a_non_standard_prior():
    mean, log_var = np.array([[1.0]], "float32"), np.array([[0.0]], "float32")
    prior_mean, prior_log_var = np.array([[0.5]], "float32"), np.array([[math.log(2.0)]], "float32")
    # log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2 with s1 = 1, s2^2 = 2
    expected = 0.5 * math.log(2.0) + (1.0 + 0.25) / 4.0 - 0.5
    got = losses.gaussian_kl(mean, log_var, prior_mean, prior_log_var).numpy()
    np.testing.assert_allclose(got, [expected], rtol=1e-6)


@pytest.mark.parametrize("value", [1e4, -1e4, 300.0, -300.0])
def test_losses_stay_finite_for_extreme_inputs(value):
    big = np.full((2, 5), value, "float32")
    for result in (
        losses.gaussian_kl(big, big),
        losses.bernoulli_nll(np.ones((2, 5), "float32"), big),
        losses.gaussian_nll(np.ones((2, 5), "float32"), big, np.float32(value)),
    ):
        assert np.isfinite(result.numpy()).all()


def test_kl_gradient_is_finite_for_huge_log_variance():
    log_var = tf.Variable(np.full((1, 3), 500.0, "float32"))
    with tf.GradientTape() as tape:
        kl = losses.gaussian_kl(tf.zeros((1, 3)), log_var)
    assert np.isfinite(tape.gradient(kl, log_var).numpy()).all()


def test_free_bits_floors_each_dimension():
    kl = np.array([[0.01, 2.0, 0.3]], "float32")
    np.testing.assert_allclose(losses.free_bits_kl(kl, 0.5).numpy(), [0.5 + 2.0 + 0.5], rtol=1e-6)
    np.testing.assert_allclose(losses.free_bits_kl(kl, 0.0).numpy(), [2.31], rtol=1e-6)


def test_capacity_penalty():
    got = losses.capacity_penalty(np.array([3.0, 7.0], "float32"), 5.0, gamma=10.0)
    np.testing.assert_allclose(got.numpy(), [20.0, 20.0])


def _logistic_nll_numpy(x, mean, log_scale):
    """The discretized logistic of Salimans et al. (2017, eq. 2) for one component, written
    from its definition: the logistic's mass over each value's bin, tails at the ends."""
    from scipy.special import expit

    s = np.exp(log_scale)
    upper = np.where(x > 254.5 / 255, 1.0, expit((x + 0.5 / 255 - mean) / s))
    lower = np.where(x < 0.5 / 255, 0.0, expit((x - 0.5 / 255 - mean) / s))
    return -np.log(upper - lower).reshape(len(x), -1).sum(axis=1)


def test_discretized_logistic_matches_its_definition_and_sums_to_one():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 4, 4, 3)) / 255.0
    mean = rng.random((6, 4, 4, 3))
    for log_scale in (np.log(0.05), np.log(0.3)):
        np.testing.assert_allclose(
            losses.discretized_logistic_nll(x.astype("float32"), mean.astype("float32"),
                                            log_scale),
            _logistic_nll_numpy(x, mean, log_scale), rtol=1e-4)
    levels = (np.arange(256) / 255.0).astype("float32")[:, None]
    for mean, scale in ((0.5, 0.1), (0.0, 0.02), (0.97, 0.005)):
        nll = losses.discretized_logistic_nll(levels, np.full_like(levels, mean), np.log(scale))
        np.testing.assert_allclose(np.exp(-np.asarray(nll)).sum(), 1.0, atol=1e-4)


def test_a_logistic_vae_learns_its_scale_and_refuses_real_data():
    import keras

    import keras_vae as kv

    x = (np.random.default_rng(0).integers(0, 256, (64, 8, 8, 3)) / 255.0).astype("float32")
    model = kv.VAE(input_shape=(8, 8, 3), latent_dim=2, architecture="conv", filters=(4,),
                   likelihood="logistic", likelihood_scale="learned", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, epochs=3, batch_size=16, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert float(model.log_scale.numpy()) != 0.0
    result = kv.evaluation.iwae_nll(model, x[:8], num_samples=4)
    np.testing.assert_allclose(result["bits_per_dim"],
                               result["nll"] / (8 * 8 * 3 * np.log(2)), rtol=1e-6)
    with pytest.raises(ValueError, match="8-bit data"):
        kv.VAE(input_shape=(5,), likelihood="logistic", data_range="real")
