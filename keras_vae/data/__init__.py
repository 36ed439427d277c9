"""tf.data pipelines: TFDS names, local ``.npz`` / IDX files and the embedded shapes dataset."""

from keras_vae.data import shapes
from keras_vae.data.files import read_idx
from keras_vae.data.loader import DATASET_NAMES
from keras_vae.data.loader import load
from keras_vae.data.shapes import Shapes

__all__ = ["DATASET_NAMES", "Shapes", "load", "read_idx", "shapes"]
