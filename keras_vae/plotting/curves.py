"""Training curves from a Keras ``History``, a ``history.csv`` or TensorBoard logs."""

import csv
import math
import os

import numpy as np

from keras_vae.plotting import figures

#: Panels of the figure, in order, and the metrics each shows (with their ``val_`` twins).
PANELS = (
    ("loss", ("loss",)),
    ("reconstruction (nats)", ("reconstruction_loss",)),
    ("KL (nats)", ("kl_loss",)),
    ("ELBO (nats)", ("elbo",)),
    ("beta / capacity", ("beta", "capacity")),
    ("codebook", ("perplexity", "codebook_usage", "vq_loss")),
)


def read_history(source):
    """``{metric: [value per epoch]}`` from a ``keras.callbacks.History``, a dict, a
    ``history.csv`` (``CSVLogger``) or a TensorBoard log folder (``logs/`` of
    ``keras-vae train``, whose ``train`` and ``validation`` runs hold ``epoch_*`` scalars)."""
    if hasattr(source, "history"):
        return {k: list(map(float, v)) for k, v in source.history.items()}
    if isinstance(source, dict):
        return {k: list(map(float, v)) for k, v in source.items()}
    path = os.fspath(source)
    if os.path.isdir(path):
        return _read_tensorboard(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No history at {path}: expected a history.csv or a "
                                "TensorBoard log folder.")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} holds no epochs.")
    return {key: [float(row[key]) if row[key] not in ("", None) else math.nan for row in rows]
            for key in rows[0] if key != "epoch"}


def _read_tensorboard(folder):
    from tensorboard.backend.event_processing import event_accumulator

    history = {}
    for run, prefix in (("train", ""), ("validation", "val_")):
        run_dir = os.path.join(folder, run)
        if not os.path.isdir(run_dir):
            continue
        acc = event_accumulator.EventAccumulator(run_dir, size_guidance={"tensors": 0,
                                                                          "scalars": 0})
        acc.Reload()
        tags = acc.Tags()
        for tag in tags.get("tensors", []):
            if tag.startswith("epoch_") and tag != "epoch_learning_rate":
                events = sorted(acc.Tensors(tag), key=lambda e: e.step)
                history[prefix + tag[len("epoch_"):]] = [
                    float(np.asarray(_tensor_value(e.tensor_proto))) for e in events]
        for tag in tags.get("scalars", []):
            if tag.startswith("epoch_"):
                history[prefix + tag[len("epoch_"):]] = [e.value for e in acc.Scalars(tag)]
    if not history:
        raise ValueError(f"{folder} holds no epoch_* summaries (is it a Keras TensorBoard "
                         "log folder?).")
    return history


def _tensor_value(proto):
    import tensorflow as tf

    return tf.make_ndarray(proto)


def save_training_curves(path, source, title=None):
    """Plots every panel of :data:`PANELS` that the history has (training solid, validation
    dashed) and returns ``path``."""
    history = read_history(source)
    panels = [(name, [m for m in metrics if m in history or "val_" + m in history])
              for name, metrics in PANELS]
    panels = [(name, metrics) for name, metrics in panels if metrics]
    if not panels:
        raise ValueError(f"The history has none of the plotted metrics; it has {sorted(history)}.")
    plt = figures.pyplot()
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, (name, metrics) in zip(axes.ravel(), panels):
        for metric in metrics:
            for key, style in ((metric, "-"), ("val_" + metric, "--")):
                if key in history:
                    values = history[key]
                    ax.plot(np.arange(1, len(values) + 1), values, style, label=key)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return figures.save(fig, path)
