"""FactorVAE (Kim & Mnih 2018): a VAE penalized by a discriminator's estimate of the total
correlation of its latent code."""

import keras
import tensorflow as tf

from keras_vae.layers import PermuteDims
from keras_vae.models.adversary import Adversary
from keras_vae.models.base import BaseVAE
from keras_vae.validation import check_number

#: The paper's discriminator optimizer: Adam, learning rate 1e-4, beta_1 0.5, beta_2 0.9.
DISCRIMINATOR_OPTIMIZER = {"class_name": "Adam", "config": {
    "learning_rate": 1e-4, "beta_1": 0.5, "beta_2": 0.9}}


@keras.saving.register_keras_serializable(package="keras_vae")
class FactorVAE(Adversary, BaseVAE):
    """A VAE whose loss adds γ times the total correlation of q(z), estimated by a
    discriminator (Kim & Mnih 2018, eqs. 2-4).

    The discriminator D sees samples ``z ~ q(z|x)`` of the batch and the same samples with
    each dimension shuffled across the batch (:class:`keras_vae.layers.PermuteDims`), which
    are samples of the product of the marginals; trained to tell them apart, its logit
    estimates ``log q(z) / prod_j q(z_j)``, whose mean is the total correlation. The VAE
    minimizes ``-log p(x|z) + KL + γ · logit(z)``; D minimizes the cross-entropy of the two
    kinds of samples on its own optimizer. Both updates come from one forward pass (the
    paper's Algorithm 1 draws a second batch for the permutation; as in disentanglement_lib,
    the same batch is permuted here). Reported metrics: ``loss``, ``reconstruction_loss``,
    ``kl_loss``, ``elbo``, ``tc_loss`` (D's total-correlation estimate, nats) and
    ``discriminator_loss``.

    Args:
        input_shape: Shape of one example.
        gamma: γ, the weight of the total-correlation term (default 40; the paper sweeps
            10-100 on 2D Shapes). It is no β: the KL keeps weight 1.
        discriminator: Your own discriminator (a Keras model mapping
            ``[batch, latent_dim]`` to one logit ``[batch, 1]``), or ``None`` for an MLP of
            ``discriminator_units``.
        discriminator_units: Widths of the default discriminator's LeakyReLU(0.2) layers
            (the paper's six of 1000).
        discriminator_optimizer: The discriminator's optimizer (an instance, its serialized
            form or a name); default the paper's Adam(1e-4, beta_1=0.5, beta_2=0.9).
        **kwargs: Everything :class:`keras_vae.VAE` takes, your own networks included.

    Example:

    >>> import keras_vae as kv
    >>> model = kv.FactorVAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,),
    ...                      gamma=10.0, discriminator_units=(32, 32))
    >>> model.metric_names()[-2:]
    ['tc_loss', 'discriminator_loss']

    References:
        Kim & Mnih, "Disentangling by Factorising", ICML 2018.
    """

    kind = "factor_vae"

    def __init__(self, input_shape, gamma=40.0, discriminator=None,
                 discriminator_units=(1000,) * 6,
                 discriminator_optimizer=None, **kwargs):
        self.gamma = check_number("gamma", gamma, minimum=0.0)
        super().__init__(input_shape, **kwargs)
        self.permute = PermuteDims(seed=None if self.seed is None else self.seed + 1,
                                   name="permute_dims")
        self.permute.build((None, None))
        self.init_adversary(self.latent_dim, discriminator, discriminator_units,
                            discriminator_optimizer or DISCRIMINATOR_OPTIMIZER)

    def metric_names(self):
        return [*super().metric_names(), "tc_loss", "discriminator_loss"]

    def objective_values(self, terms):
        values = super().objective_values(terms)
        z = terms["z"]
        logit = self.discriminator_logit(z, training=True)
        shuffled = self.discriminator_logit(self.permute(tf.stop_gradient(z)), training=True)
        values["discriminator_loss"] = self.discriminator_loss(logit, shuffled)
        values["tc_loss"] = logit
        values["loss"] = values["loss"] + self.gamma * logit
        return values

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, **self.adversary_config()}

    object_config_keys = (*BaseVAE.object_config_keys, "discriminator")
