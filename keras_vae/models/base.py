"""The shared bases: :class:`BaseAutoencoder` (images in, likelihood, train/test steps,
metric trackers, serving checks) for every model, and :class:`BaseVAE` (Gaussian latent,
KL to a prior) for the VAE variants; ``VQVAE`` builds on the former.

A Gaussian variant changes one thing. ``BaseVAE`` computes, per example, the reconstruction term
``-log p(x|z)`` and the per-dimension KL to the prior, then asks :meth:`BaseVAE.regularizer`
what the KL costs in the loss (β·KL, γ·|KL − C(t)|, ...). Training state that a schedule needs
is read from ``optimizer.iterations``, which is saved with the model, so a resumed or
distributed run sees the same schedule value as an uninterrupted one.
"""

import inspect

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_vae import distribute
from keras_vae import losses
from keras_vae import schedules
from keras_vae.layers import Sampling
from keras_vae.networks import ARCHITECTURES
from keras_vae.networks import build_encoder_decoder
from keras_vae.validation import check_image_shape
from keras_vae.validation import check_int
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_number
from keras_vae.validation import check_positive_int
from keras_vae.validation import check_seed

BASE_METRICS = ("loss", "reconstruction_loss", "kl_loss", "elbo")


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


def check_served_shape(tensor, tail, name):
    """Fails with a message naming the expected shape unless ``tensor`` is ``[batch, *tail]``.

    Loaded signatures do not enforce their TensorSpec shapes, so a wrongly sized input would
    otherwise fail deep inside the network.
    """
    shape = tf.shape(tensor)
    padded = tf.concat([shape, tf.zeros([len(tail) + 1], tf.int32)], 0)[: len(tail) + 1]
    ok = tf.logical_and(
        tf.equal(tf.size(shape), len(tail) + 1),
        tf.reduce_all(tf.equal(padded[1:], tf.constant(tail, tf.int32))),
    )
    expected = ", ".join(str(d) for d in tail)
    check = tf.debugging.Assert(ok, [f"`{name}` must have shape [batch, {expected}]; received", shape])
    return after_checks(tensor, [check])


def after_checks(tensor, checks):
    """``tensor``, made to depend on ``checks``: a graph runs stateless ops in any order, so
    without this the network could fail on a bad input before the check that names it."""
    with tf.control_dependencies([c for c in checks if c is not None]):
        return tf.identity(tensor)


def serving_images(x, image_shape):
    """Checks served images: shape ``[batch, *image_shape]`` and values in [0, 1]."""
    x = check_served_shape(x, image_shape, "x")
    message = "`x` must be float32 images scaled to [0, 1]"
    low = tf.debugging.assert_greater_equal(x, 0.0, message=message)
    high = tf.debugging.assert_less_equal(x, 1.0, message=message)
    return after_checks(x, [low, high])


def check_labels(labels, num_classes, owner):
    """Returns labels as int32 ``[batch]``; missing, float, wrongly shaped or out-of-range
    labels raise an error naming the problem (eagerly a ValueError, in a graph an assertion).

    Args:
        labels: Class indices, ``[batch]`` or ``[batch, 1]``.
        num_classes: Labels must lie in ``[0, num_classes)``.
        owner: Name of the model or layer asking, for the messages.
    """
    if labels is None:
        raise ValueError(
            f"{owner} needs labels: train on (x, label) batches "
            "(keras_vae.data.load(..., labels=True)) and pass labels to encode/decode/sample."
        )
    labels = labels if tf.is_tensor(labels) else tf.convert_to_tensor(np.asarray(labels))
    if not labels.dtype.is_integer:
        raise ValueError(
            f"Labels must be integer class indices; received dtype {labels.dtype.name}."
        )
    if labels.shape.rank == 2 and labels.shape[1] == 1:
        labels = tf.reshape(labels, [-1])
    if labels.shape.rank != 1:
        raise ValueError(f"Labels must have shape (batch,); received {tuple(labels.shape)}.")
    return check_index_range(tf.cast(labels, tf.int32), num_classes,
                             f"labels must lie in [0, {num_classes})")


