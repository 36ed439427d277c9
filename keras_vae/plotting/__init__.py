"""Pictures: image grids, reconstructions beside originals, samples, codebook usage."""

from keras_vae.plotting.codebook import save_codebook_histogram
from keras_vae.plotting.grids import image_grid
from keras_vae.plotting.grids import save_image_grid
from keras_vae.plotting.grids import save_reconstructions

__all__ = ["image_grid", "save_codebook_histogram", "save_image_grid", "save_reconstructions"]
