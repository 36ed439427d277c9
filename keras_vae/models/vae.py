"""The Variational Autoencoder: maximizes the ELBO, β = 1."""

import keras

from keras_vae.models.base import BaseVAE


@keras.saving.register_keras_serializable(package="keras_vae")
class VAE(BaseVAE):
    """Variational Autoencoder (Kingma & Welling 2014) trained with ``model.fit``.

    The loss is the negative ELBO, ``-log p(x|z) + KL(q(z|x) || N(0, I))`` in nats per
    example, with z drawn by the reparameterization trick. Reported metrics: ``loss``,
    ``reconstruction_loss``, ``kl_loss`` and ``elbo`` (the ELBO itself, a negative number
    for Bernoulli images; ``-elbo`` is the bound on ``-log p(x)``).

    Args:
        input_shape: Image shape ``(height, width, channels)``.
        latent_dim: Size of z (default 20).
        architecture: ``"mlp"`` (default) or ``"conv"``.
        hidden_units: MLP widths; the default ``(400,)`` with ``latent_dim=20`` on MNIST is the
            784-400-20 network of the paper and the course.
        filters: Conv channels per stride-2 stage; ``(32, 64, 128)`` with ``kernel_size=4``
            and ``latent_dim=128`` is the course's ConvVAE.
        kernel_size: Conv kernel size.
        likelihood: ``"bernoulli"`` or ``"gaussian"``.
        likelihood_scale: The Gaussian sigma (default 0.1) or ``"learned"``.
        free_bits: KL floor per latent dimension in nats (default 0: off).
        seed: Seed for the reparameterization noise.

    Example:

    >>> import keras, numpy as np, keras_vae as kv
    >>> model = kv.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(32, 8, 8, 1).astype("float32"), epochs=1,
    ...                     batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['elbo', 'kl_loss', 'loss', 'reconstruction_loss']

    References:
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    """

    def __init__(self, input_shape, **kwargs):
        for name in ("beta", "capacity_max", "capacity_steps", "gamma"):
            if name in kwargs:
                raise ValueError(
                    f"VAE has no `{name}`: it maximizes the plain ELBO. Use BetaVAE for "
                    "beta weighting or capacity control."
                )
        super().__init__(input_shape, **kwargs)
