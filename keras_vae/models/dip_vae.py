"""DIP-VAE (Kumar et al. 2018): the VAE with a penalty that pushes the covariance of the
aggregate posterior towards the identity."""

import keras
import tensorflow as tf

from keras_vae import distribute
from keras_vae import losses
from keras_vae.models.base import BaseVAE
from keras_vae.validation import check_number

DIP_TYPES = ("i", "ii")


@keras.saving.register_keras_serializable(package="keras_vae")
class DIPVAE(BaseVAE):
    """Disentangled Inferred Prior VAE: ``loss = -log p(x|z) + KL + penalty(Cov)`` with
    ``penalty = λ_od · sum_{i≠j} Cov_ij² + λ_d · sum_i (Cov_ii − 1)²`` (Kumar et al. 2018,
    eqs. 6-7).

    ``dip_type="i"`` penalizes the covariance of the posterior means over the batch,
    ``Cov[μ(x)]``; ``"ii"`` that of the aggregate posterior itself,
    ``E[diag σ²(x)] + Cov[μ(x)]``. The batch is the global batch under a distribution
    strategy. Reported metrics: ``loss``, ``reconstruction_loss``, ``kl_loss``, ``elbo`` and
    ``dip_loss`` (the penalty, one value per batch).

    Args:
        input_shape: Shape of one example.
        dip_type: ``"i"`` (default) or ``"ii"``.
        lambda_od: Weight of the off-diagonal entries (default 10).
        lambda_d: Weight of the diagonal entries; default ``10 * lambda_od`` for DIP-VAE-I
            and ``lambda_od`` for DIP-VAE-II, the paper's settings.
        **kwargs: Everything :class:`keras_vae.VAE` takes.

    Example:

    >>> import keras_vae as kv
    >>> model = kv.DIPVAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,),
    ...                   dip_type="ii")
    >>> model.lambda_d
    10.0

    References:
        Kumar, Sattigeri & Balakrishnan, "Variational Inference of Disentangled Latent
        Concepts from Unlabeled Observations", ICLR 2018.
    """

    kind = "dip_vae"

    def __init__(self, input_shape, dip_type="i", lambda_od=10.0, lambda_d=None, **kwargs):
        if dip_type not in DIP_TYPES:
            raise ValueError(f"`dip_type` must be one of {DIP_TYPES}. "
                             f"Received: dip_type={dip_type!r}")
        self.dip_type = dip_type
        self.lambda_od = check_number("lambda_od", lambda_od, minimum=0.0)
        if lambda_d is None:
            lambda_d = 10.0 * self.lambda_od if dip_type == "i" else self.lambda_od
        self.lambda_d = check_number("lambda_d", lambda_d, minimum=0.0)
        super().__init__(input_shape, **kwargs)

    def metric_names(self):
        return [*super().metric_names(), "dip_loss"]

    def covariance(self, mean, log_var):
        """The covariance DIP penalizes, from every posterior of the (global) batch."""
        all_mean, _ = distribute.gather_all(mean)
        cov = losses.covariance(all_mean)
        if self.dip_type == "ii":
            all_log_var, _ = distribute.gather_all(log_var)
            cov += tf.linalg.diag(tf.reduce_mean(tf.exp(losses.clip_log_var(all_log_var)),
                                                 axis=0))
        return cov

    def objective_values(self, terms):
        values = super().objective_values(terms)
        penalty = losses.dip_penalty(self.covariance(terms["mean"], terms["log_var"]),
                                     self.lambda_od, self.lambda_d)
        # One batch-level value, given to every example: its global-batch mean is the penalty.
        per_example = tf.fill(tf.shape(values["loss"]), penalty)
        values["dip_loss"] = per_example
        values["loss"] = values["loss"] + per_example
        return values

    def get_config(self):
        return {**super().get_config(), "dip_type": self.dip_type,
                "lambda_od": self.lambda_od, "lambda_d": self.lambda_d}
