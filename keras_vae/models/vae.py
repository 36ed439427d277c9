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

    Your own networks are arguments: ``VAE(input_shape, encoder=enc, decoder=dec,
    latent_dim=...)`` with any Keras encoder ``x -> [batch, 2 * latent_dim]`` (or a pair
    ``(mean, log_var)``) and decoder ``z -> [batch, *input_shape]``; without them the networks
    are built from ``architecture`` and its arguments. Data is any shape: images
    ``(H, W, C)``, rows ``(features,)``, sequences ``(steps, features)``; the likelihood and
    the KL sum over every non-batch axis.

    Args:
        input_shape: Shape of one example (images ``(height, width, channels)``, rows,
            sequences).
        latent_dim: Size of z (default 20).
        encoder, decoder: Your own networks (see :class:`keras_vae.models.BaseVAE`).
        architecture: ``"mlp"`` (default) or ``"conv"``.
        hidden_units: MLP widths; the default ``(400,)`` with ``latent_dim=20`` on MNIST is the
            784-400-20 network of the paper and the course.
        filters: Conv channels per stride-2 stage; ``(32, 64, 128)`` with ``kernel_size=4``
            and ``latent_dim=128`` is the course's ConvVAE.
        kernel_size: Conv kernel size.
        likelihood: ``"bernoulli"``, ``"gaussian"`` or ``"logistic"`` (discretized, 8-bit
            images).
        likelihood_scale: The Gaussian sigma (default 0.1) or ``"learned"``.
        data_range: ``"unit"`` (data in [0, 1]; the default for images and Bernoulli) or
            ``"real"`` (the Gaussian mean is unbounded; the default for other shapes).
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

    Your own networks:

    >>> encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                             keras.layers.Dense(4)])         # mean and log-variance
    >>> decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(64),
    ...                             keras.layers.Reshape((8, 8, 1))])
    >>> own = kv.VAE(input_shape=(8, 8, 1), encoder=encoder, decoder=decoder, latent_dim=2)
    >>> tuple(own.sample(3, seed=0).shape)
    (3, 8, 8, 1)

    References:
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    """
