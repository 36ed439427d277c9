"""Convolutional encoder and decoder: stride-2 convolutions down, transposed convolutions up.

Each stage pads like PyTorch's ``padding=(kernel_size - 1) // 2`` and uses stride 2, so with
the default kernel 4 a side of length ``n`` becomes ``n // 2`` (28 -> 14 -> 7 -> 3). The
decoder mirrors the encoder and crops each transposed convolution so every stage lands
exactly on the encoder's size (PyTorch's ``output_padding``): with
``filters=(32, 64, 128), kernel_size=4, latent_dim=128`` on 28x28x1 this is the course's
ConvVAE layer for layer (3x3x128 bottleneck, linear maps to and from the latent).

Stages with at least ``kv.layers.polyphase.MIN_CHANNELS`` channels on their transposed side
use the polyphase layers (:mod:`keras_vae.layers.polyphase`): same weights and outputs,
TensorFlow's slow transposed-convolution op left out of the step.
"""

import math

import keras

from keras_vae.layers.polyphase import strided_conv
from keras_vae.networks.mlp import join_condition
from keras_vae.validation import check_image_shape
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_positive_int


def _padding(kernel_size):
    return (kernel_size - 1) // 2


def stage_sizes(input_shape, filters=(32, 64, 128), kernel_size=4):
    """Spatial sizes ``[(H0, W0), (H1, W1), ...]`` from the input through every stage.

    Raises:
        ValueError: If a stage would shrink a side below 1 pixel.
    """
    input_shape = check_image_shape(input_shape)
    filters = check_int_tuple("filters", filters, allow_empty=False)
    kernel_size = check_positive_int("kernel_size", kernel_size)
    if kernel_size < 2:
        raise ValueError(f"`kernel_size` must be >= 2. Received: kernel_size={kernel_size}")
    pad = _padding(kernel_size)
    sizes = [tuple(input_shape[:2])]
    for _ in filters:
        h, w = ((s + 2 * pad - kernel_size) // 2 + 1 for s in sizes[-1])
        if h < 1 or w < 1:
            raise ValueError(
                f"{len(filters)} stride-2 stages with kernel_size={kernel_size} shrink "
                f"input_shape={input_shape} below one pixel (sizes {sizes} then ({h}, {w})). "
                "Use fewer `filters` stages or a larger image."
            )
        sizes.append((h, w))
    return sizes


def _same_matches_torch(sizes, kernel_size):
    """Whether Keras's ``padding="same"`` stride-2 convolution from ``sizes[0]`` to
    ``sizes[1]`` (each ``(H, W)``) places its windows exactly where PyTorch's symmetric
    padding ``(k - 1) // 2`` does. Then one layer does the work of a padding layer and a
    convolution (about 10 % faster on CPU), and its transpose needs no cropping."""
    pad = _padding(kernel_size)
    for n, out in zip(*sizes):
        same_out = -(-n // 2)
        pad_total = max((same_out - 1) * 2 + kernel_size - n, 0)
        if same_out != out or pad_total // 2 != pad:
            return False
    return True


def _downsample(h, filters, kernel_size):
    """Stride-2 ``Conv2D`` + ReLU per entry of ``filters``, padded like PyTorch."""
    pad = _padding(kernel_size)
    for i, f in enumerate(filters):
        size = tuple(h.shape[1:3])
        out = tuple((n + 2 * pad - kernel_size) // 2 + 1 for n in size)
        conv = strided_conv(transposed=False, channels=h.shape[-1])
        if _same_matches_torch((size, out), kernel_size):
            h = conv(f, kernel_size, strides=2, padding="same", activation="relu",
                     name=f"conv_{i}")(h)
            continue
        if pad:
            h = keras.layers.ZeroPadding2D(pad, name=f"pad_{i}")(h)
        h = conv(f, kernel_size, strides=2, activation="relu", name=f"conv_{i}")(h)
    return h


def _upsample(h, sizes, filters, kernel_size, out_channels):
    """Stride-2 ``Conv2DTranspose`` stages from ``sizes[-1]`` back to ``sizes[0]``.

    Channels follow ``filters`` in reverse (ReLU after each) and end with ``out_channels``
    logits, no activation. Each output matches the encoder's size at that stage: with
    ``padding="same"`` where that equals PyTorch's padding, else cropped from the full output.
    """
    pad = _padding(kernel_size)
    channels_per_stage = list(reversed(filters[:-1])) + [out_channels]
    for i, channels in enumerate(channels_per_stage):
        in_size, target = sizes[-1 - i], sizes[-2 - i]
        last = i == len(channels_per_stage) - 1
        activation = None if last else "relu"
        deconv = strided_conv(transposed=True, channels=channels)
        if kernel_size % 2 == 0 and _same_matches_torch((target, in_size), kernel_size) and all(
            t == 2 * n for n, t in zip(in_size, target)
        ):
            h = deconv(
                channels, kernel_size, strides=2, padding="same", activation=activation,
                name="logits" if last else f"deconv_{i}",
            )(h)
            continue
        h = deconv(
            channels,
            kernel_size,
            strides=2,
            activation=activation,
            name="logits_full" if last else f"deconv_{i}",
        )(h)
        # Full output is (n - 1) * 2 + k; crop `pad` at the start and the rest at the end.
        crops = []
        for n, t in zip(in_size, target):
            extra = (n - 1) * 2 + kernel_size - t
            crops.append((pad, extra - pad))
        if any(c for pair in crops for c in pair):
            h = keras.layers.Cropping2D(tuple(crops), name="logits" if last else f"crop_{i}")(h)
    return h


def _residual_stack(h, num_blocks, units, name):
    """``num_blocks`` blocks ``h + conv1x1(relu(conv3x3(relu(h))))``, then ReLU (van den Oord
    et al. 2017); the identity when ``num_blocks`` is 0."""
    if not num_blocks:
        return h
    channels = h.shape[-1]
    for i in range(num_blocks):
        r = keras.layers.ReLU(name=f"{name}_{i}_relu")(h)
        r = keras.layers.Conv2D(units, 3, padding="same", activation="relu",
                                name=f"{name}_{i}_conv3")(r)
        r = keras.layers.Conv2D(channels, 1, name=f"{name}_{i}_conv1")(r)
        h = keras.layers.Add(name=f"{name}_{i}_add")([h, r])
    return keras.layers.ReLU(name=f"{name}_relu")(h)


def build_conv_encoder(
    input_shape, latent_dim, filters=(32, 64, 128), kernel_size=4, condition_dim=0,
    dense_units=(), name="encoder",
):
    """Stride-2 ``Conv2D`` + ReLU per entry of ``filters``, flatten, a ReLU ``Dense`` layer per
    entry of ``dense_units`` (none by default), linear (mean, log_var).

    With ``condition_dim > 0`` a condition vector ``c`` joins the flattened features of the
    convolutional trunk, before the dense layers.

    Returns:
        A functional ``keras.Model`` mapping ``[batch, H, W, C]`` images to
        ``[mean, log_var]``, each ``[batch, latent_dim]``.
    """
    stage_sizes(input_shape, filters, kernel_size)  # validates every argument
    latent_dim = check_positive_int("latent_dim", latent_dim)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = keras.layers.Flatten(name="flatten")(_downsample(x_in, filters, kernel_size))
    h, inputs = join_condition(h, x_in, condition_dim)
    for i, units in enumerate(check_int_tuple("dense_units", dense_units)):
        h = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(h)
    mean = keras.layers.Dense(latent_dim, name="mean")(h)
    log_var = keras.layers.Dense(latent_dim, name="log_var")(h)
    return keras.Model(inputs, [mean, log_var], name=name)


def build_conv_decoder(
    output_shape, latent_dim, filters=(32, 64, 128), kernel_size=4, condition_dim=0,
    dense_units=(), name="decoder",
):
    """A map to the encoder's last feature map, then stride-2 ``Conv2DTranspose`` back.

    The map is linear by default (the course ConvVAE); with ``dense_units`` it is the
    encoder's ReLU ``Dense`` layers in reverse order and a ReLU projection (the dSprites
    networks of Burgess et al. 2018 and disentanglement_lib).

    The transposed convolutions output ``filters`` in reverse order (ReLU after each) and end
    with ``output_shape[-1]`` channels of logits, no activation.

    Returns:
        A functional ``keras.Model`` mapping ``[batch, latent_dim]`` to logits of shape
        ``[batch, H, W, C]``.
    """
    sizes = stage_sizes(output_shape, filters, kernel_size)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h, inputs = join_condition(z_in, z_in, condition_dim)
    bottom = (*sizes[-1], filters[-1])
    dense_units = check_int_tuple("dense_units", dense_units)
    for i, units in reversed(list(enumerate(dense_units))):
        h = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(h)
    h = keras.layers.Dense(math.prod(bottom), activation="relu" if dense_units else None,
                           name="project")(h)
    h = keras.layers.Reshape(bottom, name="reshape")(h)
    h = _upsample(h, sizes, filters, kernel_size, output_shape[-1])
    return keras.Model(inputs, h, name=name)


def build_conv_grid_encoder(
    input_shape, embedding_dim, filters=(32, 64), kernel_size=4, residual_blocks=0,
    residual_units=32, name="encoder",
):
    """The VQ-VAE encoder: stride-2 stages, optional residual blocks, then a 1x1 convolution
    to ``embedding_dim`` channels: ``[batch, H, W, C]`` -> ``z_e`` of shape
    ``[batch, H', W', embedding_dim]`` (``H', W'`` from :func:`stage_sizes`).
    """
    stage_sizes(input_shape, filters, kernel_size)
    embedding_dim = check_positive_int("embedding_dim", embedding_dim)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = _downsample(x_in, filters, kernel_size)
    h = _residual_stack(h, residual_blocks, residual_units, "residual")
    z_e = keras.layers.Conv2D(embedding_dim, 1, name="pre_quantization")(h)
    return keras.Model(x_in, z_e, name=name)


def build_conv_grid_decoder(
    output_shape, embedding_dim, filters=(32, 64), kernel_size=4, residual_blocks=0,
    residual_units=32, name="decoder",
):
    """The VQ-VAE decoder: a 3x3 convolution from ``embedding_dim`` to ``filters[-1]``
    channels, optional residual blocks, then the transposed stages of the encoder:
    ``[batch, H', W', embedding_dim]`` -> logits ``[batch, H, W, C]``.
    """
    sizes = stage_sizes(output_shape, filters, kernel_size)
    embedding_dim = check_positive_int("embedding_dim", embedding_dim)
    z_in = keras.Input(shape=(*sizes[-1], embedding_dim), name="z_q")
    h = keras.layers.Conv2D(filters[-1], 3, padding="same", name="post_quantization")(z_in)
    if residual_blocks:
        h = _residual_stack(h, residual_blocks, residual_units, "residual")
    else:
        h = keras.layers.ReLU(name="post_quantization_relu")(h)
    h = _upsample(h, sizes, filters, kernel_size, output_shape[-1])
    return keras.Model(z_in, h, name=name)
