"""Distribution strategies: picking one, and the replica arithmetic the models rely on.

:func:`get_strategy` resolves a name (``"auto"``, ``"mirrored"``, ``"multi_worker"``,
``"tpu"``, ``"default"``) to a ``tf.distribute`` strategy; build and compile a model inside
its ``scope()`` and ``fit`` distributes the data and the steps.

The models are written so that a step on N replicas equals a step on one device over the
same global batch:

* the loss is summed over a replica's examples and divided by the number of examples in the
  global batch (:func:`global_mean`), so uneven splits (a last partial batch) weigh every
  example alike;
* statistics behind state updates (EMA codebook counts and sums) are summed across replicas
  (:func:`all_reduce_sum`), and random picks among the examples index the global batch
  (:func:`gather_global`), so every replica holds the same state as one device would;
* the reparameterization noise of example i of a global batch does not depend on how the batch
  is split (:func:`replica_rows`);
* objectives built on statistics of the whole batch (the total-correlation estimators, the
  aggregate posterior's covariance, a permutation of the batch) see every replica's examples
  (:func:`gather_all`): computed on each replica from the same gathered batch, they are the
  one-device values, and their gradients reach the replica that owns each example.
"""

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


# ---------------------------------------------------------------------------- resolution
def get_strategy(name="auto"):
    """Returns a ``tf.distribute.Strategy``.

    Args:
        name: One of :data:`STRATEGIES`:

            * ``"auto"``: a TPU when one is configured (``TPU_NAME`` is set, or this host has
              TPU devices), else ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` describes
              a cluster of more than one task, else ``MirroredStrategy`` with two or more
              GPUs, else the default (single-device) strategy.
            * ``"default"``: the default strategy (no distribution).
            * ``"mirrored"``: ``MirroredStrategy`` over all GPUs; without GPUs, over all
              logical CPU devices (one CPU unless logical devices were configured).
            * ``"multi_worker"``: ``MultiWorkerMirroredStrategy``; the cluster comes from
              ``TF_CONFIG`` (without it, a cluster of this one worker). TensorFlow requires it
              to be created before the process runs any TensorFlow op.
            * ``"tpu"``: ``TPUStrategy`` on the TPU named by ``TPU_NAME`` (or the local one).

    Raises:
        ValueError: For an unknown name, a ``TF_CONFIG`` that is not a valid cluster
            description, or ``"tpu"`` when no TPU is configured.
    """
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}. Received: {name!r}")
    if name == "auto":
        name = _auto()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        tf_config()  # fails early, with a message, on a malformed TF_CONFIG
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy()


def _auto():
    if _tpu_configured():
        return "tpu"
    if num_tasks() > 1:
        return "multi_worker"
    # Physical devices: listing logical ones starts the runtime, after which a multi-worker
    # strategy can no longer be created in this process.
    if len(tf.config.list_physical_devices("GPU")) >= 2:
        return "mirrored"
    return "default"


def _tpu_configured():
    # The TPU resolver contacts a metadata server when nothing names a TPU, which hangs on a
    # machine without network: ask it only when a TPU is configured.
    return bool(os.environ.get("TPU_NAME")) or bool(tf.config.list_physical_devices("TPU"))


def _tpu_strategy():
    if not _tpu_configured():
        raise ValueError(
            "strategy 'tpu' needs a TPU: set TPU_NAME to its name or address, or run on a "
            "TPU host. No TPU is configured here."
        )
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=os.environ.get("TPU_NAME", ""))
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def tf_config():
    """The parsed ``TF_CONFIG`` (``{}`` when unset).

    Raises:
        ValueError: If it is not JSON, or lacks ``cluster`` / ``task`` entries that name each
            other.
    """
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}): {text[:200]!r}") from None
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError('TF_CONFIG needs a "cluster" mapping job names to lists of '
                         f'"host:port" addresses; received {text[:200]!r}')
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ValueError('TF_CONFIG needs a "task" with a "type" among the cluster\'s jobs '
                         f'({sorted(cluster)}) and an "index"; received {text[:200]!r}')
    index = task.get("index", 0)
    if not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise ValueError(f"TF_CONFIG task index {index!r} is outside the "
                         f"{len(cluster[task['type']])} {task['type']!r} addresses.")
    return config


def num_tasks():
    """Number of tasks (workers and chief) in the ``TF_CONFIG`` cluster (1 without one)."""
    cluster = tf_config().get("cluster", {})
    return sum(len(cluster.get(job, [])) for job in ("chief", "worker")) or 1


