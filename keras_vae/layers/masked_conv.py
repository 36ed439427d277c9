"""Masked convolutions for autoregressive models over grids (PixelCNN)."""

import keras
import numpy as np
from keras import ops

MASK_TYPES = ("A", "B")


def causal_mask(kernel_size, mask_type):
    """``[kh, kw]`` 0/1 mask that keeps the kernel taps above the centre row and left of the
    centre in its row; type ``"B"`` keeps the centre too, type ``"A"`` does not.

    >>> causal_mask(3, "A").astype(int).tolist()
    [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    >>> causal_mask(3, "B").astype(int).tolist()
    [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    """
    if mask_type not in MASK_TYPES:
        raise ValueError(f"`mask_type` must be 'A' or 'B'. Received: {mask_type!r}")
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"Masked convolutions need odd kernel sizes. Received: {kernel_size}")
    mask = np.zeros((kh, kw), np.float32)
    mask[: kh // 2, :] = 1.0
    mask[kh // 2, : kw // 2 + (mask_type == "B")] = 1.0
    return mask


@keras.saving.register_keras_serializable(package="keras_vae")
class MaskedConv2D(keras.layers.Conv2D):
    """``Conv2D`` (stride 1, ``"same"`` padding) whose kernel only sees earlier positions in
    raster order: type ``"A"`` (first layer) excludes the centre position, type ``"B"``
    includes it, so a stack of one A and any number of B layers is causal.

    Args:
        mask_type: ``"A"`` or ``"B"``.
        filters, kernel_size, **kwargs: As for ``keras.layers.Conv2D``; ``padding`` is
            ``"same"`` and ``strides`` 1.

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016.
    """

    def __init__(self, mask_type, filters, kernel_size, **kwargs):
        kwargs.pop("padding", None)
        kwargs.pop("strides", None)
        super().__init__(filters, kernel_size, padding="same", strides=1, **kwargs)
        self.mask_type = mask_type
        self.mask = causal_mask(self.kernel_size, mask_type)

    def convolution_op(self, inputs, kernel):
        mask = ops.cast(self.mask[:, :, None, None], kernel.dtype)
        return super().convolution_op(inputs, kernel * mask)

    def get_config(self):
        config = super().get_config()
        for key in ("padding", "strides"):
            config.pop(key, None)
        return {**config, "mask_type": self.mask_type}
