"""``keras_vae.data.load``: one call from a dataset name or a file to a batched ``tf.data``."""

import os

import numpy as np
import tensorflow as tf

from keras_vae.data import arrays
from keras_vae.data import files
from keras_vae.data.shapes import Shapes
from keras_vae.data.tfds_source import TFDS_DATASETS
from keras_vae.data.tfds_source import load_tfds
from keras_vae.validation import check_positive_int
from keras_vae.validation import check_seed

#: Names ``load`` accepts besides file paths.
DATASET_NAMES = ("shapes", *TFDS_DATASETS)

#: TFDS datasets small enough to cache decoded in memory by default.
_AUTO_CACHE = ("mnist", "fashion_mnist", "cifar10")
_AUTO = tf.data.AUTOTUNE


def _resolve(source):
    """Returns ``("shapes" | "tfds" | "npz" | "idx", normalized source)``."""
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(
            "`source` must be a dataset name or a path to an .npz file or IDX data. "
            f"Received: {source!r}"
        )
    source = os.fspath(source)
    if source == "shapes":
        return "shapes", source
    if source in TFDS_DATASETS:
        return "tfds", source
    if source.endswith(".npz"):
        return "npz", source
    if os.path.exists(source):
        if files.looks_like_idx(source):
            return "idx", source
        raise ValueError(
            f"{source} is neither an .npz archive nor IDX data (a folder of MNIST-named IDX files "
            "or an IDX images file)."
        )
    if os.sep in source or "." in os.path.basename(source):
        raise FileNotFoundError(f"No such file or folder: {source}")
    raise ValueError(
        f"Unknown dataset {source!r}. Known names: {', '.join(DATASET_NAMES)}; or pass a path "
        "to a Keras-style .npz file or to IDX files."
    )


