"""Posterior-collapse diagnostics: KL per latent dimension, active units, and an estimate of
the mutual information I(x; z) under the model's encoder."""

import math

import numpy as np
import tensorflow as tf

from keras_vae import losses
from keras_vae.evaluation.likelihood import _batches
from keras_vae.evaluation.likelihood import _check_model
from keras_vae.models.base import gaussian_log_density


def posterior_statistics(model, data, max_examples=None):
    """Encoder outputs over a dataset: a dict of NumPy arrays ``mean`` and ``log_var``
    (``[N, latent_dim]``), ``prior_mean`` and ``prior_log_var`` (p(z|c) of a conditional
    model, zeros otherwise) and ``labels`` (or ``None``)."""
    _check_model(model)
    conditional = model.needs_labels
    out = {"mean": [], "log_var": [], "prior_mean": [], "prior_log_var": [], "labels": []}
    seen = 0
    for x, y in _batches(data, conditional, keep_labels=True):
        if max_examples is not None:
            x = x[: max_examples - seen]
            y = None if y is None else y[: len(x)]
        if not len(x):
            break
        mean, log_var, prior_mean, prior_log_var = model.posterior_and_prior(
            x, y if conditional else None)
        for key, value in (("mean", mean), ("log_var", log_var), ("prior_mean", prior_mean),
                           ("prior_log_var", prior_log_var)):
            out[key].append(np.asarray(tf.cast(value, tf.float32)))
        if y is not None:
            out["labels"].append(np.asarray(y))
        seen += len(x)
        if max_examples is not None and seen >= max_examples:
            break
    if not seen:
        raise ValueError("posterior_statistics received no data.")
    stats = {k: np.concatenate(v) for k, v in out.items() if k != "labels"}
    stats["labels"] = np.concatenate(out["labels"]) if out["labels"] else None
    return stats


def kl_per_dimension(stats):
    """Mean KL(q(z_i|x) || p(z_i)) per latent dimension over the data, ``[latent_dim]``
    (nats). Dimensions near 0 carry no information about x: they have collapsed to the
    prior."""
    kl = losses.gaussian_kl_per_dim(stats["mean"], stats["log_var"], stats["prior_mean"],
                                    stats["prior_log_var"])
    return np.asarray(kl).mean(axis=0)


def active_units(stats, threshold=0.01):
    """Active latent dimensions (Burda et al. 2015, section 5.2): dimension i is active when
    ``Cov_x(E_q[z_i|x]) > threshold`` (the variance over the data of the posterior mean).

    Returns:
        ``(count, variances)``: the number of active dimensions and the variance of each.
    """
    variances = np.var(stats["mean"], axis=0)
    return int((variances > threshold).sum()), variances


def mutual_information(stats, num_examples=2000, seed=0):
    """Estimate of I(x; z) under q(z|x) and the data, in nats (He et al. 2019, eq. 10 and
    their code): ``E_x E_q(z|x)[log q(z|x)] - E_z[log q(z)]`` with the aggregate posterior
    q(z) approximated by the mixture of the posteriors of ``num_examples`` examples (one z
    drawn per example). It is at most ``log num_examples``; the KL term of the ELBO is
    ``I(x; z) + KL(q(z) || p(z))``, so a VAE whose KL goes into I rather than into the gap
    between q(z) and p(z) uses its latent space.
    """
    rng = np.random.default_rng(seed)
    n = len(stats["mean"])
    take = rng.choice(n, size=min(num_examples, n), replace=False)
    mean = tf.constant(stats["mean"][take], tf.float32)
    log_var = losses.clip_log_var(tf.constant(stats["log_var"][take]))
    d = mean.shape[1]
    # E_q(z|x)[log q(z|x)] = -entropy, analytic for a Gaussian.
    neg_entropy = tf.reduce_mean(-0.5 * d * (math.log(2 * math.pi) + 1.0)
                                 - 0.5 * tf.reduce_sum(log_var, axis=1))
    z = mean + tf.exp(0.5 * log_var) * tf.constant(rng.standard_normal(mean.shape), tf.float32)
    # log q(z_j) = log (1/N) sum_i q(z_j | x_i), [N] over the mixture.
    log_density = gaussian_log_density(z[:, None], mean[None], log_var[None])  # [N_z, N_x]
    log_qz = tf.reduce_logsumexp(log_density, axis=1) - math.log(len(take))
    return float(neg_entropy - tf.reduce_mean(log_qz))


def collapse_summary(stats, threshold=0.01, seed=0):
    """The three diagnostics of :func:`posterior_statistics` output, JSON-ready:
    ``kl_per_dimension`` (list, nats), ``kl_total``, ``active_units``, ``active_threshold``,
    ``latent_dim``, ``posterior_mean_variance`` (list) and ``mutual_information`` (nats)."""
    kl = kl_per_dimension(stats)
    count, variances = active_units(stats, threshold)
    return {
        "kl_per_dimension": [round(float(v), 5) for v in kl],
        "kl_total": float(kl.sum()),
        "active_units": count,
        "active_threshold": threshold,
        "latent_dim": int(kl.size),
        "posterior_mean_variance": [round(float(v), 5) for v in variances],
        "mutual_information": mutual_information(stats, seed=seed),
    }


def collapse_report(model, data, max_examples=10_000, threshold=0.01, seed=0):
    """:func:`collapse_summary` of ``model`` on ``data`` (at most ``max_examples`` images)."""
    return collapse_summary(posterior_statistics(model, data, max_examples=max_examples),
                            threshold, seed)
