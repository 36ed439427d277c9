"""Marginal likelihood of Gaussian-latent models: the importance-weighted bound (IWAE).

For an image x, K draws ``z_k ~ q(z|x)`` give the weights
``w_k = p(x|z_k) p(z_k) / q(z_k|x)``, and ``log (1/K) sum_k w_k`` is a lower bound on
``log p(x)`` that tightens as K grows (Burda, Grosse & Salakhutdinov 2015, eq. 8); with K = 1
its mean is the ELBO. :func:`iwae_nll` reports ``-log (1/K) sum_k w_k`` averaged over a
dataset, in nats per example; the log-sum-exp shifts the log-weights by their maximum, so
it stays finite however small the weights are.

For a conditional model, p(z) is the model's p(z|c) and every term is conditioned on the
label: the figure is ``-log p(x|c)``.
"""

import hashlib
import math
import os

import keras
import numpy as np
import tensorflow as tf

from keras_vae import outputs
from keras_vae.data.arrays import numpy_batches
from keras_vae.models.base import gaussian_log_density  # noqa: F401  (public here too)
from keras_vae.validation import check_positive_int
from keras_vae.validation import check_seed


def _check_model(model):
    if getattr(model, "latent_kind", None) != "gaussian":
        raise ValueError(
            "The importance-weighted likelihood needs a Gaussian-latent model (keras_vae VAE, "
            f"BetaVAE, ConditionalVAE, IWAE...); received {type(model).__name__}. A VQ-VAE's "
            "likelihood is that of its prior over codes (PixelCNN.log_prob) plus its "
            "decoder's."
        )


def log_weights(model, x, labels=None, num_samples=100, seed=0, chunk_size=None):
    """``log p(x, z_k) - log q(z_k|x)`` for K draws per example: ``[batch, num_samples]``
    (the model's :meth:`~keras_vae.models.BaseVAE.importance_log_weights`).

    Args:
        model: A Gaussian-latent keras_vae model.
        x: A batch of data.
        labels: The batch's conditions for a conditional model.
        num_samples: K.
        seed: Integer seed; the same seed draws the same z.
        chunk_size: Draws decoded at once per example (default: as many as keep a decoder
            batch near 32,768 examples).
    """
    _check_model(model)
    return model.importance_log_weights(x, labels, num_samples=num_samples,
                                        seed=check_seed(seed) or 0, chunk_size=chunk_size)


def _batches(data, labels_needed, keep_labels=False):
    """Yields ``(x, labels or None)`` NumPy batches from a dataset or an array (labels when
    the model needs them, or with ``keep_labels`` whenever the data has them)."""
    for batch in numpy_batches(data):
        x, y = batch if isinstance(batch, tuple) else (batch, None)
        if y is None and labels_needed:
            raise ValueError("A conditional model needs (images, labels) batches.")
        yield x, (y if labels_needed or keep_labels else None)


def iwae_nll(model, data, num_samples=1000, seed=0, max_examples=None, batch_size=None,
             verbose=False, progress_file=None):
    """Importance-weighted estimate of ``-log p(x)`` and the ELBO over a dataset.

    Args:
        model: A Gaussian-latent keras_vae model (for a ``ConditionalVAE`` the data holds
            ``(images, labels)`` and the figure is ``-log p(x|c)``).
        data: A dataset of image batches (or ``(images, labels)``), an image array, or a
            pair of arrays.
        num_samples: K importance samples per image (Burda et al. report K = 5000; K = 1000
            is usually within 0.1 nat of it on MNIST).
        seed: Seed of the draws.
        max_examples: Evaluate at most this many images.
        batch_size: Re-batch the images to this many at a time (default: as they come).
        verbose: Show a progress bar.
        progress_file: Path of an ``.npz`` file that keeps each finished batch's bounds, so
            that a long estimate survives a kill (K = 5,000 on the 10,000 MNIST test images
            takes 30 to 75 minutes for a small conv VAE on 2 CPU cores, by the CPU). A call
            given a file an earlier call wrote picks up after its last batch and returns what one
            uninterrupted call would; it refuses a file written for another model's weights,
            other settings or other data. The file is replaced whole after every batch, so a
            kill never leaves it half-written; it stays when the estimate is complete.

    Returns:
        A dict (nats per example): ``nll`` (the IWAE estimate, an upper bound on the true
        ``-log p(x)`` in expectation), ``nll_std_error`` (its standard error over
        examples), ``elbo`` (mean over the K draws of the single-sample ELBO, so an
        unbiased ELBO estimate), ``num_examples``, ``num_samples`` and ``bits_per_dim``
        (``nll / (values per example · log 2)``, the unit of colour-image tables).
    """
    _check_model(model)
    num_samples = check_positive_int("num_samples", num_samples)
    conditional = model.needs_labels
    progress = keras.utils.Progbar(max_examples, unit_name="image") if verbose else None
    saved = _SavedBatches(progress_file, model, num_samples=num_samples, seed=seed)
    bounds, elbos, seen = [], [], 0
    for index, (x, y) in enumerate(_rebatched(_batches(data, conditional), batch_size)):
        if max_examples is not None:
            x = x[: max_examples - seen]
            y = None if y is None else y[: len(x)]
        if len(x) == 0:
            break
        done = saved.get(index, x, y)
        if done is None:
            w = log_weights(model, x, y, num_samples=num_samples, seed=seed + index)
            done = ((tf.reduce_logsumexp(w, axis=1) - math.log(num_samples)).numpy(),
                    tf.reduce_mean(w, axis=1).numpy())
            saved.add(x, y, *done)
        bounds.append(done[0])
        elbos.append(done[1])
        seen += len(x)
        if progress is not None:
            progress.update(seen)
        if max_examples is not None and seen >= max_examples:
            break
    if not seen:
        raise ValueError("iwae_nll received no data.")
    saved.check_all_used(len(bounds))
    bounds, elbos = np.concatenate(bounds), np.concatenate(elbos)
    return {
        "nll": float(-bounds.mean()),
        "nll_std_error": float(bounds.std(ddof=1) / math.sqrt(len(bounds))) if seen > 1 else 0.0,
        "elbo": float(elbos.mean()),
        "num_examples": int(seen),
        "num_samples": int(num_samples),
        # The figure of colour-image tables: nats per image over (values per image x log 2).
        "bits_per_dim": float(-bounds.mean() / (np.prod(model.data_shape) * math.log(2.0))),
    }


