"""The reparameterization trick as a layer, and the other seeded draw the models take from
the whole batch: a per-dimension permutation (FactorVAE's samples of the product of marginals).
"""

import keras
import tensorflow as tf
from keras import ops

from keras_vae import distribute
from keras_vae import losses
from keras_vae.validation import check_seed


class SeededLayer(keras.layers.Layer):
    """A layer drawing from a ``keras.random.SeedGenerator`` whose state is saved with the
    model: Keras saves a layer's weights but not a generator's state, so without this a
    reloaded model would restart its random stream and ``fit`` would not resume exactly."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_generator_state"] = self.seed_generator.state.numpy()

    def load_own_variables(self, store):
        state = store["seed_generator_state"] if "seed_generator_state" in store else None
        own = {k: store[k] for k in store.keys() if k != "seed_generator_state"}
        super().load_own_variables(own)
        if state is not None:
            self.seed_generator.state.assign(state)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_vae")
class Sampling(SeededLayer):
    """Draws ``z = mean + exp(0.5 * log_var) * eps`` with ``eps ~ N(0, I)``.

    Gradients flow to ``mean`` and ``log_var`` through the deterministic transform
    (Kingma & Welling 2014, section 2.4). The noise comes from a
    ``keras.random.SeedGenerator``, so a layer built with a ``seed`` draws the same sequence
    of noise every time it is rebuilt; its state is saved with the model (``.keras``), so a
    reloaded model continues the
    same noise stream.
    ``log_var`` is clipped to ``keras_vae.losses.LOG_VAR_BOUNDS`` so ``exp`` stays finite.

    Args:
        seed: Optional integer seed for the noise.
        **kwargs: Base layer arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: A pair ``(mean, log_var)`` of tensors of the same shape.

    Returns:
        ``z``, a tensor of the same shape as ``mean``.

    Example:

    >>> import numpy as np
    >>> layer = Sampling(seed=1)
    >>> z = layer((np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32")))
    >>> tuple(z.shape)
    (2, 3)

    References:
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    """

    #: The input shapes to ``build`` a Sampling layer for any batch and width.
    ANY_PAIR = ((None, None), (None, None))

    def call(self, inputs):
        mean, log_var = inputs
        if tuple(mean.shape) != tuple(log_var.shape):
            raise ValueError(
                "`mean` and `log_var` must have the same shape. "
                f"Received: mean.shape={tuple(mean.shape)}, log_var.shape={tuple(log_var.shape)}"
            )
        log_var = ops.cast(losses.clip_log_var(log_var), mean.dtype)
        return mean + ops.exp(0.5 * log_var) * self.noise(mean)

    def noise(self, mean):
        """``eps ~ N(0, I)`` shaped like ``mean``. Under a strategy with several replicas,
        example i of a global batch gets the same noise however the batch is split across
        replicas (see :func:`keras_vae.distribute.replica_rows`), so a distributed step
        equals a one-device step."""
        # Drawn in float32 and rounded: a mixed-precision model sees the float32 model's noise,
        # not another stream (TensorFlow draws each dtype differently from one seed).
        return ops.cast(distribute.replica_rows(
            lambda shape: keras.random.normal(shape, dtype="float32", seed=self.seed_generator),
            ops.shape(mean)), mean.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="keras_vae")
class PermuteDims(SeededLayer):
    """Shuffles each column of ``z [batch, d]`` across the batch, independently per column.

    The rows that come out are samples of the product of the marginals of the batch's ``z``
    (Kim & Mnih 2018, Algorithm 1): what FactorVAE's discriminator tells from ``z`` itself.
    Under a distribution strategy the whole global batch is permuted (every replica draws the
    same permutation of the gathered rows and keeps its own rows of the result), so a step on
    N replicas equals a step on one device. The state of its random stream is saved with the
    model.

    Args:
        seed: Optional integer seed.
        **kwargs: Base layer arguments.

    Example:

    >>> import numpy as np
    >>> z = np.arange(8, dtype="float32").reshape(4, 2)
    >>> out = np.asarray(PermuteDims(seed=0)(z))
    >>> sorted(out[:, 0]) == sorted(z[:, 0]) and sorted(out[:, 1]) == sorted(z[:, 1])
    True

    References:
        Kim & Mnih, "Disentangling by Factorising", ICML 2018.
    """

    def call(self, z):
        if z.shape.rank != 2:
            raise ValueError(f"PermuteDims takes z of shape (batch, d). Received: {z.shape}")
        everything, offset = distribute.gather_all(z)
        keys = keras.random.uniform(tf.shape(everything), dtype="float32",
                                    seed=self.seed_generator)
        order = tf.transpose(tf.argsort(keys, axis=0))  # [d, global batch]: a row order per column
        shuffled = tf.transpose(tf.gather(tf.transpose(everything), order, batch_dims=1))
        return shuffled[offset: offset + tf.shape(z)[0]]

    def compute_output_shape(self, input_shape):
        return input_shape
