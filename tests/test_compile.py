"""The compiled step: XLA by default where it is faster on CPU, same numbers as the graph step,
input checks kept when XLA is on, and the choice saved with the model."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv


def images(n=16, size=8, seed=0):
    return np.random.default_rng(seed).random((n, size, size, 1)).astype("float32")


def mlp(**kwargs):
    keras.utils.set_random_seed(0)
    return kv.VAE(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), seed=1, **kwargs)


def test_auto_means_xla_for_dense_models_and_graph_for_convolutions_on_cpu():
    model = mlp()
    model.compile(optimizer="adam")
    assert model.jit_compile is True
    conv = kv.VAE(input_shape=(8, 8, 1), latent_dim=3, architecture="conv", filters=(4,))
    conv.compile(optimizer="adam")
    assert conv.jit_compile is False
    vq = kv.VQVAE(input_shape=(8, 8, 1), num_embeddings=4, embedding_dim=2, filters=(4,),
                  residual_blocks=0)
    vq.compile(optimizer="adam")
    assert vq.jit_compile is False


def test_explicit_choices_eager_and_strategies_win_over_auto():
    model = mlp()
    model.compile(optimizer="adam", jit_compile=False)
    assert model.jit_compile is False
    model.compile(optimizer="adam", run_eagerly=True)
    assert model.jit_compile is False
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        scoped = mlp()
        scoped.compile(optimizer="adam")
    assert scoped.jit_compile is False
    conv = kv.VAE(input_shape=(8, 8, 1), latent_dim=3, architecture="conv", filters=(4,))
    conv.compile(optimizer="adam", jit_compile=True)
    assert conv.jit_compile is True


def test_xla_step_matches_the_graph_step(monkeypatch):
    # TensorFlow's random kernels and XLA's draw different noise from the same seed, so the
    # comparison fixes z at the posterior mean; everything else (objective, gradients, Adam,
    # metrics) must agree.
    monkeypatch.setattr(kv.layers.Sampling, "call", lambda self, inputs: inputs[0])
    x = images()
    results = {}
    for jit in (True, False):
        model = mlp(likelihood="gaussian")
        model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=jit)
        history = model.fit(x, batch_size=8, epochs=3, shuffle=False, verbose=0)
        results[jit] = (history.history, [w.numpy() for w in model.weights])
    for name in results[True][0]:
        np.testing.assert_allclose(results[True][0][name], results[False][0][name],
                                   rtol=1e-4, atol=1e-4, err_msg=name)
    for xla_weight, graph_weight in zip(results[True][1], results[False][1]):
        np.testing.assert_allclose(xla_weight, graph_weight, rtol=1e-4, atol=1e-5)


def test_input_checks_survive_xla():
    keras.utils.set_random_seed(0)
    model = kv.ConditionalVAE(input_shape=(8, 8, 1), num_classes=3, latent_dim=2,
                              hidden_units=(8,))
    model.compile(optimizer="adam")
    assert model.jit_compile is True
    x = images(4)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must lie in \[0, 3\)"):
        model.fit(x, np.array([0, 1, 5, 2]), epochs=1, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must lie in \[0, 3\)"):
        model.evaluate(x, np.array([0, 1, -1, 2]), verbose=0)
    history = model.fit(x, np.array([0, 1, 2, 2]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_the_choice_is_saved_with_the_model(tmp_path):
    for jit in (True, False):
        model = mlp()
        model.compile(optimizer="adam", jit_compile=jit)
        model.fit(images(), batch_size=8, epochs=1, verbose=0)
        path = str(tmp_path / f"model_{jit}.keras")
        model.save(path)
        assert keras.saving.load_model(path).jit_compile is jit
