"""benchmarks/mnist_likelihood.py: every row builds, on every network, the model it names."""

import os
import sys

import numpy as np
import pytest

from keras_vae.models.registry import model_class

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import mnist_likelihood  # noqa: E402


@pytest.mark.parametrize("network", sorted(mnist_likelihood.NETWORKS))
def test_every_row_builds_its_model_on_the_network(network):
    latent = mnist_likelihood.NETWORKS[network]["latent_dim"]
    x = np.zeros((2, 28, 28, 1), np.float32)
    for row in mnist_likelihood.ROWS:
        kind, kwargs = mnist_likelihood.row_arguments(network, row)
        model = model_class(kind)[0](input_shape=(28, 28, 1), **kwargs)
        assert model.kind == kind, row
        assert model.architecture == mnist_likelihood.NETWORKS[network]["architecture"], row
        # The ladder's bottom layer has the network's latent size, its top layer half.
        expected = (latent, latent // 2) if kind == "hvae" else None
        assert getattr(model, "latent_dims", None) == expected, row
        assert model.encode(x)[0].shape == (2, sum(expected or (latent,))), row
        assert row in mnist_likelihood.PUBLISHED, row


def test_the_conv_network_halves_mnist_twice():
    model = model_class("vae")[0](input_shape=(28, 28, 1),
                                   **mnist_likelihood.row_arguments("conv", "vae")[1])
    convs = [layer for layer in model.encoder.layers if "conv" in type(layer).__name__.lower()]
    assert [layer.output.shape[1:3] for layer in convs] == [(14, 14), (7, 7)]
