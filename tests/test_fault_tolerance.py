"""Fault tolerance: a training process killed mid-epoch resumes from its BackupAndRestore
backup when the same call runs again, with the schedule step, EMA codebook and optimizer state
of an uninterrupted run."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.runs import subprocess_env
from tests.runs import write_binary_npz

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import keras
    import numpy as np
    from keras_vae import training
    from tests.runs import TINY_RUNS, KillMidEpoch

    output, model, kill = sys.argv[1], sys.argv[2], sys.argv[3] == "kill"
    result = training.train(model=model, dataset=os.path.join(os.path.dirname(output), "data.npz"),
                            output=output, epochs=4, batch_size=16, seed=3, verbose=0,
                            model_kwargs=TINY_RUNS[model], export=False, prior_epochs=0,
                            callbacks=[KillMidEpoch(2, 1)] if kill else None, log=print)
    model = keras.models.load_model(os.path.join(output, "model.keras"))
    state = {"steps": [int(opt.iterations.numpy()) for opt, _ in model.optimizer_steps()],
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
                          capture_output=True, text=True, timeout=300, env=subprocess_env())
    return proc


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fault")
    # 40 steps of 16 per epoch: "auto" runs 20 steps per execution, so the kill after batch 1
    # of epoch 3 comes halfway through it.
    write_binary_npz(folder / "data.npz", num_train=640)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("model", ["vqvae", "beta_vae_capacity", "factor_vae"])
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

    # 4 epochs x 40 steps, with no step lost or repeated; the data of the resumed epochs is
    # the same slice of the seeded stream, and weights, optimizer, EMA statistics and noise
    # state come back: the run ends where the uninterrupted one does, to float round-off.
    assert got["steps"] == expected["steps"] == [160] * len(expected["steps"])
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
