import keras
import numpy as np
import tensorflow as tf

from keras_vae.layers import Sampling


def test_gradients_flow_through_sampling():
    layer = Sampling(seed=0)
    mean = tf.Variable(np.zeros((4, 3), "float32"))
    log_var = tf.Variable(np.zeros((4, 3), "float32"))
    with tf.GradientTape() as tape:
        z = layer((mean, log_var))
        out = tf.reduce_sum(z**2)
    g_mean, g_log_var = tape.gradient(out, [mean, log_var])
    # d/dmu sum z^2 = 2 z; d/dlogvar = z * eps (eps = z when mu = 0, sigma = 1)
    np.testing.assert_allclose(g_mean.numpy(), 2 * z.numpy(), rtol=1e-6)
    np.testing.assert_allclose(g_log_var.numpy(), z.numpy() ** 2, rtol=1e-5)


def test_statistics_match_mean_and_variance():
    layer = Sampling(seed=1)
    mean = np.full((20000, 1), 2.0, "float32")
    log_var = np.full((20000, 1), np.log(0.25), "float32")
    z = layer((mean, log_var)).numpy()
    assert abs(z.mean() - 2.0) < 0.02
    assert abs(z.std() - 0.5) < 0.02


def test_seeded_layers_draw_the_same_noise():
    args = (np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32"))
    a, b = Sampling(seed=7)(args), Sampling(seed=7)(args)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(Sampling(seed=8)(args).numpy(), a.numpy())


def test_config_round_trip():
    layer = Sampling(seed=5, name="s")
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(revived, Sampling) and revived.seed == 5 and revived.name == "s"


def test_mismatched_shapes_are_named():
    import pytest

    with pytest.raises(ValueError, match="same shape"):
        Sampling()((np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32")))
