"""Learned priors: over the code grids of a VQ-VAE, a (class-conditional) PixelCNN; over a
Gaussian latent, the mixtures :class:`VampPrior` and :class:`MixturePrior`
(:mod:`keras_vae.models.mixture_priors`)."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_vae.layers import MaskedConv2D
from keras_vae.models.mixture_priors import PRIORS  # noqa: F401 (kv.priors.*)
from keras_vae.models.mixture_priors import MixturePrior  # noqa: F401
from keras_vae.models.mixture_priors import VampPrior  # noqa: F401
from keras_vae.models.mixture_priors import from_spec  # noqa: F401
from keras_vae.models.serving import check_labels
from keras_vae.models.trainer import ObjectiveModel
from keras_vae.validation import check_index_range
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_number
from keras_vae.validation import check_positive_int
from keras_vae.validation import check_seed


def check_codes(codes, num_embeddings, grid_shape, owner):
    """Returns codes as int32 ``[batch, *grid_shape]``; float, wrongly shaped or out-of-range
    codes raise an error naming the problem (eagerly a ValueError, in a graph an assertion)."""
    codes = codes if tf.is_tensor(codes) else tf.convert_to_tensor(np.asarray(codes))
    if not codes.dtype.is_integer:
        raise ValueError(f"{owner}: codes must be integers; received dtype {codes.dtype.name}.")
    expected = (None, *grid_shape)
    got = tuple(codes.shape)
    if len(got) != len(expected) or any(
        g is not None and e is not None and g != e for g, e in zip(got, expected)
    ):
        raise ValueError(f"{owner}: codes must have shape {expected}; received {got}.")
    return check_index_range(tf.cast(codes, tf.int32), num_embeddings,
                             f"{owner}: codes must lie in [0, {num_embeddings})")


@keras.saving.register_keras_serializable(package="keras_vae")
class PixelCNN(ObjectiveModel):
    """Autoregressive prior ``p(c) = prod_i p(c_i | c_<i)`` over ``H x W`` grids of codes.

    Codes are embedded, passed through a type-A masked convolution and ``num_blocks``
    residual blocks of type-B masked convolutions (gated, ``tanh * sigmoid``, by default),
    then 1x1 convolutions to ``num_embeddings`` logits per position. Position ``i`` (raster
    order) never sees positions ``>= i``. With ``num_classes`` set, a learned per-class bias
    enters every block (class-conditional generation).

    ``fit`` takes code grids ``[batch, H, W]`` (int) or ``(codes, labels)`` pairs; the loss is
    the cross-entropy in nats per grid position.

    Args:
        grid_shape: ``(H, W)`` of the code grid.
        num_embeddings: K, the number of codes.
        num_classes: ``None`` for an unconditional prior, else the number of classes.
        filters: Channels of the hidden layers.
        num_blocks: Residual blocks.
        kernel_size: Kernel of the blocks' masked convolutions (odd).
        first_kernel_size: Kernel of the first (type-A) convolution (odd).
        gated: Gated activations (``tanh(a) * sigmoid(b)``); ``False`` uses ReLU.
        seed: Default seed of :meth:`sample`.

    Example:

    >>> prior = PixelCNN(grid_shape=(3, 3), num_embeddings=5, filters=8, num_blocks=1)
    >>> prior.sample(2, seed=0).shape
    TensorShape([2, 3, 3])

    References:
        van den Oord et al., "Conditional Image Generation with PixelCNN Decoders", NeurIPS
        2016.
    """

    def __init__(
        self,
        grid_shape,
        num_embeddings,
        num_classes=None,
        filters=64,
        num_blocks=4,
        kernel_size=3,
        first_kernel_size=7,
        gated=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.grid_shape = check_int_tuple("grid_shape", grid_shape, allow_empty=False)
        if len(self.grid_shape) != 2:
            raise ValueError(f"`grid_shape` must be (height, width). Received: {grid_shape!r}")
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings)
        self.num_classes = None if num_classes is None else check_positive_int(
            "num_classes", num_classes)
        self.filters = check_positive_int("filters", filters)
        self.num_blocks = check_positive_int("num_blocks", num_blocks)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.first_kernel_size = check_positive_int("first_kernel_size", first_kernel_size)
        self.gated = bool(gated)
        self.seed = check_seed(seed)

        block_out = 2 * self.filters if self.gated else self.filters
        self.code_embedding = keras.layers.Embedding(self.num_embeddings, self.filters,
                                                     name="code_embedding")
        self.input_conv = MaskedConv2D("A", self.filters, self.first_kernel_size,
                                       name="masked_conv_a")
        self.block_convs = [MaskedConv2D("B", block_out, self.kernel_size, name=f"block_{i}_conv")
                            for i in range(self.num_blocks)]
        self.block_outputs = [keras.layers.Conv2D(self.filters, 1, name=f"block_{i}_out")
                              for i in range(self.num_blocks)]
        self.class_biases = (
            [keras.layers.Embedding(self.num_classes, block_out, name=f"block_{i}_class")
             for i in range(self.num_blocks)]
            if self.num_classes else []
        )
        self.head = keras.layers.Conv2D(self.filters, 1, activation="relu", name="head")
        self.logits = keras.layers.Conv2D(self.num_embeddings, 1, name="logits")
        # Build every variable now (a forward pass on one empty grid).
        labels = None if self.num_classes is None else tf.zeros([1], tf.int32)
        self.forward(tf.zeros([1, *self.grid_shape], tf.int32), labels)
        self.create_trackers()
        self.built = True

    @property
    def conditional(self):
        return self.num_classes is not None

    def metric_names(self):
        return ["loss"]

    # ------------------------------------------------------------------ network
    def forward(self, codes, labels=None, training=False):
        """Logits ``[batch, H, W, num_embeddings]`` of checked int32 codes (and labels)."""
        h = self.input_conv(self.code_embedding(codes))
        for i in range(self.num_blocks):
            a = self.block_convs[i](ops.relu(h))
            if self.class_biases:
                a = a + self.class_biases[i](labels)[:, None, None, :]
            if self.gated:
                t, s = ops.split(a, 2, axis=-1)
                a = ops.tanh(t) * ops.sigmoid(s)
            else:
                a = ops.relu(a)
            h = h + self.block_outputs[i](a)
        return self.logits(self.head(ops.relu(h)))

    def check_codes(self, codes):
        return check_codes(codes, self.num_embeddings, self.grid_shape, "PixelCNN")

    def check_labels(self, labels):
        if not self.conditional:
            if labels is not None:
                raise ValueError(
                    "This PixelCNN is unconditional (num_classes=None) but received labels."
                )
            return None
        return check_labels(labels, self.num_classes, "A class-conditional PixelCNN")

    def call(self, inputs, training=False):
        """Logits for ``codes`` or ``(codes, labels)``."""
        if self.conditional:
            if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
                raise ValueError("A class-conditional PixelCNN is called on (codes, labels).")
            codes, labels = inputs
        else:
            codes, labels = inputs, None
        return self.forward(self.check_codes(codes), self.check_labels(labels), training)

    # ------------------------------------------------------------------ training
    def unpack_inputs(self, data):
        codes, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError("PixelCNN does not support sample weights.")
        if self.conditional and labels is None:
            raise ValueError(
                "A class-conditional PixelCNN trains on (codes, labels) pairs; the data holds "
                "codes only."
            )
        return self.check_codes(codes), self.check_labels(labels)

    def _objective(self, inputs, training):
        codes, labels = inputs
        logits = self.forward(codes, labels, training=training)
        nll = keras.losses.sparse_categorical_crossentropy(
            codes, ops.cast(logits, "float32"), from_logits=True)
        return {"loss": ops.mean(ops.reshape(nll, (ops.shape(nll)[0], -1)), axis=1)}

    def log_prob(self, codes, labels=None):
        """``log p(codes)`` in nats per grid, ``[batch]``."""
        codes, labels = self.check_codes(codes), self.check_labels(labels)
        logits = ops.cast(self.forward(codes, labels), "float32")
        nll = keras.losses.sparse_categorical_crossentropy(codes, logits, from_logits=True)
        return -ops.sum(ops.reshape(nll, (ops.shape(nll)[0], -1)), axis=1)

    # ------------------------------------------------------------------ sampling
    def sample(self, num_or_labels, seed=None, temperature=1.0):
        """Draws code grids ``[n, H, W]`` (int32), all images of the batch at once.

        Args:
            num_or_labels: The number of grids, or (class-conditional prior) one label per
                grid.
            seed: Integer seed; the same seed gives the same grids (default: ``seed`` of the
                constructor, else random).
            temperature: Divides the logits (1 = the model's distribution).
        """
        temperature = check_number("temperature", temperature, minimum=0.0, exclusive=True)
        if self.conditional:
            if isinstance(num_or_labels, (int, np.integer)):
                raise ValueError(
                    "This PixelCNN is class-conditional: pass one label per grid, e.g. "
                    "sample(np.arange(10)), not a number."
                )
            labels = self.check_labels(num_or_labels)
            num = tf.shape(labels)[0]
        else:
            labels = self.check_labels(None)
            num = check_positive_int("num", num_or_labels)
        seed = check_seed(seed)
        if seed is None:
            seed = self.seed if self.seed is not None else int(np.random.randint(2**31 - 1))
        return self.sample_codes(num, seed, labels, temperature)

    def sample_codes(self, num, seed, labels=None, temperature=1.0):
        """Graph-friendly sampling (``num`` and ``seed`` may be tensors): one forward pass of
        the whole batch per grid position, each position drawn with a stateless seed
        ``(seed, position)``."""
        height, width = self.grid_shape
        seed = tf.cast(seed, tf.int32)
        positions = tf.reshape(tf.eye(height * width, dtype=tf.int32),
                               [height * width, height, width])

        def body(t, codes):
            logits = ops.cast(self.forward(codes, labels), "float32")
            logits = tf.reshape(logits, [-1, height * width, self.num_embeddings])
            logits = tf.gather(logits, t, axis=1) / temperature
            draw = tf.random.stateless_categorical(logits, 1, seed=tf.stack([seed, t]),
                                                   dtype=tf.int32)
            mask = tf.gather(positions, t)[None]
            return t + 1, codes * (1 - mask) + draw[:, :, None] * mask

        codes = tf.zeros(tf.stack([num, height, width]), tf.int32)
        _, codes = tf.while_loop(lambda t, c: t < height * width, body, (tf.constant(0), codes))
        return codes

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        return {
            **self.base_config(),
            "grid_shape": self.grid_shape,
            "num_embeddings": self.num_embeddings,
            "num_classes": self.num_classes,
            "filters": self.filters,
            "num_blocks": self.num_blocks,
            "kernel_size": self.kernel_size,
            "first_kernel_size": self.first_kernel_size,
            "gated": self.gated,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["grid_shape"] = tuple(config["grid_shape"])
        return cls.construct(config)
