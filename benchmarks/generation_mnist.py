"""Sample quality: do ex-post samplers fix the VAE's prior holes? Fréchet distance, precision
and recall of samples on MNIST, and the fraction of valid shapes on the embedded shapes.

Usage: python benchmarks/generation_mnist.py [--mnist ../shared/data/mnist.npz]
       [--parts mnist vq shapes] [--epochs 10] [--num-samples 10000] [--vq-epochs 12]
       [--vq-prior-epochs 20] [--vq-models vqvae vqvae2 vqvae2_14]
       [--vq-priors pixelcnn transformer] [--seed 0] [--out DIR] [--picture PATH]

MNIST part:
1. A feature model: ``kv.evaluation.train_feature_model`` on the 60,000 training images
   (grey levels in [0, 1], 4 epochs); its 128 penultimate ReLU features are the space every
   row is measured in (not Inception: the figures compare these rows with each other only).
2. Models trained with ``kv.training.train`` (what ``keras-vae train`` runs) on dynamically
   binarized MNIST, Adam 1e-3, batch 128, --epochs epochs: the course VAE (784-400-16),
   a β-VAE (β = 4) and an IWAE (k = 5) on the same network.
3. For the VAE, the samplers fitted to its training codes: ``GaussianMixture`` (10 full
   Gaussians), ``TwoStage`` and ``MAF``.
4. Per row: --num-samples samples against the 10,000 test images (grey), Fréchet distance,
   precision and recall (k = 3), and seconds (training, sampler fit, drawing). The first row is
   10,000 training images against the test images: the floor.
VQ part (same feature model and test images): a VQ-VAE and a VQ-VAE-2 (library defaults:
7x7 bottom grid, 3x3 top grid, 128 codes per level), and a VQ-VAE-2 a level up (14x14 bottom,
7x7 top: the top grid is as large as the VQ-VAE's only grid), --vq-epochs each, then on each
in turn a PixelCNN and a Transformer prior over its training codes (--vq-prior-epochs; for a
VQ-VAE-2 a two-level prior: top, then bottom given top). Seconds: the VQ model's training, that
prior's training and drawing.
Shapes part: the main job (``keras-vae train`` defaults: conv VAE, 1,000 steps on shapes),
then the fraction of 10,000 samples that are valid shapes (``kv.evaluation.shapes_validity``)
from N(0, I) and from each sampler.
Writes one picture, 16 samples per row and model (--picture).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_vae as kv  # noqa: E402
from keras_vae import cli  # noqa: E402
from keras_vae import training  # noqa: E402
from keras_vae.evaluation import generation  # noqa: E402
from keras_vae.models.vq_vae import prior_description  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NETWORK = dict(latent_dim=16, architecture="mlp", hidden_units=(400,))
#: The samplers of each table, by CLI spec.
SAMPLERS = ("gmm:10", "two_stage", "maf:5")
#: The VQ models of the VQ part by --vq-models key: row name, model kind, its arguments (the
#: second VQ-VAE-2 moves both grids up a level: one stride-2 stage to a 14x14 bottom grid, one
#: more to a 7x7 top grid; --filters 32 --top-filters 64 on the command line).
VQ_MODELS = {"vqvae": ("VQ-VAE", "vqvae", {}),
             "vqvae2": ("VQ-VAE-2", "vqvae2", {}),
             "vqvae2_14": ("VQ-VAE-2 (14×14 bottom, 7×7 top)", "vqvae2",
                           {"filters": (32,), "top_filters": (64,)})}
#: The prior architectures fitted to each VQ model (--vq-priors).
PRIORS = ("pixelcnn", "transformer")


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def feature_model(mnist, out, seed):
    path = os.path.join(out, "feature_model.keras")
    data = np.load(mnist)
    x_test = data["x_test"][..., None].astype("float32") / 255
    if os.path.isfile(path):
        features = keras.models.load_model(path)
        accuracy = None
    else:
        x = data["x_train"][..., None].astype("float32") / 255
        features, classifier = kv.evaluation.train_feature_model(x, data["y_train"], epochs=4,
                                                                 seed=seed)
        accuracy = float(np.mean(np.argmax(classifier.predict(x_test, verbose=0), 1)
                                 == data["y_test"]))
        features.save(path)
    return features, accuracy


def train(kind, mnist, out, epochs, seed, name=None, **options):
    output = os.path.join(out, name or kind)
    _, seconds = timed(training.train, model=kind, dataset=mnist, output=output,
                       epochs=epochs, seed=seed, verbose=0, backup=False, export=False,
                       overwrite=True, image_logs=False, **options)
    return training.load_trained(output), seconds


def measure(name, draw, real, features, num, seed, seconds, rows, pictures):
    samples, draw_seconds = timed(draw, num, seed)
    fake = generation.features_of(features, samples)
    quality = generation.precision_recall(real, fake)
    rows.append((name, generation.frechet_distance(real, fake), quality["precision"],
                 quality["recall"], seconds + draw_seconds))
    pictures.append((name, samples[:16]))
    print(f"  {name}: FD {rows[-1][1]:.2f}, precision {rows[-1][2]:.3f}, recall "
          f"{rows[-1][3]:.3f} ({rows[-1][4]:.0f} s)", flush=True)


def sampler_draw(sampler):
    return lambda num, seed: generation.draw_samples(sampler, num, seed)


def test_features(args):
    """The feature model and the features of the 10,000 test images."""
    features, accuracy = feature_model(args.mnist, args.out, args.seed)
    if accuracy is not None:
        print(f"Feature model: test accuracy {accuracy:.4f}", flush=True)
    test = np.load(args.mnist)["x_test"][..., None].astype("float32") / 255
    return features, generation.features_of(features, test)


def mnist_part(args, rows, pictures):
    features, real = test_features(args)
    data = np.load(args.mnist)
    test = data["x_test"]
    train_images = data["x_train"][:len(test), ..., None].astype("float32") / 255
    measure("training images (floor)", lambda n, s: train_images[:n], real, features,
            args.num_samples, args.seed, 0.0, rows, pictures)
    models = [("VAE", "vae", dict(model_kwargs=NETWORK, binarize="dynamic")),
              ("β-VAE (β = 4)", "beta_vae", dict(model_kwargs={**NETWORK, "beta": 4.0},
                                                  binarize="dynamic")),
              ("IWAE (k = 5)", "iwae", dict(model_kwargs={**NETWORK, "num_samples": 5},
                                            binarize="dynamic"))]
    for name, kind, options in models:
        print(f"Training {name} ...", flush=True)
        model, seconds = train(kind, args.mnist, args.out, args.epochs, args.seed, **options)
        measure(f"{name}, N(0, I)", lambda n, s: generation.draw_samples(model, n, s), real,
                features, args.num_samples, args.seed, seconds, rows, pictures)
        if kind != "vae":
            continue
        codes = kv.data.load(args.mnist, split="train", batch_size=500, binarize="dynamic",
                             seed=args.seed)
        for spec in SAMPLERS:
            sampler, fit_seconds = timed(
                lambda spec=spec: kv.samplers.from_spec(spec, model).fit(codes))
            measure(f"{name}, {type(sampler).__name__} ({spec})", sampler_draw(sampler), real,
                    features, args.num_samples, args.seed, seconds + fit_seconds, rows,
                    pictures)


def vq_part(args, rows, pictures):
    features, real = test_features(args)
    codes = kv.data.load(args.mnist, split="train", batch_size=128, seed=args.seed)
    for key in args.vq_models:
        name, kind, model_kwargs = VQ_MODELS[key]
        print(f"Training the {name} ...", flush=True)
        model, seconds = train(kind, args.mnist, args.out, args.vq_epochs, args.seed, name=key,
                               prior_epochs=0, model_kwargs=model_kwargs)
        for architecture in args.vq_priors:
            _, prior_seconds = timed(model.fit_prior, codes, epochs=args.vq_prior_epochs,
                                     architecture=architecture, verbose=0)
            measure(f"{name} + {prior_description(model.prior)}",
                    lambda n, s: generation.draw_samples(model, n, s), real, features,
                    args.num_samples, args.seed, seconds + prior_seconds, rows, pictures)


def shapes_part(args, rows, pictures):
    output = os.path.join(args.out, "shapes_main_job")
    print("Training the main job (keras-vae train defaults) ...", flush=True)
    # --sampler none: the N(0, I) row; the mixture row is what the main job fits by default.
    _, seconds = timed(cli.main, ["train", "--output", output, "--overwrite", "--no-export",
                                  "--quiet", "--seed", str(args.seed), "--sampler", "none"])
    model = training.load_trained(output)
    codes = kv.data.load("shapes", split="train", batch_size=128, seed=args.seed).take(100)
    draws = [("N(0, I)", lambda n, s: generation.draw_samples(model, n, s), 0.0)]
    for spec in SAMPLERS:
        sampler, fit_seconds = timed(lambda spec=spec: kv.samplers.from_spec(spec, model)
                                     .fit(codes))
        draws.append((f"{type(sampler).__name__} ({spec})", sampler_draw(sampler), fit_seconds))
    shapes = kv.data.shapes.Shapes()
    # Drawn at random: the split is in index order (shape, then scale, ...), so its first
    # images are all small squares.
    test = shapes.split_indices("test")
    real = shapes.images(np.random.default_rng(args.seed).choice(
        test, min(args.num_samples, len(test)), replace=False))
    validity = kv.evaluation.shapes_validity(real)
    rows.append(("test images (ceiling)", validity, 0.0))
    pictures.append(("shapes: test images", real[:16]))
    reconstructions = np.concatenate([np.asarray(model.reconstruct(real[i:i + 500]))
                                      for i in range(0, len(real), 500)])
    rows.append(("reconstructions of them", kv.evaluation.shapes_validity(reconstructions),
                 0.0))
    for name, draw, fit_seconds in draws:
        samples, draw_seconds = timed(draw, args.num_samples, args.seed)
        validity = kv.evaluation.shapes_validity(samples)
        rows.append((name, validity, seconds + fit_seconds + draw_seconds))
        pictures.append((f"shapes: {name}", samples[:16]))
        print(f"  {name}: {validity['valid_fraction']:.1%} valid shapes", flush=True)


def save_picture(path, pictures):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(pictures), 16, figsize=(16, 1.15 * len(pictures)))
    for row, (name, images) in zip(np.atleast_2d(axes), pictures):
        for ax, image in zip(row, images):
            ax.imshow(np.asarray(image)[..., 0], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=os.path.join(HERE, "..", "..", "shared", "data",
                                                        "mnist.npz"))
    parser.add_argument("--parts", nargs="+", choices=("mnist", "vq", "shapes"),
                        default=["mnist", "vq", "shapes"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--vq-epochs", type=int, default=12)
    parser.add_argument("--vq-prior-epochs", type=int, default=20)
    parser.add_argument("--vq-models", nargs="+", choices=tuple(VQ_MODELS),
                        default=list(VQ_MODELS))
    parser.add_argument("--vq-priors", nargs="+", choices=PRIORS, default=list(PRIORS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(HERE, "output", "generation"))
    parser.add_argument("--picture", default=None,
                        help="where the samples picture goes (default --out/samples.png)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    pictures = []
    if {"mnist", "vq"} & set(args.parts):
        rows = []
        if "mnist" in args.parts:
            mnist_part(args, rows, pictures)
        if "vq" in args.parts:
            vq_part(args, rows, pictures)
        print(f"\nMNIST, {args.num_samples} samples against the 10,000 test images in the "
              "features of kv.evaluation.train_feature_model; models "
              f"{args.epochs} epochs (VQ-VAE {args.vq_epochs} + prior {args.vq_prior_epochs})")
        print("| row | Fréchet distance | precision | recall | seconds |")
        print("| --- | --- | --- | --- | --- |")
        for name, fd, precision, recall, seconds in rows:
            print(f"| {name} | {fd:.2f} | {precision:.3f} | {recall:.3f} | {seconds:.0f} |")
        base = next((r[1] for r in rows if r[0] == "VAE, N(0, I)"), None)
        for name, fd, *_ in rows if base is not None else ():
            if name.startswith("VAE, ") and name != "VAE, N(0, I)":
                print(f"{name}: Fréchet distance {100 * (1 - fd / base):.0f} % below N(0, I)")
    if "shapes" in args.parts:
        rows = []
        shapes_part(args, rows, pictures)
        print(f"\nShapes, the main job's model; {args.num_samples} images checked by "
              "kv.evaluation.shapes_validity (best IoU with a rendered shape: valid >= "
              f"{generation.SHAPE_IOU_THRESHOLD}, exact >= {generation.EXACT_SHAPE_IOU})")
        print("| images | valid shapes | exact shapes | mean best IoU | seconds |")
        print("| --- | --- | --- | --- | --- |")
        for name, v, seconds in rows:
            print(f"| {name} | {v['valid_fraction']:.1%} | {v['exact_fraction']:.1%} | "
                  f"{v['mean_iou']:.3f} | {seconds:.0f} |")
    save_picture(args.picture or os.path.join(args.out, "samples.png"), pictures)


if __name__ == "__main__":
    main()
