"""kv.distribute: strategy names, TF_CONFIG checks, and who writes files."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_vae import distribute


def test_default_and_mirrored_strategies():
    assert distribute.get_strategy("default") is tf.distribute.get_strategy()
    mirrored = distribute.get_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    # One CPU here (the 2-device cases run in subprocesses: tests/test_distributed.py).
    assert mirrored.num_replicas_in_sync == len(tf.config.list_logical_devices("CPU"))


def test_auto_on_a_single_cpu_machine_is_the_default_strategy(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("TPU_NAME", raising=False)
    assert distribute.get_strategy("auto") is tf.distribute.get_strategy()


def test_auto_picks_multi_worker_when_tf_config_names_a_cluster(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": 1}}))
    assert distribute._auto() == "multi_worker"
    assert distribute.num_tasks() == 2
    assert not distribute.is_chief()
    assert distribute.worker_name() == "worker-1"
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": 0}}))
    assert distribute.is_chief()
    # With a chief task, worker 0 is not the chief.
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {**cluster, "chief": ["127.0.0.1:3"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert not distribute.is_chief()
    assert distribute.num_tasks() == 3


def test_outside_a_cluster_this_process_is_the_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.is_chief()
    assert distribute.is_chief(tf.distribute.get_strategy())
    assert distribute.num_tasks() == 1


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', '"cluster"'),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}', '"task"'),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "index 3"),
])
def test_malformed_tf_config_is_named(monkeypatch, text, message):
    monkeypatch.setenv("TF_CONFIG", text)
    with pytest.raises(ValueError, match=message):
        distribute.get_strategy("multi_worker")


def test_unknown_strategy_and_missing_tpu(monkeypatch):
    with pytest.raises(ValueError, match="`strategy` must be one of"):
        distribute.get_strategy("horovod")
    monkeypatch.delenv("TPU_NAME", raising=False)
    with pytest.raises(ValueError, match="needs a TPU"):
        distribute.get_strategy("tpu")


def test_replica_helpers_are_plain_outside_a_strategy():
    values = tf.constant([1.0, 2.0, 6.0])
    assert float(distribute.global_mean(values)) == 3.0
    assert float(distribute.all_reduce_sum(tf.constant(2.0))) == 2.0
    values = tf.reshape(tf.range(12.0), [6, 2])
    np.testing.assert_array_equal(distribute.gather_global(values, tf.constant([4, 0])),
                                  [[8.0, 9.0], [0.0, 1.0]])
    assert int(distribute.global_size(values)) == 6
    rows = distribute.replica_rows(lambda shape: tf.ones(shape), (4, 2))
    assert tuple(rows.shape) == (4, 2)
