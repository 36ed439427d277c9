"""Behaviour specific to VAE / BetaVAE: objectives, schedules through fit, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv
from keras_vae import losses


def tiny(cls=kv.VAE, **kwargs):
    return cls(**{"input_shape": (8, 8, 1), "latent_dim": 2, "hidden_units": (16,), "seed": 0,
                  **kwargs})


def data(n=64, seed=0):
    return (np.random.default_rng(seed).random((n, 8, 8, 1)) > 0.5).astype("float32")


def test_vae_loss_is_reconstruction_plus_kl():
    model = tiny()
    values = model._objective(tf.constant(data(8)), training=False)
    np.testing.assert_allclose(
        values["loss"].numpy(),
        values["reconstruction_loss"].numpy() + values["kl_loss"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(values["elbo"].numpy(), -values["loss"].numpy(), rtol=1e-6)


def test_beta_weights_the_kl():
    model = tiny(kv.BetaVAE, beta=4.0)
    kl_per_dim = tf.constant([[1.0, 2.0]])
    penalty, extra = model.regularizer(kl_per_dim, tf.constant(0, tf.int64))
    np.testing.assert_allclose(penalty.numpy(), [12.0])
    assert float(extra["beta"]) == 4.0


def test_capacity_term_follows_c():
    model = tiny(kv.BetaVAE, capacity_max=20.0, capacity_steps=100, gamma=10.0)
    kl_per_dim = tf.constant([[3.0, 4.0]])
    for step, c in ((0, 0.0), (50, 10.0), (100, 20.0), (500, 20.0)):
        penalty, extra = model.regularizer(kl_per_dim, tf.constant(step, tf.int64))
        np.testing.assert_allclose(float(extra["capacity"]), c, rtol=1e-6)
        np.testing.assert_allclose(penalty.numpy(), [10.0 * abs(7.0 - c)], rtol=1e-6)


def test_schedule_is_driven_by_the_optimizer_step_through_fit():
    warmup = kv.schedules.LinearWarmup(0.0, 1.0, steps=8)
    model = tiny(kv.BetaVAE, beta=warmup)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(data(64), batch_size=16, epochs=2, verbose=0)
    # The beta tracker averages the per-step values of each epoch: steps 0-3 then 4-7.
    np.testing.assert_allclose(history.history["beta"], [np.mean([0, 1, 2, 3]) / 8,
                                                         np.mean([4, 5, 6, 7]) / 8], rtol=1e-5)


def test_capacity_metric_reports_c_during_fit():
    model = tiny(kv.BetaVAE, capacity_max=8.0, capacity_steps=4, gamma=5.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(data(64), batch_size=16, epochs=2, verbose=0)
    np.testing.assert_allclose(history.history["capacity"], [3.0, 8.0], rtol=1e-5)


def test_free_bits_changes_the_loss_not_the_reported_kl():
    plain, floored = tiny(), tiny(free_bits=5.0)
    floored.set_weights(plain.get_weights())
    x = tf.constant(data(8))
    a = plain._objective(x, training=False)
    b = floored._objective(x, training=False)
    np.testing.assert_allclose(a["kl_loss"].numpy(), b["kl_loss"].numpy(), rtol=1e-6)
    assert (b["loss"].numpy() > a["loss"].numpy()).all()


def test_gaussian_likelihood_with_fixed_sigma():
    model = tiny(likelihood="gaussian", likelihood_scale=0.5)
    x = tf.constant(data(4))
    logits = model.decoder(model.encoder(x)[0])
    expected = losses.gaussian_nll(x, tf.sigmoid(logits), np.log(0.5))
    np.testing.assert_allclose(model.reconstruction_nll(x, logits).numpy(), expected.numpy(),
                               rtol=1e-6)


def test_learned_sigma_is_trained():
    model = tiny(likelihood="gaussian", likelihood_scale="learned")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(data(64), batch_size=16, epochs=1, verbose=0)
    assert float(model.log_scale.numpy()) != 0.0


def test_temperature_scales_the_prior():
    model = tiny()
    cold = model.sample(8, seed=1, temperature=0.0).numpy()
    centre = model.decode(np.zeros((8, 2), "float32")).numpy()
    np.testing.assert_allclose(cold, centre, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(likelihood="poisson"), "likelihood"),
        (dict(likelihood="gaussian", likelihood_scale=0.0), "likelihood_scale"),
        (dict(architecture="rnn"), "architecture"),
        (dict(free_bits=-1.0), "free_bits"),
        (dict(latent_dim=1.5), "latent_dim"),
        (dict(input_shape=(8, 0)), "input_shape"),
        (dict(input_shape=(8, 8), architecture="conv"), "input_shape"),
        (dict(beta=2.0), "VAE has no argument beta. .*BetaVAE"),
        (dict(seed="0"), "seed"),
    ],
)
def test_bad_constructor_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(beta="big"), "beta"), (dict(capacity_max=-1.0), "capacity_max"), (dict(gamma=0),
                                                                             "gamma")],
)
def test_bad_beta_vae_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny(kv.BetaVAE, **kwargs)


def test_wrong_image_shape_is_reported_before_tensorflow_fails():
    model = tiny()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"expects images of shape \(None, 8, 8, 1\)"):
        model.fit(np.zeros((4, 8, 8, 3), "float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="expects images"):
        model.encode(np.zeros((4, 64), "float32"))


def test_integer_images_are_rejected_with_advice():
    with pytest.raises(ValueError, match="floating point"):
        tiny().encode(np.zeros((2, 8, 8, 1), "uint8"))


def test_labelled_data_is_rejected_by_unconditional_models():
    model = tiny()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="unconditional"):
        model.fit(data(8), np.zeros(8, "int32"), epochs=1, verbose=0)


def test_decode_checks_latent_size():
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        tiny().decode(np.zeros((3, 5), "float32"))
