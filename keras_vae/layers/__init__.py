"""Custom layers: reparameterized sampling, label conditioning."""

from keras_vae.layers.conditioning import LabelEncoding
from keras_vae.layers.sampling import Sampling

__all__ = ["LabelEncoding", "Sampling"]
