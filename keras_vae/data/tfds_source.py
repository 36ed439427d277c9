"""Named datasets through TensorFlow Datasets (needs the network the first time)."""

import tensorflow as tf


def _center_crop_resize(size, crop):
    def fn(image):
        h, w = tf.shape(image)[0], tf.shape(image)[1]
        top, left = (h - crop) // 2, (w - crop) // 2
        image = tf.image.crop_to_bounding_box(image, top, left, crop, crop)
        image = tf.image.resize(image, (size, size), method="area")
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)

    return fn


#: name -> (image shape after preprocessing, max pixel value, label feature or None,
#: number of classes (None for attribute vectors), preprocessing of the image or None).
#: The ``attributes`` feature (CelebA's 40 booleans) becomes a float32 vector.
TFDS_DATASETS = {
    "mnist": ((28, 28, 1), 255, "label", 10, None),
    "fashion_mnist": ((28, 28, 1), 255, "label", 10, None),
    "cifar10": ((32, 32, 3), 255, "label", 10, None),
    "celeb_a": ((64, 64, 3), 255, "attributes", None, _center_crop_resize(64, 148)),
    "dsprites": ((64, 64, 1), 1, "label_shape", 3, None),
    "shapes3d": ((64, 64, 3), 255, "label_shape", 4, None),
}


def load_tfds(name, split, labels, data_dir=None):
    """An unbatched dataset of ``uint8`` images (and int32 labels) for a known TFDS name.

    Returns:
        ``(dataset, spec)`` where ``spec`` is the entry of :data:`TFDS_DATASETS`.
    """
    import tensorflow_datasets as tfds

    image_shape, max_value, label_key, num_classes, preprocess = TFDS_DATASETS[name]
    if labels and label_key is None:
        raise ValueError(f"The TFDS dataset {name!r} has no class label; use labels=False.")
    try:
        ds = tfds.load(name, split=split, data_dir=data_dir, shuffle_files=False)
    except (ValueError, KeyError) as err:
        raise ValueError(f"Could not load split {split!r} of TFDS dataset {name!r}: {err}") from err

    def convert(example):
        image = example["image"]
        if preprocess is not None:
            image = preprocess(image)
        image = tf.ensure_shape(tf.cast(image, tf.uint8), image_shape)
        if labels and label_key == "attributes":
            attributes = example[label_key]
            return image, tf.stack([tf.cast(attributes[k], tf.float32)
                                    for k in sorted(attributes)])
        if labels:
            return image, tf.cast(example[label_key], tf.int32)
        return image

    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE), (
        image_shape,
        max_value,
        label_key,
        num_classes,
        preprocess,
    )
