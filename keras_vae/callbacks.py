"""Callbacks: per-epoch checkpoints that a run can resume from, and fault-tolerant backups."""

import csv
import json
import math
import os

import keras
import numpy as np

from keras_vae import outputs

STATE_FILE = "state.json"
CHECKPOINT_FILE = "last.keras"
#: The checkpoint of the best epoch by validation loss (:class:`EpochCheckpoint`).
BEST_FILE = "best.keras"


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (weights, optimizer, schedule step) after every epoch, and keeps
    the best epoch by a validation metric.

    Writes ``<directory>/last.keras`` and ``<directory>/state.json`` (``{"epoch": completed
    epochs, "step": optimizer step, "best_epoch", "best": the best value of ``monitor``}``),
    each replaced atomically, so an interrupted run can resume with :func:`load_checkpoint`
    from the last completed epoch; and ``<directory>/best.keras`` whenever ``monitor``
    improves on every earlier epoch. A ``state.json`` already in the folder (a run being
    resumed) continues its record of the best epoch.

    ``best.keras`` is the model at the end of its epoch of ``fit``: what a run does after
    ``fit`` (a VQ-VAE's prior over its codes) is in the final model only.

    Args:
        directory: Folder for the checkpoint (created if missing).
        monitor: The metric of the best epoch (lower is better; default the validation
            loss). An epoch without it, or with a non-finite value, is never the best.
    """

    def __init__(self, directory, monitor="val_loss"):
        super().__init__()
        self.directory = os.fspath(directory)
        self.monitor = monitor
        self.best = None
        self.best_epoch = None

    def on_train_begin(self, logs=None):
        state_path = os.path.join(self.directory, STATE_FILE)
        if os.path.isfile(state_path):
            with open(state_path) as f:
                state = json.load(f)
            self.best, self.best_epoch = state.get("best"), state.get("best_epoch")

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, CHECKPOINT_FILE)
        with outputs.replacing(path) as tmp:
            self.model.save(tmp)
        value = (logs or {}).get(self.monitor)
        value = None if value is None else float(np.asarray(value))
        if value is not None and math.isfinite(value) and (self.best is None or
                                                            value < self.best):
            with outputs.replacing(os.path.join(self.directory, BEST_FILE)) as tmp:
                self.model.save(tmp)
            self.best, self.best_epoch = value, epoch + 1
        state = {"epoch": epoch + 1, "step": int(self.model.optimizer.iterations.numpy()),
                 "best_epoch": self.best_epoch, "best": self.best, "monitor": self.monitor}
        outputs.write_json(os.path.join(self.directory, STATE_FILE), state)


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


class HistoryCSV(keras.callbacks.Callback):
    """Keeps the per-epoch logs in a CSV file (columns ``epoch`` then the metric names in
    sorted order, as ``keras.callbacks.CSVLogger`` writes them), rewritten whole and replaced
    atomically after each epoch: the file is never empty or half-written, and an earlier
    run's file stays as it was until this run completes an epoch.

    Args:
        path: The CSV file.
        append: Keep the rows already in ``path`` for the epochs before the first one this
            run trains (a resumed run continues the file; rows of epochs it trains again are
            replaced).
    """

    def __init__(self, path, append=False):
        super().__init__()
        self.path = os.fspath(path)
        self.append = append
        self.rows = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.rows is not None:
            return
        self.rows = []
        if self.append and os.path.isfile(self.path):
            with open(self.path, newline="") as f:
                self.rows = [row for row in csv.DictReader(f) if int(row["epoch"]) < epoch]

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{k: float(np.asarray(v)) for k, v in (logs or {}).items()}}
        self.rows.append(row)
        names = sorted({k for r in self.rows for k in r} - {"epoch"})
        outputs.write_csv(self.path, self.rows, ["epoch", *names])


class ImageLogger(keras.callbacks.Callback):
    """Writes pictures of the model to TensorBoard (its Images tab) after every ``every``
    epochs: reconstructions of a fixed batch, samples drawn with a fixed seed (so epochs
    compare) and, for a Gaussian latent, traversals of the batch's first image ordered by
    KL (:func:`keras_vae.plotting.previews.run_pictures`). A model whose data are not images
    in [0, 1] gets none.

    Args:
        log_dir: TensorBoard folder; the pictures go to ``<log_dir>/images``.
        batch: The data pictured, ``x`` or ``(x, labels)`` (e.g. the first validation batch).
        seed: Seed of the samples.
        every: Epochs between pictures.
        traversals: Also write traversals.
    """

    def __init__(self, log_dir, batch, seed=0, every=1, traversals=True):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be a positive integer. Received: every={every!r}")
        self.log_dir = os.path.join(os.fspath(log_dir), "images")
        self.batch = batch
        self.seed = seed
        self.every = every
        self.traversals = traversals
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        from keras_vae.plotting import grids
        from keras_vae.plotting import previews

        if (epoch + 1) % self.every or not previews.shows_images(self.model):
            return
        pictures = previews.run_pictures(self.model, self.batch, self.seed,
                                         f"epoch {epoch + 1}", self.traversals)
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(self.log_dir)
        with self.writer.as_default(step=epoch + 1):
            for name, (images, ncols, caption, *_) in pictures.items():
                tf.summary.image(name, grids.image_grid(images, ncols)[None],
                                 description=caption)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class NonFiniteLossError(ValueError):
    """Training produced a non-finite loss or metric (raised by :class:`StopOnNonFinite`)."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first non-finite training loss or metric by raising
    :class:`NonFiniteLossError`, which names the step and the metric.

    It raises rather than setting ``stop_training`` (as ``keras.callbacks.TerminateOnNaN``
    does) so that no end-of-epoch callback runs on the broken model: the checkpoints, backups
    and files of the last completed epoch stay as they were. With ``steps_per_execution``
    above 1 it sees the metrics once per execution, so the step it names is the last of that
    execution.
    """

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        for name in sorted(logs, key=lambda n: n != "loss"):  # the loss first
            value = float(np.asarray(logs[name]))
            if not math.isfinite(value):
                step = int(self.model.optimizer.iterations.numpy())
                raise NonFiniteLossError(
                    f"training stopped at step {step}: {name} is {value}; the files of the "
                    "last completed epoch are kept (try a lower learning rate)")
