"""Pictures: image grids, reconstructions beside originals, samples, latent traversals,
interpolations, latent scatter plots and manifolds, codebook usage, training curves."""

from keras_vae.plotting.codebook import save_codebook_histogram
from keras_vae.plotting.curves import read_history
from keras_vae.plotting.curves import save_training_curves
from keras_vae.plotting.grids import image_grid
from keras_vae.plotting.grids import reconstruction_rows
from keras_vae.plotting.grids import save_image_grid
from keras_vae.plotting.grids import save_reconstructions
from keras_vae.plotting.latent import interpolation_images
from keras_vae.plotting.latent import project_2d
from keras_vae.plotting.latent import save_interpolations
from keras_vae.plotting.latent import save_kl_per_dimension
from keras_vae.plotting.latent import save_latent_scatter
from keras_vae.plotting.latent import save_manifold
from keras_vae.plotting.latent import save_traversals
from keras_vae.plotting.latent import slerp
from keras_vae.plotting.latent import traversal_images
from keras_vae.plotting.latent import traversal_order

__all__ = [
    "image_grid",
    "interpolation_images",
    "project_2d",
    "reconstruction_rows",
    "read_history",
    "save_codebook_histogram",
    "save_image_grid",
    "save_interpolations",
    "save_kl_per_dimension",
    "save_latent_scatter",
    "save_manifold",
    "save_reconstructions",
    "save_training_curves",
    "save_traversals",
    "slerp",
    "traversal_images",
    "traversal_order",
]
