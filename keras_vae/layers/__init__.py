"""Custom layers: reparameterized sampling, vector quantization, label conditioning,
masked convolutions, FactorVAE's dimension permutation, strided convolutions in polyphase
form."""

from keras_vae.layers.conditioning import LabelEncoding
from keras_vae.layers.masked_conv import MaskedConv2D
from keras_vae.layers.polyphase import PolyphaseConv2D
from keras_vae.layers.polyphase import PolyphaseConv2DTranspose
from keras_vae.layers.sampling import PermuteDims
from keras_vae.layers.sampling import Sampling
from keras_vae.layers.vector_quantizer import VectorQuantizer
from keras_vae.layers.vector_quantizer import kmeans

__all__ = ["LabelEncoding", "MaskedConv2D", "PermuteDims", "PolyphaseConv2D",
           "PolyphaseConv2DTranspose", "Sampling", "VectorQuantizer", "kmeans"]
