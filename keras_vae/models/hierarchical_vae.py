"""The hierarchical VAE with a top-down (ladder) inference path (Sønderby et al. 2016)."""

import keras
import numpy as np
import tensorflow as tf

from keras_vae import losses
from keras_vae.models.base import gaussian_log_density
from keras_vae.models.beta_vae import BetaVAE
from keras_vae.models.mixture_priors import mixture_from_noise
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_number


def _mlp(widths, out, name):
    layers = [keras.layers.Dense(w, activation="relu", name=f"{name}_{i}")
              for i, w in enumerate(widths)]
    return keras.Sequential([*layers, keras.layers.Dense(out, name=f"{name}_out")], name=name)


def _split(params):
    mean, log_var = tf.split(tf.cast(params, tf.float32), 2, axis=-1)
    return mean, losses.clip_log_var(log_var)


@keras.saving.register_keras_serializable(package="keras_vae")
class HierarchicalVAE(BetaVAE):
    """A VAE with ``L`` stochastic layers ``z_1`` (next to x) ... ``z_L`` (top) and the ladder
    VAE's inference (Sønderby et al. 2016).

    Generative model: ``p(z_L) = N(0, I)`` (or a learned ``prior``, below),
    ``p(z_l | z_{l+1})`` Gaussians from MLPs
    (``ladder_units``), ``p(x | z_1)`` the decoder. Inference: a bottom-up pass (the encoder
    gives ``z_1``'s Gaussian parameters; MLPs map each layer's parameters to the next) and a
    top-down pass that samples ``z_L``, then each ``z_l`` from the precision-weighted
    combination of its bottom-up Gaussian and the prior ``p(z_l | z_{l+1})`` (their eqs.
    17-19). The KL of each layer is the analytic KL between those Gaussians at the sampled
    ``z_{l+1}``, so free bits and warm-up (``beta``, a schedule) apply per dimension;
    ``free_bits`` takes one floor per layer.

    ``prior=kv.priors.VampPrior(K)`` or ``kv.priors.MixturePrior(K)`` replaces ``N(0, I)`` at
    the top layer (Tomczak & Welling's hierarchical VampPrior mixes the top layer's bottom-up
    posteriors at the pseudo-inputs). The top layer's KL is then the Monte-Carlo estimate
    ``log q(z_L | x) - log p(z_L)`` at the sampled ``z_L`` (one number, so its free bits must
    be 0); the lower layers' stay analytic.

    The model's latent is every layer concatenated, bottom first: ``encode`` returns the
    top-down posterior at the means (``[batch, sum(latent_dims)]``), ``decode`` and the
    ``decode`` signature take that concatenation (the decoder reads ``z_1``), ``sample`` draws
    ancestrally. Your own networks are those of a VAE with ``latent_dim = latent_dims[0]``.
    Reports ``kl_layer_1`` ... ``kl_layer_L`` (nats per example) beside the VAE's metrics.

    Args:
        input_shape: Shape of one example.
        latent_dims: Sizes of ``z_1 ... z_L`` (default ``(32, 16)``; at least two layers).
        ladder_units: Widths of the ReLU layers of each bottom-up and top-down MLP
            (default ``(256,)``).
        free_bits: KL floor in nats per dimension: one number, or one per layer.
        beta: KL weight or schedule (default 1; ``kv.schedules.LinearWarmup(0, 1, steps)``
            is the ladder VAE's warm-up).
        prior: A learned prior over the top layer (``kv.priors``), or ``None`` for N(0, I).
        **kwargs: Everything :class:`keras_vae.BetaVAE` takes except ``latent_dim`` (the
            layers' sizes) and ``flow``.

    Example:

    >>> import keras_vae as kv
    >>> hvae = kv.HierarchicalVAE(input_shape=(8, 8, 1), latent_dims=(4, 2),
    ...                           hidden_units=(16,), ladder_units=(8,))
    >>> tuple(hvae.sample(3, seed=0).shape), hvae.metric_names()[-2:]
    ((3, 8, 8, 1), ['kl_layer_1', 'kl_layer_2'])

    References:
        Sønderby, Raiko, Maaløe, Sønderby & Winther, "Ladder Variational Autoencoders",
        NeurIPS 2016.
    """

    kind = "hvae"
    refused_arguments = {"flow": "its posterior is the ladder's top-down pass"}

    def __init__(self, input_shape, latent_dims=(32, 16), ladder_units=(256,), free_bits=0.0,
                 beta=1.0, **kwargs):
        if "latent_dim" in kwargs:
            raise ValueError("HierarchicalVAE sizes its layers with `latent_dims`; "
                             f"latent_dim does not apply. Received: {kwargs['latent_dim']!r}")
        self.latent_dims = check_int_tuple("latent_dims", latent_dims, allow_empty=False)
        if len(self.latent_dims) < 2 or min(self.latent_dims) < 1:
            raise ValueError("`latent_dims` needs two or more positive layer sizes. "
                             f"Received: latent_dims={latent_dims!r}")
        self.ladder_units = check_int_tuple("ladder_units", ladder_units)
        self.layer_free_bits = self._check_layer_free_bits(free_bits)
        super().__init__(input_shape, latent_dim=sum(self.latent_dims), beta=beta, **kwargs)
        self.free_bits = free_bits if np.ndim(free_bits) == 0 else tuple(self.layer_free_bits)
        if self.latent_prior is not None and self.layer_free_bits[-1]:
            raise ValueError(
                "With a learned prior the top layer's KL is one Monte-Carlo estimate, which "
                "free bits cannot floor per dimension: give the top layer free_bits 0 (e.g. "
                f"free_bits={(*self.layer_free_bits[:-1], 0.0)!r}). Received: "
                f"free_bits={free_bits!r}")
        dims = self.latent_dims
        # up[i]: layer i's bottom-up parameters -> layer i+1's; down[i]: z_{i+1} -> p(z_i | .).
        self.up = [_mlp(self.ladder_units, 2 * dims[i + 1], f"up_{i + 1}")
                   for i in range(len(dims) - 1)]
        self.down = [_mlp(self.ladder_units, 2 * dims[i], f"down_{i + 1}")
                     for i in range(len(dims) - 1)]
        for i in range(len(dims) - 1):
            self.up[i].build((None, 2 * dims[i]))
            self.down[i].build((None, dims[i + 1]))

    def _check_layer_free_bits(self, free_bits):
        values = [free_bits] * len(self.latent_dims) if np.ndim(free_bits) == 0 \
            else list(free_bits)
        if len(values) != len(self.latent_dims):
            raise ValueError(f"`free_bits` takes one number or one per layer "
                             f"({len(self.latent_dims)}). Received: free_bits={free_bits!r}")
        return [check_number("free_bits", v, minimum=0.0) for v in values]

    @property
    def network_latent_dim(self):
        return self.latent_dims[0]

    @property
    def prior_dim(self):
        return self.latent_dims[-1]

    def prior_posterior(self, x):
        return self.bottom_up(x)[-1]

    @property
    def kl_widths(self):
        """The columns of each layer's KL: its dimensions, or one for a top layer whose KL
        is a Monte-Carlo estimate against a learned prior."""
        return [*self.latent_dims[:-1],
                self.latent_dims[-1] if self.latent_prior is None else 1]

    def kl_floor(self):
        return np.repeat(np.asarray(self.layer_free_bits, np.float32), self.kl_widths)

    def metric_names(self):
        return [*super().metric_names(),
                *(f"kl_layer_{i + 1}" for i in range(len(self.latent_dims)))]

    # ------------------------------------------------------------------ the ladder
    def bottom_up(self, x, c=None, training=False):
        """Each layer's bottom-up Gaussian ``(mean, log_var)``, bottom first."""
        params = [super().posterior(x, c, training=training)]
        for up in self.up:
            params.append(_split(up(tf.concat(params[-1], axis=-1), training=training)))
        return [(tf.cast(m, tf.float32), losses.clip_log_var(v)) for m, v in params]

    def prior_of(self, i, z_above, training=False):
        """``(mean, log_var)`` of ``p(z_i | z_{i+1})`` (``i`` counts from 0 at the bottom)."""
        return _split(self.down[i](tf.cast(z_above, self.compute_dtype), training=training))

    def top_down(self, bottom, draw, training=False):
        """Samples top-down: ``draw(i, mean, log_var)`` gives layer ``i``'s code from its
        posterior. Returns per layer (bottom first) ``z``, the posterior and the prior."""
        top = len(self.latent_dims) - 1
        codes, posteriors, priors = [None] * (top + 1), [None] * (top + 1), [None] * (top + 1)
        posteriors[top] = bottom[top]
        priors[top] = (tf.zeros_like(bottom[top][0]), tf.zeros_like(bottom[top][1]))
        codes[top] = draw(top, *posteriors[top])
        for i in range(top - 1, -1, -1):
            prior_mean, prior_log_var = self.prior_of(i, codes[i + 1], training)
            up_mean, up_log_var = bottom[i]
            # Precision-weighted combination of the bottom-up Gaussian and the prior.
            log_var = -tf.math.reduce_logsumexp(tf.stack([-up_log_var, -prior_log_var]),
                                                axis=0)
            mean = (up_mean * tf.exp(-up_log_var) + prior_mean * tf.exp(-prior_log_var)) \
                * tf.exp(log_var)
            posteriors[i], priors[i] = (mean, log_var), (prior_mean, prior_log_var)
            codes[i] = draw(i, mean, log_var)
        return codes, posteriors, priors

    def _sampled(self, i, mean, log_var):
        return tf.cast(self.sampling((tf.cast(mean, self.compute_dtype),
                                      tf.cast(log_var, self.compute_dtype))), tf.float32)

    @staticmethod
    def _joined(parts):
        return tf.concat(parts, axis=-1)

    def compute_terms(self, inputs, training=False):
        x, condition = self.split_inputs(inputs)
        codes, posteriors, priors = self.top_down(self.bottom_up(x, training=training),
                                                  self._sampled, training)
        z = self._joined(codes)
        # Analytic per layer; the top layer's against a learned prior is Monte-Carlo.
        analytic = len(self.latent_dims) - (self.latent_prior is not None)
        kl = [losses.gaussian_kl_per_dim(q[0], q[1], p[0], p[1])
              for q, p in zip(posteriors[:analytic], priors[:analytic])]
        if self.latent_prior is not None:
            kl.append((gaussian_log_density(codes[-1], *posteriors[-1])
                       - self.prior_log_density(codes[-1]))[:, None])
        return {
            "x": x, "c": None,
            "reconstruction_loss": self.reconstruction_nll(
                x, self.decoder_logits(z, training=training)),
            "kl_per_dim": self._joined(kl),
            "mean": self._joined([q[0] for q in posteriors]),
            "log_var": self._joined([q[1] for q in posteriors]),
            "z": z,
        }

    def objective_values(self, terms):
        values = super().objective_values(terms)
        layers = tf.split(terms["kl_per_dim"], self.kl_widths, axis=1)
        for i, kl in enumerate(layers):
            values[f"kl_layer_{i + 1}"] = tf.reduce_sum(kl, axis=1)
        return values

    # ------------------------------------------------------------------ the model's API
    def posterior(self, x, c=None, training=False):
        """The top-down posterior at the means: ``(mean, log_var)`` of every layer,
        concatenated bottom first."""
        _, posteriors, _ = self.top_down(self.bottom_up(x, c, training), lambda i, m, v: m,
                                         training)
        return (tf.cast(self._joined([q[0] for q in posteriors]), self.compute_dtype),
                tf.cast(self._joined([q[1] for q in posteriors]), self.compute_dtype))

    def posterior_and_prior(self, x, condition=None):
        """Posterior and prior of every layer at the means (each lower layer's prior given
        the upper layer's posterior mean), concatenated: what the collapse diagnostics
        read."""
        self.check_condition(condition)
        _, posteriors, priors = self.top_down(self.bottom_up(self.check_data(x)),
                                              lambda i, m, v: m)
        return tuple(self._joined([part[j] for part in parts])
                     for parts in (posteriors, priors) for j in (0, 1))

    def decoder_logits(self, z, c=None, training=False):
        return super().decoder_logits(z[..., :self.latent_dims[0]], c, training=training)

    def layer_noise(self, noise):
        """``noise [n, sum(latent_dims)]`` split into the layers' columns."""
        return tf.split(tf.cast(noise, tf.float32), list(self.latent_dims), axis=-1)

    @property
    def prior_kind(self):
        """p(z) is the ladder's top-down chain, not N(0, I) over the joined latent."""
        return "ladder" if self.latent_prior is None else \
            f"ladder over {type(self.latent_prior).__name__}"

    def prior_sample(self, condition, num, seed=None, temperature=1.0):
        # With a learned prior one more column of noise picks each draw's component.
        drawn = self.prior_noise(num, seed, width=self.latent_dim
                                 + (self.latent_prior is not None))
        noise = self.layer_noise(drawn[:, :self.latent_dim])
        codes = [None] * len(self.latent_dims)
        codes[-1] = noise[-1] * temperature if self.latent_prior is None else mixture_from_noise(
            tf.concat([noise[-1], tf.cast(drawn[:, -1:], tf.float32)], axis=1),
            *self.latent_prior.components(self), temperature=temperature)
        for i in range(len(self.latent_dims) - 2, -1, -1):
            mean, log_var = self.prior_of(i, codes[i + 1])
            codes[i] = mean + tf.exp(0.5 * log_var) * temperature * noise[i]
        return tf.cast(self._joined(codes), self.compute_dtype)

    def log_weights_of_noise(self, x, c, mean, log_var, condition, eps, training=False):
        """``(log p(x, z) - log q(z|x), log p(x|z))`` ``[batch, k]`` for ladder samples whose
        layers take the columns of ``eps [batch, k, sum(latent_dims)]``."""
        batch, k = tf.shape(eps)[0], tf.shape(eps)[1]
        bottom = [(tf.repeat(m, k, axis=0), tf.repeat(v, k, axis=0))
                  for m, v in self.bottom_up(x, training=training)]
        noise = self.layer_noise(tf.reshape(eps, [batch * k, self.latent_dim]))
        codes, posteriors, priors = self.top_down(
            bottom, lambda i, m, v: m + tf.exp(0.5 * v) * noise[i], training)
        log_q = sum(gaussian_log_density(z, *q) for z, q in zip(codes, posteriors))
        log_p_z = sum(gaussian_log_density(z, *p) for z, p in zip(codes[:-1], priors[:-1])) \
            + self.prior_log_density(codes[-1])
        z = self._joined(codes)
        log_p_x = -self.reconstruction_nll(tf.repeat(x, k, axis=0),
                                           self.decoder_logits(z, training=training))
        return (tf.reshape(log_p_x + log_p_z - log_q, [batch, k]),
                tf.reshape(log_p_x, [batch, k]))

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        config = super().get_config()
        del config["latent_dim"]
        return {**config, "latent_dims": self.latent_dims, "ladder_units": self.ladder_units}

    tuple_config_keys = (*BetaVAE.tuple_config_keys, "latent_dims", "ladder_units")
