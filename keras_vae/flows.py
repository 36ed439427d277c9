"""Normalizing flows for the posterior: ``kv.VAE(..., flow=kv.flows.IAF(4))``.

A flow maps a draw ``z0 ~ q0(z|x) = N(mean, sigma^2)`` of the encoder through ``K``
invertible steps to ``zK = f(z0)``, the code the decoder sees. The density of the code is
``log q(zK|x) = log q0(z0|x) - log |det df/dz0|``, so the KL of the ELBO becomes the
Monte-Carlo estimate ``log q(zK|x) - log p(zK)`` (Rezende & Mohamed 2015, eq. 15). A flow is a
Keras layer: ``flow(z) -> (f(z), log |det df/dz|)``, float32, with ``z [batch, latent_dim]``.

The flows here have their own weights, shared by every x (the dependence on x comes through
``q0``): they compose with any encoder, your own included, without changing its output.
:data:`FLOWS` names them for the CLI (``--flow iaf:4``) and :func:`from_spec` reads that form.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_vae import validation
from keras_vae.validation import check_int_tuple
from keras_vae.validation import check_positive_int
from keras_vae.validation import check_seed


def seeded_normal(seed, index, stddev):
    """A normal initializer for weight ``index`` of a layer seeded ``seed`` (``None``:
    unseeded)."""
    return keras.initializers.RandomNormal(
        stddev=stddev, seed=None if seed is None else seed * 1000 + index)


class Flow(keras.layers.Layer):
    """Base of the posterior flows: ``num_steps`` invertible steps on ``[batch, latent_dim]``.

    A subclass creates its weights in :meth:`build_steps` and maps ``z`` through one step in
    :meth:`step`, returning ``(z, log |det|)`` per example. Computation is float32 whatever
    the model's dtype policy: the log-determinant enters the loss.
    """

    def __init__(self, num_steps=4, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_steps = check_positive_int("num_steps", num_steps)
        self.seed = check_seed(seed)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} transforms codes of shape (batch, "
                             f"latent_dim). Received: input_shape={tuple(input_shape)}")
        self.latent_dim = int(input_shape[-1])
        self.build_steps(self.latent_dim)
        self.built = True

    def initializer(self, index, stddev):
        return seeded_normal(self.seed, index, stddev)

    def call(self, z):
        z = tf.cast(z, tf.float32)
        log_det = tf.zeros(tf.shape(z)[:1], tf.float32)
        for k in range(self.num_steps):
            z, step_log_det = self.step(k, z)
            log_det += step_log_det
        return z, log_det

    def compute_output_shape(self, input_shape):
        return input_shape, input_shape[:1]

    def compute_output_spec(self, z):
        # float32 under any dtype policy (a mixed policy would autocast the weights in `call`,
        # hence the casts of the steps)
        return (keras.KerasTensor(z.shape, "float32"), keras.KerasTensor(z.shape[:1], "float32"))

    def get_config(self):
        return {**super().get_config(), "num_steps": self.num_steps, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_vae")
class Planar(Flow):
    """Planar flow (Rezende & Mohamed 2015, section 4.1): ``K`` steps
    ``f(z) = z + u_hat · tanh(w^T z + b)`` with ``log |det| = log |1 + u_hat^T psi(z)|``,
    ``psi = (1 - tanh^2(w^T z + b)) w``. ``u_hat = u + (m(w^T u) - w^T u) w / |w|^2`` with
    ``m(a) = -1 + softplus(a)`` keeps each step invertible (their appendix A.1).

    Args:
        num_steps: K, the number of steps (default 4).
        seed: Seed of the initial weights (normal, standard deviation 0.01).
        **kwargs: Base layer arguments.

    Example:

    >>> import numpy as np
    >>> flow = Planar(num_steps=2, seed=0)
    >>> z, log_det = flow(np.zeros((3, 4), "float32"))
    >>> tuple(z.shape), tuple(log_det.shape)
    ((3, 4), (3,))

    References:
        Rezende & Mohamed, "Variational Inference with Normalizing Flows", ICML 2015.
    """

    def build_steps(self, latent_dim):
        shape = (self.num_steps, latent_dim)
        self.u = self.add_weight(shape=shape, initializer=self.initializer(0, 0.01), name="u")
        self.w = self.add_weight(shape=shape, initializer=self.initializer(1, 0.01), name="w")
        self.b = self.add_weight(shape=(self.num_steps,), initializer="zeros", name="b")

    def step(self, k, z):
        u, w, b = (tf.cast(v, tf.float32) for v in (self.u[k], self.w[k], self.b[k]))
        wu = tf.reduce_sum(w * u)
        u_hat = u + (tf.nn.softplus(wu) - 1.0 - wu) * w / (tf.reduce_sum(w * w) + 1e-12)
        h = tf.tanh(tf.linalg.matvec(z, w) + b)
        z = z + h[:, None] * u_hat
        log_det = tf.math.log(tf.abs(1.0 + (1.0 - h * h) * tf.reduce_sum(w * u_hat)) + 1e-8)
        return z, log_det


def made_masks(latent_dim, hidden_units):
    """The MADE masks (Germain et al. 2015) of an autoregressive MLP on ``latent_dim``
    inputs: output ``i`` depends on inputs ``< i`` only. Returns one ``[in, out]`` mask per
    layer, the last for the ``2 * latent_dim`` outputs (two per dimension)."""
    inputs = np.arange(1, latent_dim + 1)
    degrees = [inputs]
    for units in hidden_units:  # cyclic degrees in [1, latent_dim - 1]
        degrees.append(np.arange(units) % max(latent_dim - 1, 1) + 1)
    masks = [(later[None, :] >= earlier[:, None]).astype("float32")
             for earlier, later in zip(degrees[:-1], degrees[1:])]
    outputs = np.concatenate([inputs, inputs])
    masks.append((outputs[None, :] > degrees[-1][:, None]).astype("float32"))
    return masks


def add_made_weights(layer, k, latent_dim, hidden_units, seed):
    """Creates the weights of MADE ``k`` of ``layer`` (``kernel_{k}_{i}``, ``bias_{k}_{i}``:
    He-normal kernels, the output one at 0.01 so each step starts near the identity; zero
    biases) and returns ``(kernels, biases)``."""
    widths = [latent_dim, *hidden_units, 2 * latent_dim]
    kernels, biases = [], []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        stddev = 0.01 if i == len(widths) - 2 else float(np.sqrt(2.0 / n_in))
        kernels.append(layer.add_weight(shape=(n_in, n_out), name=f"kernel_{k}_{i}",
                                        initializer=seeded_normal(seed, k * 100 + i, stddev)))
        biases.append(layer.add_weight(shape=(n_out,), initializer="zeros",
                                       name=f"bias_{k}_{i}"))
    return kernels, biases


def made_outputs(h, kernels, biases, masks):
    """A MADE's ``2 * latent_dim`` outputs for inputs ``h``: masked ReLU layers, the last
    linear (float32)."""
    for i, mask in enumerate(masks):
        h = tf.matmul(h, tf.cast(kernels[i], tf.float32) * tf.constant(mask)) \
            + tf.cast(biases[i], tf.float32)
        if i < len(masks) - 1:
            h = tf.nn.relu(h)
    return h


@keras.saving.register_keras_serializable(package="keras_vae")
class IAF(Flow):
    """Inverse autoregressive flow (Kingma et al. 2016): ``K`` steps
    ``z <- sigma ⊙ z + (1 - sigma) ⊙ m``, ``[m, s] = MADE(z)``, ``sigma = sigmoid(s + 1)``
    (their eq. 14, with the forget-gate bias that starts each step near the identity);
    ``log |det| = sum log sigma``. The order of the dimensions is reversed between steps.

    Args:
        num_steps: K (default 4).
        hidden_units: Widths of each step's masked ReLU MLP (default ``(320,)``).
        seed: Seed of the initial weights.
        **kwargs: Base layer arguments.

    Example:

    >>> import numpy as np
    >>> flow = IAF(num_steps=2, hidden_units=(8,), seed=0)
    >>> z, log_det = flow(np.zeros((3, 4), "float32"))
    >>> tuple(z.shape), tuple(log_det.shape)
    ((3, 4), (3,))

    References:
        Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling, "Improved Variational
        Inference with Inverse Autoregressive Flow", NeurIPS 2016.
        Germain, Gregor, Murray & Larochelle, "MADE: Masked Autoencoder for Distribution
        Estimation", ICML 2015.
    """

    def __init__(self, num_steps=4, hidden_units=(320,), seed=None, **kwargs):
        super().__init__(num_steps=num_steps, seed=seed, **kwargs)
        self.hidden_units = check_int_tuple("hidden_units", hidden_units)

    def build_steps(self, latent_dim):
        # NumPy, made constants inside ``call``: an eager tensor would be a captured input
        # of every traced graph (and of an ONNX export).
        self.masks = made_masks(latent_dim, self.hidden_units)
        self.kernels, self.biases = [], []
        for k in range(self.num_steps):
            kernels, biases = add_made_weights(self, k, latent_dim, self.hidden_units, self.seed)
            self.kernels += kernels
            self.biases += biases

    def step(self, k, z):
        layers = len(self.masks)
        h = made_outputs(z, self.kernels[k * layers:(k + 1) * layers],
                         self.biases[k * layers:(k + 1) * layers], self.masks)
        m, s = tf.split(h, 2, axis=-1)
        gate = s + 1.0
        sigma = tf.sigmoid(gate)
        z = sigma * z + (1.0 - sigma) * m
        log_det = -tf.reduce_sum(tf.nn.softplus(-gate), axis=-1)  # sum log sigmoid
        return tf.reverse(z, axis=[-1]), log_det

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units}


#: The flows by their CLI name.
FLOWS = {"planar": Planar, "iaf": IAF}


def from_spec(spec):
    """A flow from ``"name:num_steps"`` (``"iaf:4"``, ``"planar:8"``): the CLI's ``--flow``."""
    return validation.from_spec(spec, FLOWS, "flow", "num_steps")