def load(
    source,
    split="train",
    batch_size=128,
    *,
    labels=False,
    binarize=None,
    scale=True,
    shuffle=None,
    shuffle_buffer=10_000,
    seed=0,
    cache=None,
    prefetch=True,
    drop_remainder=False,
    num_classes=None,
    data_dir=None,
):
    """Loads images as a batched ``tf.data.Dataset`` of float32 NHWC tensors.

    Args:
        source: ``"shapes"`` (the embedded dSprites-compatible generator, see
            :mod:`keras_vae.data.shapes`); a TFDS name (``mnist``, ``fashion_mnist``,
            ``cifar10``, ``celeb_a`` centre-cropped to 148 and resized to 64x64,
            ``dsprites``, ``shapes3d``), which downloads through TFDS on first use; or a path
            to a Keras-style ``.npz`` file (``x_train``, ``y_train``, ``x_test``, ``y_test``),
            a folder of MNIST-named IDX files, or one IDX images file (gzipped or raw).
        split: ``"train"`` or ``"test"`` (any TFDS split string for TFDS names; ``"all"`` for
            shapes, whose ``"test"`` is a fixed 10,000-image subset held out of ``"train"``).
        batch_size: Examples per batch.
        labels: Yield ``(x, label)`` pairs with int32 labels (the class; for shapes, dsprites
            and shapes3d the shape factor), or float32 condition vectors where the source has
            them: ``celeb_a``'s 40 binary attributes (0/1, in TFDS's order of names), an
            ``.npz`` whose ``y_<split>`` is 2-D or floating (attributes, continuous values).
        binarize: ``None``; ``"threshold"`` (x > 0.5); ``"static"`` (one Bernoulli draw per
            pixel fixed at load time with ``seed``); ``"dynamic"`` (a fresh Bernoulli draw
            each time an example is seen, the usual MNIST VAE setting).
        scale: Scale pixels to [0, 1] (``False`` keeps the source's values as float32).
        shuffle: ``True``: a new order every epoch (default for ``split="train"``);
            ``"once"``: one seeded order, the same every epoch (a fixed, fair sample when
            validating on part of a split); ``False`` (default otherwise): file order.
        shuffle_buffer: Buffer size for streamed sources (in-memory arrays are always fully
            shuffled).
        seed: Seed for shuffling and binarization; the same seed gives the same stream
            under the same global seed (TensorFlow pairs an op's seed with the global one
            of ``tf.random.set_seed``; ``kv.training.train`` and ``kv.tuning.search``
            build their data with the global seed cleared, so a run's data follow its
            ``seed`` alone).
        cache: ``None`` caches decoded TFDS datasets up to CIFAR-10 size in memory, ``True``
            caches any source in memory, a string caches to that file, ``False`` never.
        prefetch: Prefetch batches (``tf.data.AUTOTUNE``).
        drop_remainder: Drop the last incomplete batch.
        num_classes: If given, labels must lie in ``[0, num_classes)``.
        data_dir: TFDS data directory.

    Returns:
        A ``tf.data.Dataset`` yielding ``x`` of shape ``[batch, H, W, C]`` (float32) or
        ``(x, label)``.

    Raises:
        ValueError: Unknown name, bad option, arrays of the wrong shape, dtype or range, or
            labels out of range.
        FileNotFoundError: A path that does not exist.

    Example:

    >>> import keras_vae as kv
    >>> ds = kv.data.load("shapes", split="test", batch_size=4)
    >>> tuple(next(iter(ds)).shape)
    (4, 64, 64, 1)
    """
    binarize = arrays.check_binarize(binarize)
    check_positive_int("batch_size", batch_size)
    check_positive_int("shuffle_buffer", shuffle_buffer)
    check_seed(seed)
    if binarize and not scale:
        raise ValueError("`binarize` needs scale=True (it draws pixels from values in [0, 1]).")
    kind, source = _resolve(source)
    if shuffle not in (None, True, False, "once"):
        raise ValueError(f"`shuffle` must be True, False or 'once'. Received: {shuffle!r}")
    shuffle = (split == "train") if shuffle is None else shuffle
    seed_value = 0 if seed is None else seed

    if kind in ("npz", "idx"):
        reader = files.load_npz if kind == "npz" else files.load_idx
        images, label_array = reader(source, split)
        images = arrays.as_nhwc_images(images, what=f"images in {source}")
        if labels:
            if label_array is None:
                raise ValueError(f"labels=True but {source} holds no labels for split {split!r}.")
            label_array = arrays.check_targets(
                label_array, len(images), num_classes, what=f"labels in {source}"
            )
        max_value = 255 if images.dtype == np.uint8 else 1
        if binarize == "static":
            images, max_value = arrays.static_binarize(images, seed_value), 255
        ds = _in_memory(images, label_array if labels else None, batch_size, shuffle, seed,
                        drop_remainder)
        if cache:
            ds = ds.cache() if cache is True else ds.cache(cache)
    elif kind == "shapes":
        shapes = Shapes()
        ds = _shapes(shapes, split, labels, batch_size, shuffle, seed, drop_remainder, cache)
        max_value = 1
    else:
        ds, spec = load_tfds(source, split, labels, data_dir=data_dir)
        max_value = spec[1]
        if binarize == "static":
            ds = _static_binarize_stream(ds, labels, max_value, seed_value)
        if cache is None:
            cache = source in _AUTO_CACHE
        if cache:
            ds = ds.cache() if cache is True else ds.cache(cache)
        if labels and num_classes is not None:
            ds = ds.map(_label_range_check(num_classes))
        if shuffle:
            ds = ds.shuffle(shuffle_buffer, seed=seed,
                            reshuffle_each_iteration=shuffle != "once")
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    ds = _finalize(ds, labels, max_value if scale else None, binarize, seed_value)
    ds = ds.prefetch(tf.data.AUTOTUNE) if prefetch else ds
    if kind in ("npz", "idx"):
        ds = ds.with_options(_untuned())
    return ds


def _untuned():
    """``tf.data`` options with autotuning and the default graph rewrites off, for data served
    from memory: whole batches gathered by index leave nothing to tune, and the autotuner
    cost the 784-400-20 VAE a quarter of its epoch at batch 512 (its thread's CPU time, and
    the training step left waiting for batches in one epoch of two;
    ``benchmarks/throughput.py``). The rewrites (map fusion and the like) serialize the
    pipeline's graph, the images it gathers from included: 55 MiB more for MNIST's training
    images, for nothing to fuse in two maps of whole batches. ``AUTOTUNE`` settings then take
    tf.data's defaults. A later ``with_options`` can turn either back on."""
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return options


