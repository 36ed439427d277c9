"""Every model the package ships, with tiny constructor arguments, and how to feed each.

Tests that loop over this registry (config round-trip, ``.keras`` save/load exactness, one
``fit`` step, the API, SavedModel export and ONNX parity) run for every entry
automatically: a new variant gets all of them by adding one line here (and, if it takes
other inputs, a branch in the helpers below). Build models with :func:`build`.
"""

import numpy as np

import keras_vae as kv

TINY_IMAGE = (8, 8, 1)

MODELS = {
    "vae_mlp": (kv.VAE, dict(input_shape=TINY_IMAGE, latent_dim=2, hidden_units=(16,))),
    "vae_conv_gaussian": (
        kv.VAE,
        dict(input_shape=(8, 8, 3), latent_dim=3, architecture="conv", filters=(4, 8),
             dense_units=(6,), likelihood="gaussian", likelihood_scale="learned"),
    ),
    "beta_vae_warmup": (
        kv.BetaVAE,
        dict(input_shape=TINY_IMAGE, latent_dim=2, hidden_units=(16,),
             beta=kv.schedules.LinearWarmup(0.0, 4.0, steps=10)),
    ),
    "beta_vae_capacity": (
        kv.BetaVAE,
        dict(input_shape=TINY_IMAGE, latent_dim=2, hidden_units=(16,), capacity_max=5.0,
             capacity_steps=10, gamma=10.0, free_bits=0.1),
    ),
    "iwae_mlp_k3": (
        kv.IWAE, dict(input_shape=TINY_IMAGE, latent_dim=2, hidden_units=(16,), num_samples=3),
    ),
    "cvae_one_hot_mlp": (
        kv.ConditionalVAE,
        dict(input_shape=TINY_IMAGE, num_classes=3, latent_dim=2, hidden_units=(16,)),
    ),
    "cvae_embedding_conv_prior_capacity": (
        kv.ConditionalVAE,
        dict(input_shape=(8, 8, 3), num_classes=4, latent_dim=3, architecture="conv",
             filters=(4, 8), dense_units=(5, 4), conditioning="embedding", embedding_dim=5,
             conditional_prior=True,
             capacity_max=5.0, capacity_steps=10, likelihood="gaussian"),
    ),
    # `prior` holds PixelCNN arguments; `build` makes a fresh prior for every model.
    "vqvae_gradient_residual_gaussian_prior": (
        kv.VQVAE,
        dict(input_shape=(8, 8, 3), num_embeddings=6, embedding_dim=3, filters=(4,),
             ema_decay=None, dead_code_steps=None, residual_blocks=1, residual_units=4,
             likelihood="gaussian",
             likelihood_scale="learned",
             prior=dict(grid_shape=(4, 4), num_embeddings=6, filters=8, num_blocks=1)),
    ),
    "vqvae_ema_dead_codes_class_prior": (
        kv.VQVAE,
        dict(input_shape=TINY_IMAGE, num_embeddings=8, embedding_dim=4, filters=(4, 8),
             ema_decay=0.9, dead_code_steps=1, residual_blocks=0,
             prior=dict(grid_shape=(2, 2), num_embeddings=8, num_classes=3, filters=8,
                        num_blocks=2, gated=False)),
    ),
}


def build(model_id, seed=0):
    """A fresh model of registry entry ``model_id``."""
    cls, kwargs = MODELS[model_id]
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("prior"), dict):
        kwargs["prior"] = kv.priors.PixelCNN(**kwargs["prior"], seed=seed)
    return cls(**kwargs, seed=seed)


def is_conditional(model):
    """Whether the model itself takes labels (the VQ-VAE's prior may; the model does not)."""
    return model.needs_labels


def is_vq(model):
    return model.latent_kind == "codes"


def batch(model, n=32, seed=0):
    """``(x, labels)`` for ``model``; labels are ``None`` for unconditional models."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *model.data_shape)).astype("float32")
    labels = rng.integers(0, model.num_classes,
                          n).astype("int32") if is_conditional(model) else None
    return x, labels


def latent_shape(model):
    return list(model.code_shape) if is_vq(model) else [model.latent_dim]


def latents(model, x, labels):
    """What the encoder gives: ``(mean, log_var)``, or ``(codes, z_e)`` for a VQ-VAE."""
    if is_vq(model):
        return model.encode(x, return_z_e=True)
    return encode(model, x, labels)


def latent_input(model, n, seed=0):
    """A valid input of ``decode``: Gaussian latents, or a code grid for a VQ-VAE."""
    rng = np.random.default_rng(seed)
    if is_vq(model):
        return rng.integers(0, model.num_embeddings, (n, *model.code_shape)).astype("int32")
    return rng.standard_normal((n, model.latent_dim)).astype("float32")


def encode(model, x, labels):
    return model.encode(x, labels) if is_conditional(model) else model.encode(x)


def decode(model, z, labels, **kwargs):
    return model.decode(z, labels, **kwargs) if is_conditional(model) else model.decode(z, **kwargs)


def reconstruct(model, x, labels):
    return model.reconstruct(x, labels) if is_conditional(model) else model.reconstruct(x)


def call(model, x, labels):
    return model((x, labels)) if is_conditional(model) else model(x)


def sample_labels(model, n):
    """Labels ``sample`` needs (one per image), or ``None``."""
    if is_conditional(model):
        return np.arange(n, dtype="int32") % model.num_classes
    if is_vq(model) and model.prior is not None and model.prior.conditional:
        return np.arange(n, dtype="int32") % model.prior.num_classes
    return None


def sample(model, n, seed, labels=None):
    labels = sample_labels(model, n) if labels is None else labels
    return model.sample(n if labels is None else labels, seed=seed)


def kl_per_dimension(model, x, labels):
    return model.kl_per_dimension(x, labels) if is_conditional(model) else model.kl_per_dimension(x)


def fit_data(model, n=32, seed=0):
    """What ``fit`` takes for ``model``: images, or ``(images, labels)``."""
    x, labels = batch(model, n, seed)
    return x if labels is None else (x, labels)


def prior(seed=0):
    """A class-conditional PixelCNN prior trained on its own (it is no registry entry: it
    has no serving signatures), with :func:`prior_data`."""
    return kv.priors.PixelCNN((4, 4), 5, num_classes=3, filters=8, num_blocks=1, seed=seed)


def prior_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 5, (n, 4, 4)).astype("int32"),
            rng.integers(0, 3, n).astype("int32"))


def build_any(name, seed=0):
    """A registry model, or the PixelCNN prior for ``name == "pixelcnn_prior"``."""
    return prior(seed) if name == "pixelcnn_prior" else build(name, seed)


def any_fit_data(name, model, n=32, seed=0):
    return prior_data(n, seed) if name == "pixelcnn_prior" else fit_data(model, n, seed)


#: Registry models plus the standalone prior: what the distribution and precision tests run.
TRAINABLE = [*MODELS, "pixelcnn_prior"]
