"""The train and test steps shared by every model: per-example objective values in, one
optimizer update (or several, see :meth:`ObjectiveModel.gradient_step`) and metric trackers out.
Shaped like Keras's own TensorFlow trainer: ``training=True`` forward under a tape,
``optimizer.scale_loss`` before the gradients, trackers listed in ``metrics``; each replica's
loss is its share of the global-batch mean (:func:`keras_vae.distribute.global_mean`).
"""

import keras
import tensorflow as tf

from keras_vae import distribute
from keras_vae.models.execution import CompiledModel
from keras_vae.validation import check_finite_arrays


class ObjectiveModel(CompiledModel):
    """A ``keras.Model`` whose ``train_step``/``test_step`` minimize its own objective.

    Subclasses implement :meth:`unpack_inputs` (check a batch), :meth:`_objective`
    (per-example values keyed by metric name, ``"loss"`` among them) and
    :meth:`metric_names`, and create ``self.trackers`` (one ``keras.metrics.Mean`` per name)
    with :meth:`create_trackers`. Each replica's loss is its share of the global-batch mean
    (:func:`keras_vae.distribute.global_mean`).
    """

    #: The ``keras.Model`` arguments a model passes on; any other keyword is refused.
    keras_arguments = ("name", "dtype", "trainable")

    def __init__(self, **kwargs):
        unknown = sorted(set(kwargs) - set(self.keras_arguments))
        if unknown:
            raise ValueError(self._unknown_arguments_message(unknown, kwargs))
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

    def fit(self, *args, **kwargs):
        """``keras.Model.fit``; NumPy data holding NaN or infinite values is refused before
        training starts (a dataset's batches are checked in the step)."""
        check_finite_arrays(args[0] if args else kwargs.get("x"), "x")
        check_finite_arrays(kwargs.get("validation_data"), "validation_data")
        return super().fit(*args, **kwargs)

    def _unknown_arguments_message(self, unknown, kwargs):
        from keras_vae.models.registry import MODEL_KINDS
        from keras_vae.models.registry import constructor_defaults

        name = type(self).__name__
        takers = sorted({cls.__name__ for cls, _ in MODEL_KINDS.values()
                         if set(unknown) <= set(constructor_defaults(cls))})
        received = ", ".join(f"{k}={kwargs[k]!r}" for k in unknown)
        hint = f" {', '.join(takers)} take{'s' if len(takers) == 1 else ''} them." if takers \
            else ""
        return f"{name} has no argument {', '.join(unknown)}. Received: {received}.{hint}"

    def base_config(self):
        """The Keras Model arguments every config carries: name and dtype policy."""
        return {"name": self.name, "dtype": keras.dtype_policies.serialize(self.dtype_policy)}

    @classmethod
    def construct(cls, config):
        """``cls(**config)`` under the dtype policy the config names, so every layer of a
        reloaded mixed-precision model computes as it did when saved."""
        if config.get("dtype") is None:
            return cls.build_from_config_values(config)
        previous = keras.mixed_precision.dtype_policy()
        keras.mixed_precision.set_dtype_policy(keras.dtype_policies.get(config["dtype"]))
        try:
            return cls.build_from_config_values(config)
        finally:
            keras.mixed_precision.set_dtype_policy(previous)

    @classmethod
    def build_from_config_values(cls, config):
        """``cls(**config)``; a subclass with nested objects in its config deserializes them
        here, under the policy :meth:`construct` set."""
        return cls(**config)

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

    def optimizer_steps(self):
        """``[(optimizer, variables), ...]``: every optimizer a training step applies, with the
        variables it updates. One entry (``self.optimizer`` over :meth:`training_variables`)
        unless a variant trains parts of itself apart (an adversary, say); each optimizer is
        built for its variables before the first step and when a model is reloaded."""
        return [(self.optimizer, self.training_variables())]

    def build_optimizers(self):
        """Builds every optimizer of :meth:`optimizer_steps` that is not built yet."""
        for optimizer, variables in self.optimizer_steps():
            if optimizer is not None and not optimizer.built:
                optimizer.build(variables)

    def unpack_inputs(self, data):
        """Checks a batch from ``fit``/``evaluate`` and returns what ``_objective`` takes."""
        raise NotImplementedError

    def split_step(self, kind):
        # Both steps are `core(unpack_inputs(data))` unless a subclass wrote its own.
        own = {"train": (ObjectiveModel.train_step, self._train_on),
               "test": (ObjectiveModel.test_step, self._test_on)}
        step, core = own[kind]
        return (self.unpack_inputs, core, self._tracker_results) \
            if getattr(type(self), f"{kind}_step") is step else None

    def train_step(self, data):
        return self._core(self._train_on)(self.unpack_inputs(data))

    def _train_on(self, inputs):
        return self._update_trackers(self.gradient_step(inputs))

    def gradient_step(self, inputs):
        """One training update; returns the per-example values the trackers take.

        By default the objective's ``"loss"`` is minimized by ``self.optimizer``. A variant
        with several optimizers overrides this method alone, with :meth:`minimize_all` (one
        forward pass, each optimizer on its own loss and variables; FactorVAE, the
        adversarial autoencoder) or :meth:`minimize` once per optimizer, and lists them in
        :meth:`optimizer_steps`.
        """
        return self.minimize(lambda: self._objective(inputs, training=True), self.optimizer,
                             self.training_variables())

    def minimize(self, objective, optimizer, variables, key="loss"):
        """Runs ``objective()`` (a dict of per-example values) under a tape and applies
        ``optimizer`` to ``variables`` for the mean of ``values[key]``; returns the values.

        The loss is this replica's share of the global-batch mean: summed across replicas
        by the optimizer, it is the mean over the global batch, however unevenly it is
        split. ``optimizer.scale_loss`` applies float16 loss scaling.
        """
        return self.minimize_all(objective, [(optimizer, variables, key)])

    def minimize_all(self, objective, updates):
        """As :meth:`minimize` for several losses of one forward pass: ``updates`` is
        ``[(optimizer, variables, key), ...]`` and each optimizer applies the gradient of the
        mean of ``values[key]`` to its variables. The updates are simultaneous (every gradient
        is taken before any variable changes), as two optimizers of one graph step would be:
        an adversary and the model it judges both see the same batch and the same weights."""
        with tf.GradientTape(persistent=len(updates) > 1) as tape:
            values = objective()
            scaled = [optimizer.scale_loss(distribute.global_mean(values[key]))
                      for optimizer, _, key in updates]
        grads = [tape.gradient(loss, variables)
                 for loss, (_, variables, _) in zip(scaled, updates)]
        for (optimizer, variables, _), gradients in zip(updates, grads):
            optimizer.apply_gradients(zip(gradients, variables))
        return values

    def test_step(self, data):
        return self._core(self._test_on)(self.unpack_inputs(data))

    def _test_on(self, inputs):
        return self._update_trackers(self._objective(inputs, training=False))

    def _update_trackers(self, values):
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return self._tracker_results()

    def _tracker_results(self):
        """The step's logs: every tracker's result so far."""
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if distribute.num_workers(tf.distribute.get_strategy()) > 1:
            # Keras averages each step's outputs across workers over axis 0, which fails on
            # scalars: give them that axis. (Epoch logs read the trackers, aggregated over
            # every replica, either way.)
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results


