"""Every model the package ships, with tiny constructor arguments, and how to feed each.

Tests that loop over this registry (config round-trip, ``.keras`` save/load exactness, one
``fit`` step, the API, SavedModel export and ONNX parity) run for every entry
automatically: a new variant gets all of them by adding one line here (and, if it takes
other inputs, a branch in the helpers below). Build models with :func:`build`.
"""

import keras
import numpy as np

import keras_vae as kv

TINY_IMAGE = (8, 8, 1)


# ---------------------------------------------------------------------- user-written networks
# Entries whose networks are a user's own: a factory builds a fresh pair for every model, so
# each registered check (config, .keras, export, distribution, precision) runs on them too.
def conv_bn_networks(latent_dim=3):
    """A functional conv encoder with BatchNormalization and a transposed-conv decoder.

    ``synchronized=True``: under a distribution strategy the batch statistics are those of
    the global batch, so two replicas train as one device does (unsynchronized, each replica
    normalizes by its own share and the weights drift apart by about 4e-3 in three epochs)."""
    x = keras.Input(TINY_IMAGE)
    h = keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)
    h = keras.layers.BatchNormalization(synchronized=True)(h)
    h = keras.layers.ReLU()(h)
    encoder = keras.Model(x, keras.layers.Dense(2 * latent_dim)(keras.layers.Flatten()(h)),
                          name="user_conv_encoder")
    z = keras.Input((latent_dim,))
    h = keras.layers.Reshape((4, 4, 4))(keras.layers.Dense(64, activation="relu")(z))
    out = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same")(h)
    return encoder, keras.Model(z, out, name="user_conv_decoder")


@keras.saving.register_keras_serializable(package="keras_vae_tests")
class SubclassedEncoder(keras.Model):
    """A subclassed encoder returning the pair (mean, log_var)."""

    def __init__(self, latent_dim, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.mean = keras.layers.Dense(latent_dim)
        self.log_var = keras.layers.Dense(latent_dim)

    def call(self, x):
        h = self.hidden(self.flatten(x))
        return self.mean(h), self.log_var(h)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}


def subclassed_networks(latent_dim=2):
    decoder = keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(64),
                                keras.layers.Reshape(TINY_IMAGE)], name="user_decoder")
    return SubclassedEncoder(latent_dim, name="user_encoder"), decoder

