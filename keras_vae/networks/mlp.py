"""Fully connected encoder and decoder for images of any shape."""

import math

import keras

from keras_vae.validation import check_image_shape
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_positive_int


def build_mlp_encoder(input_shape, latent_dim, hidden_units=(400,), name="encoder"):
    """Image -> flatten -> Dense(h, relu) for h in ``hidden_units`` -> (mean, log_var).

    With ``input_shape=(28, 28, 1), hidden_units=(400,), latent_dim=20`` this is the
    784-400-20 encoder of Kingma & Welling's MNIST experiments and the course code.

    Returns:
        A functional ``keras.Model`` mapping ``[batch, H, W, C]`` images to
        ``[mean, log_var]``, each ``[batch, latent_dim]``.
    """
    input_shape = check_image_shape(input_shape)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    hidden_units = check_int_tuple("hidden_units", hidden_units)
    x_in = keras.Input(shape=input_shape, name="x")
    h = keras.layers.Flatten(name="flatten")(x_in)
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(h)
    mean = keras.layers.Dense(latent_dim, name="mean")(h)
    log_var = keras.layers.Dense(latent_dim, name="log_var")(h)
    return keras.Model(x_in, [mean, log_var], name=name)


def build_mlp_decoder(output_shape, latent_dim, hidden_units=(400,), name="decoder"):
    """z -> Dense(h, relu) for h in reversed ``hidden_units`` -> Dense(H*W*C) -> image logits.

    Returns:
        A functional ``keras.Model`` mapping ``[batch, latent_dim]`` to logits of shape
        ``[batch, H, W, C]`` (the likelihood turns them into a mean).
    """
    output_shape = check_image_shape(output_shape)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    hidden_units = check_int_tuple("hidden_units", hidden_units)
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = z_in
    for i, units in enumerate(reversed(hidden_units)):
        h = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(h)
    h = keras.layers.Dense(math.prod(output_shape), name="logits_flat")(h)
    logits = keras.layers.Reshape(output_shape, name="logits")(h)
    return keras.Model(z_in, logits, name=name)
