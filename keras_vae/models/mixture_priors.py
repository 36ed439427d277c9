"""Priors over a Gaussian latent beyond N(0, I): ``kv.VAE(..., prior=kv.priors.VampPrior(500))``.

Both are mixtures of diagonal Gaussians, ``p(z) = sum_k w_k N(z; mu_k, sigma_k^2)``: a prior
gives the model its components (:meth:`LatentPrior.components`) and the model computes
``log p(z)`` (:func:`keras_vae.losses.mixture_log_density`) and draws from it
(:func:`mixture_from_noise`). With either, the KL of the ELBO is the Monte-Carlo estimate
``log q(z|x) - log p(z)`` at the sampled z. :data:`PRIORS` names them for the CLI
(``--prior vamp:500``) and :func:`from_spec` reads that form.
"""

import math

import keras
import tensorflow as tf

from keras_vae import validation
from keras_vae.validation import check_positive_int
from keras_vae.validation import check_seed


def mixture_from_noise(noise, log_weights, means, log_vars, temperature=1.0):
    """Draws from a mixture of diagonal Gaussians, given standard normal ``noise``
    ``[num, d + 1]``: the first ``d`` columns are each draw's own noise, the last picks its
    component (its normal CDF is uniform, compared with the cumulative weights). Being a
    function of the noise, a seeded draw is reproducible in and out of a SavedModel."""
    noise = tf.cast(noise, tf.float32)
    d = tf.shape(means)[1]
    component = component_from_noise(noise[:, -1], log_weights)
    std = tf.exp(0.5 * tf.gather(tf.cast(log_vars, tf.float32), component))
    return tf.gather(tf.cast(means, tf.float32), component) + std * temperature * noise[:, :d]


def component_from_noise(noise, log_weights):
    """The mixture component of each draw ``[n]`` (int32) from one standard normal value per
    draw ``noise [n]``: its normal CDF, uniform, against the cumulative weights of
    ``log_weights`` (``[K]``, or ``[n, K]`` for a mixture per draw)."""
    uniform = 0.5 * (1.0 + tf.math.erf(tf.cast(noise, tf.float32) / math.sqrt(2.0)))
    cumulative = tf.cumsum(tf.nn.softmax(tf.cast(log_weights, tf.float32)), axis=-1)
    # The component is the number of cumulative weights at or below the uniform draw.
    passed = tf.reduce_sum(tf.cast(uniform[:, None] >= cumulative, tf.int32), axis=1)
    return tf.minimum(passed, tf.shape(log_weights)[-1] - 1)


class LatentPrior(keras.layers.Layer):
    """Base of the mixture priors. A subclass creates its weights in :meth:`build_for`
    (called by the model with its data shape and latent size) and returns the mixture in
    :meth:`components`. Float32 whatever the model's dtype policy."""

    def __init__(self, num_components=10, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_components = check_positive_int("num_components", num_components)
        self.seed = check_seed(seed)

    def build_for(self, model):
        """Creates the weights for ``model`` (its ``data_shape``, ``prior_dim``); a prior
        that cannot serve the model raises an error naming why."""
        raise NotImplementedError

    def components(self, model, training=False):
        """``(log_weights [K], means [K, d], log_vars [K, d])`` of the mixture, float32."""
        raise NotImplementedError

    def call(self, inputs):
        raise TypeError(f"{type(self).__name__} is a prior: the model reads its components().")

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_vae")
class MixturePrior(LatentPrior):
    """A learned mixture of ``num_components`` diagonal Gaussians: means (initially
    ``N(0, 1)`` draws), log-variances (initially 0) and mixture weights (initially equal),
    all trained with the model. It takes no input, so it serves conditional models too.

    Args:
        num_components: K (default 10).
        seed: Seed of the initial means.
        **kwargs: Base layer arguments.

    Example:

    >>> import keras_vae as kv
    >>> model = kv.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,),
    ...                prior=kv.priors.MixturePrior(num_components=3, seed=0))
    >>> tuple(model.sample(4, seed=0).shape)
    (4, 8, 8, 1)

    References:
        Dilokthanakul et al., "Deep Unsupervised Clustering with Gaussian Mixture Variational
        Autoencoders", arXiv:1611.02648, 2016; Tomczak & Welling 2018, section 3.
    """

    def build_for(self, model):
        if self.built:
            return
        shape = (self.num_components, model.prior_dim)
        self.means = self.add_weight(
            shape=shape, name="means",
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed))
        self.log_vars = self.add_weight(shape=shape, initializer="zeros", name="log_vars")
        self.logits = self.add_weight(shape=(self.num_components,), initializer="zeros",
                                      name="logits")
        self.built = True

    def components(self, model, training=False):
        return tf.nn.log_softmax(self.logits), self.means, self.log_vars


