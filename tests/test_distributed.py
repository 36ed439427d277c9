"""Every model under MirroredStrategy over two logical CPU devices equals the same training
on one device: same losses and metrics, same weights, optimizer state and EMA codebook.

Runs in a subprocess: logical devices must be configured before TensorFlow starts. Every
batch splits unevenly (8 + 7, then 2 + 1 examples): the loss is the global-batch mean in every
case. (A replica left with no example at all trips a TensorFlow bug in fused convolutions on
empty batches, so ``keras_vae.training`` drops the remainder of training data under a
strategy.)
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np
    import keras_vae as kv

    rng = np.random.default_rng(0)
    x = rng.random((33, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 33).astype("int32")
    codes = rng.integers(0, 5, (33, 4, 4)).astype("int32")
    small = dict(input_shape=(8, 8, 1), seed=0)
    MODELS = {
        "vae_mlp": (lambda: kv.VAE(latent_dim=3, hidden_units=(8,), **small), x),
        "vae_conv_gaussian": (lambda: kv.VAE(latent_dim=3, architecture="conv", filters=(4, 4),
                                             likelihood="gaussian", likelihood_scale="learned",
                                             **small), x),
        "beta_vae_capacity": (lambda: kv.BetaVAE(latent_dim=3, hidden_units=(8,), capacity_max=5.0,
                                                 capacity_steps=4, gamma=10.0, **small), x),
        "beta_vae_warmup": (lambda: kv.BetaVAE(latent_dim=3, hidden_units=(8,),
                                               beta=kv.schedules.LinearWarmup(0.0, 4.0, 4),
                                               **small), x),
        "cvae": (lambda: kv.ConditionalVAE(num_classes=3, latent_dim=2, hidden_units=(8,),
                                           **small), (x, y)),
        "vqvae_ema": (lambda: kv.VQVAE(num_embeddings=6, embedding_dim=3, filters=(4,),
                                       ema_decay=0.9, **small), x),
        "vqvae_gradient": (lambda: kv.VQVAE(num_embeddings=6, embedding_dim=3, filters=(4,),
                                            ema_decay=None, **small), x),
        "pixelcnn_prior": (lambda: kv.priors.PixelCNN((4, 4), 5, num_classes=3, filters=4,
                                                       num_blocks=1, seed=0), (codes, y)),
    }

    def run(make, data, strategy):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            model = make()
            # The same compiled graph step on both sides (XLA is off under strategies); SGD,
            # unlike Adam, would show a loss scaled wrongly across replicas.
            model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), jit_compile=False)
        ds = tf.data.Dataset.from_tensor_slices(data).batch(15)  # 15, 15, 3
        history = model.fit(ds, epochs=3, verbose=0, shuffle=False).history
        scores = model.evaluate(ds, verbose=0, return_dict=True)
        # Variables in creation order (the second optimizer's paths carry another name).
        state = [np.asarray(v) for v in model.weights + model.optimizer.variables]
        for layer in model._flatten_layers():
            generator = getattr(layer, "seed_generator", None)
            if generator is not None:
                state.append(np.asarray(generator.state))
        spread = 0.0
        for v in model.weights + model.optimizer.variables:
            values = getattr(v.value, "values", None)
            if values:
                spread = max(spread, max(float(np.max(np.abs(np.asarray(r) - np.asarray(values[0]))))
                                         for r in values))
        return history, scores, state, spread, int(model.optimizer.iterations.numpy())

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    report = {"replicas": mirrored.num_replicas_in_sync}
    for name in sys.argv[1:]:
        make, data = MODELS[name]
        h1, s1, w1, _, n1 = run(make, data, tf.distribute.get_strategy())
        h2, s2, w2, spread, n2 = run(make, data, mirrored)
        report[name] = {
            "steps": [n1, n2],
            "variables": [a.shape for a in w1] == [b.shape for b in w2],
            "weight_error": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w2)),
            # Relative to the metric's size (a Gaussian NLL runs to hundreds of nats).
            "metric_error": {k: float(np.max(np.abs(np.subtract(h1[k], h2[k]))
                                              / np.maximum(1.0, np.abs(h1[k])))) for k in h1},
            "evaluate_error": max(abs(s1[k] - s2[k]) / max(1.0, abs(s1[k])) for k in s1),
            "finite": bool(all(np.all(np.isfinite(h1[k])) for k in h1)),
            "replica_spread": spread,
        }
    print("REPORT" + json.dumps(report))
    """
)

MODELS = ["vae_mlp", "vae_conv_gaussian", "beta_vae_capacity", "beta_vae_warmup", "cvae",
          "vqvae_ema", "vqvae_gradient", "pixelcnn_prior"]


def run_script(script, args, timeout=600):
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.split("REPORT", 1)[1])


@pytest.fixture(scope="module")
def report():
    return run_script(SCRIPT, MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_two_replica_training_equals_one_device(report, name):
    assert report["replicas"] == 2
    result = report[name]
    assert result["steps"] == [9, 9]  # 3 epochs of 3 batches
    assert result["variables"]
    assert result["finite"]
    # Weights, optimizer slots, EMA state, schedule step and noise state all agree, to float32
    # round-off over 9 steps; a loss scaled wrongly across replicas moves them by ~1e-2.
    assert result["weight_error"] < 1e-4, result
    for metric, error in result["metric_error"].items():
        assert error < 1e-4, (metric, result)
    assert result["evaluate_error"] < 1e-4, result
    # Every replica holds the same values.
    assert result["replica_spread"] == 0.0, result
