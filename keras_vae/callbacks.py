"""Callbacks: per-epoch checkpoints that a run can resume from, and fault-tolerant backups."""

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


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` for the models of this package.

    Backs up the whole training state after every epoch (weights, optimizer slots and step
    (hence every schedule), EMA codebook statistics, the sampling layers' noise state) and,
    when a run starts over the same folder after an interruption, restores it and continues
    with the epoch that was interrupted. The backup is deleted when training ends normally.

    Differences from Keras's callback: the optimizer is built for the variables ``fit``
    updates before restoring (an EMA codebook is not among them), and a backup left by a run
    with other settings fails with a message naming the folder instead of a weight-loading
    error.

    Args:
        backup_dir: Folder for the backup. In multi-worker training every worker needs its
            own (``keras_vae.training.train`` gives non-chief workers ``<dir>-<task>``).
        **kwargs: As for ``keras.callbacks.BackupAndRestore``.
    """

    @property
    def found(self):
        """Whether a backup exists (a run starting now resumes)."""
        return os.path.isfile(self._training_metadata_path)

    def completed_epochs(self):
        """Epochs the backup has completed (0 without a backup)."""
        if not self.found:
            return 0
        with open(self._training_metadata_path) as f:
            return int(json.load(f)["epoch"])

    def on_train_begin(self, logs=None):
        if (getattr(self.model, "optimizer", None) is not None
                and hasattr(self.model, "build_optimizers")):
            self.model.build_optimizers()  # every optimizer (an adversary's too)
        try:
            super().on_train_begin(logs)
        except (ValueError, KeyError) as err:
            raise ValueError(
                f"The backup in {self.backup_dir} does not fit this model ({err}). It was left "
                "by an interrupted run with other settings: delete that folder, or train into "
                "another output folder."
            ) from err
