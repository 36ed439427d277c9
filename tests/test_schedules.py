import keras
import numpy as np
import pytest

from keras_vae import schedules


def test_constant():
    assert float(schedules.Constant(3.5)(10_000)) == 3.5


def test_linear_warmup_values_at_given_steps():
    s = schedules.LinearWarmup(start=0.0, end=2.0, steps=100, delay=10)
    got = [float(s(step)) for step in (0, 10, 35, 60, 110, 10_000)]
    np.testing.assert_allclose(got, [0.0, 0.0, 0.5, 1.0, 2.0, 2.0], rtol=1e-6)


def test_cyclical_values_at_given_steps():
    s = schedules.Cyclical(start=0.0, end=1.0, period=100, ratio=0.5)
    got = [float(s(step)) for step in (0, 25, 50, 99, 100, 125, 250)]
    np.testing.assert_allclose(got, [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0], rtol=1e-6)


@pytest.mark.parametrize(
    "schedule",
    [schedules.Constant(2.0), schedules.LinearWarmup(0.0, 4.0, 50, 5),
     schedules.Cyclical(0.0, 1.0, 40, 0.25)],
)
def test_schedules_round_trip_through_keras_serialization(schedule):
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert revived == schedule
    assert schedules.get(schedules.serialize(schedule)) == schedule


def test_get_accepts_numbers_and_rejects_junk():
    assert schedules.get(3) == schedules.Constant(3.0)
    with pytest.raises(ValueError, match="beta"):
        schedules.get("four", name="beta")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: schedules.LinearWarmup(steps=0), "steps"),
        (lambda: schedules.LinearWarmup(delay=-1), "delay"),
        (lambda: schedules.Cyclical(ratio=0.0), "ratio"),
        (lambda: schedules.Constant("x"), "value"),
    ],
)
def test_invalid_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
