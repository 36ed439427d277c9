"""Argument checks shared across the package: each raises ValueError naming what it received."""

import math

import numpy as np
import tensorflow as tf


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_number(name, value, minimum=None, exclusive=False):
    """Returns ``value`` as a float; it must be a finite real number (``>= minimum``, or ``>``
    when ``exclusive``)."""
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number. Received: {name}={value!r}")
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        relation = ">" if exclusive else ">="
        raise ValueError(f"`{name}` must be {relation} {minimum}. Received: {name}={value!r}")
    return float(value)


def check_int(name, value, minimum=None):
    """Returns ``value`` as an int; it must be a whole number ``>= minimum``."""
    if not _is_number(value) or not math.isfinite(value) or int(value) != value:
        raise ValueError(f"`{name}` must be an integer. Received: {name}={value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_seed(seed):
    """A seed is ``None`` or an integer."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"`seed` must be an integer or None. Received: seed={seed!r}")
    return seed


def check_image_shape(input_shape):
    """Returns ``input_shape`` as a ``(height, width, channels)`` tuple of positive ints."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape)
    ):
        raise ValueError(
            "`input_shape` must be (height, width, channels) with positive integers, e.g. "
            f"(28, 28, 1). Received: input_shape={input_shape!r}"
        )
    return shape


def check_data_shape(input_shape):
    """Returns the shape of one example as a tuple of positive ints: ``(H, W, C)`` images,
    ``(features,)`` rows, ``(steps, features)`` sequences."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        not shape
        or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape)
    ):
        raise ValueError(
            "`input_shape` must be the shape of one example, positive integers without the "
            "batch: (height, width, channels) for images, (features,) for rows, (steps, "
            f"features) for sequences. Received: input_shape={input_shape!r}"
        )
    return shape


def check_int_tuple(name, values, allow_empty=True):
    """Returns ``values`` as a tuple of positive ints."""
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(
            f"`{name}` must be a sequence of positive integers. Received: {name}={values!r}"
        ) from None
    if not values and not allow_empty:
        raise ValueError(f"`{name}` must not be empty. Received: {name}={values!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(
                f"`{name}` must be a sequence of positive integers. Received: {name}={values!r}"
            )
    return values


def from_spec(spec, classes, what, count):
    """An instance from the ``"name"`` or ``"name:number"`` form of the CLI (``--flow iaf:4``,
    ``--prior vamp:500``): ``classes[name](**{count: number})``, the class default without a
    number. ``what`` names the kind of thing in errors."""
    name, _, number = str(spec).partition(":")
    if name not in classes:
        raise ValueError(f"Unknown {what} {name!r} in {spec!r}: {what}s are "
                         f"{', '.join(classes)} (as name or name:{count}).")
    if not number:
        return classes[name]()
    try:
        value = int(number)
    except ValueError:
        raise ValueError(f"The {what}'s {count} must be an integer: {spec!r}") from None
    return classes[name](**{count: check_positive_int(count, value)})


# Tensor checks: eagerly a ValueError, in a graph an assertion that runs before the
# tensor is used.

def after_checks(tensor, checks):
    """``tensor``, made to depend on ``checks``: a graph runs stateless ops in any order, so
    without this the network could fail on a bad input before the check that names it."""
    with tf.control_dependencies([c for c in checks if c is not None]):
        return tf.identity(tensor)


def check_finite(tensor, message):
    """``tensor``, checked to hold only finite values: eagerly a ValueError with ``message``,
    in a graph an assertion with it (one reduction over the tensor)."""
    if tf.executing_eagerly():
        if not bool(tf.reduce_all(tf.math.is_finite(tensor))):
            raise ValueError(f"{message}.")
        return tensor
    check = tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(tensor)), [message])
    return after_checks(tensor, [check])


def check_index_range(indices, limit, message, low=0):
    """``indices`` (int32), checked to lie in ``[low, limit)``: eagerly a ValueError with
    ``message`` and the range received, in a graph an assertion with ``message``."""
    if tf.executing_eagerly():
        values = indices.numpy()
        if values.size and (values.min() < low or values.max() >= limit):
            raise ValueError(f"{message}; received values from {values.min()} to {values.max()}.")
        return indices
    above = tf.debugging.assert_greater_equal(indices, tf.constant(low, indices.dtype),
                                              message=message)
    below = tf.debugging.assert_less(indices, limit, message=message)
    return after_checks(indices, [above, below])


def check_finite_arrays(value, name):
    """Raises a ValueError naming ``name`` and the first bad position when a floating NumPy
    array in ``value`` (an array, or tuples / lists / dicts of them) holds NaN or infinite
    values; anything else (datasets, tensors) passes, its batches checked in the step."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_finite_arrays(item, f"{name}[{key!r}]")
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            check_finite_arrays(item, f"{name}[{i}]")
    elif isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        finite = np.isfinite(value)
        if not finite.all():
            where = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ValueError(f"`{name}` holds NaN or infinite values (the first at index "
                             f"{where}: {value[where]}).")
