"""How a model's steps run: the ``jit_compile`` and ``steps_per_execution`` policies (both
``"auto"`` by default) and the graph/XLA split that keeps input checks alive under XLA.

This is the one module that touches private Keras and TensorFlow APIs; each touch is listed
in :data:`PRIVATE_APIS`; ``tests/test_composable.py`` fails the day one of them changes,
and ``.ci/oldest`` runs it with the oldest Keras and TensorFlow that setup.cfg allows.
"""

import inspect

import keras
import numpy as np
import tensorflow as tf

#: Every private Keras / TensorFlow name this module relies on, with what it is used for.
PRIVATE_APIS = {
    "keras.Model._compile_config": "keeps steps_per_execution='auto' in the saved compile "
                                   "config, so a reloaded model resolves it again",
    "keras.Model._flatten_layers": "lists every nested layer for the XLA decision",
    "keras.Model._maybe_symbolic_build": "overridden: Keras's symbolic build from an averaged "
                                         "first batch fails on uneven replica splits",
    "keras.Model.evaluate(_use_cached_eval_dataset)": "tells fit's own validation apart",
    "tensorflow.python.framework.config.is_op_determinism_enabled": "XLA stays off when op "
                                                                    "determinism is on",
}


def op_determinism_enabled():
    """Whether ``tf.config.experimental.enable_op_determinism`` is in force (no public
    getter exists)."""
    from tensorflow.python.framework.config import is_op_determinism_enabled

    return is_op_determinism_enabled()


#: Layers that make XLA slower than the graph step on CPU (see ``CompiledModel.compile``).
_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                 keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                 keras.layers.Conv3DTranspose, keras.layers.DepthwiseConv2D,
                 keras.layers.SeparableConv2D)


#: The most steps ``steps_per_execution="auto"`` runs per call (see ``CompiledModel.compile``).
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


