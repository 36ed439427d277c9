"""An embedded, dSprites-compatible shapes dataset: rendered on the fly, nothing downloaded.

737,280 binary 64x64 images, one per combination of five ground-truth factors, in the
same order as dSprites (Matthey et al. 2017; its constant ``color`` factor dropped, which
leaves every index unchanged):

=============  =====  ============================================
factor         size   values
=============  =====  ============================================
shape          3      square, ellipse, heart
scale          6      linspace(0.5, 1, 6)
orientation    40     linspace(0, 2 pi, 40, endpoint=False) radians
position_x     32     linspace(0, 1, 32)
position_y     32     linspace(0, 1, 32)
=============  =====  ============================================

Images are rendered in the TensorFlow graph from factor indices, a batch at a time, so the
full grid never sits in memory. Rendering is deterministic: image ``i`` is the same
everywhere. At scale 1 a shape spans about 15 pixels; its centre moves over
``[0.2, 0.8]`` of the frame as the position goes from 0 to 1 (y grows downwards).

Example:

>>> from keras_vae.data.shapes import Shapes
>>> shapes = Shapes()
>>> shapes.num_images
737280
>>> images = shapes.images([0, 1, 2])
>>> tuple(images.shape)
(3, 64, 64, 1)
"""

import math

import numpy as np
import tensorflow as tf

FACTOR_NAMES = ("shape", "scale", "orientation", "position_x", "position_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPE_NAMES = ("square", "ellipse", "heart")
IMAGE_SIZE = 64
#: Half-extent of a shape at scale 1, as a fraction of the image side.
BASE_RADIUS = 0.12
#: Positions map to centres in [MARGIN, 1 - MARGIN].
MARGIN = 0.2
#: Size of the fixed held-out "test" split (the rest is "train").
TEST_SIZE = 10_000


def factor_values():
    """The value of every class of every factor, a tuple of 1-D float arrays."""
    return (
        np.arange(3, dtype=np.float32),
        np.linspace(0.5, 1.0, 6, dtype=np.float32),
        np.linspace(0.0, 2.0 * math.pi, 40, endpoint=False).astype(np.float32),
        np.linspace(0.0, 1.0, 32, dtype=np.float32),
        np.linspace(0.0, 1.0, 32, dtype=np.float32),
    )


class Shapes:
    """The shapes grid: factor/index conversion and rendering."""

    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    shape_names = SHAPE_NAMES
    image_shape = (IMAGE_SIZE, IMAGE_SIZE, 1)
    num_images = math.prod(FACTOR_SIZES)

    def __init__(self):
        self._strides = np.array(
            [math.prod(FACTOR_SIZES[i + 1 :]) for i in range(len(FACTOR_SIZES))], np.int64
        )
        self._values = factor_values()

    # ---------------------------------------------------------------- indices and factors
    def index_to_factors(self, indices):
        """Factor classes ``[N, 5]`` (int64) of the images at ``indices``."""
        indices = np.asarray(indices, np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_images):
            raise ValueError(f"Shapes indices must lie in [0, {self.num_images}).")
        return (indices[:, None] // self._strides) % np.array(FACTOR_SIZES, np.int64)

    def factors_to_index(self, factors):
        """Image indices of factor classes ``[N, 5]``."""
        factors = np.asarray(factors, np.int64)
        if factors.ndim != 2 or factors.shape[1] != len(FACTOR_SIZES):
            raise ValueError(f"factors must have shape (N, 5); received {factors.shape}.")
        if (factors < 0).any() or (factors >= np.array(FACTOR_SIZES)).any():
            raise ValueError(f"factor classes must lie in [0, size) for sizes {FACTOR_SIZES}.")
        return factors @ self._strides

    def factor_values_of(self, factors):
        """Real factor values ``[N, 5]`` (float32) of factor classes ``[N, 5]``."""
        factors = np.asarray(factors, np.int64)
        return np.stack([self._values[j][factors[:, j]] for j in range(5)], axis=1)

    def sample_factors(self, num, seed=None):
        """``num`` factor-class rows drawn uniformly at random, ``[num, 5]``."""
        rng = np.random.default_rng(seed)
        return np.stack([rng.integers(0, s, size=num) for s in FACTOR_SIZES], axis=1)

    def split_indices(self, split):
        """Image indices of ``"train"``, ``"test"`` (fixed 10,000) or ``"all"``."""
        if split == "all":
            return np.arange(self.num_images, dtype=np.int64)
        if split not in ("train", "test"):
            raise ValueError(
                f"split for 'shapes' must be 'train', 'test' or 'all'. Received: {split!r}"
            )
        order = np.random.default_rng(0).permutation(self.num_images)
        chosen = order[:TEST_SIZE] if split == "test" else order[TEST_SIZE:]
        return np.sort(chosen)

    # ---------------------------------------------------------------- rendering
    def render_tf(self, indices):
        """Renders images for an int tensor of indices: float32 ``[N, 64, 64, 1]`` in {0, 1}."""
        indices = tf.cast(indices, tf.int64)
        classes = tf.math.floormod(
            indices[:, None] // tf.constant(self._strides), tf.constant(FACTOR_SIZES, tf.int64)
        )
        values = [tf.gather(tf.constant(v), classes[:, j]) for j, v in enumerate(self._values)]
        shape, scale, angle, pos_x, pos_y = values
        centre_x = MARGIN + (1.0 - 2.0 * MARGIN) * pos_x
        centre_y = MARGIN + (1.0 - 2.0 * MARGIN) * pos_y
        grid = (tf.range(IMAGE_SIZE, dtype=tf.float32) + 0.5) / IMAGE_SIZE
        dx = grid[None, None, :] - centre_x[:, None, None]  # [N, 1, W]
        dy = grid[None, :, None] - centre_y[:, None, None]  # [N, H, 1]
        cos = tf.cos(angle)[:, None, None]
        sin = tf.sin(angle)[:, None, None]
        radius = (scale * BASE_RADIUS)[:, None, None]
        u = (dx * cos + dy * sin) / radius  # shape frame, [N, H, W]
        v = (-dx * sin + dy * cos) / radius
        square = tf.maximum(tf.abs(u), tf.abs(v)) <= 1.0
        ellipse = tf.square(u) + tf.square(v / 0.6) <= 1.0
        hx, hy = 1.2 * u, 0.15 - 1.2 * v  # heart curve, point downwards in image space
        heart = tf.pow(tf.square(hx) + tf.square(hy) - 1.0, 3) - tf.square(hx) * tf.pow(hy, 3) <= 0
        masks = tf.stack([square, ellipse, heart], axis=1)  # [N, 3, H, W]
        chosen = tf.gather(masks, tf.cast(shape, tf.int32), axis=1, batch_dims=1)
        return tf.cast(chosen, tf.float32)[..., None]

    def images(self, indices):
        """Renders the images at ``indices`` as a NumPy float32 array ``[N, 64, 64, 1]``."""
        indices = np.asarray(indices, np.int64).reshape(-1)
        self.index_to_factors(indices)  # validates the range
        return self.render_tf(tf.constant(indices)).numpy()
