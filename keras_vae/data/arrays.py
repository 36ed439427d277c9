"""Validation of image / label arrays and the batch-level transforms every source shares."""

import numpy as np
import tensorflow as tf

BINARIZE = (None, "none", "threshold", "static", "dynamic")
#: The byte alignment TensorFlow asks of a tensor's host memory (its CPU allocator's).
TENSOR_ALIGNMENT = 64


def check_binarize(binarize):
    if binarize not in BINARIZE:
        raise ValueError(
            f"`binarize` must be one of None, 'threshold', 'static' or 'dynamic'. "
            f"Received: binarize={binarize!r}"
        )
    return None if binarize == "none" else binarize


def as_nhwc_images(images, what="images"):
    """Checks an image array and returns it as ``[N, H, W, C]`` (uint8 kept, floats float32).

    Accepts ``[N, H, W]`` (a channel axis is added) or ``[N, H, W, C]`` with C in 1..4;
    uint8 in [0, 255], or floats already in [0, 1].

    Raises:
        ValueError: Naming the problem (rank, channel count, dtype, value range).
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 2, 3, 4) or 0 in images.shape:
        rows = (" Rows of features (N, features) are not images: give them to a model built "
                "with input_shape=(features,) through model.fit (README, Python API)."
                if images.ndim == 2 else "")
        raise ValueError(
            f"{what} must have shape (N, H, W) or (N, H, W, C) with 1-4 channels; "
            f"received shape {images.shape}.{rows}"
        )
    if images.dtype == np.uint8:
        return images
    if np.issubdtype(images.dtype, np.floating):
        lo, hi = float(images.min()), float(images.max())
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{what} are floating point with values in [{lo}, {hi}]; float images must lie "
                "in [0, 1] (pass uint8 in [0, 255] to have them scaled)."
            )
        return images.astype(np.float32, copy=False)
    raise ValueError(
        f"{what} must be uint8 (0-255) or floating point in [0, 1]; received dtype {images.dtype}."
    )


def check_labels(labels, num_images, num_classes=None, what="labels"):
    """Checks class labels: 1-D integers, one per image, in ``[0, num_classes)``."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != num_images:
        raise ValueError(
            f"{what} must be a 1-D array with one label per image ({num_images}); "
            f"received shape {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{what} must be integers; received dtype {labels.dtype}.")
    if labels.size and labels.min() < 0:
        raise ValueError(f"{what} must be >= 0; found {int(labels.min())}.")
    if num_classes is not None and labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"{what} must be < num_classes={num_classes}; found {int(labels.max())}."
        )
    return labels.astype(np.int32)


def check_targets(targets, num_images, num_classes=None, what="labels"):
    """Checks what a labelled source yields beside its images: integer class labels (1-D; see
    :func:`check_labels`), or float condition vectors (a 2-D array, or any floating one: one
    row of attributes or continuous values per image), returned as float32 ``[N, k]``."""
    targets = np.asarray(targets)
    floating = np.issubdtype(targets.dtype, np.floating) or np.issubdtype(targets.dtype,
                                                                          np.bool_)
    if not floating and not (targets.ndim == 2 and targets.shape[1] > 1):
        return check_labels(targets, num_images, num_classes, what)
    if num_classes is not None:
        raise ValueError(f"{what} are condition vectors (shape {targets.shape}, dtype "
                         f"{targets.dtype}), not class labels: num_classes does not apply.")
    conditions = targets.reshape(len(targets), -1) if targets.ndim else targets
    if conditions.ndim != 2 or conditions.shape[0] != num_images:
        raise ValueError(f"{what} must hold one condition row per image ({num_images}); "
                         f"received shape {targets.shape}.")
    conditions = conditions.astype(np.float32)
    if not np.all(np.isfinite(conditions)):
        raise ValueError(f"{what} must be finite; found NaN or infinite values.")
    return conditions


def static_binarize(images, seed):
    """One fixed Bernoulli draw per pixel (the 'statically binarized' convention), as uint8."""
    rng = np.random.default_rng(seed)
    out = aligned_empty(images.shape, np.uint8)
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    for start in range(0, len(images), 4096):
        chunk = images[start : start + 4096].astype(np.float32) / scale
        out[start : start + 4096] = rng.random(chunk.shape, dtype=np.float32) < chunk
    out *= np.uint8(255)
    return out


def aligned_empty(shape, dtype):
    """An uninitialized C-contiguous array whose data starts on a :data:`TENSOR_ALIGNMENT`
    boundary, so that :func:`host_tensor` can hand its memory to TensorFlow as it is."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + TENSOR_ALIGNMENT, np.uint8)
    offset = -raw.ctypes.data % TENSOR_ALIGNMENT
    return raw[offset : offset + nbytes].view(dtype).reshape(shape)


def host_tensor(array):
    """A tensor of ``array``'s values for a pipeline to gather from, sharing the array's memory
    (through DLPack) instead of copying it: ``tf.constant`` of the 47 MB MNIST training images
    added 97 MiB to the process (TF 2.21). An array that is not aligned, C-contiguous and
    writable (what TensorFlow needs, and DLPack) is copied once into one that is. The array
    must not be written to afterwards: the pipeline would see the change."""
    if array.size == 0:
        return tf.constant(array)
    if not (array.flags.c_contiguous and array.flags.writeable
            and array.ctypes.data % TENSOR_ALIGNMENT == 0):
        copy = aligned_empty(array.shape, array.dtype)
        copy[...] = array
        array = copy
    return tf.experimental.dlpack.from_dlpack(array.__dlpack__())


def to_unit_float(x, max_value):
    """Casts a batch to float32 in [0, 1] given the source's maximum value."""
    x = tf.cast(x, tf.float32)
    return x if max_value == 1 else x * (1.0 / float(max_value))


def binarize_batch(x, binarize, seed=None):
    """Applies threshold or dynamic binarization to a float batch in [0, 1].

    ``seed`` is a shape-[2] int tensor for the dynamic case (a fresh one per batch and
    epoch); static binarization happens once at load time instead.
    """
    if binarize == "threshold":
        return tf.cast(x > 0.5, tf.float32)
    if binarize == "dynamic":
        u = tf.random.stateless_uniform(tf.shape(x), seed=seed, dtype=tf.float32)
        return tf.cast(u < x, tf.float32)
    return x


def split_batch(batch):
    """``(x, labels or None)`` as NumPy arrays from one batch: ``x`` or ``(x, labels)``."""
    if isinstance(batch, (tuple, list)):
        return np.asarray(batch[0]), np.asarray(batch[1])
    return np.asarray(batch), None


def numpy_batches(data, batch_size=256):
    """NumPy batches of ``data``: a ``tf.data.Dataset`` (as it is batched; elements are
    arrays or ``(images, labels)`` pairs), a pair of arrays, or one array."""
    if isinstance(data, tf.data.Dataset):
        yield from data.as_numpy_iterator()
        return
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = (np.asarray(a) for a in data)
        for i in range(0, len(x), batch_size):
            yield x[i : i + batch_size], y[i : i + batch_size]
        return
    x = np.asarray(data)
    for i in range(0, len(x), batch_size):
        yield x[i : i + batch_size]
