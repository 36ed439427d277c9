"""Recurrent encoder and decoder for sequences ``[steps, features]``: the VRAE of Fabius &
van Amersfoort (2014), with GRU cells.

The encoder reads the sequence with stacked GRUs and maps the last state to (mean, log_var).
The decoder maps z to the initial state of each GRU of its stack and runs it for ``steps``
steps on z repeated at every step (so every output sees z directly, not only through the
state), then a per-step dense layer gives ``features`` outputs.
"""

import keras

from keras_vae.networks.mlp import join_condition
from keras_vae.validation import check_data_shape
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_positive_int


def _sequence_shape(shape):
    shape = check_data_shape(shape)
    if len(shape) != 2:
        raise ValueError("The recurrent networks take sequences: input_shape must be "
                         f"(steps, features). Received: input_shape={shape!r}")
    return shape


def build_gru_encoder(input_shape, latent_dim, hidden_units=(64,), condition_dim=0,
                      name="encoder"):
    """Sequence ``[batch, steps, features]`` -> GRU(h) for h in ``hidden_units`` -> last
    state (joined with ``c`` when ``condition_dim > 0``) -> ``[mean, log_var]``."""
    input_shape = _sequence_shape(input_shape)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    hidden_units = check_int_tuple("hidden_units", hidden_units, allow_empty=False)
    x_in = keras.Input(shape=input_shape, name="x")
    h = x_in
    for i, units in enumerate(hidden_units):
        last = i == len(hidden_units) - 1
        h = keras.layers.GRU(units, return_sequences=not last, name=f"gru_{i}")(h)
    h, inputs = join_condition(h, x_in, condition_dim)
    mean = keras.layers.Dense(latent_dim, name="mean")(h)
    log_var = keras.layers.Dense(latent_dim, name="log_var")(h)
    return keras.Model(inputs, [mean, log_var], name=name)


def build_gru_decoder(output_shape, latent_dim, hidden_units=(64,), condition_dim=0,
                      name="decoder"):
    """z (joined with ``c``) -> the initial state of each GRU (``hidden_units`` reversed) and
    its input at every step -> a per-step dense map to ``features``: ``[batch, steps,
    features]`` (logits for Bernoulli, the mean for Gaussian data)."""
    steps, features = _sequence_shape(output_shape)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    hidden_units = check_int_tuple("hidden_units", hidden_units, allow_empty=False)
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h, inputs = join_condition(z_in, z_in, condition_dim)
    sequence = keras.layers.RepeatVector(steps, name="repeat_z")(h)
    for i, units in enumerate(reversed(hidden_units)):
        state = keras.layers.Dense(units, activation="tanh", name=f"initial_state_{i}")(h)
        sequence = keras.layers.GRU(units, return_sequences=True, name=f"gru_{i}")(
            sequence, initial_state=state)
    out = keras.layers.Dense(features, name="logits")(sequence)
    return keras.Model(inputs, out, name=name)
