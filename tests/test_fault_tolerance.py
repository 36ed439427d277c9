"""Fault tolerance: a training process killed mid-epoch resumes from its BackupAndRestore
backup when the same call runs again, with the schedule step, EMA codebook and optimizer state
of an uninterrupted run."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    import keras
    import numpy as np
    from keras_vae import training

    output, model, kill = sys.argv[1], sys.argv[2], sys.argv[3] == "kill"

    class KillMidEpoch(keras.callbacks.Callback):
        # SIGKILL: no Python cleanup, as when a machine is pre-empted.
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 2 and batch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

    kwargs = {
        "vqvae": dict(num_embeddings=8, embedding_dim=3, filters=(4,), ema_decay=0.9),
        "beta_vae_capacity": dict(latent_dim=3, hidden_units=(16,), capacity_max=5.0,
                                  capacity_steps=24, gamma=10.0),
    }[model]
    result = training.train(model=model, dataset=os.path.join(os.path.dirname(output), "data.npz"),
                            output=output, epochs=4, batch_size=16, seed=3, verbose=0,
                            model_kwargs=kwargs, export=False, prior_epochs=0,
                            callbacks=[KillMidEpoch()] if kill else None, log=print)
    model = keras.models.load_model(os.path.join(output, "model.keras"))
    state = {"steps": int(model.optimizer.iterations.numpy()),
             "train": result["metrics"]["train"],
             "validation": result["metrics"]["validation"]}
    if hasattr(model, "quantizer"):
        state["codebook"] = np.asarray(model.quantizer.embeddings).tolist()
        state["ema_counts"] = np.asarray(model.quantizer.ema_counts).tolist()
    print("REPORT" + json.dumps(state))
    """
)


def _run(output, model, mode):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(output), model, mode],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return proc


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fault")
    rng = np.random.default_rng(0)
    images = (rng.random((80, 8, 8)) > 0.5).astype("uint8") * 255
    np.savez(folder / "data.npz", x_train=images[:64], y_train=np.zeros(64, "uint8"),
             x_test=images[64:], y_test=np.zeros(16, "uint8"))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("model", ["vqvae", "beta_vae_capacity"])
def test_killed_run_resumes_from_its_backup_like_an_uninterrupted_run(data_file, model):
    straight, interrupted = data_file / f"{model}_straight", data_file / f"{model}_interrupted"
    reference = _run(straight, model, "run")
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected = json.loads(reference.stdout.split("REPORT", 1)[1])

    killed = _run(interrupted, model, "kill")
    assert killed.returncode == -9, killed.stderr[-3000:]  # died by SIGKILL in epoch 3
    metadata = json.loads((interrupted / "backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2  # the backup holds the two completed epochs

    resumed = _run(interrupted, model, "run")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming the interrupted run" in resumed.stdout
    assert "after epoch 2" in resumed.stdout
    got = json.loads(resumed.stdout.split("REPORT", 1)[1])
    assert not (interrupted / "backup").exists()  # removed once training finished

    # 4 epochs x 4 steps, with no step lost or repeated; the data of the resumed epochs is
    # the same slice of the seeded stream, and weights, optimizer, EMA statistics and noise
    # state come back: the run ends where the uninterrupted one does, to float round-off.
    assert got["steps"] == expected["steps"] == 16
    for part in ("train", "validation"):
        assert set(got[part]) == set(expected[part])
        for name, value in expected[part].items():
            assert got[part][name] == pytest.approx(value, rel=1e-4, abs=1e-5), (part, name)
    if "codebook" in expected:
        np.testing.assert_allclose(got["codebook"], expected["codebook"], atol=1e-5)
        np.testing.assert_allclose(got["ema_counts"], expected["ema_counts"], rtol=1e-5)
    # The CSV log continues: one row per epoch, none repeated.
    rows = (interrupted / "history.csv").read_text().strip().splitlines()
    epochs = [int(row.split(",")[0]) for row in rows[1:] if row[0].isdigit()]
    assert epochs == [0, 1, 2, 3]