def num_workers(strategy):
    """Number of worker processes ``strategy`` spans (1 unless it is multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type is None:
        return 1
    jobs = resolver.cluster_spec().as_dict()
    return sum(len(jobs.get(job, [])) for job in ("chief", "worker")) or 1


def is_chief(strategy=None):
    """Whether this process writes the run's files: true unless a multi-worker strategy
    (``strategy``, or ``TF_CONFIG`` when none is given) makes it a non-chief worker.

    The chief is the ``chief`` task, or worker 0 in a cluster without one (as in Keras and
    TensorFlow).
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is not None and resolver.task_type is not None:
        task_type, task_id = resolver.task_type, resolver.task_id
        jobs = resolver.cluster_spec().jobs
    else:
        config = tf_config()
        if not config:
            return True
        task_type, task_id = config["task"]["type"], config["task"].get("index", 0)
        jobs = list(config["cluster"])
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in jobs


def worker_name(strategy=None):
    """``"<task type>-<index>"`` of this process in a multi-worker cluster (``"chief-0"``
    outside one)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is not None and resolver.task_type is not None:
        return f"{resolver.task_type}-{resolver.task_id}"
    config = tf_config()
    if not config:
        return "chief-0"
    return f"{config['task']['type']}-{config['task'].get('index', 0)}"


# ---------------------------------------------------------------------------- replica math
def _replica_context():
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def all_reduce_sum(value):
    """Sums ``value`` across replicas in a replica context; unchanged elsewhere."""
    context = _replica_context()
    if context is None:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def global_mean(per_example):
    """This replica's share of the mean over the global batch: ``sum(per_example) / N`` with
    N the number of examples on all replicas (the plain mean outside a strategy). Summed
    across replicas, as optimizers do with gradients, it is the global-batch mean, also when
    replicas hold different numbers of examples."""
    context = _replica_context()
    if context is None:
        return tf.reduce_mean(per_example)
    count = tf.cast(tf.shape(per_example)[0], per_example.dtype)
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
    return tf.reduce_sum(per_example) / tf.maximum(total, 1.0)


def _offset_and_sizes(context, local):
    """This replica's first row in the concatenation of every replica's rows, and the
    per-replica row counts (``local`` is this replica's ``[count]``)."""
    sizes = context.all_gather(local, axis=0)
    return tf.reduce_sum(sizes[: context.replica_id_in_sync_group]), sizes


def global_size(values):
    """Rows of ``values`` summed over replicas (``tf.shape(values)[0]`` outside a strategy)."""
    return all_reduce_sum(tf.shape(values)[0])


def gather_global(values, rows):
    """``values[rows]`` where ``rows`` index the rows of every replica's ``values`` concatenated
    in replica order (the global batch), on every replica. ``rows`` must be the same on every
    replica (a stateless draw). Only the chosen rows travel between replicas."""
    context = _replica_context()
    if context is None:
        return tf.gather(values, rows)
    local = tf.shape(values)[:1]
    offset, _ = _offset_and_sizes(context, local)
    mine = tf.logical_and(rows >= offset, rows < offset + local[0])
    picked = tf.gather(values, tf.clip_by_value(rows - offset, 0, tf.maximum(local[0] - 1, 0)))
    picked = tf.where(tf.reshape(mine, [-1] + [1] * (values.shape.rank - 1)), picked,
                      tf.zeros_like(picked))
    return context.all_reduce(tf.distribute.ReduceOp.SUM, picked)


def gather_all(values):
    """``(global, offset)``: every replica's ``values`` concatenated in replica order (the
    global batch) and the row where this replica's own rows start in it. Outside a strategy
    ``(values, 0)``.

    Differentiable: the gradient of a replica's loss with respect to the gathered rows flows
    back to the replicas that own them, so a batch statistic computed from ``global`` on each
    replica and weighted by that replica's share of the global batch (:func:`global_mean` of
    a per-example broadcast) trains as it would on one device."""
    context = _replica_context()
    if context is None:
        return values, tf.constant(0, tf.int32)
    offset, _ = _offset_and_sizes(context, tf.shape(values)[:1])
    return context.all_gather(values, axis=0), offset


def replica_rows(draw, local_shape):
    """Rows of a global-batch draw that belong to this replica's examples.

    ``draw(shape)`` must return the same tensor on every replica for the same shape (for
    example a stateless draw from a seed state every replica shares). Outside a strategy this
    is ``draw(local_shape)``; on N replicas each replica draws ``[global batch, ...]`` and
    keeps its own rows, so row i of the global batch is the same however the batch is split.
    """
    context = _replica_context()
    if context is None:
        return draw(local_shape)
    local_shape = tf.convert_to_tensor(local_shape, tf.int32)
    offset, sizes = _offset_and_sizes(context, local_shape[:1])
    values = draw(tf.concat([tf.reduce_sum(sizes, keepdims=True), local_shape[1:]], 0))
    begin = tf.concat([[offset], tf.zeros_like(local_shape[1:])], 0)
    return tf.slice(values, begin, local_shape)
