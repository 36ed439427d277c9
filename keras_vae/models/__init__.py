"""The VAE variants, all ``keras.Model`` subclasses sharing :class:`BaseVAE`."""

from keras_vae.models.base import BaseVAE
from keras_vae.models.beta_vae import BetaVAE
from keras_vae.models.vae import VAE

__all__ = ["BaseVAE", "BetaVAE", "VAE"]
