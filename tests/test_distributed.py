"""Every model under MirroredStrategy over two logical CPU devices equals the same training
on one device: same losses and metrics, same weights, optimizer state and EMA codebook.

Runs in a subprocess: logical devices must be configured before TensorFlow starts. Every
batch splits unevenly (8 + 7, then 2 + 1 examples): the loss is the global-batch mean in every
case. (A replica left with no example at all trips a TensorFlow bug in fused convolutions on
empty batches, so ``keras_vae.training`` drops the remainder of training data under a
strategy.)
"""

import json
import subprocess
import sys
import textwrap

import pytest

from tests.registry import TRAINABLE
from tests.runs import subprocess_env

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np
    import keras_vae as kv

    from tests import registry as reg

    def run(name, strategy):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            model = reg.build_any(name)
            # The same compiled graph step on both sides (XLA is off under strategies); SGD,
            # unlike Adam, would show a loss scaled wrongly across replicas.
            model.compile(optimizer=keras.optimizers.SGD(1e-3, momentum=0.9), jit_compile=False)
        data = reg.any_fit_data(name, model, n=33)
        ds = tf.data.Dataset.from_tensor_slices(data).batch(15)  # 15, 15, 3
        history = model.fit(ds, epochs=3, verbose=0, shuffle=False).history
        scores = model.evaluate(ds, verbose=0, return_dict=True)
        # Variables in creation order (the second optimizer's paths carry another name).
        optimizer_variables = [v for opt, _ in model.optimizer_steps() for v in opt.variables]
        state = [np.asarray(v) for v in model.weights + optimizer_variables]
        for layer in model._flatten_layers():
            generator = getattr(layer, "seed_generator", None)
            if generator is not None:
                state.append(np.asarray(generator.state))
        spread = 0.0
        for v in model.weights + optimizer_variables:
            values = getattr(v.value, "values", None)
            if values:
                first = np.asarray(values[0])
                spread = max(spread, max(float(np.max(np.abs(np.asarray(r) - first)))
                                         for r in values))
        return history, scores, state, spread, int(model.optimizer.iterations.numpy())

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    report = {"replicas": mirrored.num_replicas_in_sync}
    for name in sys.argv[1:]:
        h1, s1, w1, _, n1 = run(name, tf.distribute.get_strategy())
        h2, s2, w2, spread, n2 = run(name, mirrored)
        report[name] = {
            "steps": [n1, n2],
            "variables": [a.shape for a in w1] == [b.shape for b in w2],
            # Relative to each variable's size (a diverging parameter may run to 1e8).
            "weight_error": max(float(np.max(np.abs(a - b)) / max(1.0, np.max(np.abs(a))))
                                for a, b in zip(w1, w2) if a.size),
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

MODELS = TRAINABLE  # every registry model, and the PixelCNN prior


def run_script(script, args, timeout=600):
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          timeout=timeout, env=subprocess_env())
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
    # round-off over 9 steps (errors of 1e-8 to 1e-6 here); a loss scaled wrongly across
    # replicas, or noise that depends on the split, moves them by orders of magnitude more.
    assert result["weight_error"] < 1e-5, result
    for metric, error in result["metric_error"].items():
        assert error < 1e-5, (metric, result)
    assert result["evaluate_error"] < 1e-5, result
    # Every replica holds the same values.
    assert result["replica_spread"] == 0.0, result
