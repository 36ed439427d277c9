"""The VQ-VAE: a discrete latent grid, straight-through gradients, a learned prior over the
codes (PixelCNN or Transformer); :class:`CodeAutoencoder`, the base it shares with the VQ-VAE-2."""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_vae.data.arrays import numpy_batches
from keras_vae.layers import VectorQuantizer
from keras_vae.layers import kmeans
from keras_vae.models.base import BaseAutoencoder
from keras_vae.models.priors import PRIOR_ARCHITECTURES
from keras_vae.models.priors import CodePrior
from keras_vae.models.priors import check_codes
from keras_vae.models.serving import check_served_shape
from keras_vae.networks import build_conv_grid_decoder
from keras_vae.networks import build_conv_grid_encoder
from keras_vae.networks import stage_sizes
from keras_vae.validation import after_checks
from keras_vae.validation import check_int
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_positive_int

VQ_METRICS = ("loss", "reconstruction_loss", "kl_loss", "elbo", "vq_loss", "codebook_loss",
              "commitment_loss", "perplexity", "codebook_usage")


class CodeAutoencoder(BaseAutoencoder):
    """Base of the models with discrete latents (:class:`VQVAE`, :class:`~keras_vae.VQVAE2`):
    the objective, encoding and decoding, the learned prior over the codes (:meth:`fit_prior`,
    :meth:`sample`), the serving signatures and the run hooks.

    A subclass creates its networks and quantizer(s) in its constructor, sets ``code_shape``,
    ``num_embeddings`` and ``embedding_dim``, and implements :meth:`quantize_images` (images to the
    decoder input, the codes and the VQ loss terms), :meth:`lookup` (codes to the decoder
    input), :meth:`check_prior` and :meth:`fit_prior`. Codes are int32
    ``[batch, *code_shape]`` in ``[0, num_embeddings)``.
    """

    latent_kind = "codes"
    training_options = {"prior_epochs": 10, "class_prior": False, "kmeans_init": False,
                        "prior_architecture": "pixelcnn"}

    def metric_names(self):
        return list(VQ_METRICS)

    # ------------------------------------------------------------------ construction
    def set_network(self, filters, kernel_size, residual_blocks, residual_units):
        """Checks and stores the convolutional network's arguments; returns them as the
        keyword arguments of the grid encoder and decoder builders."""
        self.filters = check_int_tuple("filters", filters, allow_empty=False)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.residual_blocks = check_int("residual_blocks", residual_blocks, minimum=0)
        self.residual_units = check_positive_int("residual_units", residual_units)
        return dict(filters=self.filters, kernel_size=self.kernel_size,
                    residual_blocks=self.residual_blocks, residual_units=self.residual_units)

    def finish_code_model(self, prior):
        """Attaches ``prior`` (unless ``None``) and builds the trackers: the last line of a
        subclass constructor."""
        self.prior = None
        if prior is not None:
            self.attach_prior(prior)
        self.finish_init()

    # ------------------------------------------------------------------ subclass hooks
    def quantize_images(self, x, training=False):
        """``{"quantized" (the decoder input), "codes", "z_e", "vq_loss", "codebook_loss",
        "commitment_loss"}`` of checked images (losses per example)."""
        raise NotImplementedError

    def lookup(self, codes):
        """The decoder input of checked codes."""
        raise NotImplementedError

    def check_prior(self, prior):
        """Raises an error naming the problem when ``prior`` does not model this model's
        codes."""
        raise NotImplementedError

    def code_statistics(self, codes):
        """Per-batch ``perplexity`` and ``codebook_usage`` of codes (and any other metric the
        subclass reports of them)."""
        perplexity, usage = self.quantizer.batch_statistics(codes)
        return {"perplexity": perplexity, "codebook_usage": usage}

    # ------------------------------------------------------------------ objective
    @property
    def constant_kl(self):
        """``log K`` per code position: the KL of the one-hot posterior to the uniform prior,
        in nats."""
        return math.prod(self.code_shape) * math.log(self.num_embeddings)

    def _objective(self, x, training):
        vq = self.quantize_images(x, training=training)
        logits = self.decoder(vq["quantized"], training=training)
        rec = self.reconstruction_nll(x, logits)
        kl = tf.fill(tf.shape(rec), tf.constant(self.constant_kl, rec.dtype))
        return {
            "loss": rec + vq["vq_loss"],
            "reconstruction_loss": rec,
            "kl_loss": kl,
            "elbo": -(rec + kl),
            "vq_loss": vq["vq_loss"],
            "codebook_loss": vq["codebook_loss"],
            "commitment_loss": vq["commitment_loss"],
            **self.code_statistics(vq["codes"]),
        }

    def training_variables(self):
        """Networks and codebooks; a prior attached to the model trains on its own."""
        if self.prior is None:
            return self.trainable_variables
        prior_ids = {id(v) for v in self.prior.trainable_variables}
        return [v for v in self.trainable_variables if id(v) not in prior_ids]

    # ------------------------------------------------------------------ public API
    def call(self, inputs, training=False):
        """Reconstruction mean of images through the quantized codes."""
        vq = self.quantize_images(self.check_data(inputs), training=training)
        return self.mean_from_logits(self.decoder(vq["quantized"], training=training))

    def encode(self, x, return_z_e=False):
        """The codes ``[batch, *code_shape]`` (int32) of images; with ``return_z_e=True``,
        ``(codes, z_e)`` with the encoder output before quantization."""
        vq = self.quantize_images(self.check_data(x))
        return (vq["codes"], vq["z_e"]) if return_z_e else vq["codes"]

    def check_codes(self, codes):
        return check_codes(codes, self.num_embeddings, self.code_shape, type(self).__name__)

    def decode(self, codes, return_logits=False):
        """Images (means in [0, 1], or logits) of codes ``[batch, *code_shape]``."""
        logits = self.decoder(self.lookup(self.check_codes(codes)), training=False)
        return logits if return_logits else self.mean_from_logits(logits)

    def reconstruct(self, x):
        """Decodes the quantized encoding of ``x``."""
        return self(x, training=False)

    def codes_of(self, data, batch_size=512):
        """Codes of every image of ``data``: ``(codes [N, *code_shape], labels or None)``.

        ``data`` is a ``tf.data.Dataset`` of images or ``(images, labels)``, or an array.
        """
        codes, labels = [], []
        for batch in numpy_batches(data, batch_size):
            if isinstance(batch, (tuple, list)):
                x, y = batch
                labels.append(np.asarray(y).reshape(-1))
            else:
                x = batch
            codes.append(self.encode(x).numpy())
        if not codes:
            raise ValueError("codes_of received no data.")
        return np.concatenate(codes), (np.concatenate(labels) if labels else None)

    # ------------------------------------------------------------------ prior
    def attach_prior(self, prior):
        """Uses ``prior`` (one that models this model's codes) for :meth:`sample`."""
        self.check_prior(prior)
        self.prior = prior
        return prior

    def prior_training_data(self, data, conditional):
        """``(codes, labels or None, conditional)`` of ``data`` for a prior: ``conditional``
        defaults to whether ``data`` has labels, and a class-conditional prior needs them."""
        codes, labels = self.codes_of(data)
        conditional = labels is not None if conditional is None else bool(conditional)
        if conditional and labels is None:
            raise ValueError("A class-conditional prior needs labelled data: (images, labels).")
        return codes, (labels if conditional else None), conditional

    def train_code_prior(self, prior, learning_rate, codes, condition, batch_size, epochs,
                         validation=None, verbose="auto", callbacks=None):
        """Compiles ``prior`` (Adam) unless it is compiled, and fits it on ``codes`` (with
        ``condition``); ``validation`` is a ``(codes, condition)`` pair or ``None``."""
        with self.distribute_strategy.scope():
            if getattr(prior, "optimizer", None) is None:
                prior.compile(optimizer=keras.optimizers.Adam(learning_rate))
        # With several replicas the last partial batch is dropped: a replica left without
        # examples would hit a TensorFlow bug in fused convolutions on empty batches.
        train = _code_dataset(codes, condition, batch_size, True, self.seed,
                              drop_remainder=self.distribute_strategy.num_replicas_in_sync > 1)
        val = None if validation is None else _code_dataset(*validation, batch_size, False, None)
        return prior.fit(train, validation_data=val, epochs=epochs, verbose=verbose,
                         callbacks=callbacks, shuffle=False)  # the dataset shuffles itself

    def sample(self, num_or_labels, seed=None, temperature=1.0):
        """Draws images from the prior: ``sample(n)``, or ``sample(labels)`` with a
        class-conditional prior. Needs a prior (:meth:`fit_prior`)."""
        if self.prior is None:
            raise ValueError(
                f"{type(self).__name__}.sample needs a prior over the codes: train one with "
                "fit_prior(data) (or attach_prior) first."
            )
        return self.decode(self.prior.sample(num_or_labels, seed=seed, temperature=temperature))

    # ------------------------------------------------------------------ run hooks
    def before_fit(self, data, kmeans_init=False, **options):
        """With ``kmeans_init``, starts the codebook at k-means centres of the encoder
        outputs of the first 10 training batches."""
        if kmeans_init:
            self.initialize_codebook(data, num_batches=10)

    def after_fit(self, make_data, prior_epochs=10, class_prior=False, prior_architecture=None,
                  batch_size=128, steps_per_epoch=None, verbose="auto", log=print, **options):
        """Trains the prior (``prior_architecture``: ``"pixelcnn"`` or ``"transformer"``)
        for ``prior_epochs`` (0: none) on the training codes (``steps_per_epoch`` batches of
        them when set), class-conditional with ``class_prior``."""
        if not prior_epochs:
            return
        data = make_data(labels=class_prior)
        if steps_per_epoch is not None:
            data = data.take(steps_per_epoch)
        architecture = prior_architecture or self.training_options["prior_architecture"]
        log(f"Training the {PRIOR_ARCHITECTURES[architecture].__name__} prior for "
            f"{prior_epochs} epochs.")
        self.fit_prior(data, epochs=prior_epochs, batch_size=batch_size,
                       conditional=class_prior, architecture=architecture, verbose=verbose)

    def summary_statistics(self, data):
        """Codebook usage over ``data``: ``codebook`` statistics and its histogram."""
        from keras_vae.evaluation.codebook import codebook_summary

        return codebook_summary(self, data)

    def preview_samples(self, seed, title, conditions=None):
        if self.prior is None:
            return None
        if self.prior.conditional:
            samples = self.sample(np.repeat(np.arange(self.prior.num_classes), 10), seed=seed)
            return (np.asarray(samples), 10,
                    f"{title}: one row per class (class-conditional prior)")
        return (np.asarray(self.sample(64, seed=seed)), None,
                f"{title}: 64 samples of the {prior_description(self.prior)} prior")

    # ------------------------------------------------------------------ export
    def serving_endpoints(self):
        """``reconstruct(x)``, ``encode(x) -> {codes, z_e}``, ``decode(codes)``, and with a
        prior ``sample(num, seed)`` (``sample(label, seed)`` when it is class-conditional)."""
        images = tf.TensorSpec((None, *self.data_shape), tf.float32, name="x")
        code_spec = tf.TensorSpec((None, *self.code_shape), tf.int32, name="codes")

        def reconstruct(x):
            return {"x_mean": self(self.serving_data(x), training=False)}

        def encode(x):
            vq = self.quantize_images(self.serving_data(x))
            return {"codes": vq["codes"], "z_e": vq["z_e"]}

        def decode(codes):
            codes = self.check_codes(check_served_shape(codes, self.code_shape, "codes"))
            logits = self.decoder(self.lookup(codes), training=False)
            out = {"x_mean": self.mean_from_logits(logits)}
            if self.likelihood == "bernoulli":
                out["logits"] = logits
            return out

        endpoints = {
            "reconstruct": (reconstruct, [images]),
            "encode": (encode, [images]),
            "decode": (decode, [code_spec]),
        }
        if self.prior is not None:
            seed = tf.TensorSpec((), tf.int32, name="seed")
            if self.prior.conditional:
                def sample(label, seed):
                    label = self.prior.check_condition(label)
                    codes = self.prior.sample_codes(tf.shape(label)[0], seed, label)
                    return {"x_mean": self.decode(codes)}

                spec = [self.sample_condition_spec(), seed]
            else:
                def sample(num, seed):
                    num = after_checks(
                        num, [tf.debugging.assert_non_negative(num, message="`num` must be >= 0")])
                    return {"x_mean": self.decode(self.prior.sample_codes(num, seed))}

                spec = [tf.TensorSpec((), tf.int32, name="num"), seed]
            endpoints["sample"] = (sample, spec)
        return endpoints

    def sample_condition_spec(self):
        if self.prior is None or not self.prior.conditional:
            return None
        return tf.TensorSpec((None,), tf.int32, name="label")

    def export_metadata(self):
        return {
            **super().export_metadata(),
            "latent_shape": list(self.code_shape),
            "num_embeddings": self.num_embeddings,
            "num_classes": self.prior.num_classes if self.prior is not None else None,
            "prior": None if self.prior is None else prior_description(self.prior),
        }

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        q = self.quantizer
        return {
            **super().get_config(),
            "num_embeddings": q.num_embeddings,
            "embedding_dim": q.embedding_dim,
            "commitment_cost": q.commitment_cost,
            "ema_decay": q.ema_decay,
            "epsilon": q.epsilon,
            "dead_code_steps": q.dead_code_steps,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "residual_blocks": self.residual_blocks,
            "residual_units": self.residual_units,
            "prior": (None if self.prior is None
                      else keras.saving.serialize_keras_object(self.prior)),
        }

    tuple_config_keys = ("input_shape", "filters")
    object_config_keys = ("prior",)


