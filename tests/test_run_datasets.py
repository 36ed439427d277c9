"""The data of a `keras-vae train` run (`keras_vae.training.datasets`)."""

import numpy as np

from keras_vae import training
from tests.runs import write_binary_npz


def test_validation_is_cut_to_its_steps_and_repeats_itself(tmp_path):
    # Keras starts a new iterator over the validation data each epoch; a longer dataset
    # would leave the last one prefetching (rendering shapes) while the next epoch trains.
    _, val_ds, _, steps, val_steps = training.datasets("shapes", False, 8, None, 0)
    assert (steps, val_steps) == (training.SHAPES_STEPS_PER_EPOCH,
                                  training.SHAPES_VALIDATION_STEPS)
    assert int(val_ds.cardinality()) == val_steps
    _, val_ds, *_ = training.datasets("shapes", False, 8, None, 0, validation_steps=3)
    first, second = list(val_ds.as_numpy_iterator()), list(val_ds.as_numpy_iterator())
    assert len(first) == 3
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    path = write_binary_npz(str(tmp_path / "data.npz"), num_train=32, num_test=64)
    assert int(training.datasets(path, False, 8, None, 0)[1].cardinality()) == 8  # all of it
    assert int(training.datasets(path, False, 8, None, 0, validation_steps=2)[1]
               .cardinality()) == 2
