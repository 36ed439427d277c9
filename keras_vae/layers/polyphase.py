"""Strided convolutions whose slow half runs as an ordinary convolution (polyphase form).

A transposed convolution with stride ``s`` equals ``s * s`` stride-1 convolutions, one per
output phase ``(o_h mod s, o_w mod s)``, each with the kernel taps of that phase, flipped; run
as one convolution with ``s * s * filters`` output channels and interleaved back into place,
it is the "sub-pixel" convolution of Shi et al. (2016). On some CPUs TensorFlow's own
transposed convolution (``Conv2DBackpropInput``, which also computes every strided
convolution's input gradient) is two to four times slower than PyTorch's for small maps with
many channels; the forward convolution it becomes here is not (``benchmarks/conv_layers.py``).

:func:`conv_transpose` is the transposed convolution in this form, with a gradient written out
(input gradient: the strided convolution; kernel gradient: ``Conv2DBackpropFilter``), and
:func:`conv` a strided convolution whose input gradient is :func:`conv_transpose`.
:class:`PolyphaseConv2D` and :class:`PolyphaseConv2DTranspose` are Keras's ``Conv2D`` and
``Conv2DTranspose`` (same weights, arguments and config) computed this way; for settings the
form does not cover (dilation, groups, ``output_padding``, ``channels_first``) they run
Keras's own code.

References:
    Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient
    Sub-Pixel Convolutional Neural Network", CVPR 2016.
"""