def check_index_range(indices, limit, message):
    """``indices`` (int32), checked to lie in ``[0, limit)``: eagerly a ValueError with
    ``message`` and the range received, in a graph an assertion with ``message``."""
    if tf.executing_eagerly():
        values = indices.numpy()
        if values.size and (values.min() < 0 or values.max() >= limit):
            raise ValueError(f"{message}; received values from {values.min()} to {values.max()}.")
        return indices
    low = tf.debugging.assert_non_negative(indices, message=message)
    high = tf.debugging.assert_less(indices, limit, message=message)
    return after_checks(indices, [low, high])


#: Layers that make XLA slower than the graph step on CPU (see ``ObjectiveModel.compile``).
_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                 keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                 keras.layers.Conv3DTranspose, keras.layers.DepthwiseConv2D,
                 keras.layers.SeparableConv2D)


#: The most steps ``steps_per_execution="auto"`` runs per call (see ``ObjectiveModel.compile``).
AUTO_STEPS_PER_EXECUTION = 32


def _check_steps_per_execution(value):
    """True for ``"auto"``; an error naming the value unless it is ``"auto"`` or an int >= 1."""
    if isinstance(value, str) and value == "auto":
        return True
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError("`steps_per_execution` must be 'auto' or a positive integer. "
                         f"Received: steps_per_execution={value!r}")
    return False


def _bind(method, model, args, kwargs):
    """The arguments of a ``keras.Model`` method call, by name (Keras's private ones left out;
    nothing for a call Keras itself will refuse, with its own message)."""
    public = {k: v for k, v in kwargs.items() if not k.startswith("_")}
    try:
        return inspect.signature(method).bind(model, *args, **public).arguments
    except TypeError:
        return {}


def _ends_by(data, steps):
    """True when ``data`` is a dataset known to end within ``steps`` batches, so that a run of
    ``steps`` stops at its end rather than at a step count."""
    if not isinstance(data, tf.data.Dataset):
        return False
    cardinality = int(data.cardinality())
    return 0 <= cardinality <= steps


