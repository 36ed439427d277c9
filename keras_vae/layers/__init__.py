"""Custom layers: reparameterized sampling (and, with the VQ-VAE, vector quantization)."""

from keras_vae.layers.sampling import Sampling

__all__ = ["Sampling"]
