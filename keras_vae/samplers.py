"""Ex-post samplers: a distribution fitted to the codes a trained model gives its data, drawn
from in place of the prior (``kv.samplers.GaussianMixture(model).fit(x)``).

A VAE's prior N(0, I) and the region its encoder uses differ: prior draws land in holes
between the codes of real data and decode to blurs or blanks. A sampler fits the aggregate
posterior after training and samples there:

- :class:`GaussianMixture`: full-covariance Gaussians fitted by EM (scikit-learn) to the
  posterior means;
- :class:`TwoStage`: a second, small VAE on the codes (Dai & Wipf 2019), whose own N(0, I)
  fits them better than the first VAE's;
- :class:`MAF`: a masked autoregressive flow (Papamakarios et al. 2017) fitted by maximum
  likelihood to the posterior means.

Each works for every model with a Gaussian latent (``model.attach_sampler`` exists); a
class-conditional model gets one mixture per class (:class:`GaussianMixture` only).
``sampler.sample(n, seed=...)`` decodes draws; ``model.attach_sampler(sampler)`` makes
``model.sample``, the ``.keras`` file and the exported ``sample`` signature use it.
:data:`SAMPLERS` names them for the CLI (``--sampler gmm:10``) and :func:`from_spec` reads
that form.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_vae import validation
from keras_vae.flows import add_made_weights
from keras_vae.flows import made_masks
from keras_vae.flows import made_outputs
from keras_vae.flows import seeded_normal
from keras_vae.models.mixture_priors import component_from_noise
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_number
from keras_vae.validation import check_positive_int
from keras_vae.validation import check_seed


class _ModelRef:
    """Holds the sampler's model outside Keras's tracking: the model tracks its attached
    sampler, and a reference back through a tracked attribute would be a cycle."""

    __slots__ = ("model",)

    def __init__(self, model=None):
        self.model = model


class LatentSampler(keras.layers.Layer):
    """Base of the samplers: a distribution over a model's codes ``[batch, latent_dim]``
    (the decoder's input), fitted to the codes of data.

    A subclass creates its weights in :meth:`create_weights`, fits them to codes in
    :meth:`fit_codes` and draws codes from standard normal noise in :meth:`codes_from_noise`
    (graph-friendly: the exported ``sample`` signature runs it). Float32 whatever the
    model's dtype policy.

    Args:
        model: The trained model whose codes it fits (or ``None``, to be given by
            :meth:`build_for` / ``model.attach_sampler``).
        seed: Seed of the fitting (initial weights, data order) and of :meth:`sample`'s
            default draws.
    """

    #: Whether the sampler fits one distribution per class of a class-conditional model.
    per_class = False

    def __init__(self, model=None, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        # Fitted by its own fit(), never by the model's optimizer: frozen towards the model
        # (its weights are among the model's non-trainable ones, so attaching a sampler does
        # not change what the model's optimizer holds state for).
        self.trainable = False
        self.seed = check_seed(seed)
        self.owner = _ModelRef()
        self.latent_dim = None
        self.num_classes = None
        if model is not None:
            self.build_for(model)

    # ------------------------------------------------------------------ construction
    def source_model(self):
        """The model whose codes the sampler fits (a method, not a property: Keras's saving
        walks properties, and this one leads back to the model that holds the sampler)."""
        if self.owner.model is None:
            raise ValueError(f"This {type(self).__name__} has no model: pass one "
                             f"({type(self).__name__}(model, ...)) or attach it with "
                             "model.attach_sampler(sampler).")
        return self.owner.model

    def build_for(self, model):
        """Creates the weights for ``model``'s codes (once; a sampler built for another code
        size or class count refuses the model, naming why)."""
        if not callable(getattr(model, "attach_sampler", None)):
            raise ValueError(f"{type(self).__name__} fits the Gaussian codes of a VAE; "
                             f"{type(model).__name__} has none (a VQ-VAE samples its codes "
                             "with its PixelCNN prior).")
        latent_dim = int(model.latent_dim)
        num_classes = None
        if model.needs_labels:
            num_classes = getattr(model, "num_classes", None)
            if not num_classes:
                raise ValueError(
                    f"{type(model).__name__} takes float condition vectors: a sampler fits "
                    "codes per class of a class-conditional model and cannot fit one per "
                    "continuous condition.")
            if not self.per_class:
                raise ValueError(
                    f"{type(self).__name__} fits one distribution for all codes; a "
                    f"class-conditional {type(model).__name__} needs one per class: use "
                    "kv.samplers.GaussianMixture.")
        if self.built:
            if (latent_dim, num_classes) != (self.latent_dim, self.num_classes):
                raise ValueError(
                    f"This {type(self).__name__} was built for codes of size "
                    f"{self.latent_dim} ({self.num_classes or 'no'} classes); the model has "
                    f"{latent_dim} ({num_classes or 'no'} classes).")
        else:
            self.latent_dim, self.num_classes = latent_dim, num_classes
            self.fitted = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                          name="fitted")
            self.create_weights(latent_dim, num_classes or 1)
            self.built = True
        self.owner.model = model
        return self

    def create_weights(self, latent_dim, num_groups):
        raise NotImplementedError

    @property
    def is_fitted(self):
        return self.built and bool(self.fitted.numpy())

    def check_fitted(self):
        if not self.is_fitted:
            raise ValueError(f"This {type(self).__name__} is not fitted: call "
                             "sampler.fit(data) first.")

    # ------------------------------------------------------------------ fitting
    def encode_data(self, data, condition=None, batch_size=512):
        """The model's codes of ``data`` (an array, or a dataset of ``x`` or
        ``(x, labels)`` batches): ``(codes [N, d] float64, classes [N] int or None)``."""
        model = self.source_model()
        codes, classes = [], []
        for x, labels in _batches(model, data, condition, batch_size):
            mean, log_var = model.encode(x, labels)
            codes.append(np.asarray(tf.cast(self.code_of(model, mean, log_var), tf.float32),
                                    np.float64))
            if labels is not None:
                classes.append(np.asarray(labels).astype(np.int64).reshape(-1))
        if not codes:
            raise ValueError("The data given to fit holds no examples.")
        codes = np.concatenate(codes)
        if not np.isfinite(codes).all():
            raise ValueError("The model's codes of the data hold NaN or infinite values.")
        return codes, (np.concatenate(classes) if classes else None)

    def code_of(self, model, mean, log_var):
        """The code a sampler fits for one batch's posterior: the decoder's input at the
        posterior mean."""
        return model.transform_latent(mean)[0]

    def fit(self, data, condition=None, batch_size=512, verbose=0):
        """Fits the sampler to the model's codes of ``data`` (an array of examples with
        ``condition`` its labels for a class-conditional model, or a dataset of ``x`` or
        ``(x, labels)`` batches). Returns the sampler."""
        codes, classes = self.encode_data(data, condition, batch_size)
        groups = self.num_classes or 1
        if not self.num_classes:  # (a conditional model's encode needs the labels)
            classes = np.zeros(len(codes), np.int64)
        for g in range(groups):
            group = codes[classes == g]
            if len(group) < self.min_examples():
                what = f"class {g}" if self.num_classes else "the data"
                raise ValueError(f"{type(self).__name__} needs at least {self.min_examples()} "
                                 f"examples per fit; {what} has {len(group)}.")
        self.fit_codes(codes, classes, verbose=verbose)
        self.fitted.assign(1.0)
        return self

    def min_examples(self):
        return 2

    def fit_codes(self, codes, classes, verbose=0):
        """Fits the weights to ``codes [N, d]`` (float64) of group ``classes [N]``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ sampling
    def noise_width(self):
        """Columns of standard normal noise one draw takes."""
        return self.latent_dim

    def codes_from_noise(self, noise, groups, temperature=1.0):
        """Codes ``[n, d]`` (float32) from noise ``[n, noise_width]`` and each draw's group
        (class) ``[n]`` int32."""
        raise NotImplementedError

    def latents(self, classes, num, seed=None, temperature=1.0):
        """``[num, latent_dim]`` codes in the model's dtype, for checked ``classes`` (``None``
        unconditionally); seeded draws are stateless, as the model's prior draws."""
        model = self.source_model()
        noise = tf.cast(model.prior_noise(num, seed, width=self.noise_width()), tf.float32)
        groups = tf.zeros(tf.shape(noise)[:1], tf.int32) if classes is None else \
            tf.cast(classes, tf.int32)
        return tf.cast(self.codes_from_noise(noise, groups, temperature), model.compute_dtype)

    def sample(self, num_or_labels, seed=None, temperature=1.0):
        """Decoded draws: ``sample(n)``, or ``sample(labels)`` for a class-conditional model.
        The same seed gives the same examples (and ``model.sample`` gives them once the
        sampler is attached)."""
        self.check_fitted()
        seed = check_seed(seed)
        return self.source_model().decode_draws(
            self.latents, num_or_labels, self.seed if seed is None else seed, temperature)

    def call(self, inputs):
        raise TypeError(f"{type(self).__name__} is a sampler: use sample() or attach it to "
                        "its model.")

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _batches(model, data, condition, batch_size):
    """``(x, labels or None)`` batches of an array (with its ``condition``) or a dataset."""
    if isinstance(data, tf.data.Dataset):
        if condition is not None:
            raise ValueError("Give a dataset's labels in its batches ((x, labels)), not as "
                             "`condition`.")
        for batch in data:
            yield model.split_batch(batch)
        return
    x = np.asarray(data)
    labels = None if condition is None else np.asarray(condition)
    if labels is not None and len(labels) != len(x):
        raise ValueError(f"`condition` has {len(labels)} rows for {len(x)} examples.")
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size], (
            None if labels is None else labels[start:start + batch_size])