@keras.saving.register_keras_serializable(package="keras_vae")
class VampPrior(LatentPrior):
    """The variational mixture of posteriors (Tomczak & Welling 2018):
    ``p(z) = (1/K) sum_k q(z | u_k)``, the encoder's own posteriors at ``K`` learned
    pseudo-inputs ``u_k`` of the data's shape. For data in [0, 1] the pseudo-inputs are
    clipped to it (the authors' hard-tanh), initialized at ``N(0.05, 0.01)`` as in their
    code; for real-valued data, at ``N(0, 0.01)`` unclipped. The encoder sees them in
    inference mode (BatchNorm uses its moving statistics). A conditional model's encoder
    also takes a condition, which pseudo-inputs lack: use :class:`MixturePrior` there.

    Args:
        num_components: K, the number of pseudo-inputs (default 500, the paper's MNIST value).
        seed: Seed of the initial pseudo-inputs.
        **kwargs: Base layer arguments.

    Example:

    >>> import keras_vae as kv
    >>> model = kv.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,),
    ...                prior=kv.priors.VampPrior(num_components=5, seed=0))
    >>> tuple(model.latent_prior.pseudo_inputs(model).shape)
    (5, 8, 8, 1)

    References:
        Tomczak & Welling, "VAE with a VampPrior", AISTATS 2018.
    """

    def __init__(self, num_components=500, seed=None, **kwargs):
        super().__init__(num_components=num_components, seed=seed, **kwargs)

    def build_for(self, model):
        if model.condition_width():
            raise ValueError(
                "VampPrior feeds its pseudo-inputs to the encoder, which in a conditional "
                "model also takes a condition the pseudo-inputs do not have. Use "
                "kv.priors.MixturePrior with a conditional model.")
        if self.built:
            return
        unit = model.data_range == "unit"
        self.pseudo = self.add_weight(
            shape=(self.num_components, *model.data_shape), name="pseudo_inputs",
            initializer=keras.initializers.RandomNormal(mean=0.05 if unit else 0.0,
                                                        stddev=0.01, seed=self.seed))
        self.built = True

    def pseudo_inputs(self, model):
        """The ``K`` pseudo-inputs as data: ``[K, *input_shape]``."""
        return tf.clip_by_value(self.pseudo, 0.0, 1.0) if model.data_range == "unit" \
            else tf.identity(self.pseudo)

    def components(self, model, training=False):
        u = tf.cast(self.pseudo_inputs(model), model.compute_dtype)
        mean, log_var = model.prior_posterior(u)
        log_weights = tf.fill([self.num_components], -math.log(self.num_components))
        return log_weights, tf.cast(mean, tf.float32), tf.cast(log_var, tf.float32)


#: The priors by their CLI name.
PRIORS = {"vamp": VampPrior, "mixture": MixturePrior}


def from_spec(spec):
    """A prior from ``"name:num_components"`` (``"vamp:500"``, ``"mixture:10"``): the CLI's
    ``--prior``."""
    return validation.from_spec(spec, PRIORS, "prior", "num_components")
