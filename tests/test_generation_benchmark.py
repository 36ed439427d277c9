"""benchmarks/generation_mnist.py's VQ rows: the models they name are the ones they build."""

import os
import sys

from keras_vae.models.registry import model_class

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import generation_mnist  # noqa: E402


def test_each_vq_row_builds_the_grids_its_name_says():
    grids = {}
    for key, (name, kind, kwargs) in generation_mnist.VQ_MODELS.items():
        model = model_class(kind)[0](input_shape=(28, 28, 1), **kwargs)
        grids[key] = (getattr(model, "top_shape", None), getattr(model, "bottom_shape", None))
        assert model.kind == kind, name
    assert grids["vqvae2"] == ((3, 3), (7, 7))
    # The VQ-VAE-2 a level up: its top grid is the VQ-VAE's 7x7, its bottom grid 14x14.
    assert grids["vqvae2_14"] == ((7, 7), (14, 14))
    assert "14×14 bottom, 7×7 top" in generation_mnist.VQ_MODELS["vqvae2_14"][0]
