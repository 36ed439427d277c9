"""Convolutional encoder and decoder: stride-2 convolutions down, transposed convolutions up.

Each stage pads like PyTorch's ``padding=(kernel_size - 1) // 2`` and uses stride 2, so with
the default kernel 4 a side of length ``n`` becomes ``n // 2`` (28 -> 14 -> 7 -> 3). The
decoder mirrors the encoder and crops each transposed convolution so every stage lands
exactly on the encoder's size (PyTorch's ``output_padding``): with
``filters=(32, 64, 128), kernel_size=4, latent_dim=128`` on 28x28x1 this is the course's
ConvVAE layer for layer (3x3x128 bottleneck, linear maps to and from the latent).
"""

import math

import keras

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


def build_conv_encoder(
    input_shape, latent_dim, filters=(32, 64, 128), kernel_size=4, condition_dim=0,
    name="encoder",
):
    """Stride-2 ``Conv2D`` + ReLU per entry of ``filters``, flatten, linear (mean, log_var).

    With ``condition_dim > 0`` a condition vector ``c`` joins the flattened features of the
    convolutional trunk, before the linear heads.

    Returns:
        A functional ``keras.Model`` mapping ``[batch, H, W, C]`` images to
        ``[mean, log_var]``, each ``[batch, latent_dim]``.
    """
    stage_sizes(input_shape, filters, kernel_size)  # validates every argument
    latent_dim = check_positive_int("latent_dim", latent_dim)
    pad = _padding(kernel_size)
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    h = x_in
    for i, f in enumerate(filters):
        if pad:
            h = keras.layers.ZeroPadding2D(pad, name=f"pad_{i}")(h)
        h = keras.layers.Conv2D(f, kernel_size, strides=2, activation="relu", name=f"conv_{i}")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h, inputs = join_condition(h, x_in, condition_dim)
    mean = keras.layers.Dense(latent_dim, name="mean")(h)
    log_var = keras.layers.Dense(latent_dim, name="log_var")(h)
    return keras.Model(inputs, [mean, log_var], name=name)


def build_conv_decoder(
    output_shape, latent_dim, filters=(32, 64, 128), kernel_size=4, condition_dim=0,
    name="decoder",
):
    """Linear map to the encoder's last feature map, then stride-2 ``Conv2DTranspose`` back.

    The transposed convolutions output ``filters`` in reverse order (ReLU after each) and end
    with ``output_shape[-1]`` channels of logits, no activation.

    Returns:
        A functional ``keras.Model`` mapping ``[batch, latent_dim]`` to logits of shape
        ``[batch, H, W, C]``.
    """
    sizes = stage_sizes(output_shape, filters, kernel_size)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    pad = _padding(kernel_size)
    out_channels = list(reversed(filters[:-1])) + [output_shape[-1]]
    z_in = keras.Input(shape=(latent_dim,), name="z")
    h, inputs = join_condition(z_in, z_in, condition_dim)
    bottom = (*sizes[-1], filters[-1])
    h = keras.layers.Dense(math.prod(bottom), name="project")(h)
    h = keras.layers.Reshape(bottom, name="reshape")(h)
    for i, channels in enumerate(out_channels):
        in_size, target = sizes[-1 - i], sizes[-2 - i]
        last = i == len(out_channels) - 1
        h = keras.layers.Conv2DTranspose(
            channels,
            kernel_size,
            strides=2,
            activation=None if last else "relu",
            name="logits_full" if last else f"deconv_{i}",
        )(h)
        # Full output is (n - 1) * 2 + k; crop `pad` at the start and the rest at the end.
        crops = []
        for n, t in zip(in_size, target):
            extra = (n - 1) * 2 + kernel_size - t
            crops.append((pad, extra - pad))
        if any(c for pair in crops for c in pair):
            h = keras.layers.Cropping2D(tuple(crops), name="logits" if last else f"crop_{i}")(h)
    return keras.Model(inputs, h, name=name)
