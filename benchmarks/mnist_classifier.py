"""The independent MNIST judge of the generation benchmarks: a small CNN trained once on the
real training set and cached (it reaches about 99 % test accuracy)."""

import os

import keras
import numpy as np


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