def _seeded(seed, offset):
    return None if seed is None else seed + offset


@keras.saving.register_keras_serializable(package="keras_vae")
class GaussianMixture(LatentSampler):
    """A mixture of ``num_components`` full-covariance Gaussians fitted by EM to the model's
    posterior means (``sklearn.mixture.GaussianMixture``); a class-conditional model gets one
    mixture per class. Drawing picks a component by its weight (from the noise's last column,
    as :func:`keras_vae.models.mixture_priors.mixture_from_noise` does) and adds
    ``L eps`` (``L`` the covariance's Cholesky factor) to its mean.

    Args:
        model: The trained model.
        num_components: Gaussians per mixture (default 10).
        covariance: ``"full"`` or ``"diag"``.
        seed: Seed of the EM initialization (k-means) and of default draws.

    Example:

    >>> import numpy as np, keras_vae as kv
    >>> vae = kv.VAE(input_shape=(6,), latent_dim=2, hidden_units=(8,), seed=0)
    >>> x = np.random.default_rng(0).uniform(size=(200, 6)).astype("float32")
    >>> gmm = kv.samplers.GaussianMixture(vae, num_components=3, seed=0).fit(x)
    >>> tuple(gmm.sample(4, seed=1).shape)
    (4, 6)

    References:
        Ghosh et al., "From Variational to Deterministic Autoencoders", ICLR 2020 (ex-post
        density estimation with a 10-component mixture).
    """

    per_class = True

    def __init__(self, model=None, num_components=10, covariance="full", seed=None, **kwargs):
        self.num_components = check_positive_int("num_components", num_components)
        if covariance not in ("full", "diag"):
            raise ValueError(f"`covariance` must be 'full' or 'diag'. Received: "
                             f"covariance={covariance!r}")
        self.covariance = covariance
        super().__init__(model, seed=seed, **kwargs)

    def create_weights(self, latent_dim, num_groups):
        k, d = self.num_components, latent_dim
        self.log_weights = self.add_weight(shape=(num_groups, k), initializer="zeros",
                                           trainable=False, name="log_weights")
        self.means = self.add_weight(shape=(num_groups, k, d), initializer="zeros",
                                     trainable=False, name="means")
        self.scale_tril = self.add_weight(
            shape=(num_groups, k, d, d), trainable=False, name="scale_tril",
            initializer=lambda shape, dtype=None: tf.broadcast_to(tf.eye(d, dtype=dtype), shape))

    def min_examples(self):
        return self.num_components

    def fit_codes(self, codes, classes, verbose=0):
        from sklearn.mixture import GaussianMixture as SklearnMixture

        log_weights, means, tril = [], [], []
        for g in range(self.num_classes or 1):
            mixture = SklearnMixture(self.num_components, covariance_type=self.covariance,
                                     random_state=self.seed, reg_covar=1e-6)
            mixture.fit(codes[classes == g])
            covariances = mixture.covariances_
            if self.covariance == "diag":
                covariances = np.stack([np.diag(c) for c in covariances])
            log_weights.append(np.log(np.clip(mixture.weights_, 1e-30, None)))
            means.append(mixture.means_)
            tril.append(np.linalg.cholesky(covariances))
        self.log_weights.assign(np.stack(log_weights).astype("float32"))
        self.means.assign(np.stack(means).astype("float32"))
        self.scale_tril.assign(np.stack(tril).astype("float32"))

    def noise_width(self):
        return self.latent_dim + 1

    def codes_from_noise(self, noise, groups, temperature=1.0):
        d = self.latent_dim
        chosen = component_from_noise(noise[:, -1], tf.gather(self.log_weights, groups))
        component = tf.stack([groups, chosen], axis=1)
        mean = tf.gather_nd(self.means, component)
        tril = tf.gather_nd(self.scale_tril, component)
        return mean + temperature * tf.linalg.matvec(tril, noise[:, :d])

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components,
                "covariance": self.covariance}