def _batches_in(data, batch_size):
    """How many batches one pass over ``data`` gives, where that is known without reading it:
    a dataset's cardinality, a ``PyDataset``'s ``num_batches``, or arrays (and structures of
    them) cut into ``batch_size`` rows (Keras's default 32); ``None`` otherwise (a generator,
    a dataset of unknown or infinite length)."""
    if isinstance(data, tf.data.Dataset):
        cardinality = int(data.cardinality())
        return cardinality if cardinality >= 0 else None
    if isinstance(data, keras.utils.PyDataset):
        return data.num_batches
    leaves = tf.nest.flatten(data) if data is not None else []
    rows = {int(leaf.shape[0]) for leaf in leaves
            if getattr(leaf, "shape", None) is not None and len(leaf.shape) > 0
            and leaf.shape[0] is not None}
    if len(rows) != 1:
        return None
    return -(-rows.pop() // (batch_size or 32))


def _ends_by(data, steps):
    """True when ``data`` is a dataset known to end within ``steps`` batches, so that a run of
    ``steps`` stops at its end rather than at a step count."""
    if not isinstance(data, tf.data.Dataset):
        return False
    length = _batches_in(data, None)
    return length is not None and length <= steps


class CompiledModel(keras.Model):
    """A ``keras.Model`` with this package's execution policy (see :meth:`compile`).

    A subclass provides ``build_optimizers()`` (build every optimizer for the variables it
    updates; :class:`~keras_vae.models.trainer.ObjectiveModel` does) and may route its step
    through :meth:`_core`, the part XLA compiles.
    """

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
        repeated data Keras would otherwise run past them), and 1 when the run is known to
        be shorter than one such chunk (fewer batches than that per epoch or evaluation),
        where compiling the chunk's loop costs more than it saves. It is used with the XLA step
        (``jit_compile``), where per-step Python work is a large share: on this 2-core CPU
        the 784-400-20 VAE trains about 1.2x faster at batch 128
        (``benchmarks/throughput.py``); the steps of a call run as one XLA program (see
        :meth:`_chunk_function`). With the graph step (conv models), eagerly and under
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
            (bound.get("steps_per_epoch"), bound.get("x"), bound.get("batch_size")),
            (bound.get("validation_steps"), bound.get("validation_data"), None))
        return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        if not kwargs.get("_use_cached_eval_dataset"):  # validation inside `fit` keeps fit's
            bound = _bind(keras.Model.evaluate, self, args, kwargs)
            self._resolve_steps_per_execution(
                (bound.get("steps"), bound.get("x"), bound.get("batch_size")))
        return super().evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs):
        bound = _bind(keras.Model.predict, self, args, kwargs)
        self._resolve_steps_per_execution(
            (bound.get("steps"), bound.get("x"), bound.get("batch_size")))
        return super().predict(*args, **kwargs)

    def _resolve_steps_per_execution(self, run, *others):
        """Sets ``steps_per_execution`` for a ``fit``/``evaluate``/``predict`` call when
        compiled with ``"auto"`` (see :meth:`compile`); the compiled functions are rebuilt if
        it changes. ``run`` is the call's ``(steps, data, batch_size)``, ``others`` the same
        for its validation."""
        if not getattr(self, "auto_steps_per_execution", False):
            return
        limit = AUTO_STEPS_PER_EXECUTION if self._xla_core() else 1
        steps, data, batch_size = run
        length = steps if steps is not None else _batches_in(data, batch_size)
        if length is not None and length < AUTO_STEPS_PER_EXECUTION:
            limit = 1  # an epoch shorter than a chunk: compiling the chunk costs more than it saves
        counts = [steps for steps, data, _ in (run, *others)
                  if steps is not None and not _ends_by(data, steps)]
        steps_per_execution = max(d for d in range(1, limit + 1)
                                  if all(steps % d == 0 for steps in counts))
        if steps_per_execution != self.steps_per_execution:
            self.steps_per_execution = steps_per_execution
            self.train_function = self.test_function = self.predict_function = None

    def default_jit_compile(self):
        """What ``jit_compile="auto"`` resolves to on this machine (see :meth:`compile`)."""
        if self._distributed():
            return False
        if op_determinism_enabled():
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
            self.build_optimizers()

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
        if getattr(self, "optimizer", None) is not None:
            self.build_optimizers()
        return self._step_function("train", super().make_train_function, force)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy Keras builds the model symbolically from the first batch averaged
        # across replicas, which fails when that batch splits unevenly (15 examples on 2
        # replicas). Every variable here exists from the constructor; only the optimizer's
        # need building, in the model's strategy.
        if getattr(self, "optimizer", None) is not None:
            with self.distribute_strategy.scope():
                self.build_optimizers()

    def make_test_function(self, force=False):
        return self._step_function("test", super().make_test_function, force)

    def make_predict_function(self, force=False):
        return self._graph_around_core(super().make_predict_function, force)

    def split_step(self, kind):
        """``(check, core, logs)`` when this model's ``kind`` step (``"train"`` or ``"test"``)
        is ``core(check(data))``: ``check`` takes a batch as the dataset yields it and runs in
        the graph (input checks), ``core`` takes what ``check`` returns and does the work
        (its return value is the step's logs), and ``logs()`` gives the same logs read from
        the model's state after any number of ``core`` calls. ``None`` (this default) for a
        step of another shape; then every step is one call into the compiled core, as in
        Keras."""
        return None

    def _step_function(self, kind, make, force):
        """The ``kind`` function ``fit``/``evaluate`` call: Keras's (``make``), or, for a
        split step under XLA with several steps per execution, :meth:`_chunk_function`."""
        attribute = f"{kind}_function"
        if not (self._xla_core() and self.steps_per_execution > 1
                and self.split_step(kind) is not None):
            return self._graph_around_core(make, force)
        if getattr(self, attribute) is None or force:
            setattr(self, attribute, self._chunk_function(kind))
        return getattr(self, attribute)

    def _chunk_function(self, kind):
        """Runs up to ``steps_per_execution`` steps per call with one XLA launch.

        Keras's multi-step loop calls the compiled core once per step, and each call
        passes every variable (weights, optimizer slots, metric states) into and out of
        XLA: on the 784-400-20 VAE at batch 128 that costs about a quarter of the step.
        Here the graph takes the chunk's batches from the iterator and checks each one
        (``check``), then one XLA program runs ``core`` over all of them in a loop. A chunk
        cut short by the end of the data runs the same program over its batches alone; a
        chunk whose batches differ in shape (a last, smaller batch) runs that program once
        per step instead, so no batch is dropped or padded into the objective. The model's
        step is traced once: the program takes batches of any size, and the logs are read
        (``logs()``) after it.
        Returns the last step's logs; raises ``StopIteration`` when the data has ended.
        """
        check, core, logs = self.split_step(kind)
        steps = self.steps_per_execution

        def many(stacked, count):
            def body(i):
                outputs = core(tf.nest.map_structure(
                    lambda t: None if t is None else t[i], stacked))
                with tf.control_dependencies(tf.nest.flatten(outputs)):
                    return i + 1

            return tf.while_loop(lambda i: i < count, body, [tf.constant(0)])[0]

        many = tf.function(many, jit_compile=True, autograph=False)

        def chunk(iterator):
            checked = tf.function(check, autograph=False).get_concrete_function(
                iterator.element_spec).structured_outputs
            flat = tf.nest.flatten(checked)
            present = [k for k, t in enumerate(flat) if t is not None]  # the tensors of a batch
            program = many.get_concrete_function(
                tf.nest.map_structure(
                    lambda t: None if t is None else tf.TensorSpec([None, *t.shape], t.dtype),
                    checked),
                tf.TensorSpec([], tf.int32))

            def shape_of(values):
                return tf.concat([tf.shape(v) for v in values], axis=0)

            def gather(i, ended, same, first, arrays):
                batch = iterator.get_next_as_optional()

                def take():
                    values = tf.nest.flatten(check(batch.get_value()))
                    values = [values[k] for k in present]
                    shape = shape_of(values)
                    new_first = tf.where(i == 0, shape, first)
                    return (i + 1, tf.constant(False),
                            tf.logical_and(same, tf.reduce_all(shape == new_first)), new_first,
                            [a.write(i, v) for a, v in zip(arrays, values)])

                return tf.cond(batch.has_value(), take,
                               lambda: (i, tf.constant(True), same, first, arrays))

            rank = sum(flat[k].shape.rank for k in present)
            arrays = [tf.TensorArray(flat[k].dtype, size=0, dynamic_size=True,
                                     infer_shape=False, element_shape=flat[k].shape)
                      for k in present]

            def pack(tensors):  # the batch's structure again, None where it had None
                full = [None] * len(flat)
                for k, tensor in zip(present, tensors):
                    full[k] = tensor
                return tf.nest.pack_sequence_as(checked, full)
            count, _, same, _, arrays = tf.while_loop(
                lambda i, ended, *_: tf.logical_and(i < steps, tf.logical_not(ended)), gather,
                (tf.constant(0), tf.constant(False), tf.constant(True),
                 tf.zeros([rank], tf.int32), arrays))

            def each():
                return tf.while_loop(
                    lambda j: j < count,
                    lambda j: [j + program(pack([a.read(j)[None] for a in arrays]),
                                           tf.constant(1))],
                    [tf.constant(0)])[0]

            def whole():
                # Padded to `steps` batches (repeating the last), so that a short chunk runs
                # the same XLA program as a full one; only its first `count` batches are used.
                def padded(array):
                    stacked = array.stack()
                    return tf.concat([stacked, tf.repeat(stacked[-1:], steps - count, 0)], 0)

                return program(pack([padded(a) for a in arrays]), count)

            done = tf.cond(tf.logical_and(count > 0, same), whole, each)
            with tf.control_dependencies([done]):
                return count, logs()

        chunk = tf.function(chunk, autograph=False, reduce_retracing=True)

        def function(iterator):
            count, step_logs = chunk(iterator)
            if int(count) == 0:
                raise StopIteration
            return step_logs

        return function

    def _core(self, function):
        """``function``, XLA-compiled when the step is split (see :meth:`compile`)."""
        if self._xla_core() and not tf.executing_eagerly():
            return tf.function(function, jit_compile=True, autograph=False)
        return function
