"""Step-driven, serializable schedules for β (KL weight) and the capacity C(t).

A schedule maps the training step (a tensor; the models pass ``optimizer.iterations``, which
is saved with the model and restored on resume) to a float32 value. Schedules are plain
serializable objects, so a model that holds one round-trips through ``get_config`` and
``.keras`` files, and a resumed run continues from where it stopped.

Example:

>>> import keras_vae as kv
>>> warmup = kv.schedules.LinearWarmup(start=0.0, end=1.0, steps=1000)
>>> float(warmup(500))
0.5
"""

import keras
import tensorflow as tf

from keras_vae.validation import check_int
from keras_vae.validation import check_number


class Schedule:
    """Base class: a function of the training step returning a float32 scalar tensor."""

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step).")

    def get_config(self):
        return {}

    def lowest(self):
        """The smallest value the schedule takes (``None`` when unknown), for range checks."""
        config = self.get_config()
        values = [config[k] for k in ("value", "start", "end") if k in config]
        return min(values) if values else None

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


@keras.saving.register_keras_serializable(package="keras_vae")
class Constant(Schedule):
    """The same value at every step."""

    def __init__(self, value):
        self.value = check_number("value", value)

    def __call__(self, step):
        del step
        return tf.constant(self.value, tf.float32)

    def get_config(self):
        return {"value": self.value}


@keras.saving.register_keras_serializable(package="keras_vae")
class LinearWarmup(Schedule):
    """Holds ``start`` for ``delay`` steps, then moves linearly to ``end`` over ``steps``.

    KL annealing (Bowman et al. 2016) is ``LinearWarmup(0.0, 1.0, steps)``; the capacity of
    Burgess et al. (2018) is ``LinearWarmup(0.0, C_max, N)``.

    Args:
        start: Value at step 0 (and during the delay).
        end: Value from step ``delay + steps`` on.
        steps: Length of the linear ramp, in training steps (>= 1).
        delay: Steps to hold ``start`` before the ramp begins (>= 0).
    """

    def __init__(self, start=0.0, end=1.0, steps=10_000, delay=0):
        self.start = check_number("start", start)
        self.end = check_number("end", end)
        self.steps = check_int("steps", steps, minimum=1)
        self.delay = check_int("delay", delay, minimum=0)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        frac = tf.clip_by_value((step - self.delay) / float(self.steps), 0.0, 1.0)
        return self.start + (self.end - self.start) * frac

    def get_config(self):
        return {"start": self.start, "end": self.end, "steps": self.steps, "delay": self.delay}


@keras.saving.register_keras_serializable(package="keras_vae")
class Cyclical(Schedule):
    """Cyclical annealing (Fu et al. 2019): repeated linear ramps from ``start`` to ``end``.

    Each cycle lasts ``period`` steps: the value rises linearly from ``start`` to ``end`` over
    the first ``ratio * period`` steps and stays at ``end`` for the rest of the cycle.

    Args:
        start: Value at the beginning of each cycle.
        end: Value reached after the ramp.
        period: Cycle length in steps (>= 1).
        ratio: Fraction of each cycle spent ramping, in ``(0, 1]``.
    """

    def __init__(self, start=0.0, end=1.0, period=10_000, ratio=0.5):
        self.start = check_number("start", start)
        self.end = check_number("end", end)
        self.period = check_int("period", period, minimum=1)
        self.ratio = check_number("ratio", ratio, minimum=0.0, exclusive=True)
        if self.ratio > 1.0:
            raise ValueError(f"`ratio` must be in (0, 1]. Received: ratio={ratio!r}")

    def __call__(self, step):
        step = tf.cast(step, tf.int64)
        position = tf.cast(tf.math.floormod(step, self.period), tf.float32)
        frac = tf.minimum(position / (self.ratio * self.period), 1.0)
        return self.start + (self.end - self.start) * frac

    def get_config(self):
        return {
            "start": self.start,
            "end": self.end,
            "period": self.period,
            "ratio": self.ratio,
        }


def get(identifier, name="schedule", minimum=None):
    """Turns a number, a schedule, or a serialized schedule dict into a :class:`Schedule`;
    with ``minimum``, its values must not go below it.

    Raises:
        ValueError: For anything else, naming what was received.
    """
    schedule = None
    if isinstance(identifier, Schedule):
        schedule = identifier
    elif isinstance(identifier, (int, float)) and not isinstance(identifier, bool):
        schedule = Constant(check_number(name, identifier, minimum))
    elif isinstance(identifier, dict):
        obj = keras.saving.deserialize_keras_object(identifier)
        if isinstance(obj, Schedule):
            schedule = obj
    if schedule is not None:
        low = schedule.lowest() if minimum is not None else None
        if low is not None and low < minimum:
            raise ValueError(f"`{name}` must be >= {minimum} at every step. Received: "
                             f"{name}={schedule!r}")
        return schedule
    raise ValueError(
        f"`{name}` must be a number or a keras_vae.schedules.Schedule. "
        f"Received: {name}={identifier!r}"
    )


def serialize(schedule):
    """Serializes a schedule to a plain dict (``get`` reverses it)."""
    return keras.saving.serialize_keras_object(schedule)
