"""The adversarial autoencoder (Makhzani et al. 2016): an autoencoder whose code is matched to
a prior by a discriminator instead of a KL term, and its supervised form, conditioned on a
class label."""

import math

import keras
import tensorflow as tf

from keras_vae import losses
from keras_vae.layers import Sampling
from keras_vae.models.adversary import Adversary
from keras_vae.models.base import BaseVAE
from keras_vae.models.conditional_vae import Conditions
from keras_vae.models.mixture_priors import mixture_from_noise
from keras_vae.validation import check_number
from keras_vae.validation import check_positive_int

ENCODER_TYPES = ("deterministic", "gaussian")
PRIOR_TYPES = ("normal", "mixture")
#: A GAN-style discriminator optimizer: Adam, learning rate 2e-4, beta_1 0.5.
DISCRIMINATOR_OPTIMIZER = {"class_name": "Adam", "config": {"learning_rate": 2e-4,
                                                            "beta_1": 0.5}}


@keras.saving.register_keras_serializable(package="keras_vae")
class AdversarialAutoencoder(Adversary, BaseVAE):
    """An autoencoder regularized by a discriminator that tells its codes from prior draws
    (Makhzani et al. 2016, section 2).

    Each step, one forward pass gives both updates: the autoencoder minimizes
    ``-log p(x|z) + adversarial_weight · (-log D(z))`` (the encoder learns to pass its codes
    off as prior draws), and the discriminator, on its own optimizer, minimizes the
    cross-entropy of prior draws (real) against codes (fake). ``sample`` decodes draws from
    the prior. There is no KL term and no likelihood bound: ``fit`` reports ``loss``,
    ``reconstruction_loss``, ``discriminator_loss`` and ``adversarial_loss`` (the encoder's
    ``-log D(z)``), and ``keras-vae evaluate`` leaves out the importance-weighted NLL.

    The encoder has the Gaussian models' contract (``[batch, 2 * latent_dim]`` or a pair):
    ``encoder_type="deterministic"`` takes the mean as the code (``encode`` reports a
    log-variance of ``-30``, a point mass), ``"gaussian"`` samples the code from
    ``N(mean, exp(log_var))`` (the paper's second choice).

    Args:
        input_shape: Shape of one example.
        encoder_type: ``"deterministic"`` (default) or ``"gaussian"``.
        prior_type: ``"normal"``, N(0, I) (default), or ``"mixture"``: ``num_components``
            Gaussians of standard deviation ``mixture_scale`` with means evenly spaced on a
            circle of radius ``mixture_radius`` in the plane of the first two latent
            dimensions (the paper's figure 2 uses 10 in 2-D).
        num_components, mixture_radius, mixture_scale: The mixture prior's shape.
        adversarial_weight: Weight of the encoder's adversarial term (default 1).
        discriminator: Your own discriminator (``[batch, latent_dim]`` -> ``[batch, 1]``
            logits; a conditional model's takes ``[batch, latent_dim + condition width]``,
            the code and the condition vector), or ``None`` for an MLP of
            ``discriminator_units``.
        discriminator_units: Widths of the default discriminator's LeakyReLU(0.2) layers
            (two of 1000, as the paper's MNIST model).
        discriminator_optimizer: The discriminator's optimizer (instance, serialized form or
            name); default Adam(2e-4, beta_1=0.5).
        **kwargs: Everything :class:`keras_vae.VAE` takes except ``free_bits`` (there is no
            KL to floor), ``flow`` and ``prior`` (``prior_type`` sets the prior):
            ``latent_dim``, your own ``encoder``/``decoder``, ``likelihood``...

    Example:

    >>> import keras_vae as kv
    >>> aae = kv.AdversarialAutoencoder(input_shape=(8, 8, 1), latent_dim=2,
    ...                                 hidden_units=(16,), prior_type="mixture",
    ...                                 discriminator_units=(16,))
    >>> tuple(aae.sample(5, seed=0).shape)
    (5, 8, 8, 1)

    References:
        Makhzani, Shlens, Jaitly, Goodfellow & Frey, "Adversarial Autoencoders", ICLR 2016
        workshop (arXiv:1511.05644).
    """

    kind = "aae"
    has_elbo = False
    refused_arguments = {
        "free_bits": "it matches its codes to the prior with a discriminator and has no KL "
                     "term",
        "flow": "it has no code density for a flow to change (its codes are matched to the "
                "prior by a discriminator)",
        "prior": "its prior is prior_type ('normal' or 'mixture'), matched by the "
                 "discriminator",
    }

    def __init__(self, input_shape, encoder_type="deterministic", prior_type="normal",
                 num_components=10, mixture_radius=2.0, mixture_scale=0.5,
                 adversarial_weight=1.0, discriminator=None, discriminator_units=(1000, 1000),
                 discriminator_optimizer=None, **kwargs):
        if encoder_type not in ENCODER_TYPES:
            raise ValueError(f"`encoder_type` must be one of {ENCODER_TYPES}. "
                             f"Received: encoder_type={encoder_type!r}")
        if prior_type not in PRIOR_TYPES:
            raise ValueError(f"`prior_type` must be one of {PRIOR_TYPES}. "
                             f"Received: prior_type={prior_type!r}")
        self.encoder_type = encoder_type
        self.prior_type = prior_type
        self.num_components = check_positive_int("num_components", num_components)
        self.mixture_radius = check_number("mixture_radius", mixture_radius, minimum=0.0)
        self.mixture_scale = check_number("mixture_scale", mixture_scale, minimum=0.0,
                                          exclusive=True)
        self.adversarial_weight = check_number("adversarial_weight", adversarial_weight,
                                               minimum=0.0)
        super().__init__(input_shape, **kwargs)
        if prior_type == "mixture" and self.latent_dim < 2:
            raise ValueError("The mixture prior lays its means out in the first two latent "
                             f"dimensions: latent_dim must be >= 2. Received: {self.latent_dim}")
        # Prior draws of the training step: seeded, split-invariant across replicas, and
        # saved with the model like the reparameterization noise.
        self.prior_sampling = Sampling(seed=None if self.seed is None else self.seed + 2,
                                       name="prior_sampling")
        self.prior_sampling.build(Sampling.ANY_PAIR)
        self.init_adversary(self.latent_dim + self.condition_width(), discriminator,
                            discriminator_units,
                            discriminator_optimizer or DISCRIMINATOR_OPTIMIZER)

    def metric_names(self):
        return ["loss", "reconstruction_loss", "discriminator_loss", "adversarial_loss"]

    # ------------------------------------------------------------------ the prior
    def mixture_means(self):
        """``[num_components, latent_dim]``: the mixture's means."""
        angles = 2.0 * math.pi * tf.range(self.num_components, dtype=tf.float32) \
            / self.num_components
        plane = self.mixture_radius * tf.stack([tf.cos(angles), tf.sin(angles)], axis=1)
        return tf.pad(plane, [[0, 0], [0, self.latent_dim - 2]])

    def prior_from_noise(self, noise, temperature=1.0):
        """Prior draws from standard normal ``noise`` ``[num, latent_dim + 1]``: the first
        ``latent_dim`` columns are the draw's own noise, the last picks the mixture
        component (its normal CDF is uniform)."""
        if self.prior_type == "normal":
            return tf.cast(noise, tf.float32)[:, :self.latent_dim] * temperature
        k = self.num_components
        return mixture_from_noise(noise, tf.zeros([k]), self.mixture_means(),
                                  tf.fill([k, self.latent_dim],
                                          2.0 * math.log(self.mixture_scale)), temperature)

    @property
    def prior_kind(self):
        return "standard_normal" if self.prior_type == "normal" else "mixture"

    def prior_sample(self, condition, num, seed=None, temperature=1.0):
        z = self.prior_from_noise(self.prior_noise(num, seed, width=self.latent_dim + 1),
                                  temperature)
        return tf.cast(z, self.compute_dtype)

    # ------------------------------------------------------------------ objective
    def posterior(self, x, c=None, training=False):
        mean, log_var = super().posterior(x, c, training=training)
        if self.encoder_type == "deterministic":
            # The code is the mean. Zero (rather than no) gradients reach the unused
            # log-variance head, so optimizers do not warn of variables without gradients.
            mean = mean + tf.zeros_like(mean) * log_var
            log_var = tf.fill(tf.shape(mean), tf.constant(losses.LOG_VAR_BOUNDS[0],
                                                          mean.dtype))
        return mean, log_var

    def objective_values(self, terms):
        z = terms["z"] if self.encoder_type == "gaussian" else terms["mean"]
        template = tf.zeros([tf.shape(z)[0], self.latent_dim + 1], tf.float32)
        drawn = self.prior_from_noise(self.prior_sampling.noise(template))
        real = self.discriminator_logit(
            self.adversary_input(tf.cast(drawn, self.compute_dtype), terms["c"]), training=True)
        fake = self.discriminator_logit(self.adversary_input(z, terms["c"]), training=True)
        rec = terms["reconstruction_loss"]
        adversarial = tf.nn.softplus(-fake)  # -log D(z)
        return {
            "loss": rec + self.adversarial_weight * adversarial,
            "reconstruction_loss": rec,
            "discriminator_loss": self.discriminator_loss(real, fake),
            "adversarial_loss": adversarial,
        }

    def adversary_input(self, z, c):
        """What the discriminator sees of a code: the code itself (a conditional model adds
        its condition vector)."""
        return z

    def get_config(self):
        return {**super().get_config(), "encoder_type": self.encoder_type,
                "prior_type": self.prior_type, "num_components": self.num_components,
                "mixture_radius": self.mixture_radius, "mixture_scale": self.mixture_scale,
                "adversarial_weight": self.adversarial_weight, **self.adversary_config()}

    object_config_keys = (*BaseVAE.object_config_keys, "discriminator")