class ObjectiveModel(keras.Model):
    """A ``keras.Model`` whose ``train_step``/``test_step`` minimize its own objective.

    Subclasses implement :meth:`unpack_inputs` (check a batch), :meth:`_objective`
    (per-example values keyed by metric name, ``"loss"`` among them) and
    :meth:`metric_names`, and create ``self.trackers`` (one ``keras.metrics.Mean`` per name)
    with :meth:`create_trackers`. Each replica's loss is its share of the global-batch mean
    (:func:`keras_vae.distribute.global_mean`).
    """

    def __init__(self, **kwargs):
        dtype = kwargs.get("dtype")
        if dtype is not None:
            policy = keras.dtype_policies.get(dtype)
            if policy.name != keras.mixed_precision.dtype_policy().name:
                # Sub-layers built in the constructor follow the global policy, not `dtype`.
                raise ValueError(
                    f"{type(self).__name__} builds its layers under the global dtype policy "
                    f"({keras.mixed_precision.dtype_policy().name}), so dtype={policy.name!r} "
                    "would apply to the model alone. Call "
                    f"keras.mixed_precision.set_dtype_policy({policy.name!r}) before building "
                    "it instead."
                )
        super().__init__(**kwargs)

    def base_config(self):
        """The Keras Model arguments every config carries: name and dtype policy."""
        return {"name": self.name, "dtype": keras.dtype_policies.serialize(self.dtype_policy)}

    @classmethod
    def construct(cls, config):
        """``cls(**config)`` under the dtype policy the config names, so every layer of a
        reloaded mixed-precision model computes as it did when saved."""
        if config.get("dtype") is None:
            return cls(**config)
        previous = keras.mixed_precision.dtype_policy()
        keras.mixed_precision.set_dtype_policy(keras.dtype_policies.get(config["dtype"]))
        try:
            return cls(**config)
        finally:
            keras.mixed_precision.set_dtype_policy(previous)

    def metric_names(self):
        """Names of the metrics ``fit``/``evaluate`` report, in order."""
        raise NotImplementedError

    def create_trackers(self):
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names()}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _objective(self, inputs, training):
        """Per-example values (``[batch]`` tensors, or scalars for batch statistics) keyed by
        metric name; ``"loss"`` is what training minimizes."""
        raise NotImplementedError

    def training_variables(self):
        """The variables ``fit`` updates (all trainable ones unless a subclass says otherwise)."""
        return self.trainable_variables

    def unpack_inputs(self, data):
        """Checks a batch from ``fit``/``evaluate`` and returns what ``_objective`` takes."""
        raise NotImplementedError

    def compile(self, optimizer="rmsprop", *args, jit_compile="auto",
                steps_per_execution="auto", **kwargs):
        """As ``keras.Model.compile``, with ``"auto"`` defaults for ``jit_compile`` (which
        also decides for CPU-only machines, where Keras always turns XLA off) and
        ``steps_per_execution``.

        Measured on CPU (``benchmarks/throughput.py``), XLA runs dense (MLP) models about
        1.5x faster than the graph step but convolutional ones about 3x slower (its CPU
        convolutions lack oneDNN's). So ``"auto"`` means: XLA with a GPU or TPU (as in
        Keras), and on a CPU-only machine XLA for models without convolutions. It stays off
        when the model runs eagerly, under a distribution strategy (as in Keras), or with op
        determinism enabled. ``True``/``False`` force it either way.

        XLA drops runtime assertions, so when it is on the step is split: the input checks
        (label and code ranges) run in the graph around an XLA-compiled core (objective,
        gradients, update, metrics). ``predict`` runs as a graph without XLA.

        ``steps_per_execution="auto"`` runs up to :data:`AUTO_STEPS_PER_EXECUTION` steps per
        call into the compiled step, chosen when ``fit``/``evaluate``/``predict`` starts:
        the largest number up to that which divides ``steps_per_epoch`` (and
        ``validation_steps``, ``steps``) whenever those stop before the end of the data (on
        repeated data Keras would otherwise run past them). It is used with the XLA step
        (``jit_compile``), where per-step Python work is a large share: on this 2-core CPU
        the 784-400-20 VAE trains about 1.2x faster at batch 128
        (``benchmarks/throughput.py``). With the graph step (conv models), eagerly and under
        a distribution strategy it is 1: on the MNIST ConvVAE its gain was within noise, and
        it made the conv VAE on shapes slower (145 s against 98 s for the main job).
        As with any ``steps_per_execution`` above 1, batch-level callback hooks run once per
        call (their ``batch`` is the call's last step); pass ``steps_per_execution=1`` for a
        callback that must see every step. An integer is used as given.
        """
        if jit_compile == "auto" and not kwargs.get("run_eagerly"):
            jit_compile = self.default_jit_compile()
        auto_steps = _check_steps_per_execution(steps_per_execution)
        super().compile(optimizer, *args, jit_compile=jit_compile,
                        steps_per_execution=1 if auto_steps else steps_per_execution, **kwargs)
        self.auto_steps_per_execution = auto_steps
        if auto_steps:  # a reloaded model resolves "auto" again, on its own machine and data
            self._compile_config.config["steps_per_execution"] = "auto"

    def fit(self, *args, **kwargs):
        bound = _bind(keras.Model.fit, self, args, kwargs)
        self._resolve_steps_per_execution(
            (bound.get("steps_per_epoch"), bound.get("x")),
            (bound.get("validation_steps"), bound.get("validation_data")))
        return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        if not kwargs.get("_use_cached_eval_dataset"):  # validation inside `fit` keeps fit's
            bound = _bind(keras.Model.evaluate, self, args, kwargs)
            self._resolve_steps_per_execution((bound.get("steps"), bound.get("x")))
        return super().evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs):
        bound = _bind(keras.Model.predict, self, args, kwargs)
        self._resolve_steps_per_execution((bound.get("steps"), bound.get("x")))
        return super().predict(*args, **kwargs)

    def _resolve_steps_per_execution(self, *runs):
        """Sets ``steps_per_execution`` for ``runs`` (``(steps, data)`` pairs) when compiled
        with ``"auto"`` (see :meth:`compile`); the compiled functions are rebuilt if it
        changes."""
        if not getattr(self, "auto_steps_per_execution", False):
            return
        limit = AUTO_STEPS_PER_EXECUTION if self._xla_core() else 1
        counts = [steps for steps, data in runs if steps is not None and not _ends_by(data, steps)]
        steps_per_execution = max(d for d in range(1, limit + 1)
                                  if all(steps % d == 0 for steps in counts))
        if steps_per_execution != self.steps_per_execution:
            self.steps_per_execution = steps_per_execution
            self.train_function = self.test_function = self.predict_function = None

    def default_jit_compile(self):
        """What ``jit_compile="auto"`` resolves to on this machine (see :meth:`compile`)."""
        if self._distributed():
            return False
        from tensorflow.python.framework.config import is_op_determinism_enabled

        if is_op_determinism_enabled():
            return False
        layers = list(self._flatten_layers())
        if not all(layer.supports_jit for layer in layers):
            return False
        if any(d.device_type != "CPU" for d in tf.config.list_logical_devices()):
            return True
        return not any(isinstance(layer, _CONVOLUTIONS) for layer in layers)

    def compile_from_config(self, config):
        # As Keras does, but the optimizer is built for the variables `fit` updates, so a
        # reloaded optimizer matches the saved one variable for variable.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.training_variables())

    def _xla_core(self):
        """True when the step's core is compiled apart from its (graph) input checks: XLA is
        on and no distribution strategy is in use (under one, Keras's own handling applies)."""
        return bool(self.jit_compile) and not self.run_eagerly and not self._distributed()

    def _distributed(self):
        """True inside a strategy scope or for a model built under a multi-replica strategy."""
        return tf.distribute.has_strategy() or self.distribute_strategy.num_replicas_in_sync > 1

    def _graph_around_core(self, make, force):
        # Keras compiles the whole step with XLA when `jit_compile` is on, and XLA ignores
        # assertions; build the outer step as a plain graph and compile only the core.
        if not self._xla_core():
            return make(force)
        self.jit_compile = False
        try:
            return make(force)
        finally:
            self.jit_compile = True

    def make_train_function(self, force=False):
        # Build the optimizer's variables eagerly, before anything is traced: otherwise they
        # are created inside the first traced step, which fails when an earlier trace raised
        # (bad data) and is wrong under distribution strategies.
        if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
            self.optimizer.build(self.training_variables())
        return self._graph_around_core(super().make_train_function, force)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy Keras builds the model symbolically from the first batch averaged
        # across replicas, which fails when that batch splits unevenly (15 examples on 2
        # replicas). Every variable here exists from the constructor; only the optimizer's
        # need building, in the model's strategy.
        if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.training_variables())

    def make_test_function(self, force=False):
        return self._graph_around_core(super().make_test_function, force)

    def make_predict_function(self, force=False):
        return self._graph_around_core(super().make_predict_function, force)

    def _core(self, function):
        """``function``, XLA-compiled when the step is split (see :meth:`compile`)."""
        if self._xla_core() and not tf.executing_eagerly():
            return tf.function(function, jit_compile=True, autograph=False)
        return function

    def train_step(self, data):
        return self._core(self._train_on)(self.unpack_inputs(data))

    def _train_on(self, inputs):
        with tf.GradientTape() as tape:
            values = self._objective(inputs, training=True)
            # This replica's share of the global-batch mean: summed across replicas by the
            # optimizer, it is the mean over the global batch, however unevenly it is split.
            loss = distribute.global_mean(values["loss"])
            scaled = self.optimizer.scale_loss(loss)
        variables = self.training_variables()
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return self._update_trackers(values)

    def test_step(self, data):
        return self._core(self._test_on)(self.unpack_inputs(data))

    def _test_on(self, inputs):
        return self._update_trackers(self._objective(inputs, training=False))

    def _update_trackers(self, values):
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if distribute.num_workers(tf.distribute.get_strategy()) > 1:
            # Keras averages each step's outputs across workers over axis 0, which fails on
            # scalars: give them that axis. (Epoch logs read the trackers, aggregated over
            # every replica, either way.)
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results


