"""Pictures of a Gaussian latent space: traversals, interpolations, scatter plots of the
posterior means, and the decoded manifold of a 2-D latent."""

import numpy as np

from keras_vae.plotting import figures
from keras_vae.plotting.grids import save_image_grid


def _encode(model, x, labels=None):
    return np.asarray(model.encode(x, labels)[0])


def _decode(model, z, labels=None):
    return np.asarray(model.decode(z, labels))


def traversal_images(model, x, values=np.linspace(-3.0, 3.0, 9), order=None, label=None):
    """Decodes the posterior mean of one image with one latent dimension at a time set to each
    of ``values``: ``[len(order) * len(values), H, W, C]``, one row per dimension.

    Args:
        model: A Gaussian-latent model.
        x: One image ``[H, W, C]``.
        values: Values the dimension takes (the prior's scale: -3 to 3).
        order: Dimensions to show, in order (default all, in index order).
        label: The image's label (or condition vector) for a conditional model.
    """
    labels = None if label is None else _one_condition(label)
    base = _encode(model, np.asarray(x, np.float32)[None], labels)[0]
    order = list(range(base.size)) if order is None else list(order)
    values = np.asarray(values, np.float32)
    z = np.repeat(base[None], len(order) * len(values), axis=0)
    for row, dim in enumerate(order):
        z[row * len(values):(row + 1) * len(values), dim] = values
    labels = None if label is None else np.repeat(labels, len(z), axis=0)
    return _decode(model, z, labels)


def _one_condition(label):
    """``[1]`` int32 labels for a label, ``[1, k]`` float32 for a condition vector."""
    label = np.asarray(label)
    return (label.astype(np.int32).reshape(1) if label.ndim == 0
            else label.astype(np.float32).reshape(1, -1))


def traversal_order(latent_dim, kl_per_dimension=None, max_dims=None):
    """The dimensions a traversal shows: by KL, most informative first, when
    ``kl_per_dimension`` is given (else in index order), at most ``max_dims``."""
    order = (list(np.argsort(-np.asarray(kl_per_dimension), kind="stable"))
             if kl_per_dimension is not None else list(range(latent_dim)))
    return order[:max_dims] if max_dims else order


def save_traversals(path, model, x, kl_per_dimension=None, values=np.linspace(-3.0, 3.0, 9),
                    max_dims=None, label=None):
    """Saves latent traversals of one image, one row per dimension, rows sorted by KL (most
    informative first) when ``kl_per_dimension`` is given; returns ``path``."""
    order = traversal_order(model.latent_dim, kl_per_dimension, max_dims)
    images = traversal_images(model, x, values, order, label)
    caption = f"traversals {values[0]:g}..{values[-1]:g}, a row per dimension"
    if kl_per_dimension is not None:
        caption += ", by KL: " + ", ".join(f"z{d} {float(kl_per_dimension[d]):.1f}"
                                           for d in order[:3]) + (" ..." if len(order) > 3 else "")
    return save_image_grid(path, images, ncols=len(values), title=caption)


def save_kl_per_dimension(path, kl_per_dimension, title=None):
    """Saves a bar chart of the KL of each latent dimension (nats, in index order) and
    returns ``path``: the dimensions the model uses stand out from the collapsed ones."""
    plt = figures.pyplot()
    kl = np.asarray(kl_per_dimension, np.float64)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * kl.size + 1.5), 3))
    ax.bar(np.arange(kl.size), kl, width=0.8)
    ax.set_xticks(np.arange(kl.size), [f"z{i}" for i in range(kl.size)],
                  fontsize=7 if kl.size > 16 else 9, rotation=90 if kl.size > 16 else 0)
    ax.set_ylabel("KL (nats)")
    summary = f"KL per dimension, total {kl.sum():.2f} nats"
    ax.set_title(f"{title}: {summary}" if title else summary, fontsize=9)
    fig.tight_layout()
    return figures.save(fig, path)


