"""What every serving signature and public method checks before a network sees its input:
shapes, value ranges, class labels and index ranges, each failing with a message that names
the problem (eagerly a ``ValueError``, in a graph an assertion that runs before the network).
"""

import numpy as np
import tensorflow as tf

from keras_vae.validation import after_checks
from keras_vae.validation import check_finite
from keras_vae.validation import check_index_range


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
    check = tf.debugging.Assert(ok, [f"`{name}` must have shape [batch, {expected}]; received",
                                     shape])
    return after_checks(tensor, [check])


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


def check_conditions(conditions, width, owner, dtype="float32"):
    """Returns float condition vectors ``[batch, width]`` cast to ``dtype``; missing,
    integer, wrongly shaped or non-finite conditions raise an error naming the problem
    (eagerly a ValueError, in a graph an assertion).

    Args:
        conditions: Condition vectors, ``[batch, width]``.
        width: Their width (the model's ``condition_dim``).
        owner: Name of the model asking, for the messages.
        dtype: The dtype returned (the model's compute dtype).
    """
    if conditions is None:
        raise ValueError(
            f"{owner} needs conditions: train on (x, condition) batches and pass condition "
            f"vectors [batch, {width}] to encode/decode/sample."
        )
    c = conditions if tf.is_tensor(conditions) else tf.convert_to_tensor(np.asarray(conditions))
    if c.dtype.is_integer or c.dtype == tf.bool:
        raise ValueError(
            f"{owner} takes float condition vectors [batch, {width}] (condition_dim={width}); "
            f"received dtype {c.dtype.name}. Class labels go to a model with num_classes; "
            "cast multi-hot attributes to float32."
        )
    if c.shape.rank != 2 or (c.shape[1] is not None and c.shape[1] != width):
        raise ValueError(f"Conditions must have shape (batch, {width}); received "
                         f"{tuple(c.shape)}.")
    c = tf.cast(c, tf.float32)
    if not tf.executing_eagerly():
        c = check_served_shape(c, (width,), "condition")
    c = check_finite(c, "Conditions must be finite; received NaN or infinite values")
    return tf.cast(c, dtype)


def samples_title(title, sampler):
    """The title of a run's 64-sample picture: drawn from the prior, or from the ex-post
    sampler named ``sampler`` (a class name, as the export metadata holds it)."""
    source = "the prior" if sampler is None else f"the fitted {sampler} sampler"
    return f"{title}: 64 samples from {source}"