class BaseAutoencoder(ObjectiveModel):
    """What every model of the package shares: images in, a likelihood out, ``fit``.

    A subclass builds its networks in ``__init__`` (after calling this constructor), then
    calls :meth:`finish_init`; it implements :meth:`metric_names` and :meth:`_objective`
    (per-example values, ``"loss"`` among them) and the public ``encode``/``decode``/``call``.

    Args:
        input_shape: Image shape ``(height, width, channels)``.
        likelihood: ``"bernoulli"`` (pixels in [0, 1], logits out) or ``"gaussian"``
            (``N(sigmoid(logits), sigma^2)`` per pixel).
        likelihood_scale: The Gaussian sigma: a fixed positive number (default 0.1, on
            images scaled to [0, 1]) or ``"learned"`` for one trainable sigma shared by all
            pixels. Ignored by the Bernoulli likelihood.
        seed: Seed for the model's randomness.
    """

    def __init__(self, input_shape, likelihood="bernoulli", likelihood_scale=0.1, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(input_shape)
        self.likelihood = likelihood
        self.likelihood_scale = _check_likelihood(likelihood, likelihood_scale)
        self.seed = check_seed(seed)

    def finish_init(self):
        """Creates the learned likelihood scale and the metric trackers, and marks the model
        built: every variable exists before the first ``fit`` step, so ``.keras`` loading and
        distribution strategies find them."""
        if self.likelihood == "gaussian" and self.likelihood_scale == "learned":
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
        return losses.gaussian_nll(x, ops.sigmoid(ops.cast(logits, "float32")), log_scale)

    def _schedule_step(self):
        if getattr(self, "optimizer", None) is None:
            return tf.constant(0, tf.int64)
        return tf.cast(self.optimizer.iterations, tf.int64)

    # ------------------------------------------------------------------ Keras hooks
    def unpack_inputs(self, data):
        """Checks a batch from ``fit``/``evaluate`` and returns what ``_objective`` takes."""
        return self._unpack_images(data)

    def _unpack_images(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if y is not None:
            raise ValueError(
                f"{type(self).__name__} is unconditional and trains on images alone, but the "
                "dataset yields (x, y) pairs. Load the data with labels=False, or use "
                "ConditionalVAE for labelled data."
            )
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__} does not support sample weights.")
        return self._check_images(x)

    def _check_images(self, x):
        if isinstance(x, (tuple, list, dict)):
            raise ValueError(
                f"{type(self).__name__} expects a single image tensor per batch. "
                f"Received a {type(x).__name__}."
            )
        x = tf.convert_to_tensor(x) if not tf.is_tensor(x) else x
        if x.dtype.is_integer or x.dtype == tf.bool:
            raise ValueError(
                f"Images must be floating point in [0, 1]; received dtype {x.dtype.name}. "
                "Scale them (x / 255) or load them with keras_vae.data.load."
            )
        expected = (None, *self.image_shape)
        got = tuple(x.shape)
        if len(got) != 4 or any(
            e is not None and g is not None and e != g for e, g in zip(expected, got)
        ):
            raise ValueError(
                f"{type(self).__name__} expects images of shape {expected} (NHWC); "
                f"received shape {got}."
            )
        return tf.cast(x, self.compute_dtype)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def _mean_from_logits(self, logits):
        return ops.sigmoid(ops.cast(logits, "float32"))

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
            "input_shape": list(self.image_shape),
            "latent_shape": None,
            "likelihood": self.likelihood,
            "num_classes": None,
            "num_embeddings": None,
        }

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        return {
            **self.base_config(),
            "input_shape": self.image_shape,
            "likelihood": self.likelihood,
            "likelihood_scale": self.likelihood_scale,
            "seed": self.seed,
        }

    #: Config keys holding tuples (JSON turns them into lists).
    tuple_config_keys = ("input_shape",)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in cls.tuple_config_keys:
            if config.get(key) is not None:
                config[key] = tuple(config[key])
        return cls.construct(config)


