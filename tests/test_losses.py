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
