"""Turning class labels into the condition vector that joins encoder and decoder."""

import keras
from keras import ops

from keras_vae.validation import check_index_range
from keras_vae.validation import check_positive_int

CONDITIONING = ("one_hot", "embedding")


@keras.saving.register_keras_serializable(package="keras_vae")
class LabelEncoding(keras.layers.Layer):
    """Maps int labels ``[batch]`` to condition vectors ``[batch, output_dim]``; a label
    outside ``[0, num_classes)`` is an error (eagerly a ValueError, in a graph an assertion),
    never a silent zero vector.

    ``"one_hot"`` gives ``num_classes`` features; ``"embedding"`` a learned
    ``embedding_dim``-vector per class.

    Args:
        num_classes: Number of classes.
        mode: ``"one_hot"`` or ``"embedding"``.
        embedding_dim: Size of the learned embedding (``"embedding"`` mode).

    Example:

    >>> import numpy as np
    >>> LabelEncoding(3)(np.array([0, 2])).numpy().tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """

    def __init__(self, num_classes, mode="one_hot", embedding_dim=16, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = check_positive_int("num_classes", num_classes)
        if mode not in CONDITIONING:
            raise ValueError(f"`conditioning` must be one of {CONDITIONING}. Received: {mode!r}")
        self.mode = mode
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)

    def build(self, input_shape=None):
        if self.mode == "embedding":
            self.embeddings = self.add_weight(
                shape=(self.num_classes, self.embedding_dim), initializer="random_normal",
                name="embeddings",
            )

    @property
    def output_dim(self):
        return self.num_classes if self.mode == "one_hot" else self.embedding_dim

    def call(self, labels):
        labels = check_index_range(ops.cast(ops.reshape(labels, (-1,)), "int32"),
                                   self.num_classes,
                                   f"labels must lie in [0, {self.num_classes})")
        if self.mode == "one_hot":
            return ops.one_hot(labels, self.num_classes, dtype=self.compute_dtype)
        return ops.take(self.embeddings, labels, axis=0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "mode": self.mode,
                "embedding_dim": self.embedding_dim}
