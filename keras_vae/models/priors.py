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
from keras_vae.validation import check_int
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


class CodePrior(ObjectiveModel):
    """Base of the autoregressive priors ``p(c) = prod_i p(c_i | c_<i)`` over ``H x W`` grids
    of codes (raster order): :class:`PixelCNN` and :class:`TransformerPrior` implement
    :meth:`forward`; training, ``log_prob`` and batched sampling live here.

    A prior is unconditional, class-conditional (``num_classes``: ``fit`` on
    ``(codes, labels)``, ``sample(labels)``) or conditioned on a second code grid
    (``condition_shape`` and ``condition_embeddings``: the bottom prior of a VQ-VAE-2; ``fit``
    on ``(codes, condition_codes)``, ``sample(condition_codes)``). A condition grid is
    embedded and passed through ``condition_blocks`` residual 3x3 convolutions at its own
    resolution, so that, by default, every cell's map sees the whole condition grid (where a
    position's own autoregressive view sees only the grid above it), then resized to this
    grid (:meth:`grid_context`). The loss is the cross-entropy in nats per grid position.
    """

    def __init__(self, grid_shape, num_embeddings, num_classes=None, condition_shape=None,
                 condition_embeddings=None, seed=None, condition_blocks=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.grid_shape = _grid_shape("grid_shape", grid_shape)
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings)
        self.num_classes = None if num_classes is None else check_positive_int(
            "num_classes", num_classes)
        if (condition_shape is None) != (condition_embeddings is None):
            raise ValueError(f"{owner}: a code-grid condition needs both `condition_shape` and "
                             "`condition_embeddings`.")
        if num_classes is not None and condition_shape is not None:
            raise ValueError(f"{owner} conditions on class labels (num_classes) or on a code "
                             "grid (condition_shape), not both.")
        self.condition_shape = (None if condition_shape is None
                                else _grid_shape("condition_shape", condition_shape))
        self.condition_embeddings = (None if condition_embeddings is None else
                                     check_positive_int("condition_embeddings",
                                                        condition_embeddings))
        if self.condition_shape is None:
            if condition_blocks is not None:
                raise ValueError(f"{owner}: `condition_blocks` applies to a code-grid "
                                 "condition only; pass `condition_shape` and "
                                 "`condition_embeddings` too, or leave it None.")
            self.condition_blocks = None
        elif condition_blocks is None:  # a 3x3 block widens the view by one cell each way
            self.condition_blocks = max(self.condition_shape) - 1
        else:
            self.condition_blocks = check_int("condition_blocks", condition_blocks, minimum=0)
        self.seed = check_seed(seed)

    def make_grid_condition(self, width, activation=None):
        """Creates the layers of :meth:`grid_context` with ``width`` channels (the
        subclass's hidden width; ``activation`` of the last convolution); nothing for a prior
        without a grid condition."""
        if not self.grid_conditioned:
            return
        self.condition_embedding = keras.layers.Embedding(
            self.condition_embeddings, width, name="condition_embedding")
        self.condition_stack = [
            keras.layers.Conv2D(width, 3, padding="same", name=f"condition_block_{i}")
            for i in range(self.condition_blocks)]
        self.condition_conv = keras.layers.Conv2D(width, 3, padding="same",
                                                  activation=activation,
                                                  name="condition_conv")

    def finish_prior(self):
        """Builds every variable (a forward pass on one grid) and the trackers; the last line
        of a subclass constructor."""
        self.forward(tf.zeros([1, *self.grid_shape], tf.int32), self.zero_condition(1))
        self.create_trackers()
        self.built = True

    @property
    def conditional(self):
        """Whether the prior is class-conditional."""
        return self.num_classes is not None

    @property
    def grid_conditioned(self):
        """Whether the prior is conditioned on a second code grid."""
        return self.condition_shape is not None

    def metric_names(self):
        return ["loss"]

    def forward(self, codes, condition=None, training=False):
        """Logits ``[batch, H, W, num_embeddings]`` of checked int32 codes; logits at a
        position may depend only on earlier positions (and the condition)."""
        raise NotImplementedError

    def zero_condition(self, num):
        if self.conditional:
            return tf.zeros([num], tf.int32)
        if self.grid_conditioned:
            return tf.zeros([num, *self.condition_shape], tf.int32)
        return None

    def check_codes(self, codes):
        return check_codes(codes, self.num_embeddings, self.grid_shape, type(self).__name__)

    def check_condition(self, condition):
        """Labels (class-conditional), a condition code grid, or ``None`` (unconditional),
        checked; anything else raises an error naming what this prior takes."""
        owner = type(self).__name__
        if self.grid_conditioned:
            if condition is None:
                raise ValueError(f"This {owner} is conditioned on {self.condition_shape} code "
                                 "grids; pass them (e.g. the top codes of a VQ-VAE-2).")
            return check_codes(condition, self.condition_embeddings, self.condition_shape,
                               f"{owner} (its condition grid)")
        if not self.conditional:
            if condition is not None:
                raise ValueError(f"This {owner} is unconditional (num_classes=None) but "
                                 "received labels.")
            return None
        return check_labels(condition, self.num_classes, f"A class-conditional {owner}")

    def call(self, inputs, training=False):
        """Logits for ``codes``, or ``(codes, labels)`` / ``(codes, condition_codes)``."""
        if self.conditional or self.grid_conditioned:
            if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
                what = "labels" if self.conditional else "condition_codes"
                raise ValueError(f"This {type(self).__name__} is conditional: call it on "
                                 f"(codes, {what}).")
            codes, condition = inputs
        else:
            codes, condition = inputs, None
        return self.forward(self.check_codes(codes), self.check_condition(condition), training)

    # ------------------------------------------------------------------ training
    def unpack_inputs(self, data):
        codes, condition, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__} does not support sample weights.")
        if (self.conditional or self.grid_conditioned) and condition is None:
            what = "labels" if self.conditional else "condition code grids"
            raise ValueError(f"This {type(self).__name__} trains on (codes, {what}) pairs; the "
                             "data holds codes only.")
        return self.check_codes(codes), self.check_condition(condition)

    def _objective(self, inputs, training):
        codes, condition = inputs
        logits = self.forward(codes, condition, training=training)
        nll = keras.losses.sparse_categorical_crossentropy(
            codes, ops.cast(logits, "float32"), from_logits=True)
        return {"loss": ops.mean(ops.reshape(nll, (ops.shape(nll)[0], -1)), axis=1)}

    def log_prob(self, codes, condition=None):
        """``log p(codes)`` in nats per grid, ``[batch]``."""
        codes, condition = self.check_codes(codes), self.check_condition(condition)
        logits = ops.cast(self.forward(codes, condition), "float32")
        nll = keras.losses.sparse_categorical_crossentropy(codes, logits, from_logits=True)
        return -ops.sum(ops.reshape(nll, (ops.shape(nll)[0], -1)), axis=1)

    # ------------------------------------------------------------------ sampling
    def sample(self, num_or_condition, seed=None, temperature=1.0):
        """Draws code grids ``[n, H, W]`` (int32), all grids of the batch at once.

        Args:
            num_or_condition: The number of grids; for a class-conditional prior one label per
                grid, for a grid-conditioned one a condition grid per grid.
            seed: Integer seed; the same seed gives the same grids (default: ``seed`` of the
                constructor, else random).
            temperature: Divides the logits (1 = the model's distribution).
        """
        temperature = check_number("temperature", temperature, minimum=0.0, exclusive=True)
        if self.conditional or self.grid_conditioned:
            if isinstance(num_or_condition, (int, np.integer)):
                what = ("one label per grid, e.g. sample(np.arange(10))" if self.conditional
                        else "one condition code grid per grid")
                kind = "class-conditional" if self.conditional else "grid-conditioned"
                raise ValueError(f"This {type(self).__name__} is {kind}: pass {what}, not a "
                                 "number.")
            condition = self.check_condition(num_or_condition)
            num = tf.shape(condition)[0]
        else:
            condition = self.check_condition(None)
            num = check_positive_int("num", num_or_condition)
        seed = check_seed(seed)
        if seed is None:
            seed = self.seed if self.seed is not None else int(np.random.randint(2**31 - 1))
        return self.sample_codes(num, seed, condition, temperature)

    def sample_codes(self, num, seed, condition=None, temperature=1.0):
        """Graph-friendly sampling (``num`` and ``seed`` may be tensors): one forward pass of
        the whole batch per grid position (:meth:`position_logits`), each position drawn with
        a stateless seed ``(seed, position)``."""
        height, width = self.grid_shape
        seed = tf.cast(seed, tf.int32)
        positions = tf.reshape(tf.eye(height * width, dtype=tf.int32),
                               [height * width, height, width])
        context = self.sampling_context(condition)

        def body(t, codes):
            logits = ops.cast(self.position_logits(codes, context, t), "float32") / temperature
            draw = tf.random.stateless_categorical(logits, 1, seed=tf.stack([seed, t]),
                                                   dtype=tf.int32)
            mask = tf.gather(positions, t)[None]
            return t + 1, codes * (1 - mask) + draw[:, :, None] * mask

        codes = tf.zeros(tf.stack([num, height, width]), tf.int32)
        _, codes = tf.while_loop(lambda t, c: t < height * width, body, (tf.constant(0), codes))
        return codes

    def grid_context(self, condition):
        """A condition grid's map on this grid, ``[batch, H, W, channels]``: its codes
        embedded, through the residual blocks ``h + conv(relu(h))`` at the condition's
        resolution, resized to this grid and through one 3x3 convolution (``None`` without a
        grid condition). It does not depend on the codes."""
        if not self.grid_conditioned:
            return None
        h = self.condition_embedding(condition)
        for conv in self.condition_stack:
            h = h + conv(ops.relu(h))
        return self.condition_conv(ops.image.resize(h, self.grid_shape,
                                                    interpolation="nearest"))

    def sampling_context(self, condition):
        """What each step of :meth:`sample_codes` reads besides the codes drawn so far,
        computed once per call: the condition and its :meth:`grid_context`."""
        return condition, self.grid_context(condition)

    def position_logits(self, codes, context, t):
        """Logits ``[batch, num_embeddings]`` of position ``t`` (raster order) given the codes
        of the earlier positions; here one forward pass over the whole grid."""
        logits = tf.reshape(self.forward(codes, context[0]),
                            [-1, int(np.prod(self.grid_shape)), self.num_embeddings])
        return tf.gather(logits, t, axis=1)

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        return {
            **self.base_config(),
            "grid_shape": self.grid_shape,
            "num_embeddings": self.num_embeddings,
            "num_classes": self.num_classes,
            "condition_shape": self.condition_shape,
            "condition_embeddings": self.condition_embeddings,
            "condition_blocks": self.condition_blocks,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("condition_shape") is not None and "condition_blocks" not in config:
            config["condition_blocks"] = 0  # saved before the blocks existed: none then
        for key in ("grid_shape", "condition_shape"):
            if config.get(key) is not None:
                config[key] = tuple(config[key])
        return cls.construct(config)


def _grid_shape(name, value):
    shape = check_int_tuple(name, value, allow_empty=False)
    if len(shape) != 2:
        raise ValueError(f"`{name}` must be (height, width). Received: {value!r}")
    return shape


@keras.saving.register_keras_serializable(package="keras_vae")
class PixelCNN(CodePrior):
    """Autoregressive prior ``p(c) = prod_i p(c_i | c_<i)`` over ``H x W`` grids of codes.

    Codes are embedded, passed through a type-A masked convolution and ``num_blocks``
    residual blocks of type-B masked convolutions (gated, ``tanh * sigmoid``, by default),
    then 1x1 convolutions to ``num_embeddings`` logits per position. Position ``i`` (raster
    order) never sees positions ``>= i``. With ``num_classes`` set, a learned per-class bias
    enters every block (class-conditional generation); with ``condition_shape`` and
    ``condition_embeddings``, a bias map computed from a second code grid
    (:meth:`~CodePrior.grid_context`) does (the VQ-VAE-2's bottom prior).

    ``fit`` takes code grids ``[batch, H, W]`` (int), or ``(codes, labels)`` /
    ``(codes, condition_codes)`` pairs; the loss is the cross-entropy in nats per grid
    position.

    Args:
        grid_shape: ``(H, W)`` of the code grid.
        num_embeddings: K, the number of codes.
        num_classes: ``None`` for an unconditional prior, else the number of classes.
        condition_shape, condition_embeddings: The shape and code count of a conditioning
            code grid (``None``: none).
        condition_blocks: Residual 3x3 convolutions over the conditioning grid at its own
            resolution (``None``: ``max(condition_shape) - 1``, enough for every position to
            see all of it; ``0``: each position sees the condition's cells around its own).
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
        condition_shape=None,
        condition_embeddings=None,
        condition_blocks=None,
        filters=64,
        num_blocks=4,
        kernel_size=3,
        first_kernel_size=7,
        gated=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(grid_shape, num_embeddings, num_classes, condition_shape,
                         condition_embeddings, seed, condition_blocks, **kwargs)
        self.filters = check_positive_int("filters", filters)
        self.num_blocks = check_positive_int("num_blocks", num_blocks)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.first_kernel_size = check_positive_int("first_kernel_size", first_kernel_size)
        self.gated = bool(gated)

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
        self.make_grid_condition(self.filters, activation="relu")
        self.condition_biases = (
            [keras.layers.Conv2D(block_out, 1, name=f"block_{i}_condition")
             for i in range(self.num_blocks)]
            if self.grid_conditioned else []
        )
        self.head = keras.layers.Conv2D(self.filters, 1, activation="relu", name="head")
        self.logits = keras.layers.Conv2D(self.num_embeddings, 1, name="logits")
        self.finish_prior()

    # ------------------------------------------------------------------ network
    @property
    def receptive_rows(self):
        """How many rows above its own a position's logits can see."""
        return self.first_kernel_size // 2 + self.num_blocks * (self.kernel_size // 2)

    def forward(self, codes, condition=None, training=False):
        h = self.features(codes, condition, self.grid_context(condition))
        return self.logits(self.head(ops.relu(h)))

    def position_logits(self, codes, context, t):
        """Runs the network on the rows position ``t`` can see, not the whole grid: the rows
        above ``receptive_rows`` cannot change its logits, and rows below are masked, so
        these logits equal the whole grid's (the top rows' zero padding only touches outputs
        this one does not read)."""
        condition, grid_context = context
        width = self.grid_shape[1]
        row = t // width
        first = tf.maximum(row - self.receptive_rows, 0)
        window = None if grid_context is None else grid_context[:, first:row + 1]
        h = self.features(codes[:, first:row + 1], condition, window)
        return self.logits(self.head(ops.relu(h[:, -1:])))[:, 0, t % width]

    def features(self, codes, condition, context):
        """The last hidden map of the masked network (``context``: :meth:`grid_context`)."""
        h = self.input_conv(self.code_embedding(codes))
        for i in range(self.num_blocks):
            a = self.block_convs[i](ops.relu(h))
            if self.class_biases:
                a = a + self.class_biases[i](condition)[:, None, None, :]
            if context is not None:
                a = a + self.condition_biases[i](context)
            if self.gated:
                t, s = ops.split(a, 2, axis=-1)
                a = ops.tanh(t) * ops.sigmoid(s)
            else:
                a = ops.relu(a)
            h = h + self.block_outputs[i](a)
        return h

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "num_blocks": self.num_blocks,
            "kernel_size": self.kernel_size,
            "first_kernel_size": self.first_kernel_size,
            "gated": self.gated,
        }


