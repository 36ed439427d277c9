"""How often each code of a VQ-VAE is used, as a bar chart."""

import numpy as np

from keras_vae.evaluation.codebook import codebook_stats
from keras_vae.plotting import figures


def save_codebook_histogram(path, counts, title=None):
    """Saves a bar chart of code counts ``[K]`` (codes sorted by use, most used first) with
    usage and perplexity in the title; returns ``path``."""
    plt = figures.pyplot()
    counts = np.asarray(counts)
    stats = codebook_stats(counts)
    order = np.argsort(-counts, kind="stable")
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar(np.arange(counts.size), counts[order] / max(counts.sum(), 1), width=1.0)
    ax.set_xlabel("code (sorted by use)")
    ax.set_ylabel("fraction of positions")
    ax.set_xlim(-0.5, counts.size - 0.5)
    summary = (f"{stats['codes_used']}/{stats['num_embeddings']} codes used, "
               f"perplexity {stats['perplexity']:.1f}")
    ax.set_title(f"{title}: {summary}" if title else summary, fontsize=9)
    fig.tight_layout()
    return figures.save(fig, path)
