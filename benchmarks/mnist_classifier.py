"""What the MNIST benchmarks share: where the data and outputs are, ``--override key=value``
parsing, and the independent judge of the generation benchmarks (a small CNN trained once on
the real training set and cached; about 99 % test accuracy)."""

import argparse
import ast
import os

import keras
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MNIST = os.path.join(HERE, "..", "..", "shared", "data", "mnist.npz")
OUTPUT = os.path.join(HERE, "output")


def mnist_parser(description):
    """An argument parser with ``--mnist`` (default ``../shared/data/mnist.npz``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--mnist", default=MNIST)
    return parser


def parse_overrides(options):
    """``["key=value", ...]`` (values Python literals) as a dict."""
    return {k: ast.literal_eval(v) for k, v in (o.split("=", 1) for o in options)}


def classifier(mnist, path):
    data = np.load(mnist)
    x_train, x_test = (data[k][..., None].astype("float32") / 255.0 for k in ("x_train", "x_test"))
    if os.path.isfile(path):
        model = keras.models.load_model(path)
    else:
        keras.utils.set_random_seed(1)
        model = keras.Sequential([
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Dropout(0.25),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10),
        ])
        model.compile(optimizer="adam", metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x_train, data["y_train"], batch_size=128, epochs=4, verbose=0)
        model.save(path)
    accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), 1) == data["y_test"]))
    return model, accuracy
