"""The Importance-Weighted Autoencoder: the k-sample bound as the training objective."""

import math

import keras
import tensorflow as tf

from keras_vae import losses
from keras_vae.models.base import BaseVAE
from keras_vae.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_vae")
class IWAE(BaseVAE):
    """Importance-Weighted Autoencoder (Burda, Grosse & Salakhutdinov 2016).

    Trains on the k-sample bound ``L_k = E[log (1/k) sum_i p(x, z_i) / q(z_i|x)]`` with
    ``z_i ~ q(z|x)`` (eq. 8), which is at least the ELBO (``L_1``) and tightens with k. The
    network and every other argument are as for :class:`keras_vae.VAE`. Reported metrics:
    ``loss`` = ``-L_k`` (nats per example, the quantity minimized), ``reconstruction_loss``
    (the mean of ``-log p(x|z_i)`` over the k draws), ``kl_loss`` (the analytic KL; with a flow or
    a learned prior, its Monte-Carlo estimate over the k draws) and
    ``elbo`` = ``-(reconstruction_loss + kl_loss)``, the single-sample bound of the same
    model: ``-loss >= elbo`` up to sampling noise.

    Args:
        input_shape: Shape of one example.
        num_samples: k, the importance samples per example (default 5; 1 is the VAE).
        **kwargs: Everything :class:`keras_vae.VAE` takes.

    Example:

    >>> import keras_vae as kv
    >>> iwae = kv.IWAE(input_shape=(8, 8, 1), num_samples=5, latent_dim=2, hidden_units=(16,))
    >>> iwae.num_samples
    5

    References:
        Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
    """

    kind = "iwae"
    refused_arguments = {"free_bits": "it trains on the importance-weighted bound, which has "
                                      "no KL term to floor"}

    def __init__(self, input_shape, num_samples=5, **kwargs):
        self.num_samples = check_positive_int("num_samples", num_samples)
        super().__init__(input_shape, **kwargs)

    def compute_terms(self, inputs, training=False):
        x, condition = self.split_inputs(inputs)
        c = self.condition_vector(condition)
        mean, log_var = self.posterior(x, c, training=training)
        # One noise row per example (k draws each), independent of how a batch is split.
        eps = self.sampling.noise(tf.repeat(mean[:, None], self.num_samples, axis=1))
        log_w, log_p_x = self.log_weights_of_noise(x, c, mean, log_var, condition, eps,
                                                   training=training)
        rec = -tf.reduce_mean(log_p_x, axis=1)
        if self.analytic_kl:
            prior = self.prior_params(condition, tf.shape(mean)[0])
            kl_per_dim = losses.gaussian_kl_per_dim(mean, log_var, *(prior or (None, None)))
        else:  # the Monte-Carlo KL over the k draws
            kl_per_dim = (-tf.reduce_mean(log_w, axis=1) - rec)[:, None]
        return {"log_weights": log_w, "reconstruction_loss": rec, "kl_per_dim": kl_per_dim}

    def objective_values(self, terms):
        bound = (tf.reduce_logsumexp(terms["log_weights"], axis=1)
                 - math.log(self.num_samples))
        rec = terms["reconstruction_loss"]
        kl = tf.reduce_sum(terms["kl_per_dim"], axis=1)
        return {"loss": -bound, "reconstruction_loss": rec, "kl_loss": kl, "elbo": -(rec + kl)}

    def get_config(self):
        return {**super().get_config(), "num_samples": self.num_samples}
