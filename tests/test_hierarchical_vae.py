"""The ladder VAE: its posterior is a product of Gaussians, its training ELBO and its
importance weights estimate the same bound, and its layers report their own KL."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv

TINY = dict(input_shape=(8, 8, 1), latent_dims=(4, 3), hidden_units=(16,), ladder_units=(8,))


def _images(n=64, seed=0):
    return (np.random.default_rng(seed).random((n, 8, 8, 1)) > 0.5).astype("float32")


def _trained(**kwargs):
    model = kv.HierarchicalVAE(**{**TINY, **kwargs}, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(_images(), epochs=3, batch_size=16, verbose=0)
    return model


def test_the_posterior_is_the_normalized_product_of_bottom_up_and_prior():
    model = _trained()
    x = tf.constant(_images(3))
    bottom = model.bottom_up(x)
    codes, posteriors, priors = model.top_down(bottom, lambda i, m, v: m)
    (q_mean, q_log_var), (p_mean, p_log_var), (u_mean, u_log_var) = \
        posteriors[0], priors[0], bottom[0]
    z = np.random.default_rng(1).normal(size=(5, 3, 4)).astype("float32")

    def log_n(z, mean, log_var):
        return -0.5 * ((z - mean) ** 2 / np.exp(log_var) + log_var + np.log(2 * np.pi))

    # log q - log N(up) - log N(prior) does not depend on z: q ∝ N(up) · N(prior).
    gap = log_n(z, q_mean, q_log_var) - log_n(z, u_mean, u_log_var) \
        - log_n(z, p_mean, p_log_var)
    np.testing.assert_allclose(gap, np.broadcast_to(gap[:1], gap.shape), atol=1e-4)
    np.testing.assert_array_equal(posteriors[1][0], bottom[1][0])  # the top is bottom-up


@pytest.mark.parametrize("prior", [None, "vamp", "mixture"])
def test_training_elbo_and_importance_weights_estimate_the_same_bound(prior):
    # With a learned prior at the top, the top layer's KL is a Monte-Carlo estimate and the
    # importance weights use the same log p(z_L).
    priors = {None: lambda: None, "vamp": lambda: kv.priors.VampPrior(5, seed=0),
              "mixture": lambda: kv.priors.MixturePrior(3, seed=0)}
    model = _trained(prior=priors[prior]())
    x = _images(1, seed=3)
    terms = model.compute_terms(tf.constant(np.repeat(x, 4000, axis=0)))
    elbo_training = -np.mean(terms["reconstruction_loss"] + tf.reduce_sum(terms["kl_per_dim"], 1))
    log_w = model.importance_log_weights(x, num_samples=4000, seed=0)
    np.testing.assert_allclose(elbo_training, np.mean(log_w), atol=0.15)
    nll = -(tf.reduce_logsumexp(log_w, axis=1) - np.log(4000))
    assert float(nll[0]) < -float(np.mean(log_w))


def test_each_layer_reports_its_kl_and_takes_its_own_free_bits():
    model = kv.HierarchicalVAE(**TINY, seed=0, free_bits=(2.0, 0.0))
    np.testing.assert_array_equal(model.kl_floor(), [2.0] * 4 + [0.0] * 3)
    values = model.objective_values(model.compute_terms(tf.constant(_images(8))))
    np.testing.assert_allclose(values["kl_layer_1"] + values["kl_layer_2"], values["kl_loss"],
                               rtol=1e-5)
    # The bottom layer's four dimensions are floored at 2 nats each in the loss.
    assert np.all(np.asarray(values["loss"]) >= np.asarray(values["reconstruction_loss"]) + 8.0
                  - 1e-4)


def test_samples_are_ancestral_and_the_latent_is_every_layer():
    model = _trained()
    z = np.asarray(model.prior_sample(None, 3000, seed=0))
    assert z.shape == (3000, 7)
    np.testing.assert_allclose(z[:, 4:].std(axis=0), 1.0, atol=0.06)  # the top: N(0, I)
    mean, log_var = model.prior_of(0, z[:, 4:])
    residual = (z[:, :4] - np.asarray(mean)) / np.exp(0.5 * np.asarray(log_var))
    np.testing.assert_allclose(residual.std(axis=0), 1.0, atol=0.06)  # p(z_1 | z_2)
    mean, _ = model.encode(_images(2))
    assert mean.shape == (2, 7)
    np.testing.assert_allclose(model.decode(mean), model.reconstruct(_images(2)), atol=1e-6)


def test_a_learned_prior_serves_the_top_layer():
    model = kv.HierarchicalVAE(**TINY, seed=0, free_bits=(2.0, 0.0),
                               prior=kv.priors.MixturePrior(2, seed=0))
    assert model.latent_prior.means.shape == (2, 3) and model.kl_widths == [4, 1]
    np.testing.assert_array_equal(model.kl_floor(), [2.0] * 4 + [0.0])
    terms = model.compute_terms(tf.constant(_images(8)))
    assert terms["kl_per_dim"].shape == (8, 5)
    values = model.objective_values(terms)
    np.testing.assert_allclose(values["kl_layer_1"] + values["kl_layer_2"], values["kl_loss"],
                               rtol=1e-5)
    # The top layer is drawn from the mixture: two tight components at +-3.
    model.latent_prior.means.assign(np.array([[3.0] * 3, [-3.0] * 3], "float32"))
    model.latent_prior.log_vars.assign(np.full((2, 3), np.log(0.01), "float32"))
    top = np.asarray(model.prior_sample(None, 2000, seed=0))[:, 4:]
    near = np.abs(np.abs(top) - 3.0) < 0.5
    assert near.all() and 0.4 < np.mean(top[:, 0] > 0) < 0.6
    assert model.export_metadata()["prior"] == "ladder over MixturePrior"
    vamp = kv.HierarchicalVAE(**TINY, seed=0, prior=kv.priors.VampPrior(5, seed=0))
    _, means, _ = vamp.latent_prior.components(vamp)
    np.testing.assert_allclose(
        means, vamp.bottom_up(vamp.latent_prior.pseudo_inputs(vamp))[-1][0], atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(latent_dims=(4,)), "two or more"),
    (dict(latent_dim=4), "latent_dim does not apply"),
    (dict(free_bits=(1.0, 1.0, 1.0)), "one per layer"),
    (dict(free_bits=(1.0, -1.0)), "free_bits"),
    (dict(flow=kv.flows.Planar()), "flow does not apply to HierarchicalVAE"),
    (dict(free_bits=0.5, prior=kv.priors.MixturePrior(2)), "top layer free_bits 0"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kv.HierarchicalVAE(**{**TINY, **kwargs})
