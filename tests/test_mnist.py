"""Real MNIST (../shared/data/mnist.npz): a few steps of the course network lower the loss."""

import keras
import numpy as np
import pytest

import keras_vae as kv


@pytest.mark.slow
def test_a_few_steps_on_real_mnist_lower_the_loss(mnist_path):
    train = kv.data.load(mnist_path, split="train", batch_size=128, binarize="dynamic", seed=0)
    test = kv.data.load(mnist_path, split="test", batch_size=500, binarize="dynamic", seed=1)
    model = kv.VAE(input_shape=(28, 28, 1), latent_dim=20, architecture="mlp",
                   hidden_units=(400,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = model.evaluate(test.take(4), verbose=0, return_dict=True)["loss"]
    model.fit(train.take(150), epochs=1, verbose=0)
    after = model.evaluate(test.take(4), verbose=0, return_dict=True)["loss"]
    assert before > 500  # an untrained network: ~ 784 log 2
    assert after < 200, (before, after)
    assert np.isfinite(after)
