"""Image grids saved as PNG (matplotlib, no display needed)."""

import math

import numpy as np

from keras_vae.plotting import figures


def image_grid(images, ncols=None, pad=1):
    """Tiles ``[N, H, W, C]`` images in [0, 1] into one ``[rows*(H+pad), cols*(W+pad), C]``
    array."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W, C); received {images.shape}.")
    n, h, w, c = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), np.float32)
    for i, image in enumerate(images):
        r, col = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = np.clip(image, 0.0, 1.0)
    return grid


def save_image_grid(path, images, ncols=None, title=None):
    """Saves images as one PNG grid; returns ``path``."""
    plt = figures.pyplot()
    grid = image_grid(images, ncols)
    height, width = grid.shape[:2]
    scale = max(1.0, 400.0 / max(height, width))
    fig = plt.figure(figsize=(width * scale / 100.0,
                              height * scale / 100.0 + (0.3 if title else 0)))
    ax = fig.add_axes([0, 0, 1, 1 if not title else height * scale / (height * scale + 30)])
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    return figures.save(fig, path)


def reconstruction_rows(originals, reconstructions):
    """``(images, ncols)``: originals and their reconstructions in alternating rows of up to
    8."""
    originals = np.asarray(originals)
    reconstructions = np.asarray(reconstructions)
    if originals.shape != reconstructions.shape:
        raise ValueError(
            f"originals {originals.shape} and reconstructions {reconstructions.shape} differ."
        )
    ncols = min(len(originals), 8)
    rows = []
    for start in range(0, len(originals), ncols):
        rows.append(originals[start : start + ncols])
        rows.append(reconstructions[start : start + ncols])
    return np.concatenate(rows), ncols


def save_reconstructions(path, originals, reconstructions,
                         title="originals (odd rows) / reconstructions (even rows)"):
    """Saves originals and their reconstructions in alternating rows; returns ``path``."""
    images, ncols = reconstruction_rows(originals, reconstructions)
    return save_image_grid(path, images, ncols=ncols, title=title)
