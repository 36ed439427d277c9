"""Conditional VAE: a class label, or a vector of float conditions, enters both q(z|x, c) and
p(x|z, c). The condition handling is the :class:`Conditions` mixin, which the conditional
adversarial autoencoder shares."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_vae.layers import LabelEncoding
from keras_vae.models.beta_vae import BetaVAE
from keras_vae.models.serving import check_conditions
from keras_vae.models.serving import check_labels
from keras_vae.validation import check_positive_int


class Conditions:
    """Mixin of the models that take a condition with every example: a class label (one-hot,
    or a learned embedding) or, with ``condition_dim``, a float vector that enters the
    networks as it is. Batches are ``(x, condition)``; ``encode``, ``decode``,
    ``reconstruct`` and ``sample`` take the condition; the signatures take ``label`` or
    ``condition``. Call :meth:`init_conditions` before the base constructor (the networks
    are built for the condition's width)."""

    needs_labels = True

    def init_conditions(self, num_classes, condition_dim, conditioning, embedding_dim):
        if condition_dim is None:
            self.label_encoding = LabelEncoding(num_classes, conditioning, embedding_dim,
                                                name="label_encoding")
            self.label_encoding.build((None,))  # its embeddings exist before the optimizer
            self.num_classes = self.label_encoding.num_classes
            self.embedding_dim = self.label_encoding.embedding_dim
            self.condition_dim = None
        else:
            self.condition_dim = check_positive_int("condition_dim", condition_dim)
            if conditioning != "one_hot" or num_classes != 10:
                raise ValueError(
                    "condition_dim gives float condition vectors that enter the networks as "
                    "they are; num_classes and conditioning are for class labels. Received: "
                    f"condition_dim={condition_dim}, num_classes={num_classes!r}, "
                    f"conditioning={conditioning!r}"
                )
            self.label_encoding = None
            self.num_classes = None
            self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.conditioning = conditioning

    # ------------------------------------------------------------------ conditions
    def condition_width(self):
        if self.condition_dim is not None:
            return self.condition_dim
        return self.label_encoding.output_dim

    def condition_probe(self, batch):
        return tf.zeros((batch, self.condition_width()))

    def check_labels(self, labels):
        """Returns the condition checked: int32 labels ``[batch]`` (label mode) or float
        ``[batch, condition_dim]``; anything else raises an error naming the problem
        (eagerly a ValueError, in a graph an assertion)."""
        if self.condition_dim is not None:
            return check_conditions(labels, self.condition_dim, type(self).__name__,
                                    self.compute_dtype)
        return check_labels(labels, self.num_classes, type(self).__name__)

    def check_condition(self, condition):
        return self.check_labels(condition)

    def condition_vector(self, condition):
        if self.condition_dim is not None:
            return condition
        return self.label_encoding(condition)

    def unpack_inputs(self, data):
        x, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__} does not support sample weights.")
        if labels is None:
            what = "label" if self.condition_dim is None else "condition"
            raise ValueError(
                f"{type(self).__name__} trains on (x, {what}) batches but the data holds x "
                "only: "
                f"load it with keras_vae.data.load(..., labels=True) or pass y={what}s to fit."
            )
        return self.check_data(x), self.check_labels(labels)

    def split_inputs(self, inputs):
        return inputs

    def unpack_call(self, inputs):
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise ValueError(f"{type(self).__name__} is called on (x, labels).")
        return self.check_data(inputs[0]), self.check_labels(inputs[1])

    # ------------------------------------------------------------------ public API
    def decode_condition(self, z, condition, return_logits=False):
        """Decodes with a raw condition vector (e.g. between two classes' vectors)."""
        logits = self.decoder_logits(self.check_latents(z),
                                     tf.cast(condition, self.compute_dtype))
        return logits if return_logits else self.mean_from_logits(logits)

    def preview_samples(self, seed, title, conditions=None):
        if self.condition_dim is not None:
            if conditions is None:
                return None
            rows = np.repeat(np.asarray(conditions, "float32")[:8], 8, axis=0)
            return (np.asarray(self.sample(rows, seed=seed)), 8,
                    f"{title}: one row per condition of the test batch, temperature 1")
        samples = self.sample(np.repeat(np.arange(self.num_classes), 10), seed=seed)
        return (np.asarray(samples), 10,
                f"{title}: one row per class (0-{self.num_classes - 1}), temperature 1")

    def interpolate_labels(self, label_a, label_b, steps=8, seed=0):
        """Same z (from p(z|label_a)), condition moving from ``label_a`` to ``label_b``:
        ``[steps, *input_shape]``."""
        steps = check_positive_int("steps", steps)
        if self.condition_dim is not None:
            raise ValueError("interpolate_labels is for class labels; with condition_dim, "
                             "decode_condition takes any condition vectors.")
        ends = self.label_encoding(self.check_labels([label_a, label_b]))
        t = tf.linspace(0.0, 1.0, steps)[:, None]
        conditions = (1.0 - t) * ends[0] + t * ends[1]
        z = tf.repeat(self.prior_sample(self.check_labels([label_a]), 1, seed), steps, axis=0)
        return self.decode_condition(z, conditions)

    def interpolate_latents(self, label, z_a, z_b, steps=8):
        """Same label, z moving linearly from ``z_a`` to ``z_b``: ``[steps, *input_shape]``."""
        steps = check_positive_int("steps", steps)
        t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
        z = (1.0 - t) * np.asarray(z_a, "float32")[None] + t * np.asarray(z_b, "float32")[None]
        return self.decode(z, np.full(steps, label, "int32"))

    def condition_spec(self):
        if self.condition_dim is None:
            return tf.TensorSpec((None,), tf.int32, name="label")
        return tf.TensorSpec((None, self.condition_dim), tf.float32, name="condition")

    def export_metadata(self):
        return {**super().export_metadata(), "num_classes": self.num_classes,
                "condition_dim": self.condition_dim}

    def conditions_config(self):
        return {
            "num_classes": 10 if self.num_classes is None else self.num_classes,
            "condition_dim": self.condition_dim,
            "conditioning": self.conditioning,
            "embedding_dim": self.embedding_dim,
        }