@keras.saving.register_keras_serializable(package="keras_vae")
class TransformerPrior(CodePrior):
    """Autoregressive prior over ``H x W`` code grids as a causal Transformer over the
    ``H W`` codes in raster order: the input at position ``i`` is the embedding of code
    ``i - 1`` (a learned start vector, per class when class-conditional, at position 0) plus a
    learned position embedding, ``num_layers`` pre-norm blocks of causal self-attention and
    an MLP, and a linear head to ``num_embeddings`` logits. Every position attends to all
    earlier ones, where a PixelCNN sees a growing but limited neighbourhood. A code-grid
    condition (the VQ-VAE-2's top codes, :meth:`~CodePrior.grid_context`) is added to every
    position's input.

    Takes the same data and gives the same samples as :class:`PixelCNN`, which it can
    replace in :meth:`keras_vae.VQVAE.fit_prior` (``architecture="transformer"``).

    Args:
        grid_shape, num_embeddings, num_classes, condition_shape, condition_embeddings,
            condition_blocks: As for :class:`PixelCNN`.
        units: Width of the embeddings and blocks.
        num_layers: Transformer blocks.
        num_heads: Attention heads (``units`` must be a multiple).
        mlp_ratio: Hidden width of each block's MLP, in multiples of ``units``.
        dropout: Attention dropout while training.
        seed: Default seed of :meth:`sample`.

    Example:

    >>> prior = TransformerPrior(grid_shape=(3, 3), num_embeddings=5, units=8, num_layers=1,
    ...                          num_heads=2)
    >>> prior.sample(2, seed=0).shape
    TensorShape([2, 3, 3])

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017; Chen et al., "Generative
        Pretraining from Pixels", ICML 2020 (the same model over pixels).
    """

    def __init__(
        self,
        grid_shape,
        num_embeddings,
        num_classes=None,
        condition_shape=None,
        condition_embeddings=None,
        condition_blocks=None,
        units=64,
        num_layers=2,
        num_heads=4,
        mlp_ratio=4,
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(grid_shape, num_embeddings, num_classes, condition_shape,
                         condition_embeddings, seed, condition_blocks, **kwargs)
        self.units = check_positive_int("units", units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.num_heads = check_positive_int("num_heads", num_heads)
        if self.units % self.num_heads:
            raise ValueError(f"`units` ({units}) must be a multiple of `num_heads` "
                             f"({num_heads}).")
        self.mlp_ratio = check_positive_int("mlp_ratio", mlp_ratio)
        self.dropout = check_number("dropout", dropout, minimum=0.0)
        if self.dropout >= 1.0:
            raise ValueError(f"`dropout` must be below 1. Received: {dropout!r}")
        self.length = self.grid_shape[0] * self.grid_shape[1]

        self.code_embedding = keras.layers.Embedding(self.num_embeddings, self.units,
                                                     name="code_embedding")
        self.position_embedding = keras.layers.Embedding(self.length, self.units,
                                                         name="position_embedding")
        self.start = keras.layers.Embedding(self.num_classes or 1, self.units, name="start")
        self.make_grid_condition(self.units)
        self.attention_norms, self.attentions, self.mlp_norms = [], [], []
        self.mlp_hidden, self.mlp_out = [], []
        for i in range(self.num_layers):
            self.attention_norms.append(keras.layers.LayerNormalization(
                epsilon=1e-5, name=f"layer_{i}_attention_norm"))
            self.attentions.append(keras.layers.MultiHeadAttention(
                self.num_heads, self.units // self.num_heads, dropout=self.dropout,
                name=f"layer_{i}_attention"))
            self.mlp_norms.append(keras.layers.LayerNormalization(epsilon=1e-5,
                                                                  name=f"layer_{i}_mlp_norm"))
            self.mlp_hidden.append(keras.layers.Dense(self.mlp_ratio * self.units,
                                                      activation="gelu",
                                                      name=f"layer_{i}_mlp_hidden"))
            self.mlp_out.append(keras.layers.Dense(self.units, name=f"layer_{i}_mlp_out"))
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.logits = keras.layers.Dense(self.num_embeddings, name="logits")
        self.finish_prior()

    def forward(self, codes, condition=None, training=False):
        num = ops.shape(codes)[0]
        logits = self.prefix_logits(ops.reshape(codes, (num, self.length)), condition,
                                    self.grid_context(condition), self.length, training)
        return ops.reshape(logits, (num, *self.grid_shape, self.num_embeddings))

    def prefix_logits(self, codes, condition, context, length, training=False):
        """Logits ``[batch, length, num_embeddings]`` of the first ``length`` positions, from
        codes ``[batch, H W]`` in raster order (only the first ``length - 1`` are read)."""
        num = ops.shape(codes)[0]
        start = self.start(condition if self.conditional else ops.zeros((num,), "int32"))
        h = ops.concatenate([start[:, None, :], self.code_embedding(codes[:, :length - 1])],
                            axis=1)
        h = h + self.position_embedding(tf.range(length))[None]
        if context is not None:  # the grid_context, added to every position's input
            h = h + ops.reshape(context, (num, self.length, self.units))[:, :length]
        for i in range(self.num_layers):
            a = self.attention_norms[i](h)
            h = h + self.attentions[i](a, a, use_causal_mask=True, training=training)
            h = h + self.mlp_out[i](self.mlp_hidden[i](self.mlp_norms[i](h)))
        return self.logits(self.final_norm(h))

    def position_logits(self, codes, context, t):
        """Runs the Transformer on positions ``0..t`` only: attention is causal, so later
        positions cannot change these logits, which equal the whole sequence's."""
        condition, grid_context = context
        codes = tf.reshape(codes, [-1, self.length])
        return self.prefix_logits(codes, condition, grid_context, t + 1)[:, -1]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "mlp_ratio": self.mlp_ratio,
            "dropout": self.dropout,
        }


#: The prior architectures a VQ model's ``fit_prior`` (and ``--prior-architecture``) takes.
PRIOR_ARCHITECTURES = {"pixelcnn": PixelCNN, "transformer": TransformerPrior}
