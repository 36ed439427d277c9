"""Quality: a ConditionalVAE on float conditions (one-hot digit + standardized ink amount)
draws the digit it is asked for, with more ink when asked for more.

Usage: python benchmarks/cvae_conditions_mnist.py [--epochs 10] [--out DIR] [--seed 0]

1. Trains (or loads) the independent MNIST classifier of the other generation benchmarks.
2. Writes MNIST with condition vectors c = [one-hot digit (10), standardized ink] (ink: the
   image's mean pixel value, standardized over the training set) as an .npz whose y_* are
   float conditions, and trains kv.ConditionalVAE(input_shape=(28, 28, 1), condition_dim=11)
   with its default settings on it through kv.data.load(..., labels=True): dynamic
   binarization, Adam 1e-3, batch 128, --epochs epochs.
3. For every digit and ink in {-1, 0, +1} standard deviations draws 100 samples at
   temperature 1 and prints the fraction the classifier labels as the requested digit
   (target >= 97 %) and the mean ink of the samples per requested ink (it must rise).
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from mnist_classifier import OUTPUT  # noqa: E402
from mnist_classifier import classifier  # noqa: E402
from mnist_classifier import mnist_parser  # noqa: E402

import keras_vae as kv  # noqa: E402

INKS = (-1.0, 0.0, 1.0)


def conditioned_npz(mnist, path):
    data = np.load(mnist)
    ink = {k: data[f"x_{k}"].reshape(len(data[f"x_{k}"]), -1).mean(1) / 255.0
           for k in ("train", "test")}
    mean, std = ink["train"].mean(), ink["train"].std()
    arrays = {}
    for k in ("train", "test"):
        one_hot = np.eye(10, dtype="float32")[data[f"y_{k}"]]
        arrays[f"x_{k}"] = data[f"x_{k}"]
        arrays[f"y_{k}"] = np.concatenate([one_hot, ((ink[k] - mean) / std)[:, None]], 1)
    np.savez(path, **arrays)
    return mean, std


def main():
    parser = mnist_parser(__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default=OUTPUT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    judge, judge_accuracy = classifier(args.mnist, os.path.join(args.out, "mnist_classifier.keras"))
    print(f"classifier test accuracy: {judge_accuracy:.4f}", flush=True)
    path = os.path.join(args.out, "mnist_conditions.npz")
    ink_mean, ink_std = conditioned_npz(args.mnist, path)

    keras.utils.set_random_seed(args.seed)
    train = kv.data.load(path, batch_size=128, labels=True, binarize="dynamic", seed=args.seed)
    model = kv.ConditionalVAE(input_shape=(28, 28, 1), condition_dim=11, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.perf_counter()
    history = model.fit(train, epochs=args.epochs, verbose=0)
    print(f"condition_dim=11 CVAE (defaults): {args.epochs} epochs in "
          f"{time.perf_counter() - start:.0f} s, final train loss "
          f"{history.history['loss'][-1]:.2f}", flush=True)

    rows, correct, total = [], 0, 0
    print("\n| requested ink (sd) | requested ink (mean pixel) | sample ink (mean pixel) | "
          "recognised as the requested digit |")
    print("| --- | --- | --- | --- |")
    for ink in INKS:
        digits = np.repeat(np.arange(10), 100)
        c = np.concatenate([np.eye(10, dtype="float32")[digits],
                            np.full((len(digits), 1), ink, "float32")], 1)
        samples = np.asarray(model.sample(c, seed=args.seed + int(ink * 10) + 100))
        predicted = np.argmax(judge.predict(samples, verbose=0), 1)
        hits = int((predicted == digits).sum())
        correct, total = correct + hits, total + len(digits)
        rows.append(float(samples.mean()))
        print(f"| {ink:+.0f} | {ink_mean + ink * ink_std:.3f} | {samples.mean():.3f} | "
              f"{hits / len(digits):.1%} |")
    print(f"\noverall: {correct / total:.1%} of {total} samples recognised as the requested "
          f"digit; sample ink rises with the requested ink: {rows == sorted(rows)}")


if __name__ == "__main__":
    main()