class _TrainedSampler(LatentSampler):
    """A sampler whose weights are fitted by gradient descent on the codes: standardized
    codes, Adam, ``epochs`` passes in shuffled batches, the mean loss of the last pass kept
    in ``final_loss``."""

    def __init__(self, model=None, epochs=50, batch_size=256, learning_rate=1e-3, seed=None,
                 **kwargs):
        self.epochs = check_positive_int("epochs", epochs)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.learning_rate = check_number("learning_rate", learning_rate, minimum=0.0,
                                          exclusive=True)
        self.final_loss = None
        super().__init__(model, seed=seed, **kwargs)

    def create_weights(self, latent_dim, num_groups):
        self.shift = self.add_weight(shape=(latent_dim,), initializer="zeros",
                                     trainable=False, name="shift")
        self.scale = self.add_weight(shape=(latent_dim,), initializer="ones",
                                     trainable=False, name="scale")
        self.create_network(latent_dim)

    def loss(self, y, noise):
        """Per-example loss of standardized codes ``y`` (``noise``: standard normal draws of
        the same shape, for a stochastic objective)."""
        raise NotImplementedError

    def fit_codes(self, codes, classes, verbose=0):
        shift, scale = codes.mean(0), codes.std(0) + 1e-6
        self.shift.assign(shift.astype("float32"))
        self.scale.assign(scale.astype("float32"))
        y_all = ((codes - shift) / scale).astype("float32")
        variables = [w for w in self.weights if w.path.split("/")[-1] not in
                     ("fitted", "shift", "scale")]
        optimizer = keras.optimizers.Adam(self.learning_rate)
        optimizer.build(variables)

        @tf.function(reduce_retracing=True)
        def step(y, noise):
            with tf.GradientTape() as tape:
                # Watched explicitly: the layer is frozen towards its model (see __init__).
                tape.watch([v.value for v in variables])
                value = tf.reduce_mean(self.loss(y, noise))
            gradients = tape.gradient(value, [v.value for v in variables])
            optimizer.apply(gradients, variables)
            return value

        rng = np.random.default_rng(self.seed)
        for epoch in range(self.epochs):
            order = rng.permutation(len(y_all))
            values = []
            for start in range(0, len(order), self.batch_size):
                y = y_all[order[start:start + self.batch_size]]
                values.append(float(step(tf.constant(y), tf.constant(
                    rng.standard_normal(y.shape).astype("float32")))))
            self.final_loss = float(np.mean(values))
            if not np.isfinite(self.final_loss):
                raise ValueError(f"{type(self).__name__} diverged at epoch {epoch + 1} (loss "
                                 f"{self.final_loss}): try a lower learning_rate.")
            if verbose:
                print(f"{type(self).__name__} epoch {epoch + 1}/{self.epochs}: loss "
                      f"{self.final_loss:.4f}", flush=True)

    def unstandardize(self, y):
        return y * self.scale + self.shift

    def get_config(self):
        return {**super().get_config(), "epochs": self.epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate}


