"""The shared bases: :class:`BaseAutoencoder` (data in, a likelihood out, the uniform model
API) for every model, and :class:`BaseVAE` (Gaussian latent, KL to a prior) for the VAE
variants; ``VQVAE`` builds on the former.

A Gaussian variant changes one thing. ``BaseVAE`` computes, per example, the reconstruction term
``-log p(x|z)`` and the per-dimension KL to the prior, then asks :meth:`BaseVAE.regularizer`
what the KL costs in the loss (β·KL, γ·|KL − C(t)|, ...) or, for a different bound, lets the
variant override :meth:`BaseVAE.objective_values`. Training state that a schedule needs is read
from ``optimizer.iterations``, which is saved with the model, so a resumed or distributed run
sees the same schedule value as an uninterrupted one.

The networks are arguments (``encoder=``, ``decoder=``: any Keras layer or model) or built by
a named builder of :mod:`keras_vae.networks` from the builder arguments.
"""

import copy

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_vae import losses
from keras_vae.data.arrays import split_batch
from keras_vae.layers import Sampling
from keras_vae.models.mixture_priors import LatentPrior
from keras_vae.models.mixture_priors import mixture_from_noise
from keras_vae.models.serving import check_served_shape
from keras_vae.models.serving import samples_title
from keras_vae.models.trainer import ObjectiveModel
from keras_vae.networks import ARCHITECTURES
from keras_vae.networks import build_encoder_decoder
from keras_vae.validation import after_checks
from keras_vae.validation import check_data_shape
from keras_vae.validation import check_finite
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_number
from keras_vae.validation import check_positive_int
from keras_vae.validation import check_seed

BASE_METRICS = ("loss", "reconstruction_loss", "kl_loss", "elbo")

#: ``data_range`` values: data in [0, 1] (images; the Gaussian mean is squashed into it) or
#: any real values (standardized tabular rows, sequences).
DATA_RANGES = ("unit", "real")