def prior_description(prior):
    """How the export metadata and the pictures name a prior: its class, class-conditional
    or not (``"class-conditional PixelCNN"``)."""
    name = getattr(prior, "description", type(prior).__name__)
    return f"class-conditional {name}" if prior.conditional else name


@keras.saving.register_keras_serializable(package="keras_vae")
class VQVAE(CodeAutoencoder):
    """Vector-Quantized VAE (van den Oord et al. 2017) trained with ``model.fit``.

    A convolutional encoder maps images to ``z_e`` of shape ``[H', W', embedding_dim]``; each
    vector is replaced by its nearest of ``num_embeddings`` codes (:class:`VectorQuantizer`,
    straight-through gradients) and the decoder maps the quantized grid back to images.

    Loss per example: ``reconstruction_loss`` (``-log p(x|z_q)`` in nats, Bernoulli or
    Gaussian) ``+ vq_loss``, where ``vq_loss = codebook_loss + commitment_cost *
    commitment_loss`` (without the codebook term when ``ema_decay`` is set: the EMA updates
    the codebook). Both terms are squared distances summed over the grid and channels.
    With the uniform prior of training, the KL term is the constant ``H' W' log K``; it is
    reported as ``kl_loss`` and ``elbo = -(reconstruction_loss + kl_loss)``, but not
    optimized. ``perplexity`` and ``codebook_usage`` are per batch; see
    :func:`keras_vae.evaluation.code_counts` for whole-dataset figures.

    To generate, train a prior over the code grids: :meth:`fit_prior` (a
    :class:`~keras_vae.priors.PixelCNN`, class-conditional when the data has labels), then
    :meth:`sample`. The prior is saved (``.keras``) and exported with the model.

    Args:
        input_shape: Image shape ``(height, width, channels)``.
        num_embeddings: K, the codebook size.
        embedding_dim: D, the size of a code.
        commitment_cost: beta, the commitment weight (0.25).
        ema_decay: EMA decay of the codebook (default 0.99), or ``None`` to learn the
            codebook by its loss as in the paper's main text.
        epsilon: Laplace smoothing of the EMA counts.
        dead_code_steps: Re-seed codes unused for this many training steps (default 50;
            ``None``: never). With the EMA this keeps all 128 codes of the default codebook in
            use on MNIST (``benchmarks/vqvae_mnist.py``).
        filters: Channels of the stride-2 stages (encoder order); each halves the image side
            (with the default kernel 4), so ``(32, 64)`` makes a 7x7 grid of 28x28 images.
        kernel_size: Kernel of the stride-2 stages.
        residual_blocks: Residual blocks after the encoder stages and before the decoder's
            (default 2, as in the paper).
        residual_units: Hidden channels of a residual block.
        likelihood: ``"bernoulli"``, ``"gaussian"`` or ``"logistic"`` (discretized, 8-bit
            images).
        likelihood_scale: The Gaussian sigma or ``"learned"``.
        prior: A code prior (:class:`PixelCNN` or :class:`TransformerPrior`) over this
            model's code grid, or ``None``.
        seed: Seed for dead-code re-seeding and default sampling.

    Example:

    >>> import keras, numpy as np, keras_vae as kv
    >>> model = kv.VQVAE(input_shape=(8, 8, 1), num_embeddings=8, embedding_dim=4,
    ...                  filters=(8,), ema_decay=0.99)
    >>> model.code_shape
    (4, 4)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(32, 8, 8, 1).astype("float32"), epochs=1,
    ...                     batch_size=16, verbose=0)
    >>> model.encode(np.zeros((2, 8, 8, 1), "float32")).shape
    TensorShape([2, 4, 4])

    References:
        van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation Learning",
        NeurIPS 2017.
    """

    kind = "vqvae"

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
        self.code_shape = stage_sizes(self.data_shape, self.filters, self.kernel_size)[-1]
        self.quantizer = VectorQuantizer(
            num_embeddings, embedding_dim, commitment_cost=commitment_cost, ema_decay=ema_decay,
            epsilon=epsilon, dead_code_steps=dead_code_steps, seed=seed, name="quantizer",
        )
        self.num_embeddings = self.quantizer.num_embeddings
        self.embedding_dim = self.quantizer.embedding_dim
        self.encoder = build_conv_grid_encoder(self.data_shape, self.embedding_dim, **network)
        self.decoder = build_conv_grid_decoder(self.data_shape, self.embedding_dim, **network)
        self.finish_code_model(prior)

    # ------------------------------------------------------------------ hooks
    def quantize_images(self, x, training=False):
        z_e = self.encoder(x, training=training)
        return {**self.quantizer(z_e, training=training), "z_e": z_e}

    def lookup(self, codes):
        return self.quantizer.lookup(codes)

    def check_prior(self, prior):
        check_prior_grid(prior, self.code_shape, self.num_embeddings, "this VQVAE's grid")

    # ------------------------------------------------------------------ codebook
    def initialize_codebook(self, data, num_batches=10, iterations=20, seed=None):
        """Sets the codebook to k-means centres of encoder outputs (before training, say).

        Args:
            data: A ``tf.data.Dataset`` of images (or ``(images, labels)``), or an array.
            num_batches: Batches of ``data`` to take the encoder outputs from.
            iterations: Lloyd iterations.
            seed: Seed of the initial centres (default: the model's seed, else 0).
        """
        vectors = [self.encoder(self.check_data(x), training=False)
                   for x in _image_batches(data, num_batches)]
        set_kmeans_codebook(self.quantizer, vectors, iterations,
                            (self.seed or 0) if seed is None else seed)

    # ------------------------------------------------------------------ prior
    def fit_prior(self, data, epochs=10, batch_size=128, learning_rate=1e-3, validation_data=None,
                  conditional=None, architecture="pixelcnn", verbose="auto", callbacks=None,
                  **prior_kwargs):
        """Trains a prior over the code grids of ``data`` and attaches it.

        Args:
            data: Training images (a dataset of images or ``(images, labels)``, or an array).
            epochs, batch_size, learning_rate: Prior training (Adam).
            validation_data: Images (with labels for a conditional prior) to validate on.
            conditional: Class-conditional prior; default: when ``data`` has labels.
            architecture: ``"pixelcnn"`` (:class:`~keras_vae.priors.PixelCNN`) or
                ``"transformer"`` (:class:`~keras_vae.priors.TransformerPrior`).
            verbose, callbacks: As for ``fit``.
            **prior_kwargs: Arguments of the prior's class (``filters``, ``num_blocks``,
                ``num_classes`` (default: the largest label + 1)...) for a new prior;
                ignored when a prior of that class is attached already and ``conditional``
                agrees with it.

        Returns:
            The prior's ``History``.
        """
        cls = prior_class(architecture)
        codes, labels, conditional = self.prior_training_data(data, conditional)
        prior = self.prior
        # The prior trains under the strategy this model was built under.
        with self.distribute_strategy.scope():
            if (prior is None or type(prior) is not cls
                    or prior.conditional != conditional):
                prior = new_prior(cls, self.code_shape, self.num_embeddings, labels,
                                  self.seed, prior_kwargs)
        self.attach_prior(prior)
        validation = None
        if validation_data is not None:
            val_codes, val_labels, _ = self.prior_training_data(validation_data, conditional)
            validation = (val_codes, val_labels)
        return self.train_code_prior(prior, learning_rate, codes, labels, batch_size, epochs,
                                     validation, verbose, callbacks)


