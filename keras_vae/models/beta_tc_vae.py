"""β-TCVAE (Chen et al. 2018): the KL term split into index-code mutual information, total
correlation and dimension-wise KL, each weighted apart."""

import math

import keras
import tensorflow as tf

from keras_vae import distribute
from keras_vae import losses
from keras_vae import schedules
from keras_vae.models.base import BaseVAE
from keras_vae.validation import check_number
from keras_vae.validation import check_positive_int

#: How ``q(z)`` is estimated from a batch of M posteriors.
ESTIMATORS = ("mws", "mss")


@keras.saving.register_keras_serializable(package="keras_vae")
class BetaTCVAE(BaseVAE):
    """A VAE with the decomposed KL (Chen et al. 2018, eqs. 2 and 4):
    ``loss = -log p(x|z) + α · MI + β · TC + γ · dimension-wise KL``.

    The aggregate posterior ``q(z)`` and its marginals ``q(z_j)`` are estimated from the
    batch: for sample ``z_i``, ``log q(z_i) ~ log sum_j w_ij q(z_i|x_j)`` over the batch's
    M posteriors (under a distribution strategy, the whole global batch's). With
    ``dataset_size=N`` the weights are minibatch-weighted sampling (``estimator="mws"``,
    ``w = 1/(N M)``, the paper's eq. S5) or minibatch stratified sampling (``"mss"``,
    :func:`keras_vae.losses.stratified_log_weights`); without it the batch is taken as the
    data set (``w = 1/M``, as disentanglement_lib does), which leaves the gradients of MI
    and TC unchanged up to the estimator's bias and shifts their reported values by
    constants. Reported metrics: ``loss``, ``reconstruction_loss``, ``kl_loss`` (the
    analytic KL), ``elbo``, and the three estimates ``mi_loss``, ``tc_loss`` and
    ``dimension_kl_loss`` (nats; they sum to a one-sample estimate of the KL).

    Args:
        input_shape: Shape of one example.
        alpha: Weight of the index-code mutual information (default 1).
        beta: Weight of the total correlation, a number or a :mod:`keras_vae.schedules`
            schedule (default 6, the paper's dSprites value).
        gamma: Weight of the dimension-wise KL (default 1).
        dataset_size: N, the number of training examples, for the ``"mws"``/``"mss"``
            estimators; ``None`` takes the batch as the data set.
        estimator: ``"mws"`` (default) or ``"mss"``, with ``dataset_size``.
        **kwargs: Everything :class:`keras_vae.VAE` takes except ``free_bits`` (the
            decomposed KL has no per-dimension analytic term to floor), ``flow`` and
            ``prior`` (the decomposition assumes Gaussian posteriors and N(0, I)).

    Example:

    >>> import keras_vae as kv
    >>> model = kv.BetaTCVAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,),
    ...                      beta=6.0, dataset_size=1000)
    >>> model.metric_names()[-3:]
    ['mi_loss', 'tc_loss', 'dimension_kl_loss']

    References:
        Chen, Li, Grosse & Duvenaud, "Isolating Sources of Disentanglement in Variational
        Autoencoders", NeurIPS 2018.
    """

    kind = "beta_tc_vae"
    _why = "its KL decomposition is estimated from the Gaussian posteriors of the batch"
    refused_arguments = {
        "free_bits": "it weighs the KL's three terms apart, estimated from the batch, not "
                     "each analytic per-dimension KL",
        "flow": _why + ", not from flowed codes",
        "prior": _why + " against N(0, I)",
    }

    def __init__(self, input_shape, alpha=1.0, beta=6.0, gamma=1.0, dataset_size=None,
                 estimator="mws", **kwargs):
        self.alpha = check_number("alpha", alpha, minimum=0.0)
        self.beta = schedules.get(beta, "beta", minimum=0.0)
        self.gamma = check_number("gamma", gamma, minimum=0.0)
        self.dataset_size = (None if dataset_size is None
                             else check_positive_int("dataset_size", dataset_size))
        if estimator not in ESTIMATORS:
            raise ValueError(f"`estimator` must be one of {ESTIMATORS}. "
                             f"Received: estimator={estimator!r}")
        if estimator == "mss" and self.dataset_size is None:
            raise ValueError("estimator='mss' (minibatch stratified sampling) weighs the batch "
                             "by the data set's size: pass dataset_size, the number of "
                             "training examples.")
        self.estimator = estimator
        super().__init__(input_shape, **kwargs)

    def metric_names(self):
        return [*super().metric_names(), "mi_loss", "tc_loss", "dimension_kl_loss"]

    def log_weights(self, batch, offset, rows):
        """``log w_ij`` for this replica's ``rows`` examples (from global row ``offset``) over
        the ``batch`` posteriors of the global batch: a scalar or ``[rows, batch]``."""
        m = tf.cast(batch, tf.float32)
        if self.dataset_size is None:
            return -tf.math.log(m)
        if self.estimator == "mws":
            return -(math.log(self.dataset_size) + tf.math.log(m))
        return losses.stratified_log_weights(batch, self.dataset_size)[offset: offset + rows]

    def objective_values(self, terms):
        mean, log_var, z = terms["mean"], terms["log_var"], terms["z"]
        all_mean, offset = distribute.gather_all(mean)
        all_log_var, _ = distribute.gather_all(log_var)
        log_w = self.log_weights(tf.shape(all_mean)[0], offset, tf.shape(mean)[0])
        mi, tc, dimension_kl = losses.kl_decomposition(z, mean, log_var, all_mean,
                                                       all_log_var, log_w)
        rec = terms["reconstruction_loss"]
        kl = tf.reduce_sum(terms["kl_per_dim"], axis=1)
        beta = self.beta(self._schedule_step())
        loss = rec + self.alpha * mi + beta * tc + self.gamma * dimension_kl
        return {"loss": loss, "reconstruction_loss": rec, "kl_loss": kl, "elbo": -(rec + kl),
                "mi_loss": mi, "tc_loss": tc, "dimension_kl_loss": dimension_kl}

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha,
                "beta": schedules.serialize(self.beta), "gamma": self.gamma,
                "dataset_size": self.dataset_size, "estimator": self.estimator}