@keras.saving.register_keras_serializable(package="keras_vae")
class ConditionalAdversarialAutoencoder(Conditions, AdversarialAutoencoder):
    """The supervised adversarial autoencoder (Makhzani et al. 2016, section 5): the class
    label (or a float condition vector) enters the decoder, and the encoder, beside the
    code, so the code is left to carry style. The discriminator sees the condition beside
    each code (and beside each prior draw), so it matches q(z|c) to the prior for every
    condition: a code that told the class apart would give itself away, so the label is the
    decoder's only source of the class. ``fit`` takes ``(x, label)``; ``sample(labels)``
    decodes one prior draw per label.

    Args:
        input_shape: Shape of one example.
        num_classes, condition_dim, conditioning, embedding_dim: The condition, as for
            :class:`keras_vae.ConditionalVAE`.
        latent_dim: Size of the style code (default 4: the label carries the class).
        encoder_type: ``"gaussian"`` by default here: on MNIST (MLP 400, 10 epochs,
            ``benchmarks/aae_mnist.py``) samples are the requested digit 95.7 % of the time,
            against 91.6 % with the deterministic encoder; without the condition beside the
            codes in the discriminator, 88.8 % and 83.2 %.
        **kwargs: Everything :class:`keras_vae.AdversarialAutoencoder` takes.

    Example:

    >>> import numpy as np, keras_vae as kv
    >>> caae = kv.ConditionalAdversarialAutoencoder(input_shape=(8, 8, 1), num_classes=3,
    ...                                             hidden_units=(16,),
    ...                                             discriminator_units=(16,))
    >>> tuple(caae.sample(np.array([0, 1, 2]), seed=0).shape)
    (3, 8, 8, 1)
    """

    kind = "caae"

    def __init__(self, input_shape, num_classes=10, latent_dim=4, condition_dim=None,
                 conditioning="one_hot", embedding_dim=16, encoder_type="gaussian", **kwargs):
        self.init_conditions(num_classes, condition_dim, conditioning, embedding_dim)
        super().__init__(input_shape, latent_dim=latent_dim, encoder_type=encoder_type,
                         **kwargs)

    def adversary_input(self, z, c):
        return tf.concat([z, tf.cast(c, z.dtype)], axis=-1)

    def get_config(self):
        return {**super().get_config(), **self.conditions_config()}