class BaseVAE(BaseAutoencoder):
    """Base class of the Gaussian-latent VAEs: encoder q(z|x), prior N(0, I), decoder p(x|z).

    Subclasses set which KL-weighting arguments they expose; the objective itself is here.

    Args:
        input_shape: Image shape ``(height, width, channels)``.
        latent_dim: Size of z.
        architecture: ``"mlp"`` or ``"conv"``.
        hidden_units: MLP hidden layer widths (encoder order; the decoder mirrors them).
        filters: Conv channels per stride-2 stage (encoder order).
        kernel_size: Conv kernel size.
        dense_units: Conv only: widths of ReLU dense layers between the conv trunk and the
            latent (encoder order; the decoder mirrors them). Default none, the course
            ConvVAE; ``(256, 256)`` with ``filters=(32, 32, 64, 64)`` is the dSprites network
            of Burgess et al. 2018.
        likelihood: ``"bernoulli"`` (pixels in [0, 1], logits out) or ``"gaussian"``
            (``N(sigmoid(logits), sigma^2)`` per pixel).
        likelihood_scale: The Gaussian sigma: a fixed positive number (default 0.1, on
            images scaled to [0, 1]) or ``"learned"`` for one trainable sigma shared by all
            pixels. Ignored by the Bernoulli likelihood.
        free_bits: KL floor in nats per latent dimension (0 disables it); see
            :func:`keras_vae.losses.free_bits_kl`.
        seed: Seed for the reparameterization noise and ``sample``.
        beta, capacity_max, capacity_steps, gamma: KL weighting, exposed by subclasses
            (``BetaVAE``): the loss uses ``beta(step) * KL`` or, when ``capacity_max`` is
            set, ``gamma * |KL - C(step)|`` with ``C`` rising linearly from 0 to
            ``capacity_max`` over ``capacity_steps``.
    """

    #: Whether the subclass exposes (and serializes) beta / capacity arguments.
    has_kl_weighting = False

    def __init__(
        self,
        input_shape,
        latent_dim=20,
        architecture="mlp",
        hidden_units=(400,),
        filters=(32, 64, 128),
        kernel_size=4,
        dense_units=(),
        likelihood="bernoulli",
        likelihood_scale=0.1,
        free_bits=0.0,
        seed=None,
        beta=1.0,
        capacity_max=None,
        capacity_steps=100_000,
        gamma=1000.0,
        **kwargs,
    ):
        super().__init__(input_shape, likelihood=likelihood, likelihood_scale=likelihood_scale,
                         seed=seed, **kwargs)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
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
        self.free_bits = check_number("free_bits", free_bits, minimum=0.0)
        self._init_kl_weighting(beta, capacity_max, capacity_steps, gamma)

        self.encoder, self.decoder = self.build_networks()
        self.sampling = Sampling(seed=seed, name="sampling")
        self.finish_init()

    # ------------------------------------------------------------------ construction
    def build_networks(self):
        """Returns ``(encoder, decoder)``; variants with other inputs override this."""
        return build_encoder_decoder(
            self.architecture,
            self.image_shape,
            self.latent_dim,
            hidden_units=self.hidden_units,
            filters=self.filters,
            kernel_size=self.kernel_size,
            dense_units=self.dense_units,
        )

    def _init_kl_weighting(self, beta, capacity_max, capacity_steps, gamma):
        self.beta = schedules.get(beta, "beta")
        self.capacity_max = (
            None if capacity_max is None else check_number("capacity_max", capacity_max, 0.0)
        )
        self.capacity_steps = check_int("capacity_steps", capacity_steps, minimum=1)
        self.gamma = check_number("gamma", gamma, minimum=0.0, exclusive=True)
        self.capacity = (
            None
            if capacity_max is None
            else schedules.LinearWarmup(0.0, self.capacity_max, self.capacity_steps)
        )

    def metric_names(self):
        """Names of the metrics ``fit``/``evaluate`` report, in order."""
        names = list(BASE_METRICS)
        if self.has_kl_weighting:
            names.append("capacity" if self.capacity is not None else "beta")
        return names

    # ------------------------------------------------------------------ objective
    def regularizer(self, kl_per_dim, step):
        """What the KL costs in the loss: ``(per-example penalty [batch], {metric: scalar})``.

        The one hook a variant overrides to change its objective. The default is the plain
        ELBO (β = 1) with the optional free-bits floor, β-weighting when ``beta`` is not 1
        or a schedule, and the capacity term when ``capacity_max`` is set.
        """
        kl = losses.free_bits_kl(kl_per_dim, self.free_bits)
        if self.capacity is not None:
            capacity = self.capacity(step)
            return losses.capacity_penalty(kl, capacity, self.gamma), {"capacity": capacity}
        beta = self.beta(step)
        return beta * kl, {"beta": beta}

    def compute_terms(self, x, training=False):
        """One stochastic pass over the inputs ``unpack_inputs`` returned: per-example
        reconstruction NLL, per-dimension KL to the prior, and z."""
        mean, log_var = self.encoder(x, training=training)
        z = self.sampling((mean, log_var))
        logits = self.decoder(z, training=training)
        return {
            "reconstruction_loss": self.reconstruction_nll(x, logits),
            "kl_per_dim": losses.gaussian_kl_per_dim(mean, log_var),
            "mean": mean,
            "log_var": log_var,
            "z": z,
        }

    def _objective(self, inputs, training):
        terms = self.compute_terms(inputs, training=training)
        penalty, extra = self.regularizer(terms["kl_per_dim"], self._schedule_step())
        kl = tf.reduce_sum(terms["kl_per_dim"], axis=1)
        rec = terms["reconstruction_loss"]
        values = {
            "loss": rec + penalty,
            "reconstruction_loss": rec,
            "kl_loss": kl,
            "elbo": -(rec + kl),
        }
        values.update({k: v for k, v in extra.items() if k in self.trackers})
        return values

    def call(self, inputs, training=False):
        """Reconstruction mean: decodes a sample of q(z|x) when training, its mean otherwise."""
        x = self._check_images(inputs)
        mean, log_var = self.encoder(x, training=training)
        z = self.sampling((mean, log_var)) if training else mean
        return self._mean_from_logits(self.decoder(z, training=training))

    def encode(self, x):
        """Returns ``(mean, log_var)`` of q(z|x) for a batch of images."""
        return self.encoder(self._check_images(x), training=False)

    def decode(self, z, return_logits=False):
        """Maps latents ``[batch, latent_dim]`` to image means in [0, 1] (or logits)."""
        z = tf.convert_to_tensor(z, dtype=self.compute_dtype)
        if z.shape.rank != 2 or (z.shape[1] is not None and z.shape[1] != self.latent_dim):
            raise ValueError(
                f"`z` must have shape (batch, {self.latent_dim}). Received: {tuple(z.shape)}"
            )
        logits = self.decoder(z, training=False)
        return logits if return_logits else self._mean_from_logits(logits)

    def reconstruct(self, x, sample=False):
        """Decodes the posterior mean (or, with ``sample=True``, a posterior sample) of ``x``."""
        return self(x, training=False) if not sample else self._reconstruct_sampled(x)

    def _reconstruct_sampled(self, x):
        mean, log_var = self.encode(x)
        return self.decode(self.sampling((mean, log_var)))

    def sample(self, num, seed=None, temperature=1.0):
        """Draws ``num`` images: ``z ~ N(0, temperature^2 I)``, decoded to means in [0, 1].

        Args:
            num: Number of images.
            seed: Integer seed; the same seed gives the same images.
            temperature: Multiplies the prior's standard deviation (1 = the model's prior).
        """
        num = check_positive_int("num", num)
        temperature = check_number("temperature", temperature, minimum=0.0)
        return self.decode(self.prior_noise(num, check_seed(seed)) * temperature)

    def prior_noise(self, num, seed=None):
        """``[num, latent_dim]`` draws from N(0, I).

        With an integer seed (Python or tensor) the draw is stateless: the same seed gives
        the same latents here and in the exported ``sample`` signature.
        """
        if seed is None:
            return keras.random.normal((num, self.latent_dim), dtype=self.compute_dtype)
        seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
        shape = tf.stack([tf.cast(num, tf.int32), self.latent_dim])
        return tf.random.stateless_normal(shape, seed=seed, dtype=self.compute_dtype)

    # ------------------------------------------------------------------ export
    def serving_endpoints(self):
        """Serving signatures: ``{name: (function, input_signature)}``, the default first.

        Images are float32 NHWC in [0, 1] with a free batch dimension; a value outside
        [0, 1] fails with a message naming the range.
        """
        images = tf.TensorSpec((None, *self.image_shape), tf.float32, name="x")
        latents = tf.TensorSpec((None, self.latent_dim), tf.float32, name="z")
        num = tf.TensorSpec((), tf.int32, name="num")
        seed = tf.TensorSpec((), tf.int32, name="seed")

        def reconstruct(x):
            return {"x_mean": self(serving_images(x, self.image_shape), training=False)}

        def encode(x):
            mean, log_var = self.encoder(serving_images(x, self.image_shape), training=False)
            return {"mean": mean, "log_var": log_var}

        def decode(z):
            logits = self.decoder(check_served_shape(z, (self.latent_dim,), "z"), training=False)
            out = {"x_mean": self._mean_from_logits(logits)}
            if self.likelihood == "bernoulli":
                out["logits"] = logits
            return out

        def sample(num, seed):
            num = after_checks(num, [tf.debugging.assert_non_negative(num, message="`num` must be >= 0")])
            return {"x_mean": self.decode(self.prior_noise(num, seed))}

        return {
            "reconstruct": (reconstruct, [images]),
            "encode": (encode, [images]),
            "decode": (decode, [latents]),
            "sample": (sample, [num, seed]),
        }

    def export_metadata(self):
        return {**super().export_metadata(), "latent_shape": [self.latent_dim]}

    def kl_per_dimension(self, x):
        """Mean KL per latent dimension over the batch ``x``, shape ``[latent_dim]`` (nats)."""
        mean, log_var = self.encode(x)
        return tf.reduce_mean(losses.gaussian_kl_per_dim(mean, log_var), axis=0)

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        config = {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "architecture": self.architecture,
            "hidden_units": self.hidden_units,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dense_units": self.dense_units,
            "free_bits": self.free_bits,
        }
        if self.has_kl_weighting:
            config.update(
                {
                    "beta": schedules.serialize(self.beta),
                    "capacity_max": self.capacity_max,
                    "capacity_steps": self.capacity_steps,
                    "gamma": self.gamma,
                }
            )
        return config

    tuple_config_keys = ("input_shape", "hidden_units", "filters", "dense_units")
