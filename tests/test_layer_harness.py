"""Every public layer through Keras's own layer harness (``run_layer_test``: config round
trip, symbolic and eager calls, a compiled training step, mixed precision). The harness lives
in ``keras.src.testing``, Keras's private test helpers: if it moves, this import fails."""

import numpy as np
import pytest
from keras.src.testing import test_case

import keras_vae as kv

PAIR = (np.zeros((2, 3), "float32"), np.ones((2, 3), "float32"))

CASES = {
    "Sampling": dict(layer_cls=kv.layers.Sampling, init_kwargs={"seed": 1}, input_data=PAIR,
                     expected_output_shape=(2, 3), expected_num_seed_generators=1),
    "PermuteDims": dict(layer_cls=kv.layers.PermuteDims, init_kwargs={"seed": 1},
                        input_shape=(4, 3), expected_output_shape=(4, 3),
                        expected_num_seed_generators=1),
    "LabelEncoding one-hot": dict(layer_cls=kv.layers.LabelEncoding,
                                  init_kwargs={"num_classes": 3},
                                  input_data=np.array([0, 2, 1]), expected_output_shape=(3, 3),
                                  expected_num_trainable_weights=0),
    "LabelEncoding embedding": dict(layer_cls=kv.layers.LabelEncoding,
                                    init_kwargs={"num_classes": 3, "mode": "embedding",
                                                 "embedding_dim": 4},
                                    input_data=np.array([0, 2, 1]),
                                    expected_output_shape=(3, 4),
                                    expected_num_trainable_weights=1),
    "MaskedConv2D": dict(layer_cls=kv.layers.MaskedConv2D,
                         init_kwargs={"mask_type": "A", "filters": 4, "kernel_size": 3,
                                      "padding": "same"},
                         input_shape=(2, 5, 5, 2), expected_output_shape=(2, 5, 5, 4)),
    "PolyphaseConv2D": dict(layer_cls=kv.layers.PolyphaseConv2D,
                            init_kwargs={"filters": 4, "kernel_size": 3, "strides": 2},
                            input_shape=(2, 7, 7, 2), expected_output_shape=(2, 3, 3, 4)),
    "PolyphaseConv2DTranspose": dict(layer_cls=kv.layers.PolyphaseConv2DTranspose,
                                     init_kwargs={"filters": 4, "kernel_size": 3, "strides": 2},
                                     input_shape=(2, 3, 3, 2), expected_output_shape=(2, 7, 7, 4)),
    # Per-example outputs only: the batch's perplexity and usage are metrics of the model.
    "VectorQuantizer": dict(layer_cls=kv.layers.VectorQuantizer,
                            init_kwargs={"num_embeddings": 4, "embedding_dim": 2},
                            input_shape=(2, 3, 3, 2),
                            expected_output_shape={"quantized": (2, 3, 3, 2), "codes": (2, 3, 3),
                                                   "codebook_loss": (2,),
                                                   "commitment_loss": (2,), "vq_loss": (2,)}),
    # Flows compute in float32 under any policy (the mixed-precision check sees float32 out).
    "Planar": dict(layer_cls=kv.flows.Planar, init_kwargs={"num_steps": 2, "seed": 0},
                   input_shape=(4, 3), expected_output_shape=((4, 3), (4,)),
                   expected_num_trainable_weights=3),
    "IAF": dict(layer_cls=kv.flows.IAF, init_kwargs={"num_steps": 2, "hidden_units": (8,)},
                input_shape=(4, 3), expected_output_shape=((4, 3), (4,)),
                expected_num_trainable_weights=8),
}


def test_every_public_layer_has_a_case():
    public = {name for name in kv.layers.__all__ if isinstance(getattr(kv.layers, name), type)}
    public |= {cls.__name__ for cls in kv.flows.FLOWS.values()}
    assert public == {case["layer_cls"].__name__ for case in CASES.values()}


@pytest.mark.parametrize("name", list(CASES))
def test_keras_layer_harness(name):
    test_case.TestCase(methodName="run_layer_test").run_layer_test(**CASES[name])
