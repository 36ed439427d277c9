"""Callbacks: per-epoch checkpoints that a run can resume from."""

import json
import os

import keras

STATE_FILE = "state.json"
CHECKPOINT_FILE = "last.keras"


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (weights, optimizer, schedule step) after every epoch.

    Writes ``<directory>/last.keras`` and ``<directory>/state.json`` (``{"epoch": completed
    epochs, "step": optimizer step}``), each replaced atomically, so an interrupted run can
    resume with :func:`load_checkpoint` from the last completed epoch.

    Args:
        directory: Folder for the checkpoint (created if missing).
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = os.fspath(directory)

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, CHECKPOINT_FILE)
        tmp = path + ".tmp.keras"
        self.model.save(tmp)
        os.replace(tmp, path)
        state = {"epoch": epoch + 1, "step": int(self.model.optimizer.iterations.numpy())}
        tmp_state = os.path.join(self.directory, STATE_FILE + ".tmp")
        with open(tmp_state, "w") as f:
            json.dump(state, f)
        os.replace(tmp_state, os.path.join(self.directory, STATE_FILE))


def load_checkpoint(directory):
    """Returns ``(model, state)`` saved by :class:`EpochCheckpoint` in ``directory``.

    Raises:
        FileNotFoundError: If the folder holds no checkpoint.
    """
    path = os.path.join(os.fspath(directory), CHECKPOINT_FILE)
    state_path = os.path.join(os.fspath(directory), STATE_FILE)
    if not (os.path.isfile(path) and os.path.isfile(state_path)):
        raise FileNotFoundError(f"No checkpoint to resume from in {directory}.")
    with open(state_path) as f:
        state = json.load(f)
    return keras.models.load_model(path), state