class _Untracked:
    """Holds a value out of sight of Keras's and TensorFlow's tracking (a ``tf.function``
    set on a model directly is saved, with its traces, by ``tf.saved_model.save(model)``)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _check_likelihood(likelihood, likelihood_scale):
    if likelihood not in losses.LIKELIHOODS:
        raise ValueError(
            f"`likelihood` must be one of {losses.LIKELIHOODS}. "
            f"Received: likelihood={likelihood!r}"
        )
    if likelihood_scale == "learned":
        return likelihood_scale
    try:
        return check_number("likelihood_scale", likelihood_scale, minimum=0.0, exclusive=True)
    except ValueError:
        raise ValueError(
            "`likelihood_scale` (the Gaussian likelihood's sigma) must be a positive number "
            f"or 'learned'. Received: likelihood_scale={likelihood_scale!r}"
        ) from None


def _resolve_data_range(data_range, likelihood, data_shape):
    """``"unit"`` or ``"real"``: given, or by default ``"unit"`` for images (rank 3) and for
    the Bernoulli and logistic likelihoods, ``"real"`` for vectors and sequences under a
    Gaussian."""
    if data_range is None:
        return "unit" if likelihood != "gaussian" or len(data_shape) == 3 else "real"
    if data_range not in DATA_RANGES:
        raise ValueError(f"`data_range` must be one of {DATA_RANGES} or None. "
                         f"Received: data_range={data_range!r}")
    if data_range == "real" and likelihood == "bernoulli":
        raise ValueError("The Bernoulli likelihood models data in [0, 1]: data_range='real' "
                         "needs likelihood='gaussian'.")
    if data_range == "real" and likelihood == "logistic":
        raise ValueError("The discretized logistic likelihood models 8-bit data scaled to "
                         "[0, 1] (k / 255): data_range='real' needs likelihood='gaussian'.")
    return data_range


def gaussian_log_density(z, mean, log_var):
    """``log N(z; mean, exp(log_var))`` summed over the last axis (broadcasting)."""
    return tf.reduce_sum(losses.gaussian_log_density_per_dim(z, mean, log_var), axis=-1)


class BaseAutoencoder(ObjectiveModel):
    """What every model of the package shares: data in, a likelihood out, ``fit``.

    A subclass builds its networks in ``__init__`` (after calling this constructor), then
    calls :meth:`finish_init`; it implements :meth:`metric_names` and :meth:`_objective`
    (per-example values, ``"loss"`` among them) and the public ``encode``/``decode``/``call``.

    The uniform API every model keeps, so that training, evaluation and plotting never ask
    which class a model is: ``needs_labels`` (class attribute: batches are ``(x, condition)``),
    ``latent_kind`` (``"gaussian"`` or ``"codes"``), :meth:`split_batch`,
    :meth:`preview_pictures`, :meth:`summary_statistics`, and the run hooks
    :meth:`before_fit` / :meth:`after_fit` with the options of ``training_options``.

    Args:
        input_shape: Shape of one example: ``(H, W, C)`` images, ``(features,)`` rows or
            ``(steps, features)`` sequences.
        likelihood: ``"bernoulli"`` (data in [0, 1], logits out), ``"gaussian"``
            (``N(mean, sigma^2)`` per value) or ``"logistic"`` (a logistic of scale ``s``
            discretized to 256 levels, for 8-bit images scaled to [0, 1]: see
            :func:`keras_vae.losses.discretized_logistic_nll`; a true likelihood of the
            pixel values, in nats).
        likelihood_scale: The Gaussian sigma (or the logistic's scale s): a fixed positive
            number (default 0.1, on data scaled to [0, 1]) or ``"learned"`` for one
            trainable value shared by all values. Ignored by the Bernoulli likelihood.
        data_range: ``"unit"`` (values in [0, 1]: the Gaussian mean is ``sigmoid(logits)``
            and served data is checked to lie in [0, 1]) or ``"real"`` (the mean is the
            decoder output itself). Default: ``"unit"`` for images and for the Bernoulli
            likelihood, ``"real"`` otherwise.
        seed: Seed for the model's randomness.
    """

    #: Batches are ``(x, condition)`` pairs: ``fit``, ``encode``, ``decode`` and ``sample``
    #: take the condition.
    needs_labels = False
    #: ``"gaussian"`` (``encode`` gives ``(mean, log_var)``) or ``"codes"`` (a code grid).
    latent_kind = "gaussian"
    #: The objective bounds the data's likelihood (an ELBO): ``keras-vae evaluate`` reports
    #: the importance-weighted NLL and the KL diagnostics of the models that have one.
    has_elbo = True
    #: Options of a training run beyond ``fit`` (:func:`keras_vae.training.train`), with
    #: their defaults; :meth:`before_fit` and :meth:`after_fit` receive them.
    training_options = {}

    def __init__(self, input_shape, likelihood="bernoulli", likelihood_scale=0.1,
                 data_range=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.data_shape = check_data_shape(input_shape)
        self.likelihood = likelihood
        self.likelihood_scale = _check_likelihood(likelihood, likelihood_scale)
        self.data_range = _resolve_data_range(data_range, likelihood, self.data_shape)
        self.seed = check_seed(seed)

    def finish_init(self):
        """Creates the learned likelihood scale and the metric trackers, and marks the model
        built: every variable exists before the first ``fit`` step, so ``.keras`` loading and
        distribution strategies find them."""
        if self.likelihood != "bernoulli" and self.likelihood_scale == "learned":
            self.log_scale = self.add_weight(
                shape=(), initializer="zeros", name="log_scale", trainable=True
            )
        else:
            self.log_scale = None
        self.create_trackers()
        self.built = True

    def reconstruction_nll(self, x, logits):
        """``-log p(x | logits)`` per example, in nats."""
        if self.likelihood == "bernoulli":
            return losses.bernoulli_nll(x, logits)
        log_scale = self.log_scale if self.log_scale is not None else np.log(self.likelihood_scale)
        if self.likelihood == "logistic":
            return losses.discretized_logistic_nll(x, self.mean_from_logits(logits), log_scale)
        return losses.gaussian_nll(x, self.mean_from_logits(logits), log_scale)

    def mean_from_logits(self, logits):
        """The likelihood's mean from the decoder output: ``sigmoid`` for data in [0, 1],
        the output itself for real-valued data (float32)."""
        logits = ops.cast(logits, "float32")
        return ops.sigmoid(logits) if self.data_range == "unit" else logits

    def _schedule_step(self):
        if getattr(self, "optimizer", None) is None:
            return tf.constant(0, tf.int64)
        return tf.cast(self.optimizer.iterations, tf.int64)

    # ------------------------------------------------------------------ inputs
    def unpack_inputs(self, data):
        """Checks a batch from ``fit``/``evaluate`` and returns what ``_objective`` takes."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__} does not support sample weights.")
        if y is not None:
            raise ValueError(
                f"{type(self).__name__} is unconditional and trains on x alone, but the "
                "dataset yields (x, y) pairs. Load the data with labels=False, or use "
                "ConditionalVAE for labelled data."
            )
        return self.check_data(x)

    def check_data(self, x):
        """``x`` as a floating tensor ``[batch, *input_shape]``; anything else raises an
        error naming what was expected."""
        if isinstance(x, (tuple, list, dict)):
            raise ValueError(
                f"{type(self).__name__} expects a single tensor per batch. "
                f"Received a {type(x).__name__}."
            )
        x = tf.convert_to_tensor(x) if not tf.is_tensor(x) else x
        if x.dtype.is_integer or x.dtype == tf.bool:
            raise ValueError(
                f"Data must be floating point; received dtype {x.dtype.name}. Scale images "
                "to [0, 1] (x / 255) or load them with keras_vae.data.load."
            )
        expected = (None, *self.data_shape)
        got = tuple(x.shape)
        if len(got) != len(expected) or any(
            e is not None and g is not None and e != g for e, g in zip(expected, got)
        ):
            what = "images" if len(self.data_shape) == 3 else "data"
            layout = " (NHWC)" if len(self.data_shape) == 3 else ""
            raise ValueError(f"{type(self).__name__} expects {what} of shape {expected}{layout}; "
                             f"received shape {got}.")
        return tf.cast(check_finite(x, "the data holds NaN or infinite values"),
                       self.compute_dtype)

    def serving_data(self, x):
        """Checks served data: shape ``[batch, *input_shape]`` and, for data in [0, 1],
        its range."""
        x = check_served_shape(x, self.data_shape, "x")
        if self.data_range != "unit":
            return x
        message = "`x` must be float32 data scaled to [0, 1]"
        low = tf.debugging.assert_greater_equal(x, 0.0, message=message)
        high = tf.debugging.assert_less_equal(x, 1.0, message=message)
        return after_checks(x, [low, high])

    def split_batch(self, batch):
        """``(x, labels or None)`` as NumPy arrays from a batch of a dataset (``x`` or
        ``(x, labels)``), whatever the model needs."""
        return split_batch(batch)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ------------------------------------------------------------------ run hooks
    def before_fit(self, data, **options):
        """Called by :func:`keras_vae.training.train` before ``fit`` with the training data
        and the run's ``training_options``; nothing by default."""

    def after_fit(self, make_data, **options):
        """Called after ``fit`` with ``make_data(labels)`` (the training data anew) and the
        run's ``training_options``; nothing by default."""

    def summary_statistics(self, data):
        """Whole-dataset figures beyond ``evaluate`` (for ``metrics.json``) and the pictures
        that show them: ``({name: value}, {name: (file name, draw)})``, where
        ``draw(path, split=...)`` writes the picture (``split`` names the data in its title)
        and returns its path."""
        return {}, {}

    def preview_pictures(self, batch, seed, title):
        """The pictures a run shows: ``{"reconstructions": (originals, rebuilt),
        "samples": (images, ncols, caption)}``, from a test ``batch`` (``"samples"`` left out
        when the model cannot sample yet)."""
        x, labels = self.split_batch(batch)
        x = x[:16]
        condition = None if labels is None or not self.needs_labels else labels[:16]
        rebuilt = self.reconstruct(x) if condition is None else self.reconstruct(x, condition)
        pictures = {"reconstructions": (x, np.asarray(rebuilt))}
        samples = self.preview_samples(seed, title, conditions=condition)
        if samples is not None:
            pictures["samples"] = samples
        return pictures

    def sample_condition_spec(self):
        """The ``TensorSpec`` of what :meth:`sample` (and the exported ``sample``) takes in
        place of ``num``: a conditional model's labels or condition vectors; ``None`` when it
        takes a number."""
        return None

    def preview_samples(self, seed, title, conditions=None):
        """``(images, ncols, caption)`` of samples for the pictures (``conditions``: the test
        batch's), or ``None``."""
        return None

    # ------------------------------------------------------------------ export
    @property
    def kind(self):
        """The model's name in the CLI and in export metadata (``vae``, ``beta_vae``...)."""
        return type(self).__name__.lower()

    def export_metadata(self):
        """What a consumer of an export needs to know, as plain JSON-ready values."""
        return {
            "model_kind": self.kind,
            "class": type(self).__name__,
            "input_shape": list(self.data_shape),
            "data_range": self.data_range,
            "latent_shape": None,
            "likelihood": self.likelihood,
            "likelihood_scale": (None if self.likelihood == "bernoulli"
                                 else self.likelihood_scale),
            "num_classes": None,
            "num_embeddings": None,
        }

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        return {
            **self.base_config(),
            "input_shape": self.data_shape,
            "likelihood": self.likelihood,
            "likelihood_scale": self.likelihood_scale,
            "data_range": self.data_range,
            "seed": self.seed,
        }

    #: Config keys holding tuples (JSON turns them into lists).
    tuple_config_keys = ("input_shape",)
    #: Config keys holding nested Keras objects (networks, priors).
    object_config_keys = ()

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in cls.tuple_config_keys:
            if config.get(key) is not None:
                config[key] = tuple(config[key])
        return cls.construct(config)

    @classmethod
    def build_from_config_values(cls, config):
        # Nested networks and priors are deserialized under the model's dtype policy (see
        # ObjectiveModel.construct), so their layers compute as they did when saved.
        for key in cls.object_config_keys:
            if isinstance(config.get(key), dict):
                # Keras's deserialization consumes the dict it is given: keep the caller's.
                config[key] = keras.saving.deserialize_keras_object(copy.deepcopy(config[key]))
        return cls(**config)


