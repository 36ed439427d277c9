"""Fully connected encoder and decoder for images of any shape."""

import math

import keras

from keras_vae.validation import check_data_shape
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_positive_int


def build_mlp_encoder(input_shape, latent_dim, hidden_units=(400,), condition_dim=0,
                      name="encoder"):
    """Image -> flatten -> Dense(h, relu) for h in ``hidden_units`` -> (mean, log_var).

    With ``input_shape=(28, 28, 1), hidden_units=(400,), latent_dim=20`` this is the
    784-400-20 encoder of Kingma & Welling's MNIST experiments and the course code.

    With ``condition_dim > 0`` the model takes a second input ``c`` (a condition vector,
    e.g. a one-hot label) concatenated with the flattened image.

    Returns:
        A functional ``keras.Model`` mapping ``[batch, H, W, C]`` images (and ``c``) to
        ``[mean, log_var]``, each ``[batch, latent_dim]``.
    """
    input_shape = check_data_shape(input_shape)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    hidden_units = check_int_tuple("hidden_units", hidden_units)
    x_in = keras.Input(shape=input_shape, name="x")
    h = keras.layers.Flatten(name="flatten")(x_in)
    h, inputs = join_condition(h, x_in, condition_dim)
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(h)
    mean = keras.layers.Dense(latent_dim, name="mean")(h)
    log_var = keras.layers.Dense(latent_dim, name="log_var")(h)
    return keras.Model(inputs, [mean, log_var], name=name)


def join_condition(h, first_input, condition_dim, name="c"):
    """Adds a condition input of ``condition_dim`` features concatenated to ``h``.

    Returns:
        ``(h, inputs)``: the joined tensor and the model inputs (``first_input`` alone when
        ``condition_dim`` is 0).
    """
    if not condition_dim:
        return h, first_input
    c_in = keras.Input(shape=(condition_dim,), name=name)
    return keras.layers.Concatenate(name="join_condition")([h, c_in]), [first_input, c_in]


def build_mlp_decoder(output_shape, latent_dim, hidden_units=(400,), condition_dim=0,
                      name="decoder"):
    """z -> Dense(h, relu) for h in reversed ``hidden_units`` -> Dense(H*W*C) -> image logits.

    Returns:
        A functional ``keras.Model`` mapping ``[batch, latent_dim]`` to logits of shape
        ``[batch, H, W, C]`` (the likelihood turns them into a mean).
    """
    output_shape = check_data_shape(output_shape)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    hidden_units = check_int_tuple("hidden_units", hidden_units)
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h, inputs = join_condition(z_in, z_in, condition_dim)
    for i, units in enumerate(reversed(hidden_units)):
        h = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(h)
    h = keras.layers.Dense(math.prod(output_shape), name="logits_flat")(h)
    logits = keras.layers.Reshape(output_shape, name="logits")(h)
    return keras.Model(inputs, logits, name=name)
