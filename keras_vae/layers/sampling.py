"""The reparameterization trick as a layer."""

import keras
from keras import ops

from keras_vae import distribute
from keras_vae import losses
from keras_vae.validation import check_seed


@keras.saving.register_keras_serializable(package="keras_vae")
class Sampling(keras.layers.Layer):
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

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

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

    # Keras saves a layer's weights but not its SeedGenerator state; store it too, so a
    # reloaded model continues the same noise stream (and `fit` resumes exactly).
    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_generator_state"] = self.seed_generator.state.numpy()

    def load_own_variables(self, store):
        state = store["seed_generator_state"] if "seed_generator_state" in store else None
        own = {k: store[k] for k in store.keys() if k != "seed_generator_state"}
        super().load_own_variables(own)
        if state is not None:
            self.seed_generator.state.assign(state)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
