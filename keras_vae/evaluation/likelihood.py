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

import math

import keras
import numpy as np
import tensorflow as tf

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
             verbose=False):
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
    bounds, elbos, seen = [], [], 0
    for index, (x, y) in enumerate(_rebatched(_batches(data, conditional), batch_size)):
        if max_examples is not None:
            x = x[: max_examples - seen]
            y = None if y is None else y[: len(x)]
        if len(x) == 0:
            break
        w = log_weights(model, x, y, num_samples=num_samples, seed=seed + index)
        bounds.append((tf.reduce_logsumexp(w, axis=1) - math.log(num_samples)).numpy())
        elbos.append(tf.reduce_mean(w, axis=1).numpy())
        seen += len(x)
        if progress is not None:
            progress.update(seen)
        if max_examples is not None and seen >= max_examples:
            break
    if not seen:
        raise ValueError("iwae_nll received no data.")
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
