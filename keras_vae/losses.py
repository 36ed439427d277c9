"""Likelihoods, KL divergence and the capacity term, all per example and in nats, and the
batch estimators of the disentangling objectives (total correlation, covariance penalties).

Every per-example function here returns one value per example (shape ``[batch]``) or, for
:func:`gaussian_kl_per_dim`, one value per example and latent dimension. Reductions over
the batch (and the scaling to the global batch under ``tf.distribute``) are the model's job.

Numerical safety: log-variances are clipped to ``LOG_VAR_BOUNDS`` before they are
exponentiated, and the Bernoulli term is computed from logits with the stable
``max(l, 0) - l x + log(1 + exp(-|l|))`` form, so extreme inputs give large but finite
values, never ``inf`` or ``NaN``.
"""

import math

import numpy as np
import tensorflow as tf

#: Range log-variances are clipped to before ``exp``: ``exp(30) ~ 1e13`` stays finite in
#: float32 even when summed over many dimensions, and ``exp(-30)`` is a variance far below
#: anything a float32 decoder can resolve.
LOG_VAR_BOUNDS = (-30.0, 30.0)

LIKELIHOODS = ("bernoulli", "gaussian", "logistic")

_LOG_2PI = math.log(2.0 * math.pi)


def clip_log_var(log_var):
    """Clips a log-variance tensor to ``LOG_VAR_BOUNDS`` (float32)."""
    return tf.clip_by_value(tf.cast(log_var, tf.float32), *LOG_VAR_BOUNDS)


def _sum_per_example(values):
    """Sums all axes but the first: ``[batch, ...] -> [batch]``."""
    return tf.reduce_sum(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def bernoulli_nll(x, logits):
    """Negative log-likelihood of ``x`` under independent Bernoulli pixels.

    ``-log p(x | logits) = sum_pixels [max(l, 0) - l x + log(1 + exp(-|l|))]``, the binary
    cross-entropy from logits summed over pixels. ``x`` may be binary or in ``[0, 1]``
    (a continuous relaxation, as is common for greyscale images).

    Args:
        x: Targets, ``[batch, ...]``, values in ``[0, 1]``.
        logits: Decoder logits of the same shape.

    Returns:
        Per-example NLL in nats, shape ``[batch]``.
    """
    x = tf.cast(x, tf.float32)
    logits = tf.cast(logits, tf.float32)
    return _sum_per_example(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits))


def gaussian_nll(x, mean, log_scale):
    """Negative log-likelihood of ``x`` under independent Gaussians ``N(mean, sigma^2)``.

    ``-log p(x) = sum_pixels [0.5 ((x - mean) / sigma)^2 + log sigma + 0.5 log(2 pi)]``.

    Args:
        x: Targets, ``[batch, ...]``.
        mean: Decoder means, same shape as ``x``.
        log_scale: ``log sigma``: a scalar (one sigma for every pixel) or a tensor that
            broadcasts against ``x``.

    Returns:
        Per-example NLL in nats, shape ``[batch]``.
    """
    x = tf.cast(x, tf.float32)
    mean = tf.cast(mean, tf.float32)
    log_scale = tf.clip_by_value(tf.cast(log_scale, tf.float32), -15.0, 15.0)
    z = (x - mean) * tf.exp(-log_scale)
    per_pixel = 0.5 * tf.square(z) + log_scale + 0.5 * _LOG_2PI
    return _sum_per_example(per_pixel)


def discretized_logistic_nll(x, mean, log_scale, bins=256):
    """Negative log-likelihood of ``bins``-level data scaled to [0, 1] (8-bit images:
    ``x = k / 255``) under a logistic of ``mean`` and scale ``exp(log_scale)`` discretized to
    the bins (Kingma et al. 2016; Salimans et al. 2017, eq. 2): each value's probability is
    the logistic's mass over its bin ``[x - 1/(2(bins-1)), x + 1/(2(bins-1))]``, the lowest
    and highest bins taking the tails, so the probabilities of the bins sum to 1.

    Args:
        x: Targets ``[batch, ...]``, values ``k / (bins - 1)``.
        mean: The logistic's location, same shape.
        log_scale: ``log s``: a scalar or a tensor broadcasting against ``x``.
        bins: Number of levels (256 for 8-bit data).

    Returns:
        Per-example NLL in nats, shape ``[batch]``.
    """
    x = tf.cast(x, tf.float32)
    log_scale = tf.clip_by_value(tf.cast(log_scale, tf.float32), -7.0, 7.0)
    inv_scale = tf.exp(-log_scale)
    half_bin = 0.5 / (bins - 1)
    centred = x - tf.cast(mean, tf.float32)
    upper = inv_scale * (centred + half_bin)
    lower = inv_scale * (centred - half_bin)
    log_cdf_upper = -tf.nn.softplus(-upper)        # log sigmoid(upper): the lowest bin
    log_survival_lower = -tf.nn.softplus(lower)    # log (1 - sigmoid(lower)): the highest
    mass = tf.sigmoid(upper) - tf.sigmoid(lower)
    # Where the bin's mass underflows, the density at its centre times the bin's width.
    middle = inv_scale * centred
    log_density = middle - log_scale - 2.0 * tf.nn.softplus(middle) + math.log(2 * half_bin)
    log_mass = tf.where(mass > 1e-5, tf.math.log(tf.maximum(mass, 1e-12)), log_density)
    log_p = tf.where(x < half_bin, log_cdf_upper,
                     tf.where(x > 1.0 - half_bin, log_survival_lower, log_mass))
    return -_sum_per_example(log_p)


