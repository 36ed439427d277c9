"""A residual convolutional encoder/decoder for colour images (32x32, 64x64 and the like),
with a normalization option.

Encoder: a 3x3 stem, then per entry of ``filters`` ``blocks`` residual blocks
(``h + conv3x3(act(norm(conv3x3(act(norm(h))))))``, pre-activation as in He et al. 2016)
and a stride-2 3x3 convolution, then a dense map to (mean, log_var). The decoder mirrors it
with stride-2 transposed convolutions and ends in a 3x3 convolution to the image's channels.
"""

import math

import keras

from keras_vae.networks.mlp import join_condition
from keras_vae.validation import check_data_shape
from keras_vae.validation import check_int
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_positive_int

NORMALIZATIONS = ("batch", "group", "layer", None)


def _norm(kind, name):
    if kind == "batch":
        return keras.layers.BatchNormalization(name=name)
    if kind == "group":
        return keras.layers.GroupNormalization(groups=-1, name=name)  # one group per channel
    if kind == "layer":
        return keras.layers.LayerNormalization(name=name)
    return keras.layers.Identity(name=name)


def _block(h, normalization, name):
    channels = h.shape[-1]
    r = keras.layers.ReLU(name=f"{name}_relu_a")(_norm(normalization, f"{name}_norm_a")(h))
    r = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv_a")(r)
    r = keras.layers.ReLU(name=f"{name}_relu_b")(_norm(normalization, f"{name}_norm_b")(r))
    r = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv_b")(r)
    return keras.layers.Add(name=f"{name}_add")([h, r])


def _check(input_shape, filters, blocks, normalization):
    shape = check_data_shape(input_shape)
    filters = check_int_tuple("filters", filters, allow_empty=False)
    blocks = check_int("blocks", blocks, minimum=0)
    if len(shape) != 3:
        raise ValueError(f"The residual network takes images (H, W, C). Received: {shape!r}")
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"`normalization` must be one of {NORMALIZATIONS}. "
                         f"Received: normalization={normalization!r}")
    factor = 2 ** len(filters)
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(f"{len(filters)} stride-2 stages need a side divisible by {factor}. "
                         f"Received: input_shape={shape!r}")
    return shape, filters, blocks


def build_resnet_encoder(input_shape, latent_dim, filters=(32, 64, 128), blocks=1,
                         normalization="batch", condition_dim=0, name="encoder"):
    """Images -> residual stages -> ``[mean, log_var]``, each ``[batch, latent_dim]``; with
    ``condition_dim > 0`` a condition vector joins the flattened features."""
    shape, filters, blocks = _check(input_shape, filters, blocks, normalization)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    x_in = keras.Input(shape=shape, name="x")
    h = keras.layers.Conv2D(filters[0], 3, padding="same", name="stem")(x_in)
    for i, f in enumerate(filters):
        for j in range(blocks):
            h = _block(h, normalization, f"stage{i}_block{j}")
        h = keras.layers.Conv2D(f, 3, strides=2, padding="same", name=f"down_{i}")(h)
    h = keras.layers.ReLU(name="out_relu")(_norm(normalization, "out_norm")(h))
    h, inputs = join_condition(keras.layers.Flatten(name="flatten")(h), x_in, condition_dim)
    mean = keras.layers.Dense(latent_dim, name="mean")(h)
    log_var = keras.layers.Dense(latent_dim, name="log_var")(h)
    return keras.Model(inputs, [mean, log_var], name=name)


def build_resnet_decoder(output_shape, latent_dim, filters=(32, 64, 128), blocks=1,
                         normalization="batch", condition_dim=0, name="decoder"):
    """z -> a dense map to the encoder's last feature map -> transposed residual stages ->
    logits (or means) ``[batch, H, W, C]``."""
    shape, filters, blocks = _check(output_shape, filters, blocks, normalization)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    factor = 2 ** len(filters)
    bottom = (shape[0] // factor, shape[1] // factor, filters[-1])
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h, inputs = join_condition(z_in, z_in, condition_dim)
    h = keras.layers.Dense(math.prod(bottom), activation="relu", name="project")(h)
    h = keras.layers.Reshape(bottom, name="reshape")(h)
    for i, f in enumerate(reversed(filters)):
        h = keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", name=f"up_{i}")(h)
        for j in range(blocks):
            h = _block(h, normalization, f"stage{i}_block{j}")
    h = keras.layers.ReLU(name="out_relu")(_norm(normalization, "out_norm")(h))
    out = keras.layers.Conv2D(shape[-1], 3, padding="same", name="logits")(h)
    return keras.Model(inputs, out, name=name)
