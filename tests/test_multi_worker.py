"""MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1 train together through
``keras_vae.training.train`` and end with identical weights, equal to one process training on
the same global batches; only the chief writes the run's files."""

import json
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.runs import subprocess_env
from tests.runs import write_binary_npz

SCRIPT = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    from keras_vae import training
    from tests.runs import TINY_RUNS, KillMidEpoch

    data, output, model, dump, strategy = sys.argv[1:6]
    kill = sys.argv[6:] == ["kill"]

    class Dump(keras.callbacks.Callback):
        epochs_run = 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs_run += 1

        def on_train_end(self, logs=None):
            np.savez(dump, steps=np.asarray(self.model.optimizer.iterations.numpy()),
                     epochs_run=self.epochs_run, *[np.asarray(v) for v in self.model.weights])

    result = training.train(model=model, dataset=data, output=output, epochs=2, batch_size=16,
                            seed=3, verbose=0, model_kwargs=TINY_RUNS[model], export=False,
                            prior_epochs=0,
                            callbacks=[Dump()] + ([KillMidEpoch(1, 1)] if kill else []),
                            strategy=strategy, log=print)
    print("PATHS", sorted(result["paths"]))
    """
)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    # 48 images: 3 full global batches of 16, so one process and two workers see the same.
    return write_binary_npz(tmp_path_factory.mktemp("multi_worker") / "data.npz", num_train=48)


def _workers(data_file, output, model, dumps, mode="run"):
    """Runs two workers of one cluster to the end; returns their (stdout, stderr, returncode)."""
    env = subprocess_env()
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    procs = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(data_file), str(output), model, str(dumps[index]),
             "auto", mode],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**env, "TF_CONFIG": config}))
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            results.append((out, err, proc.returncode))
    finally:
        for proc in procs:
            proc.kill()
    return results


def _single(data_file, output, model, dump):
    # One process, one replica: "mirrored" over this machine's one CPU (a strategy, so the step
    # is a graph as under multi-worker training; XLA, used without a strategy, draws other noise).
    env = {k: v for k, v in subprocess_env().items() if k != "TF_CONFIG"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data_file), str(output), model, str(dump), "mirrored"],
        capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.load(dump)


def _assert_same_training(chief, other, alone):
    # 2 epochs of 3 global batches of 16, each split 8 + 8 between the workers.
    assert int(chief["steps"]) == int(other["steps"]) == int(alone["steps"]) == 6
    names = [k for k in chief.files if k not in ("steps", "epochs_run")]
    assert len(names) > 4
    for name in names:
        np.testing.assert_array_equal(chief[name], other[name])  # identical on both workers
        # ... and what one process computes on the same global batches (float round-off).
        np.testing.assert_allclose(chief[name], alone[name], atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["beta_vae_capacity", "vqvae"])
def test_two_workers_train_as_one(tmp_path, data_file, model):
    output = tmp_path / "run"
    dumps = [tmp_path / "worker0.npz", tmp_path / "worker1.npz"]
    results = _workers(data_file, output, model, dumps)
    for out, err, code in results:
        assert code == 0, err[-3000:]
    alone = _single(data_file, tmp_path / "single", model, tmp_path / "single.npz")
    _assert_same_training(np.load(dumps[0]), np.load(dumps[1]), alone)
    # Only the chief writes the run's files; the worker's temporary folder is gone.
    assert "'checkpoints'," in results[0][0] and "'model'," in results[0][0]
    assert "PATHS []" in results[1][0]
    assert (output / "model.keras").is_file() and (output / "metrics.json").is_file()
    assert not (output / "backup").exists() and not (output / "backup-worker-1").exists()


@pytest.mark.slow
def test_killed_workers_resume_from_their_backups(tmp_path, data_file):
    model = "beta_vae_capacity"
    output = tmp_path / "run"
    dumps = [tmp_path / "worker0.npz", tmp_path / "worker1.npz"]
    killed = _workers(data_file, output, model, dumps, mode="kill")
    codes = [code for _, _, code in killed]
    # Each kills itself after the same step; a worker whose peer died first fails on its next
    # collective instead (UnavailableError), as survivors of a pre-emption do.
    assert -9 in codes and 0 not in codes, (codes, killed[0][1][-2000:], killed[1][1][-2000:])
    # Each worker keeps its own backup of the completed epoch.
    for folder in ("backup", "backup-worker-1"):
        metadata = json.loads((output / folder / "training_metadata.json").read_text())
        assert metadata["epoch"] == 1
    resumed = _workers(data_file, output, model, dumps)
    for out, err, code in resumed:
        assert code == 0, err[-3000:]
        assert "Resuming the interrupted run" in out and "after epoch 1" in out
    # The rerun trained the interrupted epoch only, from the restored state.
    assert [int(np.load(d)["epochs_run"]) for d in dumps] == [1, 1]
    alone = _single(data_file, tmp_path / "single", model, tmp_path / "single.npz")
    _assert_same_training(np.load(dumps[0]), np.load(dumps[1]), alone)