@keras.saving.register_keras_serializable(package="keras_vae")
class ConditionalVAE(Conditions, BetaVAE):
    """A VAE conditioned on a class label, or on float condition vectors: digits (or any
    class, attribute set or continuous value) on demand.

    The label becomes a condition vector c (one-hot, or a learned embedding) that joins the
    encoder after flattening (MLP: the flattened image; conv: the flattened features of the
    convolutional trunk) and the decoder, concatenated with z. The objective is the
    conditional ELBO ``-log p(x|z, c) + KL(q(z|x, c) || p(z|c))``, with p(z|c) = N(0, I) or,
    with ``conditional_prior=True``, a learned N(mu_c, sigma_c^2) per class. β schedules and
    capacity control apply as in :class:`keras_vae.BetaVAE` (a conditional β-VAE is
    ``ConditionalVAE(beta=4.0)``).

    ``fit`` takes ``(x, label)`` batches (``kv.data.load(..., labels=True)``); labels are int
    class indices in ``[0, num_classes)``. With ``condition_dim=k`` the condition is instead a
    float vector ``[batch, k]`` (multi-hot attributes such as CelebA's 40, continuous values,
    or both) that enters the networks and the learned prior as it is: ``fit(x, c)``,
    ``encode(x, c)``, ``decode(z, c)``, ``sample(c, seed=...)`` (one example per row).

    Args:
        input_shape: Shape of one example.
        num_classes: Number of classes (label mode).
        condition_dim: Width k of float condition vectors, or ``None`` for class labels.
        latent_dim: Size of z. The default 4 is deliberate: the label carries the class, so z
            only needs style, and a small z leaves the decoder no room to ignore the label. With
            the defaults (MLP 400, learned prior) samples at temperature 1 are recognised as the
            requested digit 99 % of the time after 10 MNIST epochs; latent 8 gives 93 %, 20
            gives 82 % (``benchmarks/cvae_mnist.py``). Raise it for better reconstructions.
        conditioning: ``"one_hot"`` (default) or ``"embedding"`` (label mode).
        embedding_dim: Size of the label embedding in ``"embedding"`` mode.
        conditional_prior: Learn p(z|c) (default) instead of using N(0, I); without it the
            default network's samples match their label 64 % of the time instead of 99 %.
        beta, capacity_max, capacity_steps, gamma: KL weighting, as in ``BetaVAE``
            (default β = 1: the conditional ELBO).
        **kwargs: Everything :class:`keras_vae.VAE` takes.

    Example:

    >>> import numpy as np, keras_vae as kv
    >>> cvae = kv.ConditionalVAE(input_shape=(8, 8, 1), num_classes=3, latent_dim=2,
    ...                          hidden_units=(16,))
    >>> tuple(cvae.sample(np.array([0, 1, 2]), seed=0).shape)
    (3, 8, 8, 1)

    References:
        Sohn, Lee & Yan, "Learning Structured Output Representation using Deep Conditional
        Generative Models", NeurIPS 2015.
    """

    def __init__(
        self,
        input_shape,
        num_classes=10,
        latent_dim=4,
        condition_dim=None,
        conditioning="one_hot",
        embedding_dim=16,
        conditional_prior=True,
        beta=1.0,
        **kwargs,
    ):
        self.init_conditions(num_classes, condition_dim, conditioning, embedding_dim)
        self.conditional_prior = bool(conditional_prior)
        if self.conditional_prior and kwargs.get("prior") is not None:
            raise ValueError("A ConditionalVAE learns p(z|c) by default (conditional_prior="
                             "True); a `prior` replaces it by one p(z) for every condition: "
                             "pass conditional_prior=False with it.")
        super().__init__(input_shape, latent_dim=latent_dim, beta=beta, **kwargs)
        if self.conditional_prior:
            # c -> (mu_c, log sigma_c^2), c one-hot labels or the float conditions; zeros
            # start it at N(0, I).
            self.prior_net = keras.layers.Dense(2 * self.latent_dim, kernel_initializer="zeros",
                                                name="conditional_prior")
            self.prior_net.build((None, self.prior_input_width))
        else:
            self.prior_net = None

    kind = "cvae"

    @property
    def prior_input_width(self):
        return self.num_classes if self.condition_dim is None else self.condition_dim

    def prior(self, labels):
        """``(mean, log_var)`` of p(z|c) for checked labels (or conditions),
        ``[batch, latent_dim]`` each (zeros without a learned prior)."""
        if self.prior_net is None:
            zeros = tf.zeros([tf.shape(labels)[0], self.latent_dim], self.compute_dtype)
            return zeros, zeros
        c = labels if self.condition_dim is not None else ops.one_hot(labels, self.num_classes)
        return tf.split(self.prior_net(c), 2, axis=-1)

    def prior_params(self, condition, batch):
        return None if self.prior_net is None else self.prior(condition)

    @property
    def prior_kind(self):
        return "conditional_gaussian" if self.prior_net is not None else super().prior_kind

    # ------------------------------------------------------------------ export
    def get_config(self):
        return {
            **super().get_config(),
            **self.conditions_config(),
            "conditional_prior": self.conditional_prior,
        }
