"""Every model the package ships, with tiny constructor arguments, and how to feed each.

Tests that loop over this registry (config round-trip, ``.keras`` save/load exactness, one
``fit`` step, the API, SavedModel export and ONNX parity) run for every entry
automatically: a new variant gets all of them by adding one line here (and, if it takes
other inputs, a branch in the helpers below).
"""

import numpy as np

import keras_vae as kv

TINY_IMAGE = (8, 8, 1)

MODELS = {
    "vae_mlp": (kv.VAE, dict(input_shape=TINY_IMAGE, latent_dim=2, hidden_units=(16,))),
    "vae_conv_gaussian": (
        kv.VAE,
        dict(input_shape=(8, 8, 3), latent_dim=3, architecture="conv", filters=(4, 8),
             likelihood="gaussian", likelihood_scale="learned"),
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
    "cvae_one_hot_mlp": (
        kv.ConditionalVAE,
        dict(input_shape=TINY_IMAGE, num_classes=3, latent_dim=2, hidden_units=(16,)),
    ),
    "cvae_embedding_conv_prior_capacity": (
        kv.ConditionalVAE,
        dict(input_shape=(8, 8, 3), num_classes=4, latent_dim=3, architecture="conv",
             filters=(4, 8), conditioning="embedding", embedding_dim=5, conditional_prior=True,
             capacity_max=5.0, capacity_steps=10, likelihood="gaussian"),
    ),
}


def is_conditional(model):
    return isinstance(model, kv.ConditionalVAE)


def batch(model, n=32, seed=0):
    """``(x, labels)`` for ``model``; labels are ``None`` for unconditional models."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *model.image_shape)).astype("float32")
    labels = rng.integers(0, model.num_classes, n).astype("int32") if is_conditional(model) else None
    return x, labels


def encode(model, x, labels):
    return model.encode(x, labels) if is_conditional(model) else model.encode(x)


def decode(model, z, labels, **kwargs):
    return model.decode(z, labels, **kwargs) if is_conditional(model) else model.decode(z, **kwargs)


def reconstruct(model, x, labels):
    return model.reconstruct(x, labels) if is_conditional(model) else model.reconstruct(x)


def call(model, x, labels):
    return model((x, labels)) if is_conditional(model) else model(x)


def sample(model, n, seed, labels=None):
    if is_conditional(model):
        labels = np.arange(n) % model.num_classes if labels is None else labels
        return model.sample(labels, seed=seed)
    return model.sample(n, seed=seed)


def kl_per_dimension(model, x, labels):
    return model.kl_per_dimension(x, labels) if is_conditional(model) else model.kl_per_dimension(x)
