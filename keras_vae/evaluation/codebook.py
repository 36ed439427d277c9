"""How a VQ-VAE uses its codebook over a whole dataset (not per batch, as ``fit`` reports)."""

import math

import numpy as np

from keras_vae.layers.vector_quantizer import code_statistics


def code_counts(model, data, batch_size=512):
    """How often each code is chosen over every grid position of every image of ``data``.

    Args:
        model: A :class:`keras_vae.VQVAE`.
        data: A ``tf.data.Dataset`` of images (or ``(images, labels)``), or an image array.
        batch_size: Batch size for arrays.

    Returns:
        int64 counts, shape ``[num_embeddings]``.
    """
    if getattr(model, "latent_kind", None) != "codes":
        raise ValueError(f"code_counts needs a VQ-VAE; received {type(model).__name__}.")
    if hasattr(model, "codes_of"):
        codes, _ = model.codes_of(data, batch_size=batch_size)
        return np.bincount(codes.reshape(-1), minlength=model.num_embeddings).astype(np.int64)
    from keras_vae.data.arrays import numpy_batches  # an export: its encode signature
    from keras_vae.data.arrays import split_batch

    num_embeddings = model.export_metadata()["num_embeddings"]
    counts = np.zeros(num_embeddings, np.int64)
    for batch in numpy_batches(data, batch_size):
        x, _ = split_batch(batch)
        counts += np.bincount(np.asarray(model.encode(x)).reshape(-1), minlength=num_embeddings)
    return counts


def codebook_summary(model, data):
    """A VQ-VAE's ``summary_statistics``: ``({"codebook": statistics}, {"codebook":
    ("codebook_usage.png", draw)})`` over ``data``."""
    counts = code_counts(model, data)

    def histogram(path, split="test"):
        from keras_vae import plotting

        return plotting.save_codebook_histogram(path, counts, title=f"{split} codes")

    return {"codebook": codebook_stats(counts)}, {"codebook": ("codebook_usage.png", histogram)}


def codebook_stats(counts):
    """Usage figures of code counts ``[K]``.

    Returns:
        A dict: ``codebook_usage`` (fraction of codes used at least once), ``perplexity``
        (``exp`` of the entropy of code frequencies: K when all codes are equally used, 1 when
        one code takes everything), ``entropy_bits`` (that entropy in bits; at most
        ``log2 K``), ``codes_used`` and ``num_embeddings``.

    >>> codebook_stats([1, 1, 1, 1])["perplexity"]
    4.0
    """
    counts = np.asarray(counts, np.float64)
    if counts.ndim != 1 or counts.size == 0 or (counts < 0).any():
        raise ValueError(f"counts must be a non-empty 1-D array of non-negative numbers; "
                         f"received shape {counts.shape}.")
    perplexity, usage = (float(v) for v in code_statistics(counts))
    return {
        "codebook_usage": round(usage, 6),
        "perplexity": round(perplexity, 4),
        "entropy_bits": round(math.log2(perplexity), 4) if perplexity > 0 else 0.0,
        "codes_used": int((counts > 0).sum()),
        "num_embeddings": int(counts.size),
    }