import keras
import tensorflow as tf


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _phase_kernel(kernel, strides):
    """A transposed convolution's kernel ``[kh, kw, filters, channels]`` as the stride-1
    convolution kernel ``[ceil(kh / sh), ceil(kw / sw), channels, sh * sw * filters]``: output
    channel ``(ph * sw + pw) * filters + f`` holds the taps ``ph + sh * m`` (rows) and
    ``pw + sw * n`` (columns), flipped, so a correlation gives phase ``(ph, pw)``."""
    kh, kw, filters, channels = kernel.shape
    sh, sw = strides
    mh, mw = -(-kh // sh), -(-kw // sw)
    kernel = tf.pad(kernel, [[0, mh * sh - kh], [0, mw * sw - kw], [0, 0], [0, 0]])
    kernel = tf.reshape(kernel, [mh, sh, mw, sw, filters, channels])
    kernel = tf.reverse(kernel, [0, 2])
    kernel = tf.transpose(kernel, [0, 2, 5, 1, 3, 4])
    return tf.reshape(kernel, [mh, mw, channels, sh * sw * filters])


def _fit(x, starts, sizes):
    """``x[:, starts[0]:starts[0] + sizes[0], starts[1]:starts[1] + sizes[1]]``, zero-padded
    at the end where that runs past ``x``."""
    have = tf.shape(x)
    short = [tf.maximum(start + size - have[axis], 0)
             for axis, start, size in zip((1, 2), starts, sizes)]
    x = tf.pad(x, [[0, 0], [0, short[0]], [0, short[1]], [0, 0]])
    return x[:, starts[0]:starts[0] + sizes[0], starts[1]:starts[1] + sizes[1], :]


def _full_transpose(x, kernel, strides):
    """The un-padded transposed convolution (output side ``(n - 1) * s + k``) in polyphase
    form (no gradient is taken through it: :func:`conv_transpose` writes its own)."""
    kh, kw, filters, _ = kernel.shape
    sh, sw = strides
    mh, mw = -(-kh // sh), -(-kw // sw)
    x = tf.pad(x, [[0, 0], [mh - 1, mh - 1], [mw - 1, mw - 1], [0, 0]])
    y = tf.nn.conv2d(x, _phase_kernel(kernel, strides), 1, "VALID")
    shape = tf.shape(y)
    qh, qw = shape[1], shape[2]
    y = tf.reshape(y, [shape[0], qh, qw, sh, sw, filters])
    y = tf.transpose(y, [0, 1, 3, 2, 4, 5])
    y = tf.reshape(y, [shape[0], qh * sh, qw * sw, filters])
    return y[:, :(qh - mh + 1) * sh + kh - sh, :(qw - mw + 1) * sw + kw - sw, :]


def _same_starts(sizes, kernel, strides):
    """TensorFlow's ``"SAME"`` padding before the first row and column of a convolution
    over ``sizes`` (``[h, w]``) with ``kernel``'s window."""
    return [tf.maximum((-(-n // s) - 1) * s + k - n, 0) // 2
            for n, k, s in zip(sizes, kernel.shape[:2], strides)]


def _kernel_gradient(inputs, kernel, out_backprop, strides, padding):
    """The gradient of ``tf.nn.conv2d(inputs, kernel, strides, padding)`` with respect to
    ``kernel``, given ``out_backprop``, the gradient with respect to its output."""
    return tf.raw_ops.Conv2DBackpropFilter(
        input=inputs, filter_sizes=tf.shape(kernel), out_backprop=out_backprop,
        strides=[1, *strides, 1], padding=padding)


def _transpose_sides(sides, kernel, strides, padding):
    """Keras's transposed-convolution output sides for input ``sides`` (ints, tensors, or
    ``None`` where unknown): ``n * s``, plus ``k - s`` past the last input for ``"VALID"``
    (below a stride's width the ``"VALID"`` output still covers ``n * s``, the rest zeros)."""
    return [None if n is None else n * s + (max(k - s, 0) if padding == "VALID" else 0)
            for n, k, s in zip(sides, kernel.shape[:2], strides)]


def conv_transpose(x, kernel, strides, padding="valid"):
    """Keras's transposed convolution (``channels_last``, no dilation or ``output_padding``)
    of ``x`` ``[batch, h, w, channels]`` with ``kernel`` ``[kh, kw, filters, channels]``, in
    polyphase form; its gradient is written out so no transposed convolution runs backwards
    either."""
    strides, kernel, padding = _pair(strides), tf.convert_to_tensor(kernel), padding.upper()

    @tf.custom_gradient
    def transpose(x, kernel):
        sizes = _transpose_sides(tf.unstack(tf.shape(x)[1:3]), kernel, strides, padding)
        starts = (0, 0) if padding == "VALID" else _same_starts(sizes, kernel, strides)
        y = _fit(_full_transpose(x, kernel, strides), starts, sizes)
        y.set_shape([x.shape[0], *_transpose_sides(x.shape[1:3], kernel, strides, padding),
                     kernel.shape[2]])

        def gradient(dy):
            # Keras's transposed convolution is the transpose of the strided convolution
            # with the same padding, whatever the sides.
            dx = tf.nn.conv2d(dy, kernel, [1, *strides, 1], padding)
            return dx, _kernel_gradient(dy, kernel, x, strides, padding)

        return y, gradient

    return transpose(x, kernel)


def conv(x, kernel, strides, padding="valid"):
    """``tf.nn.conv2d`` (``channels_last``, no dilation) of ``x`` with ``kernel``
    ``[kh, kw, channels, filters]``, whose input gradient is :func:`conv_transpose`."""
    strides, kernel, padding = _pair(strides), tf.convert_to_tensor(kernel), padding.upper()

    @tf.custom_gradient
    def convolve(x, kernel):
        y = tf.nn.conv2d(x, kernel, [1, *strides, 1], padding)

        def gradient(dy):
            sizes = tf.unstack(tf.shape(x)[1:3])
            starts = (0, 0) if padding == "VALID" else _same_starts(sizes, kernel, strides)
            # The transpose covers the padded input from its first row; cut it to ``x``.
            dx = _fit(conv_transpose(dy, kernel, strides), starts, sizes)
            dx.set_shape(x.shape)
            return dx, _kernel_gradient(x, kernel, dy, strides, padding)

        return y, gradient

    return convolve(x, kernel)


def covers(layer):
    """Whether the polyphase form computes ``layer`` (else it runs Keras's own code)."""
    return (keras.backend.backend() == "tensorflow" and layer.data_format == "channels_last"
            and tuple(layer.dilation_rate) == (1, 1)
            and getattr(layer, "groups", 1) == 1
            and getattr(layer, "output_padding", None) is None)


@keras.saving.register_keras_serializable(package="keras_vae")
class PolyphaseConv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` whose input gradient is computed as a convolution in
    polyphase form (:func:`conv`) instead of TensorFlow's ``Conv2DBackpropInput``. Same
    arguments, weights, outputs and config; dilation, groups and ``channels_first`` run
    Keras's own code."""

    def convolution_op(self, inputs, kernel):
        if not covers(self):
            return super().convolution_op(inputs, kernel)
        return conv(inputs, kernel, self.strides, self.padding)


@keras.saving.register_keras_serializable(package="keras_vae")
class PolyphaseConv2DTranspose(keras.layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` computed as one stride-1 convolution into
    ``strides[0] * strides[1]`` phases (:func:`conv_transpose`). Same arguments, weights,
    outputs and config; ``output_padding``, dilation and ``channels_first`` run Keras's own
    code."""

    def call(self, inputs):
        if not covers(self):
            return super().call(inputs)
        outputs = conv_transpose(inputs, self.kernel, self.strides, self.padding)
        if self.use_bias:  # added as Keras's layer adds it
            outputs = tf.add(outputs, tf.reshape(self.bias, (1, 1, 1, self.filters)))
        return outputs if self.activation is None else self.activation(outputs)


#: Fewest channels on the transposed side of a strided layer (a ``Conv2D``'s inputs, a
#: ``Conv2DTranspose``'s outputs) for which :func:`strided_conv` picks the polyphase form:
#: with fewer, the ``s * s`` phases make a thin convolution and Keras's own op was faster
#: (``benchmarks/conv_layers.py --polyphase``, README "Performance").
MIN_CHANNELS = 16


def strided_conv(transposed, channels):
    """The layer class for a stride-2 stage of the conv networks: the polyphase one when
    ``channels`` (on the transposed side) reach :data:`MIN_CHANNELS`, else Keras's."""
    if channels < MIN_CHANNELS:
        return keras.layers.Conv2DTranspose if transposed else keras.layers.Conv2D
    return PolyphaseConv2DTranspose if transposed else PolyphaseConv2D
