"""Quality: are an adversarial autoencoder's samples from the prior recognisable digits, more
often than a VAE's at the same budget; does the supervised AAE draw the digit it is asked for?

Usage: python benchmarks/aae_mnist.py [--epochs 10] [--latent-dim 8] [--conditional-latent-dim 4]
       [--models VAE AdversarialAutoencoder ConditionalAdversarialAutoencoder] [--seed 0]
       [--override key=value ...] [--out DIR] [--threads N]

1. Loads (or trains) the MNIST classifier of benchmarks/cvae_mnist.py (a small CNN, 99 %).
2. Trains, side by side in one process with the same network (MLP 400, latent --latent-dim),
   data (dynamically binarized MNIST, batch 128) and budget (Adam 1e-3, --epochs epochs):
   kv.VAE, kv.AdversarialAutoencoder (deterministic encoder, N(0, I) prior, its defaults) and
   kv.ConditionalAdversarialAutoencoder (the label into encoder, decoder and discriminator;
   its defaults: a Gaussian encoder and a style code of --conditional-latent-dim dimensions,
   the class's default 4, as the ConditionalVAE's).
   --override sets further constructor arguments of both AAEs (Python literals).
3. Draws 1,000 samples from each unconditional model's prior (temperature 1) and prints the
   fraction the classifier labels with probability >= 0.9 (the AAE target: at least the
   VAE's); draws 100 per class from the conditional AAE and prints the fraction labelled as
   requested (target >= 0.95). Saves the sample grids in --out.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import runstore  # noqa: E402
from mnist_classifier import MNIST  # noqa: E402
from mnist_classifier import OUTPUT  # noqa: E402
from mnist_classifier import classifier  # noqa: E402
from mnist_classifier import parse_overrides  # noqa: E402

CONFIDENCE = 0.9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=MNIST)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--conditional-latent-dim", type=int, default=4)
    parser.add_argument("--models", nargs="+", default=[
        "VAE", "AdversarialAutoencoder", "ConditionalAdversarialAutoencoder"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=OUTPUT)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--override", nargs="*", default=[],
                        help="constructor arguments of the AAEs as key=value (Python literals)")
    args = parser.parse_args()
    runstore.set_threads(args.threads)
    import keras_vae as kv

    os.makedirs(args.out, exist_ok=True)
    judge, judge_accuracy = classifier(args.mnist, os.path.join(args.out, "mnist_classifier.keras"))
    print(f"classifier test accuracy: {judge_accuracy:.4f}", flush=True)

    def probabilities(images):
        return keras.ops.convert_to_numpy(keras.ops.softmax(judge.predict(images, verbose=0)))

    common = dict(input_shape=(28, 28, 1), latent_dim=args.latent_dim, seed=args.seed)
    overrides = parse_overrides(args.override)
    rows = []
    for name, build, labelled in (
            ("VAE", lambda: kv.VAE(**common), False),
            ("AdversarialAutoencoder",
             lambda: kv.AdversarialAutoencoder(**common, **overrides), False),
            ("ConditionalAdversarialAutoencoder",
             lambda: kv.ConditionalAdversarialAutoencoder(
                 **{**common, "num_classes": 10, "latent_dim": args.conditional_latent_dim,
                    **overrides}),
             True)):
        if name not in args.models:
            continue
        keras.utils.set_random_seed(args.seed)
        train = kv.data.load(args.mnist, batch_size=128, labels=labelled, binarize="dynamic",
                             seed=args.seed)
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        start = time.perf_counter()
        history = model.fit(train, epochs=args.epochs, verbose=0).history
        seconds = time.perf_counter() - start
        if labelled:
            labels = np.repeat(np.arange(10), 100)
            images = np.asarray(model.sample(labels, seed=args.seed + 1))
            predicted = probabilities(images).argmax(axis=1)
            score = float(np.mean(predicted == labels))
            what = "labelled as requested"
            grid = np.concatenate([images[labels == c][:10] for c in range(10)])
        else:
            images = np.asarray(model.sample(1000, seed=args.seed + 1))
            score = float(np.mean(probabilities(images).max(axis=1) >= CONFIDENCE))
            what = f"classified with p >= {CONFIDENCE}"
            grid = images[:100]
        kv.plotting.save_image_grid(os.path.join(args.out, f"aae_mnist_{name}.png"), grid,
                                    ncols=10, title=f"{name}: samples from the prior")
        rows.append((name, score, what, history["reconstruction_loss"][-1], seconds))
        print(f"{name}: {score:.3f} {what} ({seconds:.0f} s)", flush=True)

    print(f"\nMNIST, MLP 400, latent {args.latent_dim} (conditional: "
          f"{args.conditional_latent_dim}), {args.epochs} epochs of batch 128, "
          f"AAE arguments {overrides or 'defaults'}, "
          f"Adam 1e-3, seed {args.seed}; 1,000 samples at temperature 1")
    print("| model | samples | fraction | train reconstruction (nats) | train s |")
    print("| --- | --- | --- | --- | --- |")
    for name, score, what, rec, seconds in rows:
        print(f"| {name} | {what} | {score:.3f} | {rec:.1f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
