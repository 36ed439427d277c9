"""Mixed precision: low-precision compute, float32 variables and losses, loss scaling for
float16; a few steps stay finite and close to float32 training."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv

rng = np.random.default_rng(0)
X = rng.random((32, 8, 8, 1)).astype("float32")
Y = rng.integers(0, 3, 32).astype("int32")
CODES = rng.integers(0, 5, (32, 4, 4)).astype("int32")
SMALL = dict(input_shape=(8, 8, 1), seed=0)
MODELS = {
    "vae_mlp": (lambda: kv.VAE(latent_dim=3, hidden_units=(16,), **SMALL), X),
    "vae_conv_gaussian": (lambda: kv.VAE(latent_dim=3, architecture="conv", filters=(4, 8),
                                         likelihood="gaussian", likelihood_scale="learned",
                                         **SMALL), X),
    "beta_vae_capacity": (lambda: kv.BetaVAE(latent_dim=3, hidden_units=(16,), capacity_max=5.0,
                                             capacity_steps=4, gamma=10.0, **SMALL), X),
    "cvae": (lambda: kv.ConditionalVAE(num_classes=3, latent_dim=2, hidden_units=(16,), **SMALL),
             (X, Y)),
    "vqvae": (lambda: kv.VQVAE(num_embeddings=6, embedding_dim=3, filters=(4,), **SMALL), X),
    "pixelcnn_prior": (lambda: kv.priors.PixelCNN((4, 4), 5, num_classes=3, filters=8,
                                                   num_blocks=1, seed=0), (CODES, Y)),
}


def _train(make, data, policy, epochs=3):
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(1)
        model = make()
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        ds = tf.data.Dataset.from_tensor_slices(data).batch(16)
        before = model.evaluate(ds, verbose=0, return_dict=True)
        history = model.fit(ds, epochs=epochs, verbose=0, shuffle=False).history
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    return model, history, before


@pytest.mark.parametrize("policy, tolerance", [("mixed_bfloat16", 0.03), ("mixed_float16", 0.01)])
@pytest.mark.parametrize("name", MODELS)
def test_mixed_precision_training_is_finite_and_close_to_float32(name, policy, tolerance):
    make, data = MODELS[name]
    _, reference, reference_before = _train(make, data, "float32")
    model, history, before = _train(make, data, policy)
    assert model.compute_dtype == policy.split("_")[1]
    assert all(v.dtype == "float32" for v in model.weights if v.dtype.startswith(("float", "bfloat")))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (
        policy == "mixed_float16")
    for metric, values in history.items():
        assert np.all(np.isfinite(values)), (metric, values)
        if policy == "mixed_float16":
            continue  # compared below, before training (see the next test)
        expected = np.asarray(reference[metric])
        error = np.max(np.abs(np.asarray(values) - expected) / np.maximum(1.0, np.abs(expected)))
        assert error < tolerance, (metric, values, reference[metric])
    # The untrained model computes the same objective, to low-precision round-off.
    for metric, value in before.items():
        expected = reference_before[metric]
        assert abs(value - expected) / max(1.0, abs(expected)) < tolerance, (metric, value, expected)


def test_float16_loss_scaling_skips_overflowing_steps_then_trains():
    # Losses are nats summed over pixels, so Keras's initial loss scale (2**15) overflows
    # float16 at first: those steps are skipped and the scale halves until updates apply.
    make, data = MODELS["beta_vae_capacity"]
    model, history, _ = _train(make, data, "mixed_float16", epochs=6)
    applied = int(model.optimizer.iterations.numpy())
    assert 0 < applied < 12
    assert float(model.optimizer.dynamic_scale.numpy()) < 2.0 ** 15
    assert all(np.all(np.isfinite(np.asarray(w))) for w in model.weights)
    # Schedules follow the updates applied, so C has started to rise.
    assert history["capacity"][-1] > 0.0


@pytest.mark.parametrize("name", ["vae_conv_gaussian", "cvae", "vqvae", "pixelcnn_prior"])
def test_keras_file_restores_the_policy_of_every_layer(name, tmp_path):
    make, data = MODELS[name]
    model, _, _ = _train(make, data, "mixed_bfloat16", epochs=1)
    model.save(tmp_path / "m.keras")
    assert keras.mixed_precision.dtype_policy().name == "float32"
    loaded = keras.models.load_model(tmp_path / "m.keras")
    policies = {layer.dtype_policy.name for layer in loaded._flatten_layers()}
    assert policies == {"mixed_bfloat16"}
    for a, b in zip(model.weights + model.optimizer.variables,
                    loaded.weights + loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_dtype_argument_that_would_miss_the_layers_is_refused():
    with pytest.raises(ValueError, match="set_dtype_policy\\('mixed_bfloat16'\\)"):
        kv.VAE(input_shape=(8, 8, 1), dtype="mixed_bfloat16")