def _index_batches(n, batch_size, shuffle, seed, drop_remainder):
    """Batches of the indices ``0..n-1``, one pass per iteration: a single permutation per
    pass (drawn from ``seed``; a new one each pass unless ``shuffle="once"``) cut into
    batches, so no per-example element goes through the pipeline (a ``shuffle`` of the
    indices took about half the time of an MNIST pass)."""
    full, rest = divmod(n, batch_size)
    keep_rest = rest > 0 and not drop_remainder

    def cut(order):
        batches = tf.data.Dataset.from_tensor_slices(
            tf.reshape(order[: full * batch_size], [full, batch_size]))
        if keep_rest:
            batches = batches.concatenate(tf.data.Dataset.from_tensors(order[full * batch_size:]))
        return batches

    if not shuffle:
        ds = cut(tf.range(n, dtype=tf.int64))
    else:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=shuffle != "once")
        ds = seeds.batch(2).take(1).flat_map(
            lambda pair: cut(tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), pair)))
    return ds.apply(tf.data.experimental.assert_cardinality(full + int(keep_rest)))


def _in_memory(images, label_array, batch_size, shuffle, seed, drop_remainder):
    """Shuffles indices and gathers whole batches: no per-example work in the pipeline."""
    images_t = arrays.host_tensor(images)
    labels_t = None if label_array is None else tf.constant(label_array)
    ds = _index_batches(len(images), batch_size, shuffle, seed, drop_remainder)
    if labels_t is None:
        return ds.map(lambda i: tf.gather(images_t, i), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.map(
        lambda i: (tf.gather(images_t, i), tf.gather(labels_t, i)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def _shapes(shapes, split, labels, batch_size, shuffle, seed, drop_remainder, cache):
    indices = shapes.split_indices(split)
    ds = tf.data.Dataset.from_tensor_slices(indices)
    if shuffle:
        ds = ds.shuffle(len(indices), seed=seed, reshuffle_each_iteration=shuffle != "once")
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    strides = tf.constant(shapes.num_images // shapes.factor_sizes[0], tf.int64)

    def render(i):
        images = shapes.render_tf(i)
        if labels:
            return images, tf.cast(i // strides, tf.int32)
        return images

    ds = ds.map(render, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache() if cache is True else ds.cache(cache)
    return ds


def _static_binarize_stream(ds, labels, max_value, seed):
    def draw(index, *element):
        image = element[0]
        u = tf.random.stateless_uniform(tf.shape(image), seed=tf.stack([seed, index]))
        binary = tf.cast(u * max_value < tf.cast(image, tf.float32), tf.uint8) * max_value
        return (binary, element[1]) if labels else binary

    return ds.enumerate().map(lambda i, e: draw(tf.cast(i, tf.int64), *tf.nest.flatten(e)))


def _label_range_check(num_classes):
    def check(image, label):
        tf.debugging.assert_non_negative(label, message="labels must be >= 0")
        tf.debugging.assert_less(
            label, tf.cast(num_classes, label.dtype),
            message=f"labels must be < num_classes={num_classes}",
        )
        return image, label

    return check


def _finalize(ds, labels, max_value, binarize, seed):
    """Batch-level scaling and binarization, vectorised."""

    def scale(x, pair=None):
        x = tf.cast(x, tf.float32) if max_value is None else arrays.to_unit_float(x, max_value)
        return arrays.binarize_batch(x, binarize, pair)

    if binarize == "dynamic":
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds))
        if labels:
            return ds.map(lambda xy, pair: (scale(xy[0], pair), xy[1]), num_parallel_calls=_AUTO)
        return ds.map(scale, num_parallel_calls=_AUTO)
    if labels:
        return ds.map(lambda x, y: (scale(x), y), num_parallel_calls=_AUTO)
    return ds.map(scale, num_parallel_calls=_AUTO)