#: Builder arguments of the Gaussian models with their defaults: passed beside your own
#: ``encoder``/``decoder`` they would be ignored, so a value other than the default is refused.
BUILDER_DEFAULTS = {
    "architecture": "mlp",
    "hidden_units": (400,),
    "filters": (32, 64, 128),
    "kernel_size": 4,
    "dense_units": (),
}


class BaseVAE(BaseAutoencoder):
    """Base class of the Gaussian-latent VAEs: encoder q(z|x), prior p(z), decoder p(x|z).

    Args:
        input_shape: Shape of one example: ``(H, W, C)``, ``(features,)`` or
            ``(steps, features)``.
        latent_dim: Size of z.
        encoder: Your own encoder (any Keras layer or model), or ``None`` to build one from
            ``architecture``. It maps ``x [batch, *input_shape]`` (a conditional model:
            ``[x, c]``) to ``[batch, 2 * latent_dim]`` (mean, then log-variance) or to a pair
            ``(mean, log_var)``, each ``[batch, latent_dim]``.
        decoder: Your own decoder: ``z [batch, latent_dim]`` (conditional: ``[z, c]``) ->
            ``[batch, *input_shape]``: logits for the Bernoulli likelihood, the mean (before
            the ``sigmoid`` of data in [0, 1]) for the Gaussian. Give both or neither.
        architecture: ``"mlp"`` or ``"conv"`` (:mod:`keras_vae.networks`), without
            ``encoder``/``decoder``.
        hidden_units: MLP hidden layer widths (encoder order; the decoder mirrors them).
        filters: Conv channels per stride-2 stage (encoder order).
        kernel_size: Conv kernel size.
        dense_units: Conv only: widths of ReLU dense layers between the conv trunk and the
            latent (encoder order; the decoder mirrors them). Default none, the course
            ConvVAE; ``(256, 256)`` with ``filters=(32, 32, 64, 64)`` is the dSprites network
            of Burgess et al. 2018.
        likelihood: ``"bernoulli"``, ``"gaussian"`` or ``"logistic"`` (discretized, 8-bit
            images).
        likelihood_scale: The Gaussian sigma or the logistic's scale (default 0.1), or
            ``"learned"``.
        data_range: ``"unit"``, ``"real"`` or ``None`` (see :class:`BaseAutoencoder`).
        free_bits: KL floor in nats per latent dimension (0 disables it); see
            :func:`keras_vae.losses.free_bits_kl`.
        flow: A normalizing flow on the posterior (:mod:`keras_vae.flows`: ``Planar``,
            ``IAF``, or your own layer ``z -> (f(z), log |det df/dz|)``): the decoder sees
            ``f(z0)``, ``z0 ~ N(mean, sigma^2)``, and the KL becomes the Monte-Carlo
            estimate ``log q(z|x) - log p(z)`` at the sampled code.
        prior: A learned prior (:mod:`keras_vae.priors`: ``VampPrior``, ``MixturePrior``)
            in place of N(0, I); ``sample`` draws from it and the KL is again the
            Monte-Carlo estimate. With a flow or such a prior the KL has no per-dimension
            split: ``free_bits`` does not apply, and the collapse diagnostics measure the
            per-dimension KL of ``q0`` against N(0, I).
        seed: Seed for the reparameterization noise and ``sample``.
    """

    #: Constructor arguments the class refuses, with the reason (``{name: why}``): the
    #: error names it, and the CLI refuses the matching flag.
    refused_arguments = {}
    #: ``sampler``: a sampler spec (``"gmm:10"``, :func:`keras_vae.samplers.from_spec`)
    #: fitted to the training codes after ``fit`` and attached (``keras-vae train --sampler``).
    training_options = {"sampler": None}

    def __init__(
        self,
        input_shape,
        latent_dim=20,
        encoder=None,
        decoder=None,
        architecture="mlp",
        hidden_units=(400,),
        filters=(32, 64, 128),
        kernel_size=4,
        dense_units=(),
        likelihood="bernoulli",
        likelihood_scale=0.1,
        data_range=None,
        free_bits=0.0,
        flow=None,
        prior=None,
        seed=None,
        **kwargs,
    ):
        self._refuse_arguments(free_bits=free_bits, flow=flow, prior=prior)
        super().__init__(input_shape, likelihood=likelihood, likelihood_scale=likelihood_scale,
                         data_range=data_range, seed=seed, **kwargs)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.free_bits = check_number("free_bits", free_bits, minimum=0.0)
        if self.free_bits and (flow is not None or prior is not None):
            raise ValueError(
                "free_bits floors the KL of each latent dimension, which a flow or a learned "
                "prior does not split by dimension (their KL is one Monte-Carlo estimate for "
                f"the whole code): use free_bits=0 with them. Received: free_bits={free_bits!r}")
        self.custom_networks = encoder is not None or decoder is not None
        if self.custom_networks:
            builder = dict(architecture=architecture, hidden_units=hidden_units,
                           filters=filters, kernel_size=kernel_size, dense_units=dense_units)
            self._refuse_builder_arguments(encoder, decoder, builder)
            self.architecture = None
            self.encoder, self.decoder = encoder, decoder
        else:
            if architecture not in ARCHITECTURES:
                raise ValueError(
                    f"`architecture` must be one of {ARCHITECTURES}. "
                    f"Received: architecture={architecture!r}"
                )
            self.architecture = architecture
            self.hidden_units = check_int_tuple("hidden_units", hidden_units)
            self.filters = check_int_tuple("filters", filters, allow_empty=False)
            self.kernel_size = check_positive_int("kernel_size", kernel_size)
            self.dense_units = check_int_tuple("dense_units", dense_units)
            self.encoder, self.decoder = self.build_networks()
        self._check_networks()
        self.flow = self._check_flow(flow)
        if prior is not None and not isinstance(prior, LatentPrior):
            raise ValueError("`prior` must be a keras_vae prior (kv.priors.VampPrior, "
                             f"kv.priors.MixturePrior). Received: prior={prior!r}")
        self.latent_prior = prior
        if prior is not None:
            prior.build_for(self)
        self.sampling = Sampling(seed=seed, name="sampling")
        self.sampling.build(Sampling.ANY_PAIR)  # built before loading restores its state
        self.latent_sampler = None
        self.finish_init()

    # ------------------------------------------------------------------ construction
    def _refuse_arguments(self, **given):
        for name, why in self.refused_arguments.items():
            if given[name]:
                raise ValueError(f"{name} does not apply to {type(self).__name__}: {why}. "
                                 f"Received: {name}={given[name]!r}")

    def _check_flow(self, flow):
        """Builds ``flow`` on a probe batch and checks it returns ``(z, log_det)``."""
        if flow is None:
            return None
        if not isinstance(flow, keras.layers.Layer):
            raise ValueError("`flow` must be a Keras layer z -> (f(z), log |det df/dz|) such "
                             f"as kv.flows.IAF(4). Received: flow={flow!r}")
        try:
            out = flow(tf.zeros((2, self.latent_dim)))
        except Exception as err:  # a user flow failing on the documented input
            raise ValueError(f"The flow failed on codes of shape (batch, {self.latent_dim}): "
                             f"{err}") from err
        shapes = [tuple(t.shape) for t in out] if isinstance(out, (tuple, list)) else None
        if shapes != [(2, self.latent_dim), (2,)]:
            raise ValueError(f"The flow must map z [batch, {self.latent_dim}] to a pair "
                             f"(f(z) [batch, {self.latent_dim}], log_det [batch]); on a batch "
                             f"of 2 it returned {shapes or type(out).__name__}.")
        return flow

    @property
    def network_latent_dim(self):
        """Width of z at the networks: the decoder's input and half the encoder's output
        (``latent_dim``; a hierarchical model's bottom layer)."""
        return self.latent_dim

    def build_networks(self):
        """Returns ``(encoder, decoder)`` built from the builder arguments."""
        return build_encoder_decoder(
            self.architecture,
            self.data_shape,
            self.network_latent_dim,
            hidden_units=self.hidden_units,
            filters=self.filters,
            kernel_size=self.kernel_size,
            dense_units=self.dense_units,
            condition_dim=self.condition_width(),
        )

    def condition_width(self):
        """Width of the condition vector ``c`` the networks take (0: unconditional)."""
        return 0

    def _refuse_builder_arguments(self, encoder, decoder, builder):
        if encoder is None or decoder is None:
            raise ValueError(
                f"{type(self).__name__} takes your own networks as a pair: give both "
                "`encoder` and `decoder` (or neither, to build them from `architecture`). "
                f"Received: encoder={type(encoder).__name__}, decoder={type(decoder).__name__}"
            )
        for name, network in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(network, keras.layers.Layer):
                raise ValueError(
                    f"`{name}` must be a Keras layer or model (functional, Sequential or a "
                    f"registered subclass). Received: {name}={network!r}"
                )
        given = sorted(k for k, v in builder.items()
                       if v != BUILDER_DEFAULTS[k] and not (
                           isinstance(v, (list, tuple)) and tuple(v) == BUILDER_DEFAULTS[k]))
        if given:
            raise ValueError(
                f"{', '.join(given)} build the package's own networks; with your own "
                "`encoder` and `decoder` they would be ignored. Pass them to your networks "
                "instead, or drop `encoder`/`decoder`."
            )

    def _check_networks(self):
        """Calls both networks once on zeros: builds every variable now, and checks the
        contract (shapes in and out) with an error naming what came back."""
        batch = 2
        x = tf.zeros((batch, *self.data_shape))
        c = self.condition_probe(batch)
        try:
            out = self.encoder(x if c is None else [x, c], training=False)
        except Exception as err:  # a user network failing on the documented input
            raise ValueError(
                f"The encoder failed on an input of the documented form "
                f"({self._network_input_text('x', self.data_shape)}): {err}"
            ) from err
        shapes = [tuple(t.shape) for t in (out if isinstance(out, (tuple, list)) else [out])]
        pair = [(batch, self.network_latent_dim)] * 2
        if shapes != pair and shapes != [(batch, 2 * self.network_latent_dim)]:
            raise ValueError(
                f"The encoder must map {self._network_input_text('x', self.data_shape)} to "
                f"[batch, {2 * self.network_latent_dim}] (mean, then log-variance, latent_dim="
                f"{self.network_latent_dim}) or to a pair (mean, log_var) of [batch, "
                f"{self.network_latent_dim}]; on a batch of {batch} it returned shapes {shapes}."
            )
        z = tf.zeros((batch, self.network_latent_dim))
        try:
            logits = self.decoder(z if c is None else [z, c], training=False)
        except Exception as err:
            raise ValueError(
                f"The decoder failed on an input of the documented form "
                f"({self._network_input_text('z', (self.network_latent_dim,))}): {err}"
            ) from err
        got = [tuple(t.shape) for t in logits] if isinstance(logits, (tuple, list)) else \
            tuple(logits.shape)
        if got != (batch, *self.data_shape):
            raise ValueError(
                f"The decoder must map {self._network_input_text('z', (self.network_latent_dim,))} "
                f"to [batch, {', '.join(map(str, self.data_shape))}] (input_shape); on a batch "
                f"of {batch} it returned {got}."
            )

    def kl_floor(self):
        """The free-bits floor of each latent dimension (a number for all of them)."""
        return self.free_bits

    def _network_input_text(self, name, shape):
        text = f"{name} [batch, {', '.join(map(str, shape))}]"
        width = self.condition_width()
        return text if not width else f"[{text}, c [batch, {width}]]"

    def condition_probe(self, batch):
        """A condition vector batch for the network check (``None``: unconditional)."""
        return None

    def metric_names(self):
        """Names of the metrics ``fit``/``evaluate`` report, in order."""
        return list(BASE_METRICS)

    # ------------------------------------------------------------------ the model's parts
    def check_condition(self, condition):
        """The condition of a batch, checked (an error naming the problem otherwise);
        ``None`` for an unconditional model, which refuses one."""
        if condition is not None:
            raise ValueError(f"{type(self).__name__} is unconditional: pass no condition.")
        return None

    def condition_vector(self, condition):
        """The vector ``c`` the networks take for a checked condition (``None`` here)."""
        return None

    def posterior(self, x, c=None, training=False):
        """``(mean, log_var)`` of q(z|x[, c]), each ``[batch, latent_dim]``."""
        out = self.encoder(x if c is None else [x, c], training=training)
        if isinstance(out, (tuple, list)):
            return tuple(out)
        return tuple(tf.split(out, 2, axis=-1))

    def decoder_logits(self, z, c=None, training=False):
        """The decoder's output for latents ``z`` (and condition vectors ``c``)."""
        z = ops.cast(z, self.compute_dtype)
        return self.decoder(z if c is None else [z, c], training=training)

    @property
    def prior_dim(self):
        """The size of the code a learned prior (``prior=``) is over: the whole latent (a
        hierarchical model's: its top layer)."""
        return self.latent_dim

    def prior_posterior(self, x):
        """``(mean, log_var)`` of the posterior at ``x`` over the prior's code (inference
        mode): what a :class:`~keras_vae.priors.VampPrior` mixes at its pseudo-inputs."""
        return self.posterior(x, None, training=False)

    def prior_params(self, condition, batch):
        """``(mean, log_var)`` of p(z) (or p(z|c)) for ``batch`` examples; ``None`` for
        N(0, I), which the KL then takes in closed form."""
        return None

    # ------------------------------------------------------------------ objective
    def regularizer(self, kl_per_dim, step):
        """What the KL costs in the loss: ``(per-example penalty [batch], {metric: scalar})``.

        The hook a KL-weighting variant overrides (:class:`keras_vae.BetaVAE`). The default
        is the plain ELBO with the optional free-bits floor.
        """
        return losses.free_bits_kl(kl_per_dim, self.kl_floor()), {}

    def compute_terms(self, inputs, training=False):
        """One stochastic pass over what ``unpack_inputs`` returned: per-example
        reconstruction NLL, per-dimension KL to the prior, and z."""
        x, condition = self.split_inputs(inputs)
        c = self.condition_vector(condition)
        mean, log_var = self.posterior(x, c, training=training)
        z = self.sampling((mean, log_var))
        if self.analytic_kl:
            prior = self.prior_params(condition, tf.shape(mean)[0])
            kl_per_dim = losses.gaussian_kl_per_dim(mean, log_var, *(prior or (None, None)))
        else:
            # The Monte-Carlo KL of the whole code at the sampled z: one column.
            z, log_q = self.code_log_density(z, mean, log_var)
            kl_per_dim = (log_q - self.prior_log_density(z, condition))[:, None]
        logits = self.decoder_logits(z, c, training=training)
        return {
            "x": x,
            "c": c,
            "reconstruction_loss": self.reconstruction_nll(x, logits),
            "kl_per_dim": kl_per_dim,
            "mean": mean,
            "log_var": log_var,
            "z": z,
        }

    @property
    def analytic_kl(self):
        """The KL to the prior is in closed form, per dimension: no flow and a Gaussian
        prior (N(0, I) or a conditional model's p(z|c))."""
        return self.flow is None and self.latent_prior is None

    def transform_latent(self, z):
        """``(f(z), log |det df/dz|)`` through the posterior flow (``(z, 0)`` without one):
        the decoder's input for a draw (or the mean) of q0(z|x)."""
        if self.flow is None:
            return z, tf.zeros(tf.shape(z)[:1], tf.float32)
        z_out, log_det = self.flow(tf.cast(z, tf.float32))
        return tf.cast(z_out, self.compute_dtype), log_det

    def code_log_density(self, z0, mean, log_var):
        """``(z, log q(z|x))`` for draws ``z0 [n, d]`` of ``N(mean, exp(log_var))``:
        ``z = f(z0)`` through the flow, ``log q = log q0(z0|x) - log |det|``."""
        log_q0 = gaussian_log_density(tf.cast(z0, tf.float32), tf.cast(mean, tf.float32),
                                      losses.clip_log_var(log_var))
        z, log_det = self.transform_latent(z0)
        return z, log_q0 - log_det

    def prior_log_density(self, z, condition=None):
        """``log p(z)`` (or ``log p(z|c)``) of codes ``[batch, d]`` or ``[batch, k, d]``:
        ``[batch]`` or ``[batch, k]`` (float32)."""
        z = tf.cast(z, tf.float32)
        if self.latent_prior is not None:
            return losses.mixture_log_density(z, *self.latent_prior.components(self))
        prior = self.prior_params(condition, tf.shape(z)[0])
        if prior is None:
            return gaussian_log_density(z, 0.0, 0.0)
        mean, log_var = (tf.cast(p, tf.float32) for p in prior)
        if z.shape.rank == 3:
            mean, log_var = mean[:, None], log_var[:, None]
        return gaussian_log_density(z, mean, losses.clip_log_var(log_var))

    def split_inputs(self, inputs):
        """``(x, condition or None)`` from what ``unpack_inputs`` returned."""
        return inputs, None

    def objective_values(self, terms):
        """Per-example values from :meth:`compute_terms`: ``loss`` (what training
        minimizes), ``reconstruction_loss``, ``kl_loss`` and ``elbo``, plus the scalars
        :meth:`regularizer` reports. A variant with another bound overrides this."""
        penalty, extra = self.regularizer(terms["kl_per_dim"], self._schedule_step())
        kl = tf.reduce_sum(terms["kl_per_dim"], axis=1)
        rec = terms["reconstruction_loss"]
        return {"loss": rec + penalty, "reconstruction_loss": rec, "kl_loss": kl,
                "elbo": -(rec + kl), **extra}

    def _objective(self, inputs, training):
        values = self.objective_values(self.compute_terms(inputs, training=training))
        return {k: v for k, v in values.items() if k in self.trackers}

    # ------------------------------------------------------------------ public API
    def call(self, inputs, training=False):
        """Reconstruction mean: decodes a sample of q(z|x) when training, its mean otherwise."""
        x, condition = self.split_inputs(self.unpack_call(inputs))
        c = self.condition_vector(condition)
        mean, log_var = self.posterior(x, c, training=training)
        z, _ = self.transform_latent(self.sampling((mean, log_var)) if training else mean)
        return self.mean_from_logits(self.decoder_logits(z, c, training=training))

    def unpack_call(self, inputs):
        """What :meth:`call` takes, checked (``x``; conditional models ``(x, condition)``)."""
        return self.check_data(inputs)

    def encode(self, x, condition=None):
        """Returns ``(mean, log_var)`` of q(z|x) (or q(z|x, c)); with a flow, of the Gaussian
        q0 the flow starts from (the code the decoder sees is ``transform_latent(z0)``)."""
        c = self.condition_vector(self.check_condition(condition))
        return self.posterior(self.check_data(x), c)

    def check_latents(self, z):
        z = tf.convert_to_tensor(z, dtype=self.compute_dtype)
        if z.shape.rank != 2 or (z.shape[1] is not None and z.shape[1] != self.latent_dim):
            raise ValueError(
                f"`z` must have shape (batch, {self.latent_dim}). Received: {tuple(z.shape)}"
            )
        return z

    def decode(self, z, condition=None, return_logits=False):
        """Maps latents ``[batch, latent_dim]`` to the likelihood's mean (or its logits)."""
        c = self.condition_vector(self.check_condition(condition))
        logits = self.decoder_logits(self.check_latents(z), c)
        return logits if return_logits else self.mean_from_logits(logits)

    def reconstruct(self, x, condition=None, sample=False):
        """Decodes the posterior mean (or, with ``sample=True``, a posterior sample) of ``x``."""
        mean, log_var = self.encode(x, condition)
        z, _ = self.transform_latent(self.sampling((mean, log_var)) if sample else mean)
        return self.decode(z, condition)

    def sample(self, num, seed=None, temperature=1.0):
        """Draws examples from the prior, decoded to the likelihood's mean: ``sample(num)``,
        or for a conditional model ``sample(conditions)`` (one example per condition, z from
        p(z|c)).

        Args:
            num: Number of examples (conditional models: their conditions).
            seed: Integer seed; the same seed gives the same examples.
            temperature: Multiplies the prior's standard deviation (1 = the model's prior).
        """
        return self.decode_draws(self.draw_latents, num, seed, temperature)

    def decode_draws(self, draw, num, seed=None, temperature=1.0):
        """What :meth:`sample` does with the codes of ``draw(condition, num, seed,
        temperature)`` (the prior's, or a sampler's): checks the request (a number, or a
        conditional model's conditions) and decodes the draws."""
        temperature = check_number("temperature", temperature, minimum=0.0)
        if self.needs_labels:
            condition = self.check_condition(num)
            num = tf.shape(condition)[0]
        else:
            condition, num = None, check_positive_int("num", num)
        return self.decode(draw(condition, num, check_seed(seed), temperature), condition)

    def draw_latents(self, condition, num, seed=None, temperature=1.0):
        """The codes :meth:`sample` and the ``sample`` signature decode: from the attached
        sampler (:meth:`attach_sampler`), else from the prior (:meth:`prior_sample`)."""
        if self.latent_sampler is not None:
            return self.latent_sampler.latents(condition, num, seed, temperature)
        return self.prior_sample(condition, num, seed, temperature)

    def attach_sampler(self, sampler):
        """Makes ``sample``, the saved model and the exported ``sample`` signature draw from
        a fitted ex-post sampler (:mod:`keras_vae.samplers`) instead of the prior;
        ``None`` detaches it. The training objective still uses the prior."""
        if sampler is None:
            if self.latent_sampler is not None:
                del self.latent_sampler  # untracked, so its weights leave the saved model
            self.latent_sampler = None
            return self
        from keras_vae.samplers import LatentSampler

        if not isinstance(sampler, LatentSampler):
            raise ValueError("`sampler` must be a keras_vae sampler (kv.samplers."
                             f"GaussianMixture, TwoStage, MAF). Received: {sampler!r}")
        sampler.build_for(self)
        sampler.check_fitted()
        self.latent_sampler = sampler
        return self

    def after_fit(self, make_data, sampler=None, batch_size=128, steps_per_epoch=None,
                  verbose="auto", log=print, **options):
        """With ``sampler`` (a spec such as ``"gmm:10"``), fits it to the codes of the
        training data (``steps_per_epoch`` batches when set) and attaches it."""
        if not sampler:
            return
        from keras_vae import samplers

        fitted = samplers.from_spec(sampler, self)
        data = make_data(labels=self.needs_labels)
        if steps_per_epoch is not None:
            data = data.take(steps_per_epoch)
        log(f"Fitting the {sampler} sampler to the training codes.")
        self.attach_sampler(fitted.fit(data))

    def prior_sample(self, condition, num, seed=None, temperature=1.0):
        """``[num, latent_dim]`` draws from p(z) (or p(z|c) for checked conditions), the
        standard deviation times ``temperature``; seeded draws are stateless."""
        if self.latent_prior is not None:
            noise = self.prior_noise(num, seed, width=self.latent_dim + 1)
            z = mixture_from_noise(noise, *self.latent_prior.components(self),
                                   temperature=temperature)
            return tf.cast(z, self.compute_dtype)
        noise = self.prior_noise(num, seed)
        prior = self.prior_params(condition, num)
        if prior is None:
            return noise * temperature
        mean, log_var = prior
        return mean + tf.exp(0.5 * losses.clip_log_var(log_var)) * temperature * noise

    def prior_noise(self, num, seed=None, width=None):
        """``[num, width]`` draws from N(0, I) (``width`` defaults to ``latent_dim``).

        With an integer seed (Python or tensor) the draw is stateless: the same seed gives
        the same latents here and in the exported ``sample`` signature.
        """
        width = width or self.latent_dim
        if seed is None:
            return keras.random.normal((num, width), dtype=self.compute_dtype)
        seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
        shape = tf.stack([tf.cast(num, tf.int32), width])
        return tf.random.stateless_normal(shape, seed=seed, dtype=self.compute_dtype)

    def preview_samples(self, seed, title, conditions=None):
        sampler = None if self.latent_sampler is None else type(self.latent_sampler).__name__
        return np.asarray(self.sample(64, seed=seed)), None, samples_title(title, sampler)

    # ------------------------------------------------------------------ evaluation hooks
    def importance_log_weights(self, x, condition=None, num_samples=100, seed=0,
                               chunk_size=None):
        """``log p(x, z_k) - log q(z_k|x)`` for K draws per example: ``[batch, num_samples]``
        (the importance weights of the IWAE bound; see
        :func:`keras_vae.evaluation.iwae_nll`). Seeded: the same seed draws the same z.

        Args:
            x: A batch of data.
            condition: The batch's conditions, for a conditional model.
            num_samples: K.
            seed: Integer seed.
            chunk_size: Draws decoded at once per example (default: a decoder batch near
                32,768 examples).
        """
        num_samples = check_positive_int("num_samples", num_samples)
        x = self.check_data(tf.convert_to_tensor(x))
        condition = self.check_condition(condition)
        c = self.condition_vector(condition)
        mean, log_var = self.posterior(x, c)
        batch = int(x.shape[0])
        chunk = chunk_size or max(1, min(num_samples, 32_768 // max(batch, 1)))
        weights_of_noise = self._traced_log_weights()
        parts = []
        for start in range(0, num_samples, chunk):
            k = min(chunk, num_samples - start)
            eps = tf.random.stateless_normal(tf.stack([batch, k, self.latent_dim]),
                                             tf.constant([seed, start], tf.int32))
            parts.append(weights_of_noise(x, c, mean, log_var, condition, eps))
        return tf.concat(parts, axis=1)

    def _traced_log_weights(self):
        """:meth:`log_weights_of_noise`'s log-weights as a graph function, traced once per
        model (and input signature): run eagerly, its element-wise work on the decoder's
        ``[batch · k, ...]`` outputs took more than half of an IWAE estimate's time (the
        784-400-20 VAE at K = 650: 9.5 s eagerly, 4.4 s as a graph, 2 threads). Kept in an
        untracked holder, so that it is never saved with the model. A model compiled with
        ``run_eagerly=True`` (say, for networks that cannot be traced) is scored eagerly."""
        def log_weights(x, c, mean, log_var, condition, eps):
            return self.log_weights_of_noise(x, c, mean, log_var, condition, eps)[0]

        if self.run_eagerly:
            return log_weights
        holder = self.__dict__.get("_log_weights_holder")
        if holder is None:
            holder = _Untracked(tf.function(log_weights, reduce_retracing=True))
            self._log_weights_holder = holder
        return holder.value

    def log_weights_of_noise(self, x, c, mean, log_var, condition, eps, training=False):
        """``(log p(x, z) - log q(z|x), log p(x|z))``, each ``[batch, k]``, for the codes of
        ``z0 = mean + sigma * eps`` (through the flow, if any), ``eps``
        ``[batch, k, latent_dim]``, against the model's prior (p(z|c) for the checked
        ``condition`` of a conditional model)."""
        batch, k = tf.shape(eps)[0], tf.shape(eps)[1]
        mean32, log_var32 = tf.cast(mean, tf.float32), losses.clip_log_var(log_var)
        z0 = mean32[:, None] + tf.exp(0.5 * log_var32)[:, None] * tf.cast(eps, tf.float32)
        flat_z, log_q = self.code_log_density(
            tf.reshape(z0, [-1, self.latent_dim]), tf.repeat(mean32, k, axis=0),
            tf.repeat(log_var32, k, axis=0))
        log_q = tf.reshape(log_q, [batch, k])
        log_p_z = self.prior_log_density(tf.reshape(flat_z, [batch, k, self.latent_dim]),
                                         condition)
        c_rep = None if c is None else tf.repeat(c, k, axis=0)
        logits = self.decoder_logits(flat_z, c_rep, training=training)
        log_p_x = -tf.reshape(self.reconstruction_nll(tf.repeat(x, k, axis=0), logits),
                              [batch, k])
        return log_p_x + log_p_z - log_q, log_p_x

    def posterior_and_prior(self, x, condition=None):
        """``(mean, log_var, prior_mean, prior_log_var)`` of a batch, the prior's as
        zeros for N(0, I) (and for a mixture prior, whose KL does not split by dimension:
        the per-dimension KL is then measured against N(0, I)): what the collapse
        diagnostics read."""
        condition = self.check_condition(condition)
        mean, log_var = self.encode(x, condition)
        prior = self.prior_params(condition, tf.shape(mean)[0])
        if prior is None:
            prior = (tf.zeros_like(mean), tf.zeros_like(mean))
        return mean, log_var, prior[0], prior[1]

    def kl_per_dimension(self, x, condition=None):
        """Mean KL per latent dimension over the batch ``x``, shape ``[latent_dim]`` (nats)."""
        mean, log_var, prior_mean, prior_log_var = self.posterior_and_prior(x, condition)
        return tf.reduce_mean(
            losses.gaussian_kl_per_dim(mean, log_var, prior_mean, prior_log_var), axis=0)

    # ------------------------------------------------------------------ export
    def condition_spec(self):
        """The ``TensorSpec`` of the condition input of the signatures (``None``: the model
        is unconditional)."""
        return None

    def sample_condition_spec(self):
        return self.condition_spec()

    def serving_endpoints(self):
        """Serving signatures: ``{name: (function, input_signature)}``, the default first.

        Data is float32 with a free batch dimension; for data in [0, 1] a value outside
        fails with a message naming the range. A conditional model's signatures take its
        condition (:meth:`condition_spec`) after the data, and ``sample`` takes it in place
        of ``num``.
        """
        data = tf.TensorSpec((None, *self.data_shape), tf.float32, name="x")
        latents = tf.TensorSpec((None, self.latent_dim), tf.float32, name="z")
        seed = tf.TensorSpec((), tf.int32, name="seed")
        spec = self.condition_spec()
        conditions = [] if spec is None else [spec]

        def condition_of(args):
            condition = self.check_condition(args[0]) if args else None
            return condition, self.condition_vector(condition)

        def reconstruct(x, *args):
            _, c = condition_of(args)
            mean, _ = self.posterior(self.serving_data(x), c)
            z, _ = self.transform_latent(mean)
            return {"x_mean": self.mean_from_logits(self.decoder_logits(z, c))}

        def encode(x, *args):
            _, c = condition_of(args)
            mean, log_var = self.posterior(self.serving_data(x), c)
            return {"mean": mean, "log_var": log_var}

        def decode(z, *args):
            _, c = condition_of(args)
            return self.serving_decode(check_served_shape(z, (self.latent_dim,), "z"), c)

        def sample(num_or_condition, seed):
            if spec is None:
                condition, num = None, after_checks(num_or_condition, [
                    tf.debugging.assert_non_negative(num_or_condition,
                                                     message="`num` must be >= 0")])
            else:
                condition = self.check_condition(num_or_condition)
                num = tf.shape(condition)[0]
            z = self.draw_latents(condition, num, seed)
            c = self.condition_vector(condition)
            return {"x_mean": self.mean_from_logits(self.decoder_logits(z, c))}

        first = [tf.TensorSpec((), tf.int32, name="num")] if spec is None else [spec]
        return {
            "reconstruct": (reconstruct, [data, *conditions]),
            "encode": (encode, [data, *conditions]),
            "decode": (decode, [latents, *conditions]),
            "sample": (sample, [*first, seed]),
        }

    def serving_decode(self, z, c=None):
        """The ``decode`` signature's outputs: ``x_mean`` and, for Bernoulli, ``logits``."""
        logits = self.decoder_logits(z, c)
        out = {"x_mean": self.mean_from_logits(logits)}
        if self.likelihood == "bernoulli":
            out["logits"] = logits
        return out

    @property
    def prior_kind(self):
        """What p(z) is, for the export's metadata: ``"standard_normal"`` (N(0, I), which a
        reader of the export can evaluate without the model), or the name of another."""
        return "standard_normal" if self.latent_prior is None else type(
            self.latent_prior).__name__

    def export_metadata(self):
        return {**super().export_metadata(), "latent_shape": [self.latent_dim],
                "prior": self.prior_kind, "has_elbo": self.has_elbo,
                "flow": None if self.flow is None else type(self.flow).__name__,
                "sampler": None if self.latent_sampler is None else type(
                    self.latent_sampler).__name__}

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        config = {**super().get_config(), "latent_dim": self.latent_dim,
                  "free_bits": self.free_bits}
        for key, value in (("flow", self.flow), ("prior", self.latent_prior)):
            config[key] = None if value is None else keras.saving.serialize_keras_object(value)
        if self.latent_sampler is not None:
            config["sampler"] = keras.saving.serialize_keras_object(self.latent_sampler)
        if self.custom_networks:
            config["encoder"] = keras.saving.serialize_keras_object(self.encoder)
            config["decoder"] = keras.saving.serialize_keras_object(self.decoder)
        else:
            config.update({
                "architecture": self.architecture,
                "hidden_units": self.hidden_units,
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "dense_units": self.dense_units,
            })
        return config

    tuple_config_keys = ("input_shape", "hidden_units", "filters", "dense_units")
    object_config_keys = ("encoder", "decoder", "flow", "prior")

    @classmethod
    def build_from_config_values(cls, config):
        # An attached sampler: rebuilt for the model (its weights, still unfitted, are then
        # restored with the model's).
        sampler = config.pop("sampler", None)
        model = super().build_from_config_values(config)
        if sampler is not None:
            model.latent_sampler = keras.saving.deserialize_keras_object(
                copy.deepcopy(sampler)).build_for(model)
        return model