def slerp(a, b, t):
    """Spherical interpolation between vectors ``a`` and ``b`` at fractions ``t`` (linear when
    they are parallel): ``[len(t), dim]``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.asarray(t, np.float64)[:, None]
    cos = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return ((1 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(
        np.float32)


def interpolation_images(model, x_a, x_b, steps=10, method="linear", label=None):
    """Decodes ``steps`` points between the posterior means of two images: ``[steps, H, W,
    C]``. ``method`` is ``"linear"`` or ``"slerp"`` (spherical, which keeps the norm of
    high-dimensional Gaussian samples typical). A conditional model decodes with ``label``
    (default: the first image's)."""
    if method not in ("linear", "slerp"):
        raise ValueError(f"`method` must be 'linear' or 'slerp'. Received: {method!r}")
    labels = None if label is None else np.array([label, label], np.int32)
    z = _encode(model, np.stack([np.asarray(x_a), np.asarray(x_b)]).astype(np.float32), labels)
    t = np.linspace(0.0, 1.0, steps)
    path = ((1 - t)[:, None] * z[0] + t[:, None] * z[1]).astype(np.float32) \
        if method == "linear" else slerp(z[0], z[1], t)
    return _decode(model, path, None if label is None else np.full(steps, label, np.int32))


def save_interpolations(path, model, pairs, steps=10, labels=None):
    """Saves, for each ``(x_a, x_b)`` pair, a linear and a spherical interpolation row;
    returns ``path``."""
    rows = []
    for i, (a, b) in enumerate(pairs):
        label = None if labels is None else int(labels[i])
        rows += [interpolation_images(model, a, b, steps, "linear", label),
                 interpolation_images(model, a, b, steps, "slerp", label)]
    return save_image_grid(path, np.concatenate(rows), ncols=steps,
                           title="interpolations between test images: linear (odd rows), "
                           "spherical (even rows)")


def project_2d(points, method="pca", seed=0):
    """``[N, 2]`` coordinates of ``[N, D]`` points: the points themselves when D = 2, else
    their first two principal components (``"pca"``) or a t-SNE embedding (``"tsne"``,
    scikit-learn)."""
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] < 1:
        raise ValueError(f"points must be [N, D]; received {points.shape}.")
    if points.shape[1] == 1:
        return np.concatenate([points, np.zeros_like(points)], axis=1)
    if points.shape[1] == 2:
        return points
    if method == "pca":
        centred = points - points.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        return centred @ vt[:2].T
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, init="pca", random_state=seed).fit_transform(points)
    raise ValueError(f"`method` must be 'pca' or 'tsne'. Received: {method!r}")


def save_latent_scatter(path, means, labels=None, method="pca", title=None):
    """Scatter plot of posterior means (projected to 2-D when the latent is larger), coloured
    by label; returns ``path``."""
    plt = figures.pyplot()
    xy = project_2d(means, method)
    fig, ax = plt.subplots(figsize=(6, 5))
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=3, alpha=0.6)
    else:
        labels = np.asarray(labels).reshape(-1)
        points = ax.scatter(xy[:, 0], xy[:, 1], c=labels, s=3, alpha=0.7, cmap="tab10")
        fig.colorbar(points, ax=ax, label="label")
    dims = np.asarray(means).shape[1]
    axes = ("z0", "z1") if dims <= 2 else (f"{method.upper()} 1", f"{method.upper()} 2")
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title or f"posterior means ({dims}-D latent"
                 + (f", {method.upper()})" if dims > 2 else ")"), fontsize=9)
    fig.tight_layout()
    return figures.save(fig, path)


def save_manifold(path, model, n=15, label=None):
    """For a 2-D latent: decodes an ``n x n`` grid of z at the prior's quantiles 5 %..95 %
    (Kingma & Welling's figure 4); returns ``path``."""
    from statistics import NormalDist

    if model.latent_dim != 2:
        raise ValueError(f"The manifold grid needs a 2-D latent; this model has "
                         f"{model.latent_dim} dimensions (use save_traversals).")
    values = np.array([NormalDist().inv_cdf(q) for q in np.linspace(0.05, 0.95, n)],
                      np.float32)
    grid = np.stack(np.meshgrid(values, values[::-1]), axis=-1).reshape(-1, 2)
    images = _decode(model, grid, None if label is None else np.full(len(grid), label, np.int32))
    return save_image_grid(path, images, ncols=n,
                           title="decoded latent grid, prior quantiles 5 %-95 % (z0 across, "
                           "z1 up)")
