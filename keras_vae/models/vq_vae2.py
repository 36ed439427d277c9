"""The VQ-VAE-2: a top and a bottom code grid, each with its own quantizer, and a prior of
two autoregressive models (top, then bottom given the top)."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_vae.distribute import all_reduce_sum
from keras_vae.layers import VectorQuantizer
from keras_vae.layers.vector_quantizer import code_statistics
from keras_vae.models.vq_vae import VQ_METRICS
from keras_vae.models.vq_vae import CodeAutoencoder
from keras_vae.models.vq_vae import _image_batches
from keras_vae.models.vq_vae import check_prior_grid
from keras_vae.models.vq_vae import new_prior
from keras_vae.models.vq_vae import prior_class
from keras_vae.models.vq_vae import set_kmeans_codebook
from keras_vae.networks import build_conv_grid_decoder
from keras_vae.networks import build_conv_grid_encoder
from keras_vae.networks import stage_sizes
from keras_vae.validation import check_index_range
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_seed

#: Draws of the bottom prior use the sampling seed XOR this, so they are not those of the top.
BOTTOM_SEED_MASK = 0x5BD1E995


@keras.saving.register_keras_serializable(package="keras_vae")
class VQVAE2(CodeAutoencoder):
    """VQ-VAE-2 (Razavi et al. 2019) trained with ``model.fit``: hierarchical discrete codes.

    The bottom encoder (stride-2 stages ``filters``) maps images to features ``h`` on the
    bottom grid; the top encoder (further stages ``top_filters``) maps ``h`` to the top grid,
    where the top quantizer picks codes. The top decoder maps the quantized top grid back to
    the bottom grid; with ``h`` it gives the vectors the bottom quantizer quantizes. The
    decoder sees the quantized bottom grid beside an upsampling of the quantized top grid.
    Both quantizers are :class:`~keras_vae.layers.VectorQuantizer` s (EMA and dead-code
    re-seeding as in :class:`~keras_vae.VQVAE`), with ``num_embeddings`` codes each.

    Loss per example: ``reconstruction_loss + vq_loss``, ``vq_loss`` the sum of both levels'
    terms; ``kl_loss`` is the constant ``(H_t W_t + H_b W_b) log K``. ``perplexity`` and
    ``codebook_usage`` are over both codebooks together, ``top_perplexity`` and
    ``bottom_perplexity`` per level (all per batch).

    **Codes.** :meth:`encode` gives one int32 row per image, ``[batch, H_t W_t + H_b W_b]``:
    the top grid in raster order, then the bottom grid, in one index space of ``2 K`` codes
    (top codes in ``[0, K)``, bottom codes in ``[K, 2K)``), so every tool that reads a VQ
    model's codes (``decode``, the export's signatures, codebook statistics) reads both
    levels. :meth:`split_codes` and :meth:`join_codes` convert to and from the two grids.

    To generate, :meth:`fit_prior` trains a :class:`TwoLevelPrior`: a top prior (PixelCNN or
    Transformer, class-conditional when the data has labels) and a bottom prior conditioned on
    the whole top grid; :meth:`sample` draws the top grid, then the bottom.

    Args:
        input_shape: Image shape ``(height, width, channels)``.
        num_embeddings: K, the codebook size of each level.
        embedding_dim: D, the size of a code (both levels).
        commitment_cost, ema_decay, epsilon, dead_code_steps: Of both quantizers, as for
            :class:`~keras_vae.VQVAE`.
        filters: Channels of the bottom encoder's stride-2 stages: ``(32, 64)`` makes a 7x7
            bottom grid of 28x28 images.
        top_filters: Channels of the stages from the bottom grid to the top grid: ``(64,)``
            makes a 3x3 top grid over a 7x7 bottom grid.
        kernel_size: Kernel of the stride-2 stages.
        residual_blocks, residual_units: Residual blocks after each encoder's stages and
            before each decoder's.
        likelihood, likelihood_scale: As for :class:`~keras_vae.VQVAE`.
        prior: A :class:`TwoLevelPrior` over this model's grids, or ``None``.
        seed: Seed for dead-code re-seeding and default sampling.

    Example:

    >>> import numpy as np, keras_vae as kv
    >>> model = kv.VQVAE2(input_shape=(8, 8, 1), num_embeddings=8, embedding_dim=4,
    ...                   filters=(8,), top_filters=(8,))
    >>> model.top_shape, model.bottom_shape, model.code_shape
    ((2, 2), (4, 4), (20,))
    >>> top, bottom = model.split_codes(model.encode(np.zeros((2, 8, 8, 1), "float32")))
    >>> tuple(top.shape), tuple(bottom.shape)
    ((2, 2, 2), (2, 4, 4))

    References:
        Razavi, van den Oord & Vinyals, "Generating Diverse High-Fidelity Images with
        VQ-VAE-2", NeurIPS 2019.
    """

    kind = "vqvae2"

    def __init__(
        self,
        input_shape,
        num_embeddings=128,
        embedding_dim=16,
        commitment_cost=0.25,
        ema_decay=0.99,
        epsilon=1e-5,
        dead_code_steps=50,
        filters=(32, 64),
        top_filters=(64,),
        kernel_size=4,
        residual_blocks=2,
        residual_units=32,
        likelihood="bernoulli",
        likelihood_scale=0.1,
        prior=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(input_shape, likelihood=likelihood, likelihood_scale=likelihood_scale,
                         seed=seed, **kwargs)
        network = self.set_network(filters, kernel_size, residual_blocks, residual_units)
        self.top_filters = check_int_tuple("top_filters", top_filters, allow_empty=False)
        self.bottom_shape = stage_sizes(self.data_shape, self.filters, self.kernel_size)[-1]
        width = self.filters[-1]
        self.top_shape = stage_sizes((*self.bottom_shape, width), self.top_filters,
                                     self.kernel_size)[-1]
        quantizer = dict(commitment_cost=commitment_cost, ema_decay=ema_decay, epsilon=epsilon,
                         dead_code_steps=dead_code_steps)
        self.top_quantizer = VectorQuantizer(num_embeddings, embedding_dim, seed=seed,
                                             name="top_quantizer", **quantizer)
        self.quantizer = VectorQuantizer(num_embeddings, embedding_dim,
                                         seed=None if seed is None else seed + 1,
                                         name="bottom_quantizer", **quantizer)
        self.codebook_size = self.quantizer.num_embeddings
        self.num_embeddings = 2 * self.codebook_size
        dim = self.embedding_dim = self.quantizer.embedding_dim
        self.top_length = int(np.prod(self.top_shape))
        self.code_shape = (self.top_length + int(np.prod(self.bottom_shape)),)

        top = {**network, "filters": self.top_filters}
        bottom_features = (*self.bottom_shape, dim)
        self.encoder = build_conv_grid_encoder(self.data_shape, width, name="bottom_encoder",
                                               **network)
        self.top_encoder = build_conv_grid_encoder((*self.bottom_shape, width), dim,
                                                   name="top_encoder", **top)
        self.top_decoder = build_conv_grid_decoder(bottom_features, dim, name="top_decoder",
                                                   **top)
        self.bottom_projection = keras.layers.Conv2D(dim, 1, name="bottom_pre_quantization")
        self.bottom_projection.build((None, *self.bottom_shape, width + dim))
        self.top_upsampler = build_conv_grid_decoder(
            bottom_features, dim, **{**top, "residual_blocks": 0}, name="top_upsampler")
        self.decoder = build_conv_grid_decoder(self.data_shape, 2 * dim, **network)
        self.finish_code_model(prior)

    def metric_names(self):
        return [*VQ_METRICS, "top_perplexity", "bottom_perplexity"]

    # ------------------------------------------------------------------ codes
    def join_codes(self, top, bottom):
        """One code row per image from top ``[batch, *top_shape]`` and bottom
        ``[batch, *bottom_shape]`` grids (each in ``[0, K)``)."""
        return join_codes(top, bottom, self.codebook_size)

    def split_codes(self, codes):
        """``(top [batch, *top_shape], bottom [batch, *bottom_shape])`` grids of code rows,
        each in ``[0, K)``."""
        codes = tf.convert_to_tensor(codes)
        top = tf.reshape(codes[:, :self.top_length], [-1, *self.top_shape])
        bottom = tf.reshape(codes[:, self.top_length:] - self.codebook_size,
                            [-1, *self.bottom_shape])
        return top, bottom

    def check_codes(self, codes):
        """Code rows checked as for every VQ model, and each level in its own range."""
        codes = super().check_codes(codes)
        k, n = self.codebook_size, self.top_length
        top = check_index_range(codes[:, :n], k, f"VQVAE2: top codes (the first {n} of a row) "
                                f"must lie in [0, {k})")
        bottom = check_index_range(codes[:, n:], 2 * k, f"VQVAE2: bottom codes (after the "
                                   f"first {n} of a row) must lie in [{k}, {2 * k})", low=k)
        return tf.concat([top, bottom], axis=1)

    # ------------------------------------------------------------------ hooks
    def quantize_images(self, x, training=False):
        h = self.encoder(x, training=training)
        z_top = self.top_encoder(h, training=training)
        top = self.top_quantizer(z_top, training=training)
        z_bottom = self.bottom_projection(
            ops.concatenate([h, self.top_decoder(top["quantized"], training=training)], -1))
        bottom = self.quantizer(z_bottom, training=training)
        num = ops.shape(x)[0]
        return {
            "quantized": self.decoder_input(top["quantized"], bottom["quantized"], training),
            "codes": self.join_codes(top["codes"], bottom["codes"]),
            "z_e": ops.concatenate([ops.reshape(z_top, (num, -1, self.embedding_dim)),
                                    ops.reshape(z_bottom, (num, -1, self.embedding_dim))], 1),
            **{key: top[key] + bottom[key]
               for key in ("vq_loss", "codebook_loss", "commitment_loss")},
        }

    def decoder_input(self, top, bottom, training=False):
        return ops.concatenate([bottom, self.top_upsampler(top, training=training)], -1)

    def lookup(self, codes):
        top, bottom = self.split_codes(codes)
        return self.decoder_input(self.top_quantizer.lookup(top), self.quantizer.lookup(bottom))

    def code_statistics(self, codes):
        one_hot = tf.one_hot(tf.reshape(codes, [-1]), self.num_embeddings, dtype=tf.float32)
        perplexity, usage = code_statistics(all_reduce_sum(tf.reduce_sum(one_hot, axis=0)))
        top, bottom = self.split_codes(codes)
        return {"perplexity": perplexity, "codebook_usage": usage,
                "top_perplexity": self.top_quantizer.batch_statistics(top)[0],
                "bottom_perplexity": self.quantizer.batch_statistics(bottom)[0]}

    @property
    def constant_kl(self):
        return float(np.prod(self.code_shape) * np.log(self.codebook_size))

    def check_prior(self, prior):
        if not isinstance(prior, TwoLevelPrior):
            raise ValueError("A VQVAE2's prior is a TwoLevelPrior (a top and a bottom code "
                             f"prior); received {type(prior).__name__}.")
        k = self.codebook_size
        check_prior_grid(prior.top, self.top_shape, k, "the top grid")
        check_prior_grid(prior.bottom, self.bottom_shape, k, "the bottom grid",
                         condition=(tuple(self.top_shape), k))

    # ------------------------------------------------------------------ codebook
    def initialize_codebook(self, data, num_batches=10, iterations=20, seed=None):
        """Sets both codebooks to k-means centres of their quantizers' inputs: the top one
        first, then the bottom one on the inputs the new top codes give.

        Args: as for :meth:`keras_vae.VQVAE.initialize_codebook`.
        """
        images = [self.check_data(x) for x in _image_batches(data, num_batches)]
        seed = (self.seed or 0) if seed is None else seed
        for quantizer, part in ((self.top_quantizer, slice(None, self.top_length)),
                                (self.quantizer, slice(self.top_length, None))):
            outputs = [self.quantize_images(x)["z_e"][:, part] for x in images]
            set_kmeans_codebook(quantizer, outputs, iterations, seed)

    # ------------------------------------------------------------------ prior
    def fit_prior(self, data, epochs=10, batch_size=128, learning_rate=1e-3, validation_data=None,
                  conditional=None, architecture="pixelcnn", verbose="auto", callbacks=None,
                  **prior_kwargs):
        """Trains a :class:`TwoLevelPrior` on the codes of ``data`` and attaches it: the top
        prior on the top grids (class-conditional when ``conditional``, by default when
        ``data`` has labels), then the bottom prior on the bottom grids given the top ones,
        each for ``epochs``.

        Args: as for :meth:`keras_vae.VQVAE.fit_prior`; ``prior_kwargs`` apply to both
        (``condition_blocks`` to the bottom prior only).

        Returns:
            ``{"top": History, "bottom": History}``.
        """
        cls = prior_class(architecture)
        codes, labels, conditional = self.prior_training_data(data, conditional)
        prior = self.prior
        with self.distribute_strategy.scope():
            if (prior is None or type(prior.top) is not cls
                    or prior.conditional != conditional):
                # Labels condition the top prior; the top grid conditions the bottom one.
                top_kwargs = {k: v for k, v in prior_kwargs.items() if k != "condition_blocks"}
                bottom_kwargs = {k: v for k, v in prior_kwargs.items() if k != "num_classes"}
                prior = TwoLevelPrior(
                    new_prior(cls, self.top_shape, self.codebook_size, labels, self.seed,
                              top_kwargs, name="top_prior"),
                    new_prior(cls, self.bottom_shape, self.codebook_size, None, self.seed,
                              bottom_kwargs, condition_shape=self.top_shape,
                              condition_embeddings=self.codebook_size, name="bottom_prior"))
        self.attach_prior(prior)
        validation = None
        if validation_data is not None:
            val_codes, val_labels, _ = self.prior_training_data(validation_data, conditional)
            validation = (*self.split_codes(val_codes), val_labels)
        top, bottom = (c.numpy() for c in self.split_codes(codes))
        fit = dict(batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks)
        return {
            "top": self.train_code_prior(
                prior.top, learning_rate, top, labels,
                validation=None if validation is None else (validation[0].numpy(), validation[2]),
                **fit),
            "bottom": self.train_code_prior(
                prior.bottom, learning_rate, bottom, top,
                validation=None if validation is None else (validation[1].numpy(),
                                                            validation[0].numpy()),
                **fit),
        }

    def export_metadata(self):
        return {**super().export_metadata(), "top_shape": list(self.top_shape),
                "bottom_shape": list(self.bottom_shape), "codebook_size": self.codebook_size}

    def get_config(self):
        return {**super().get_config(), "top_filters": self.top_filters}

    tuple_config_keys = ("input_shape", "filters", "top_filters")


def join_codes(top, bottom, codebook_size):
    """Code rows ``[batch, H_t W_t + H_b W_b]`` of top and bottom grids (bottom offset by
    ``codebook_size``)."""
    num = tf.shape(top)[0]
    return tf.concat([tf.reshape(top, [num, -1]),
                      tf.reshape(bottom, [num, -1]) + codebook_size], axis=1)


@keras.saving.register_keras_serializable(package="keras_vae")
class TwoLevelPrior(keras.Model):
    """The prior of a :class:`VQVAE2`: ``p(top) p(bottom | top)``, a top code prior
    (unconditional or class-conditional) and a bottom one conditioned on the top grid
    (both :class:`~keras_vae.priors.PixelCNN` or :class:`~keras_vae.priors.TransformerPrior`).
    Samples are code rows as :meth:`VQVAE2.encode` gives them. Each part trains on its own
    (:meth:`VQVAE2.fit_prior`).

    Args:
        top: A code prior over the top grid, not grid-conditioned.
        bottom: A code prior over the bottom grid, conditioned on the top grid.
    """

    def __init__(self, top, bottom, **kwargs):
        super().__init__(**kwargs)
        if top.grid_conditioned:
            raise ValueError("The top prior of a TwoLevelPrior must not be conditioned on a "
                             "code grid.")
        check_prior_grid(bottom, bottom.grid_shape, bottom.num_embeddings, "the bottom grid",
                         condition=(tuple(top.grid_shape), top.num_embeddings))
        self.top = top
        self.bottom = bottom
        self.built = True

    @property
    def conditional(self):
        return self.top.conditional

    @property
    def num_classes(self):
        return self.top.num_classes

    @property
    def description(self):
        return f"two-level {type(self.top).__name__}"

    def check_condition(self, condition):
        return self.top.check_condition(condition)

    def sample(self, num_or_labels, seed=None, temperature=1.0):
        """Code rows ``[n, H_t W_t + H_b W_b]``: ``sample(n)``, or ``sample(labels)`` when
        the top prior is class-conditional. The same seed gives the same rows."""
        seed = check_seed(seed)
        if seed is None:
            seed = self.top.seed if self.top.seed is not None else int(
                np.random.randint(2**31 - 1))
        top = self.top.sample(num_or_labels, seed=seed, temperature=temperature)
        bottom = self.bottom.sample(top, seed=seed ^ BOTTOM_SEED_MASK, temperature=temperature)
        return join_codes(top, bottom, self.top.num_embeddings)

    def sample_codes(self, num, seed, condition=None, temperature=1.0):
        """Graph-friendly :meth:`sample` (``num`` and ``seed`` may be tensors)."""
        seed = tf.cast(seed, tf.int32)
        top = self.top.sample_codes(num, seed, condition, temperature)
        bottom = self.bottom.sample_codes(num, tf.bitwise.bitwise_xor(seed, BOTTOM_SEED_MASK),
                                          top, temperature)
        return join_codes(top, bottom, self.top.num_embeddings)

    def get_config(self):
        return {"name": self.name, "top": keras.saving.serialize_keras_object(self.top),
                "bottom": keras.saving.serialize_keras_object(self.bottom)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("top", "bottom"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
