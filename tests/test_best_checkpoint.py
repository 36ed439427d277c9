"""The best epoch by validation loss is kept beside the last (``checkpoints/best.keras``)."""

import csv
import json

import keras
import numpy as np

import keras_vae as kv
from keras_vae import cli
from keras_vae.callbacks import BEST_FILE
from keras_vae.callbacks import CHECKPOINT_FILE
from keras_vae.callbacks import EpochCheckpoint
from tests.test_cli import TINY


def _model():
    model = kv.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)
    return model


def _epochs(callback, model, values, first=0):
    """Ends epochs with these validation losses; before each, the weights are set to the
    epoch number, so a saved file tells which epoch it holds."""
    for epoch, value in enumerate(values, start=first):
        for w in model.weights:
            w.assign(np.full(w.shape, float(epoch + 1), w.dtype))
        callback.on_epoch_end(epoch, None if value is None else {"loss": 0.0, "val_loss": value})


def _epoch_held(path):
    return float(np.asarray(keras.models.load_model(path).weights[0])[0, 0])


def test_best_file_holds_the_epoch_of_the_lowest_validation_loss(tmp_path):
    model = _model()
    callback = EpochCheckpoint(tmp_path)
    callback.set_model(model)
    callback.on_train_begin()
    _epochs(callback, model, [3.0, 1.0, 2.0, float("nan")])
    assert _epoch_held(tmp_path / BEST_FILE) == 2.0
    assert _epoch_held(tmp_path / CHECKPOINT_FILE) == 4.0
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["best_epoch"] == 2 and state["best"] == 1.0 and state["epoch"] == 4

    # A resumed run continues the record: 1.5 is not an improvement on 1.0, 0.5 is.
    resumed = EpochCheckpoint(tmp_path)
    resumed.set_model(model)
    resumed.on_train_begin()
    _epochs(resumed, model, [1.5], first=4)
    assert _epoch_held(tmp_path / BEST_FILE) == 2.0
    _epochs(resumed, model, [0.5], first=5)
    assert _epoch_held(tmp_path / BEST_FILE) == 6.0
    assert json.loads((tmp_path / "state.json").read_text())["best_epoch"] == 6


def test_without_the_monitored_metric_no_epoch_is_the_best(tmp_path):
    model = _model()
    callback = EpochCheckpoint(tmp_path)
    callback.set_model(model)
    callback.on_train_begin()
    _epochs(callback, model, [None, None])
    assert (tmp_path / CHECKPOINT_FILE).is_file() and not (tmp_path / BEST_FILE).exists()
    assert json.loads((tmp_path / "state.json").read_text())["best_epoch"] is None


def test_train_keeps_the_best_epoch_and_reports_it(tiny_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--dataset", tiny_npz, "--epochs", "4", "--batch-size", "16",
                     "--learning-rate", "0.05", "--output", str(out), *TINY]) == 0
    with open(out / "history.csv", newline="") as f:
        val = [float(row["val_loss"]) for row in csv.DictReader(f)]
    metrics = json.loads((out / "metrics.json").read_text())
    best = int(np.argmin(val)) + 1
    assert metrics["best_epoch"] == {"epoch": best, "val_loss": min(val)}
    model = keras.models.load_model(out / "checkpoints" / BEST_FILE)
    assert model.optimizer.iterations.numpy() == 4 * best  # 64 images, batch 16
    assert f"(epoch {best}, val_loss" in capsys.readouterr().out
