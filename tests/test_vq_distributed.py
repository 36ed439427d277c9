"""The VQ-VAE's EMA codebook under MirroredStrategy over two logical CPU devices.

Runs in a subprocess: logical devices must be configured before TensorFlow starts.
"""

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np
    import keras_vae as kv

    x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")

    def run(strategy, dead_code_steps):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            model = kv.VQVAE(input_shape=(8, 8, 1), num_embeddings=8, embedding_dim=3,
                             filters=(4,), ema_decay=0.9, dead_code_steps=dead_code_steps, seed=0)
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        history = model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=2, verbose=0,
                            shuffle=False)
        return model, history.history

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    one, h1 = run(tf.distribute.get_strategy(), None)
    two, h2 = run(mirrored, None)
    report = {
        "replicas": mirrored.num_replicas_in_sync,
        "weight_error": {a.path: float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                         for a, b in zip(one.weights, two.weights)},
        "metric_error": {k: float(np.max(np.abs(np.subtract(h1[k], h2[k])))) for k in h1},
    }
    resetting, _ = run(mirrored, 1)
    report["replica_spread"] = {
        v.path: float(max(np.max(np.abs(np.asarray(r) - np.asarray(v.value.values[0])))
                          for r in v.value.values))
        for v in resetting.quantizer.weights
    }
    report["resets"] = float(resetting.quantizer.num_resets.numpy())
    print("REPORT" + json.dumps(report))
    """
)


def test_ema_codebook_is_identical_across_replicas_and_equals_one_device():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.split("REPORT", 1)[1])
    assert report["replicas"] == 2
    # Two steps on a global batch of 16 split 8 + 8 equal two steps on one device: EMA counts
    # and sums are summed across replicas, the loss is scaled to the global batch.
    assert "quantizer/ema_counts" in report["weight_error"]
    for path, error in report["weight_error"].items():
        assert error < 1e-5, (path, error)
    for name, error in report["metric_error"].items():
        assert error < 1e-4, (name, error)
    # With dead-code re-seeding on, every replica still holds the same codebook and state.
    assert report["resets"] > 0
    assert set(report["replica_spread"]) >= {"quantizer/embeddings", "quantizer/ema_sums",
                                             "quantizer/unused_steps"}
    assert all(spread == 0.0 for spread in report["replica_spread"].values())
