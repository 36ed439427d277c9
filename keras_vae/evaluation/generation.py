"""Sample quality: class accuracy of conditional samples, and a Fréchet distance in the feature
space of a model the user supplies (nothing is downloaded)."""

import numpy as np

from keras_vae.validation import check_positive_int


def _predict_classes(classifier, images, batch_size=512):
    probs = np.concatenate([np.asarray(classifier(images[i:i + batch_size], training=False))
                            for i in range(0, len(images), batch_size)])
    if probs.ndim != 2:
        raise ValueError(f"The classifier must return [batch, classes] scores; it returned "
                         f"shape {probs.shape}.")
    return probs.argmax(axis=1)


def conditional_accuracy(model, classifier, num_per_class=100, seed=0, temperature=1.0):
    """How often samples of a conditional model are recognised as their requested class.

    Args:
        model: A model with ``sample(labels, seed=...)`` and ``num_classes`` (a
            ``ConditionalVAE``, or a ``VQVAE`` with a class-conditional prior).
        classifier: A Keras model mapping images to class scores ``[batch, num_classes]``
            (e.g. ``benchmarks/mnist_classifier.py``'s).
        num_per_class: Samples per class.
        seed: Sampling seed.
        temperature: Prior temperature (1 = the model's own prior).

    Returns:
        ``{"accuracy", "per_class": [...], "num_samples"}``.
    """
    num_per_class = check_positive_int("num_per_class", num_per_class)
    num_classes = getattr(model, "num_classes", None)
    if num_classes is None and getattr(model, "prior", None) is not None:
        num_classes = getattr(model.prior, "num_classes", None)
    if not num_classes:
        raise ValueError(f"{type(model).__name__} is not conditional: it has no classes to "
                         "sample from (train a ConditionalVAE or a class-conditional prior).")
    labels = np.repeat(np.arange(num_classes), num_per_class).astype("int32")
    samples = np.concatenate([
        np.asarray(model.sample(labels[i:i + 1000], seed=seed + i, temperature=temperature))
        for i in range(0, len(labels), 1000)])
    predicted = _predict_classes(classifier, samples)
    correct = predicted == labels
    per_class = correct.reshape(num_classes, num_per_class).mean(axis=1)
    return {"accuracy": float(correct.mean()), "per_class": [round(float(v), 4) for v in per_class],
            "num_samples": int(len(labels))}


def frechet_distance(features_a, features_b):
    """Fréchet distance between Gaussians fitted to two feature sets ``[N, F]``:
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (Heusel et al. 2017, FID when
    the features are Inception's). The trace of the square root is computed from the
    eigenvalues of ``S_a^(1/2) S_b S_a^(1/2)``, which is symmetric, so it stays real.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(500, 3))
    >>> round(frechet_distance(x, x), 6)
    0.0
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"Features must be [N, F] with the same F; received {a.shape} and "
                         f"{b.shape}.")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Each feature set needs at least 2 rows.")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False).reshape(a.shape[1], -1), \
        np.cov(b, rowvar=False).reshape(b.shape[1], -1)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root_a @ cov_b @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    distance = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(distance, 0.0))


def sample_frechet_distance(model, images, feature_model, num_samples=None, seed=0,
                            batch_size=512):
    """Fréchet distance between ``feature_model`` features of real ``images`` and of as many
    samples of ``model`` (unconditional models; for a conditional one, pass samples and
    images through :func:`frechet_distance` yourself)."""
    images = np.asarray(images, np.float32)
    num = num_samples or len(images)
    samples = np.concatenate([np.asarray(model.sample(min(1000, num - i), seed=seed + i))
                              for i in range(0, num, 1000)])

    def features(x):
        return np.concatenate([np.asarray(feature_model(x[i:i + batch_size], training=False))
                               .reshape(len(x[i:i + batch_size]), -1)
                               for i in range(0, len(x), batch_size)])

    return frechet_distance(features(images), features(samples))