MODELS = {
    "vae_mlp": (kv.VAE, dict(input_shape=TINY_IMAGE, latent_dim=2, hidden_units=(16,))),
    "vae_conv_gaussian": (
        kv.VAE,
        dict(input_shape=(8, 8, 3), latent_dim=3, architecture="conv", filters=(4, 8),
             dense_units=(6,), likelihood="gaussian", likelihood_scale="learned"),
    ),
    "vae_conv_discretized_logistic": (  # 8-bit colour images, a learned logistic scale
        kv.VAE, dict(input_shape=(8, 8, 3), latent_dim=3, architecture="conv", filters=(4, 8),
                     likelihood="logistic", likelihood_scale="learned"),
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
    "factor_vae_mlp": (
        kv.FactorVAE, dict(input_shape=TINY_IMAGE, latent_dim=3, hidden_units=(16,), gamma=10.0,
                           discriminator_units=(8, 8)),
    ),
    "beta_tc_vae_mss": (
        kv.BetaTCVAE, dict(input_shape=TINY_IMAGE, latent_dim=3, hidden_units=(16,), beta=6.0,
                           dataset_size=100, estimator="mss"),
    ),
    "dip_vae_ii_conv_gaussian": (
        kv.DIPVAE, dict(input_shape=(8, 8, 3), latent_dim=3, architecture="conv", filters=(4, 8),
                        dip_type="ii", lambda_od=5.0, likelihood="gaussian"),
    ),
    "aae_mixture_prior_gaussian_encoder": (
        kv.AdversarialAutoencoder,
        dict(input_shape=TINY_IMAGE, latent_dim=2, hidden_units=(16,), prior_type="mixture",
             encoder_type="gaussian", discriminator_units=(8,)),
    ),
    "caae_one_hot_deterministic": (
        kv.ConditionalAdversarialAutoencoder,
        dict(input_shape=TINY_IMAGE, num_classes=3, latent_dim=2, hidden_units=(16,),
             encoder_type="deterministic", discriminator_units=(8,)),
    ),
    # `parts` makes the flow and prior layers afresh for every model (a layer has one owner).
    "iwae_tabular_planar_flow_vamp_prior": (
        kv.IWAE, dict(input_shape=(6,), latent_dim=2, hidden_units=(8,), num_samples=3,
                      likelihood="gaussian", parts=lambda seed: dict(
                          flow=kv.flows.Planar(2, seed=seed),
                          prior=kv.priors.VampPrior(4, seed=seed))),
    ),
    "cvae_mixture_prior_iaf_flow": (
        kv.ConditionalVAE, dict(input_shape=TINY_IMAGE, num_classes=3, latent_dim=3,
                                hidden_units=(16,), conditional_prior=False,
                                parts=lambda seed: dict(
                                    flow=kv.flows.IAF(2, hidden_units=(8,), seed=seed),
                                    prior=kv.priors.MixturePrior(3, seed=seed))),
    ),
    "hvae_three_layers_free_bits_per_layer": (
        kv.HierarchicalVAE, dict(input_shape=TINY_IMAGE, latent_dims=(3, 2, 2),
                                 hidden_units=(16,), ladder_units=(8,),
                                 free_bits=(0.05, 0.0, 0.0))),
    "hvae_vamp_prior": (
        kv.HierarchicalVAE, dict(input_shape=TINY_IMAGE, latent_dims=(3, 2), hidden_units=(16,),
                                 ladder_units=(8,), free_bits=(0.05, 0.0),
                                 parts=lambda seed: dict(prior=kv.priors.VampPrior(4, seed=seed)))),
    "vae_user_conv_batchnorm": (
        kv.VAE, dict(input_shape=TINY_IMAGE, latent_dim=3, networks=conv_bn_networks),
    ),
    "beta_vae_user_subclassed_encoder": (
        kv.BetaVAE, dict(input_shape=TINY_IMAGE, latent_dim=2, networks=subclassed_networks,
                         beta=2.0),
    ),
    "vae_tabular_gaussian_real": (
        kv.VAE, dict(input_shape=(6,), latent_dim=2, hidden_units=(8,), likelihood="gaussian",
                     likelihood_scale="learned"),
    ),
    "vae_gru_sequence_gaussian": (  # the VRAE: GRU encoder and decoder over [steps, features]
        kv.VAE, dict(input_shape=(5, 3), latent_dim=2, architecture="gru", hidden_units=(8,),
                     likelihood="gaussian"),
    ),
    "cvae_float_conditions": (
        kv.ConditionalVAE, dict(input_shape=TINY_IMAGE, condition_dim=3, latent_dim=2,
                                hidden_units=(16,)),
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
    "vqvae_gradient_residual_gaussian_transformer_prior": (
        kv.VQVAE,
        dict(input_shape=(8, 8, 3), num_embeddings=6, embedding_dim=3, filters=(4,),
             ema_decay=None, dead_code_steps=None, residual_blocks=1, residual_units=4,
             likelihood="gaussian", likelihood_scale="learned",
             parts=lambda seed: dict(prior=kv.priors.TransformerPrior(
                 (4, 4), 6, units=8, num_layers=1, num_heads=2, seed=seed))),
    ),
    "vqvae_ema_dead_codes_class_prior": (
        kv.VQVAE,
        dict(input_shape=TINY_IMAGE, num_embeddings=8, embedding_dim=4, filters=(4, 8),
             ema_decay=0.9, dead_code_steps=1, residual_blocks=0,
             prior=dict(grid_shape=(2, 2), num_embeddings=8, num_classes=3, filters=8,
                        num_blocks=2, gated=False)),
    ),
    # Top grid 2x2 over a 4x4 bottom grid; the bottom prior sees the top codes.
    "vqvae2_ema_dead_codes_class_two_level_pixelcnn": (
        kv.VQVAE2,
        dict(input_shape=TINY_IMAGE, num_embeddings=6, embedding_dim=3, filters=(4,),
             top_filters=(4,), ema_decay=0.9, dead_code_steps=1, residual_blocks=1,
             residual_units=4, parts=lambda seed: dict(prior=kv.models.TwoLevelPrior(
                 kv.priors.PixelCNN((2, 2), 6, num_classes=3, filters=8, num_blocks=1,
                                    seed=seed),
                 kv.priors.PixelCNN((4, 4), 6, condition_shape=(2, 2), condition_embeddings=6,
                                    filters=8, num_blocks=1, seed=seed)))),
    ),
    "vqvae2_gradient_gaussian_two_level_transformer": (
        kv.VQVAE2,
        dict(input_shape=(8, 8, 3), num_embeddings=5, embedding_dim=3, filters=(4,),
             top_filters=(4,), ema_decay=None, dead_code_steps=None, residual_blocks=0,
             likelihood="gaussian", parts=lambda seed: dict(prior=kv.models.TwoLevelPrior(
                 kv.priors.TransformerPrior((2, 2), 5, units=8, num_layers=1, num_heads=2,
                                            seed=seed),
                 kv.priors.TransformerPrior((4, 4), 5, condition_shape=(2, 2),
                                            condition_embeddings=5, units=8, num_layers=1,
                                            num_heads=2, seed=seed)))),
    ),
}


def build(model_id, seed=0):
    """A fresh model of registry entry ``model_id``."""
    cls, kwargs = MODELS[model_id]
    kwargs = dict(kwargs)
    if "networks" in kwargs:
        kwargs["encoder"], kwargs["decoder"] = kwargs.pop("networks")(kwargs["latent_dim"])
    if "parts" in kwargs:
        kwargs.update(kwargs.pop("parts")(seed))
    if isinstance(kwargs.get("prior"), dict):
        kwargs["prior"] = kv.priors.PixelCNN(**kwargs["prior"], seed=seed)
    return cls(**kwargs, seed=seed)


def trained(model_id, epochs=1, seed=0, callbacks=(), **compile_kwargs):
    """A model of ``model_id`` trained ``epochs`` epochs on its :func:`batch` (Adam 1e-2,
    batches of 16; ``compile_kwargs`` go to ``compile``, e.g. ``jit_compile=False``): weights
    that are no longer the initial ones, for tests of what a trained model gives."""
    model = build(model_id, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), **compile_kwargs)
    x, labels = batch(model)
    model.fit(x, labels, batch_size=16, epochs=epochs, verbose=0, callbacks=list(callbacks))
    return model


def is_conditional(model):
    """Whether the model itself takes labels (the VQ-VAE's prior may; the model does not)."""
    return model.needs_labels


def is_vq(model):
    return model.latent_kind == "codes"


def batch(model, n=32, seed=0):
    """``(x, labels)`` for ``model``; labels are ``None`` for unconditional models, float
    condition vectors for a ``condition_dim`` model. Real-valued data is standardized
    noise (negative values included), data in [0, 1] uniform."""
    rng = np.random.default_rng(seed)
    if model.data_range == "real":
        x = rng.standard_normal((n, *model.data_shape)).astype("float32")
    else:
        x = rng.random((n, *model.data_shape)).astype("float32")
    if model.likelihood == "logistic":  # 8-bit levels
        x = (np.round(x * 255.0) / 255.0).astype("float32")
    return x, conditions(model, n, rng)


def conditions(model, n, rng=None):
    """What a conditional model's ``sample`` takes for ``n`` examples (``None`` otherwise)."""
    rng = rng or np.random.default_rng(0)
    if not is_conditional(model):
        return None
    if getattr(model, "condition_dim", None):
        return rng.random((n, model.condition_dim)).astype("float32")
    return rng.integers(0, model.num_classes, n).astype("int32")


def condition_name(model):
    """The name of the condition input of the model's signatures."""
    return "condition" if getattr(model, "condition_dim", None) else "label"


def latent_shape(model):
    return list(model.code_shape) if is_vq(model) else [model.latent_dim]


def latents(model, x, labels):
    """What the encoder gives: ``(mean, log_var)``, or ``(codes, z_e)`` for a VQ-VAE."""
    if is_vq(model):
        return model.encode(x, return_z_e=True)
    return encode(model, x, labels)


def latent_input(model, n, seed=0):
    """A valid input of ``decode``: Gaussian latents, or a code grid for a VQ-VAE."""
    if is_vq(model):  # the codes of images: valid for every level of a VQ-VAE-2
        return model.encode(batch(model, n, seed)[0]).numpy()
    return np.random.default_rng(seed).standard_normal((n, model.latent_dim)).astype("float32")


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
        if getattr(model, "condition_dim", None):
            return conditions(model, n)
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