def gaussian_kl_per_dim(mean, log_var, prior_mean=None, prior_log_var=None):
    """KL(N(mean, exp(log_var)) || N(prior_mean, exp(prior_log_var))) per dimension.

    With the default standard-normal prior this is
    ``0.5 (exp(log_var) + mean^2 - 1 - log_var)``.

    Args:
        mean: Posterior means, ``[batch, latent_dim]``.
        log_var: Posterior log-variances, same shape.
        prior_mean: Prior means (broadcastable), or ``None`` for 0.
        prior_log_var: Prior log-variances (broadcastable), or ``None`` for 0.

    Returns:
        ``[batch, latent_dim]`` KL values in nats, each ``>= 0``.
    """
    mean = tf.cast(mean, tf.float32)
    log_var = clip_log_var(log_var)
    if prior_mean is None and prior_log_var is None:
        return 0.5 * (tf.exp(log_var) + tf.square(mean) - 1.0 - log_var)
    prior_mean = tf.zeros_like(mean) if prior_mean is None else tf.cast(prior_mean, tf.float32)
    prior_log_var = (
        tf.zeros_like(log_var) if prior_log_var is None else clip_log_var(prior_log_var)
    )
    return 0.5 * (
        prior_log_var
        - log_var
        + (tf.exp(log_var) + tf.square(mean - prior_mean)) * tf.exp(-prior_log_var)
        - 1.0
    )


def gaussian_kl(mean, log_var, prior_mean=None, prior_log_var=None):
    """KL divergence summed over latent dimensions: shape ``[batch]``, in nats."""
    return tf.reduce_sum(gaussian_kl_per_dim(mean, log_var, prior_mean, prior_log_var), axis=1)


def free_bits_kl(kl_per_dim, free_bits):
    """KL with a floor of ``free_bits`` nats on every latent dimension, summed: ``[batch]``.
    ``free_bits`` is one number, or one per dimension (``[latent_dim]``).

    Each example's per-dimension KL is replaced by ``max(KL_d, free_bits)``, so dimensions
    below the floor receive no gradient pushing them further towards the prior (the
    "KL floor" remedy for posterior collapse, after Kingma et al. 2016, applied per
    example so it is independent of how the batch is split across replicas).
    """
    floor = np.asarray(free_bits, np.float32)
    if not np.any(floor > 0):
        return tf.reduce_sum(kl_per_dim, axis=1)
    return tf.reduce_sum(tf.maximum(tf.cast(kl_per_dim, tf.float32), floor), axis=1)


def capacity_penalty(kl, capacity, gamma):
    """The capacity term of Burgess et al. (2018), eq. 8: ``gamma * |KL - C|``, per example."""
    return float(gamma) * tf.abs(tf.cast(kl, tf.float32) - tf.cast(capacity, tf.float32))


# ---------------------------------------------------------------------------- batch estimators
def gaussian_log_density_per_dim(z, mean, log_var):
    """``log N(z; mean, exp(log_var))`` per value, broadcasting (float32, the log-variance
    clipped to ``LOG_VAR_BOUNDS``)."""
    log_var = clip_log_var(log_var)
    z, mean = tf.cast(z, tf.float32), tf.cast(mean, tf.float32)
    return -0.5 * (_LOG_2PI + log_var + tf.square(z - mean) * tf.exp(-log_var))


def log_density_matrix(z, mean, log_var):
    """``log q(z_ik | x_j)`` for every example ``i`` of ``z [n, d]`` under every posterior
    ``j`` of ``mean, log_var [m, d]``: shape ``[n, m, d]`` (float32)."""
    return gaussian_log_density_per_dim(z[:, None], mean[None], log_var[None])


