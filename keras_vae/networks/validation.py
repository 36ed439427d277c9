"""Argument checks shared by the network builders and the models."""


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


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


def check_int_tuple(name, values, allow_empty=True):
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
