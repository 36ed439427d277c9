"""Pictures: image grids, reconstructions beside originals, samples."""

from keras_vae.plotting.grids import image_grid
from keras_vae.plotting.grids import save_image_grid
from keras_vae.plotting.grids import save_reconstructions

__all__ = ["image_grid", "save_image_grid", "save_reconstructions"]