def _dense(layer, x, i, activation=None):
    h = tf.matmul(x, layer[0][i]) + layer[1][i]
    return activation(h) if activation is not None else h


@keras.saving.register_keras_serializable(package="keras_vae")
class TwoStage(_TrainedSampler):
    """The two-stage VAE (Dai & Wipf 2019): a second VAE with a Gaussian likelihood of
    learned scale ``gamma`` is trained on draws ``z ~ q(z|x)`` of the first one's codes
    (standardized); sampling decodes ``u ~ N(0, I)`` through it to a code. Its aggregate
    posterior matches N(0, I) where the first VAE's does not, which is what the learned
    ``gamma`` buys (their section 4).

    Args:
        model: The trained model.
        hidden_units: Widths of the second VAE's encoder (its decoder mirrors them; default
            ``(512, 512)``).
        latent_dim: Size of ``u`` (default: the model's code size).
        epochs, batch_size, learning_rate: Its training (Adam).
        seed: Seed of its initial weights, data order and noise.

    References:
        Dai & Wipf, "Diagnosing and Enhancing VAE Models", ICLR 2019.
    """

    def __init__(self, model=None, hidden_units=(512, 512), latent_dim=None, epochs=50,
                 batch_size=256, learning_rate=1e-3, seed=None, **kwargs):
        self.hidden_units = check_int_tuple("hidden_units", hidden_units)
        self.second_latent_dim = None if latent_dim is None else check_positive_int(
            "latent_dim", latent_dim)
        super().__init__(model, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, seed=seed, **kwargs)

    def noise_width(self):
        return self.second_latent_dim or self.latent_dim

    def encode_data(self, data, condition=None, batch_size=512):
        self.draw_rng = np.random.default_rng(self.seed)  # the draws of code_of, seeded
        return super().encode_data(data, condition, batch_size)

    def code_of(self, model, mean, log_var):
        """One draw of q(z|x) per example, through the flow: what Dai & Wipf train on."""
        mean, log_var = (np.asarray(tf.cast(t, tf.float32), np.float64) for t in (mean, log_var))
        z0 = mean + np.exp(0.5 * np.clip(log_var, -30, 20)) * self.draw_rng.standard_normal(
            mean.shape)
        return model.transform_latent(tf.constant(z0, tf.float32))[0]

    def create_network(self, latent_dim):
        u = self.noise_width()
        encoder = [latent_dim, *self.hidden_units, 2 * u]
        decoder = [u, *reversed(self.hidden_units), latent_dim]
        self.layers_of = {}
        for name, widths in (("encoder", encoder), ("decoder", decoder)):
            kernels, biases = [], []
            for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
                last = i == len(widths) - 2
                kernels.append(self.add_weight(
                    shape=(n_in, n_out), name=f"{name}_kernel_{i}",
                    initializer=seeded_normal(self.seed, len(self.layers_of) * 100 + i,
                                                 0.01 if last else np.sqrt(2.0 / n_in))))
                # The encoder's log-variances start at -4: a narrow posterior, so that u
                # carries the codes from the first step (from a wide one, the decoder learns
                # to ignore u and the learned gamma settles at the codes' spread).
                start = [0.0] * u + [-4.0] * u if last and name == "encoder" else 0.0
                biases.append(self.add_weight(
                    shape=(n_out,), name=f"{name}_bias_{i}",
                    initializer=keras.initializers.Constant(start)))
            self.layers_of[name] = (kernels, biases)
        self.log_gamma = self.add_weight(shape=(), initializer="zeros", name="log_gamma")

    def network(self, name, x):
        layer = self.layers_of[name]
        for i in range(len(layer[0])):
            x = _dense(layer, x, i, tf.nn.relu if i < len(layer[0]) - 1 else None)
        return x

    def loss(self, y, noise):
        mean, log_var = tf.split(self.network("encoder", y), 2, axis=-1)
        log_var = tf.clip_by_value(log_var, -30.0, 20.0)
        u = mean + tf.exp(0.5 * log_var) * noise[:, :self.noise_width()]
        y_hat = self.network("decoder", u)
        gamma_sq = tf.exp(2.0 * self.log_gamma)
        rec = tf.reduce_sum(tf.square(y - y_hat) / (2.0 * gamma_sq) + self.log_gamma
                            + 0.5 * np.log(2 * np.pi), axis=-1)
        kl = 0.5 * tf.reduce_sum(tf.exp(log_var) + tf.square(mean) - 1.0 - log_var, axis=-1)
        return rec + kl

    def fit_codes(self, codes, classes, verbose=0):
        if self.noise_width() > self.latent_dim:
            raise ValueError(f"latent_dim ({self.second_latent_dim}) must not exceed the "
                             f"model's code size ({self.latent_dim}).")
        super().fit_codes(codes, classes, verbose=verbose)

    def codes_from_noise(self, noise, groups, temperature=1.0):
        return self.unstandardize(self.network("decoder", temperature * noise))

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units,
                "latent_dim": self.second_latent_dim}


