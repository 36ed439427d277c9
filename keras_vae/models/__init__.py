"""The VAE variants, all ``keras.Model`` subclasses sharing :class:`BaseVAE`."""

from keras_vae.models import priors
from keras_vae.models.base import BaseAutoencoder
from keras_vae.models.base import BaseVAE
from keras_vae.models.beta_vae import BetaVAE
from keras_vae.models.conditional_vae import ConditionalVAE
from keras_vae.models.priors import PixelCNN
from keras_vae.models.vae import VAE
from keras_vae.models.vq_vae import VQVAE

#: Model kinds by the names the CLI uses: ``kind -> (class, fixed constructor arguments)``.
MODEL_KINDS = {
    "vae": (VAE, {}),
    "beta_vae": (BetaVAE, {}),
    "beta_vae_capacity": (BetaVAE, {"capacity_max": 25.0}),
    "cvae": (ConditionalVAE, {}),
    "vqvae": (VQVAE, {}),
}


def model_class(kind):
    """``(class, fixed constructor arguments)`` of a model kind; unknown kinds are named."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"Unknown model {kind!r}. Known models: {', '.join(MODEL_KINDS)}.")
    return MODEL_KINDS[kind]


def build_model(kind, input_shape, **kwargs):
    """Builds the model ``kind`` (a key of :data:`MODEL_KINDS`) for ``input_shape``."""
    cls, fixed = model_class(kind)
    return cls(input_shape=input_shape, **{**fixed, **kwargs})


__all__ = [
    "BaseAutoencoder",
    "BaseVAE",
    "BetaVAE",
    "ConditionalVAE",
    "MODEL_KINDS",
    "PixelCNN",
    "VAE",
    "VQVAE",
    "build_model",
    "model_class",
    "priors",
]