def prior_class(architecture):
    """The prior class of an architecture name; unknown names are named."""
    if architecture not in PRIOR_ARCHITECTURES:
        raise ValueError(f"Unknown prior architecture {architecture!r}; choose one of "
                         f"{', '.join(PRIOR_ARCHITECTURES)}.")
    return PRIOR_ARCHITECTURES[architecture]


def new_prior(cls, grid_shape, num_embeddings, labels, seed, prior_kwargs, **condition):
    """A new prior of class ``cls``; class-conditional when ``labels`` is given (with
    ``num_classes`` from ``prior_kwargs``, else the largest label + 1)."""
    prior_kwargs = dict(prior_kwargs)
    num_classes = prior_kwargs.pop("num_classes", None)
    if labels is not None and num_classes is None:
        num_classes = int(labels.max()) + 1
    return cls(grid_shape, num_embeddings, num_classes=num_classes if labels is not None else None,
               seed=seed, **condition, **prior_kwargs)


def check_prior_grid(prior, grid_shape, num_embeddings, what, condition=None):
    """Raises an error naming the problem unless ``prior`` is a code prior over
    ``grid_shape`` grids of ``num_embeddings`` codes, conditioned on the code grid
    ``condition`` (a ``(grid_shape, num_embeddings)`` pair) or on no grid (``None``)."""
    if not isinstance(prior, CodePrior):
        raise ValueError("The prior must be a keras_vae code prior (PixelCNN or "
                         f"TransformerPrior); received {type(prior).__name__}.")
    if tuple(prior.grid_shape) != tuple(grid_shape):
        raise ValueError(f"The prior models {tuple(prior.grid_shape)} code grids but {what} is "
                         f"{tuple(grid_shape)}.")
    if prior.num_embeddings != num_embeddings:
        raise ValueError(f"The prior has {prior.num_embeddings} codes but the codebook has "
                         f"{num_embeddings}.")
    got = (None if not prior.grid_conditioned
           else (tuple(prior.condition_shape), prior.condition_embeddings))
    if got != condition:
        def text(c):
            return "no code grid" if c is None else f"{c[0]} grids of {c[1]} codes"

        raise ValueError(f"The prior for {what} must be conditioned on {text(condition)}; it "
                         f"is conditioned on {text(got)}.")


def set_kmeans_codebook(quantizer, outputs, iterations, seed):
    """Sets ``quantizer``'s codebook to k-means centres of encoder ``outputs`` (a list of
    ``[..., embedding_dim]`` tensors)."""
    vectors = [tf.reshape(tf.cast(z, tf.float32), [-1, quantizer.embedding_dim])
               for z in outputs]
    if not vectors:
        raise ValueError("initialize_codebook received no data.")
    quantizer.set_codebook(kmeans(tf.concat(vectors, 0), quantizer.num_embeddings, iterations,
                                  seed))

def _image_batches(data, num_batches, batch_size=512):
    for i, batch in enumerate(numpy_batches(data, batch_size)):
        if i >= num_batches:
            return
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def _code_dataset(codes, condition, batch_size, shuffle, seed, drop_remainder=False):
    ds = tf.data.Dataset.from_tensor_slices(codes if condition is None else (codes, condition))
    if shuffle:
        ds = ds.shuffle(len(codes), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
