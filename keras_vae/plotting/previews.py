"""The pictures of a training run, as arrays: what ``keras-vae train`` saves as PNG files and
:class:`keras_vae.callbacks.ImageLogger` writes to TensorBoard after every epoch."""

import numpy as np

from keras_vae.plotting.grids import reconstruction_rows
from keras_vae.plotting.latent import traversal_images
from keras_vae.plotting.latent import traversal_order

#: Rows of a run's traversal picture: the dimensions with the most KL.
TRAVERSAL_DIMS = 10


def shows_images(model):
    """Whether the model's data are images in [0, 1] (pictures apply)."""
    return len(model.data_shape) == 3 and model.data_range == "unit"


def run_pictures(model, batch, seed, title, traversals=True):
    """``{name: (images, ncols, caption)}`` for one batch of validation data:
    ``"reconstructions"`` (originals over their reconstructions), ``"samples"`` (when the
    model can sample; the same ``seed`` draws the same latents every epoch) and, for a
    Gaussian latent with ``traversals``, ``"traversals"`` of the batch's first image, one row
    per dimension, ordered by KL when the model has one (``kl_per_dimension`` of the batch,
    returned as the fourth entry of that picture's tuple).
    """
    pictures = model.preview_pictures(batch, seed, title)
    out = {"reconstructions": (*reconstruction_rows(*pictures["reconstructions"]),
                               "originals (odd rows) / reconstructions (even rows)")}
    if "samples" in pictures:
        out["samples"] = pictures["samples"]
    if traversals and model.latent_kind == "gaussian":
        x, labels = model.split_batch(batch)
        condition = labels if model.needs_labels else None
        kl = (np.asarray(model.kl_per_dimension(x, condition)) if model.has_elbo else None)
        order = traversal_order(model.latent_dim, kl, TRAVERSAL_DIMS)
        values = np.linspace(-3.0, 3.0, 9)
        images = traversal_images(model, x[0], values, order,
                                  None if condition is None else condition[0])
        caption = (f"{title}: traversals -3..3 of one validation image, a row per dimension"
                   + (" (most KL first)" if kl is not None else ""))
        out["traversals"] = (images, len(values), caption, kl)
    return out