@keras.saving.register_keras_serializable(package="keras_vae")
class MAF(_TrainedSampler):
    """A masked autoregressive flow (Papamakarios et al. 2017) fitted by maximum likelihood
    to the model's (standardized) posterior means. Each of ``num_steps`` steps maps a code
    ``y`` to ``(y - m(y)) exp(-s(y))`` with ``[m, s]`` a MADE of ``y`` (Germain et al. 2015),
    reversing the order of the dimensions between steps; the last step's output is N(0, I).
    Its density takes one pass; a draw inverts the steps one dimension at a time
    (``latent_dim`` passes per step).

    Args:
        model: The trained model.
        num_steps: Flow steps (default 5).
        hidden_units: Each step's masked MLP (default ``(128, 128)``).
        epochs, batch_size, learning_rate: Its training (Adam).
        seed: Seed of its initial weights and data order.

    References:
        Papamakarios, Pavlakou & Murray, "Masked Autoregressive Flow for Density
        Estimation", NeurIPS 2017.
    """

    def __init__(self, model=None, num_steps=5, hidden_units=(128, 128), epochs=50,
                 batch_size=256, learning_rate=1e-3, seed=None, **kwargs):
        self.num_steps = check_positive_int("num_steps", num_steps)
        self.hidden_units = check_int_tuple("hidden_units", hidden_units, allow_empty=False)
        super().__init__(model, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, seed=seed, **kwargs)

    def create_network(self, latent_dim):
        # NumPy, made constants inside the steps (as kv.flows.IAF does).
        self.masks = made_masks(latent_dim, self.hidden_units)
        self.steps = [add_made_weights(self, k, latent_dim, self.hidden_units, self.seed)
                      for k in range(self.num_steps)]

    def shift_and_log_scale(self, k, y):
        m, s = tf.split(made_outputs(y, *self.steps[k], self.masks), 2, axis=-1)
        return m, 3.0 * tf.tanh(s / 3.0)  # log-scales within (-3, 3): no overflow

    def log_prob_standardized(self, y):
        """``log p(y)`` of standardized codes ``[n, d]``: ``[n]``."""
        log_det = tf.zeros(tf.shape(y)[:1])
        for k in range(self.num_steps):
            m, s = self.shift_and_log_scale(k, y)
            y = tf.reverse((y - m) * tf.exp(-s), axis=[-1])
            log_det -= tf.reduce_sum(s, axis=-1)
        return tf.reduce_sum(-0.5 * tf.square(y) - 0.5 * np.log(2 * np.pi), axis=-1) + log_det

    def log_prob(self, codes):
        """``log p(z)`` of model codes ``[n, d]`` under the fitted flow: ``[n]``."""
        self.check_fitted()
        y = (tf.cast(codes, tf.float32) - self.shift) / self.scale
        return self.log_prob_standardized(y) - tf.reduce_sum(tf.math.log(self.scale))

    def loss(self, y, noise):
        return -self.log_prob_standardized(y)

    def codes_from_noise(self, noise, groups, temperature=1.0):
        u = temperature * noise
        for k in reversed(range(self.num_steps)):
            u = tf.reverse(u, axis=[-1])
            y = tf.zeros_like(u)
            for _ in range(self.latent_dim):  # dimension i is exact after pass i
                m, s = self.shift_and_log_scale(k, y)
                y = u * tf.exp(s) + m
            u = y
        return self.unstandardize(u)

    def get_config(self):
        return {**super().get_config(), "num_steps": self.num_steps,
                "hidden_units": self.hidden_units}


#: The samplers by their CLI name.
SAMPLERS = {"gmm": GaussianMixture, "two_stage": TwoStage, "maf": MAF}
#: The constructor argument each CLI form's number sets (``gmm:10``, ``maf:5``,
#: ``two_stage:16``).
SPEC_ARGUMENTS = {"gmm": "num_components", "two_stage": "latent_dim", "maf": "num_steps"}


def from_spec(spec, model=None):
    """A sampler from ``"name[:number]"`` (``"gmm:10"``, ``"maf:5"``, ``"two_stage"``): the
    CLI's ``--sampler``."""
    name = str(spec).partition(":")[0]
    sampler = validation.from_spec(spec, SAMPLERS, "sampler",
                                   SPEC_ARGUMENTS.get(name, "number"))
    if model is not None:
        sampler.build_for(model)
    return sampler