def mixture_log_density(z, log_weights, means, log_vars):
    """``log sum_k w_k N(z; mu_k, diag exp(log_var_k))`` for ``z [..., d]`` against ``K``
    components (``log_weights [K]``, ``means``/``log_vars [K, d]``): ``[...]``.

    The squared distances come from matrix products (``z^2 / sigma^2 - 2 z mu / sigma^2 +
    mu^2 / sigma^2``), so memory grows with ``rows x K``, not ``rows x K x d``: a VampPrior
    of 500 components is evaluated over thousands of importance samples at once."""
    z = tf.cast(z, tf.float32)
    shape = tf.shape(z)
    flat = tf.reshape(z, [-1, shape[-1]])
    log_vars = clip_log_var(log_vars)
    precision = tf.exp(-log_vars)
    means = tf.cast(means, tf.float32)
    squared = (tf.matmul(tf.square(flat), precision, transpose_b=True)
               - 2.0 * tf.matmul(flat, means * precision, transpose_b=True)
               + tf.reduce_sum(tf.square(means) * precision, axis=1))
    d = tf.cast(shape[-1], tf.float32)
    per_component = -0.5 * (tf.maximum(squared, 0.0) + tf.reduce_sum(log_vars, axis=1)
                            + d * _LOG_2PI)
    log_p = tf.reduce_logsumexp(per_component + tf.cast(log_weights, tf.float32), axis=1)
    return tf.reshape(log_p, shape[:-1])


def stratified_log_weights(batch, dataset_size):
    """``log w_ij`` of minibatch stratified sampling (Chen et al. 2018, appendix C.2) for a
    batch of ``batch`` examples drawn from ``dataset_size``: ``[batch, batch]``.

    Row ``i`` estimates ``q(z_i)``: the anchor ``x_i`` weighs ``1/N``, one other example
    (the next, cyclically) ``(N - M)/(N M)`` and the remaining ``M - 1`` weigh ``1/M`` each,
    with ``M = batch - 1``; every row sums to 1. (The authors' code places the second weight
    the same way except in its last two rows, where the rows then do not sum to 1.)"""
    batch = tf.cast(batch, tf.float32)
    size = float(dataset_size)
    m = tf.maximum(batch - 1.0, 1.0)
    n = tf.cast(batch, tf.int32)
    eye = tf.eye(n)
    following = tf.roll(eye, shift=1, axis=1)
    strata = tf.maximum((size - m) / (size * m), 0.0)
    weights = eye / size + following * strata + (1.0 - eye - following) / m
    return tf.math.log(weights)


def kl_decomposition(z, mean, log_var, all_mean, all_log_var, log_weights):
    """The three terms of ``KL(q(z|x) || p(z))`` averaged over the data (Chen et al. 2018,
    eq. 2), estimated per example from a batch, with p(z) = N(0, I): index-code mutual
    information ``log q(z|x) - log q(z)``, total correlation
    ``log q(z) - sum_k log q(z_k)`` and dimension-wise KL ``sum_k log q(z_k) - log p(z_k)``,
    each ``[n]`` (nats); they sum to ``log q(z|x) - log p(z)``.

    ``z, mean, log_var [n, d]`` are this batch's (or replica's) samples and posteriors,
    ``all_mean, all_log_var [m, d]`` every posterior of the batch the estimator mixes
    over, ``log_weights`` (broadcast to ``[n, m]``) the log weight of posterior ``j`` in the
    estimate of ``q(z_i)``: ``-log(N m)`` for minibatch-weighted sampling from ``N``
    examples, ``-log m`` for the batch's own mixture, :func:`stratified_log_weights` rows.
    """
    pairs = log_density_matrix(z, all_mean, all_log_var)  # [n, m, d]
    log_weights = tf.cast(log_weights, tf.float32)
    log_q_z = tf.reduce_logsumexp(tf.reduce_sum(pairs, axis=2) + log_weights, axis=1)
    log_q_marginals = tf.reduce_sum(
        tf.reduce_logsumexp(pairs + log_weights[..., None], axis=1), axis=1)
    log_q_z_x = tf.reduce_sum(gaussian_log_density_per_dim(z, mean, log_var), axis=1)
    log_p_z = tf.reduce_sum(gaussian_log_density_per_dim(z, 0.0, 0.0), axis=1)
    return (log_q_z_x - log_q_z, log_q_z - log_q_marginals, log_q_marginals - log_p_z)


def covariance(values):
    """The (biased, divided by the row count) covariance of ``values [n, d]``: ``[d, d]``."""
    values = tf.cast(values, tf.float32)
    centred = values - tf.reduce_mean(values, axis=0, keepdims=True)
    return tf.matmul(centred, centred, transpose_a=True) / tf.cast(tf.shape(values)[0],
                                                                   tf.float32)


def dip_penalty(cov, lambda_od, lambda_d):
    """DIP-VAE's penalty on a covariance matrix (Kumar et al. 2018, eqs. 6-7):
    ``lambda_od * sum_{i != j} cov_ij^2 + lambda_d * sum_i (cov_ii - 1)^2``, a scalar."""
    diagonal = tf.linalg.diag_part(cov)
    off = cov - tf.linalg.diag(diagonal)
    return (float(lambda_od) * tf.reduce_sum(tf.square(off))
            + float(lambda_d) * tf.reduce_sum(tf.square(diagonal - 1.0)))