class _SavedBatches:
    """The bounds of the batches an estimate has finished, kept in ``path`` (nothing is kept
    when it is ``None``) with what they depend on: the model's weights, K, the seed and a
    digest of each batch's data."""

    def __init__(self, path, model, num_samples, seed):
        self.path = None if path is None else os.fspath(path)
        self.settings = {"num_samples": int(num_samples), "seed": int(seed),
                         "weights": _weights_digest(model) if path is not None else ""}
        self.digests, self.bounds, self.elbos = [], [], []
        if self.path is None or not os.path.exists(self.path):
            return
        with np.load(self.path, allow_pickle=False) as saved:
            for key, value in self.settings.items():
                if saved[key].item() != value:
                    what = "the model's weights" if key == "weights" else (
                        f"{key} = {saved[key].item()}, not {value}")
                    raise ValueError(
                        f"The progress file {self.path} was written for another estimate "
                        f"({what} differ); delete it, or pass another progress_file.")
            self.digests = [str(d) for d in saved["digests"]]  # a file holds >= 1 batch
            ends = np.cumsum(saved["sizes"])[:-1]
            self.bounds = np.split(saved["bounds"], ends)
            self.elbos = np.split(saved["elbos"], ends)

    def get(self, index, x, y):
        """The saved ``(bounds, elbos)`` of batch ``index`` (``None`` if not saved yet)."""
        if index >= len(self.digests):
            return None
        if _batch_digest(x, y) != self.digests[index]:
            raise ValueError(
                f"Batch {index} of the data differs from the one the progress file "
                f"{self.path} saved (other data, order, batch size or max_examples); delete "
                "the file, or pass another progress_file.")
        return self.bounds[index], self.elbos[index]

    def add(self, x, y, bounds, elbos):
        if self.path is None:
            return
        self.digests.append(_batch_digest(x, y))
        self.bounds.append(bounds)
        self.elbos.append(elbos)
        with outputs.replacing(self.path) as tmp, open(tmp, "wb") as f:
            np.savez(f, digests=np.array(self.digests), sizes=[len(b) for b in self.bounds],
                     bounds=np.concatenate(self.bounds), elbos=np.concatenate(self.elbos),
                     **{key: np.array(value) for key, value in self.settings.items()})

    def check_all_used(self, batches):
        if len(self.digests) > batches:
            raise ValueError(
                f"The progress file {self.path} holds {len(self.digests)} batches but the "
                f"data gave {batches}: it was written for more data (or a larger "
                "max_examples); delete it, or pass another progress_file.")


def _weights_digest(model):
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()


def _batch_digest(x, y):
    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes())
    if y is not None:
        digest.update(np.ascontiguousarray(y).tobytes())
    return digest.hexdigest()


def _rebatched(batches, batch_size):
    if batch_size is None:
        yield from batches
        return
    check_positive_int("batch_size", batch_size)
    xs, ys = [], []
    for x, y in batches:
        xs.append(x)
        ys.append(y)
        while sum(len(a) for a in xs) >= batch_size:
            x_all = np.concatenate(xs)
            y_all = None if ys[0] is None else np.concatenate(ys)
            yield x_all[:batch_size], (None if y_all is None else y_all[:batch_size])
            xs = [x_all[batch_size:]]
            ys = [None if y_all is None else y_all[batch_size:]]
    if xs and sum(len(a) for a in xs):
        yield np.concatenate(xs), (None if ys[0] is None else np.concatenate(ys))
