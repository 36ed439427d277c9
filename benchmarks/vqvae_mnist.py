"""Quality: a VQ-VAE on real MNIST that reconstructs, uses its codebook, and generates digits.

Usage: python benchmarks/vqvae_mnist.py [--epochs 12] [--prior-epochs 20]
       [--override key=value ...] [--prior-override key=value ...] [--out DIR]
       [--reuse] [--priors both|unconditional|conditional]

1. Trains kv.VQVAE(input_shape=(28, 28, 1), num_embeddings=128, embedding_dim=16) with its
   default settings (or --override ones) on MNIST scaled to [0, 1] (not binarized), Adam 1e-3,
   batch 128. Reports the test reconstruction MSE divided by the variance of the training
   pixels (as the keras.io example does; target <= 0.03), and codebook usage and perplexity
   over all 10,000 x 7 x 7 test codes (target >= 90 % of the 128 codes used).
2. Trains an unconditional PixelCNN prior on the training code grids, decodes 500 samples and
   reports the fraction an independent classifier labels with >= 90 % confidence (target
   >= 70 %).
3. Trains a class-conditional PixelCNN prior, draws 50 samples per class and reports the
   fraction labelled as the requested class (target >= 90 %).
Writes reconstructions and both sample grids to --out. The trained VQ-VAE is saved as
--out/vqvae_mnist.keras; --reuse loads it from there instead of training again (for prior
experiments; the training time is then not measured).
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from mnist_classifier import OUTPUT  # noqa: E402
from mnist_classifier import classifier  # noqa: E402
from mnist_classifier import mnist_parser  # noqa: E402
from mnist_classifier import parse_overrides  # noqa: E402

import keras_vae as kv  # noqa: E402


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main():
    parser = mnist_parser(__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--prior-epochs", type=int, default=20)
    parser.add_argument("--override", nargs="*", default=[],
                        help="VQVAE constructor arguments as key=value (Python literals)")
    parser.add_argument("--prior-override", nargs="*", default=[],
                        help="PixelCNN arguments as key=value (Python literals)")
    parser.add_argument("--out", default=OUTPUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reuse", action="store_true",
                        help="load --out/vqvae_mnist.keras instead of training the VQ-VAE")
    parser.add_argument("--report-every", type=int, default=0,
                        help="also score the class prior's samples every N prior epochs")
    parser.add_argument("--priors", choices=["both", "unconditional", "conditional"],
                        default="both")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    judge, judge_accuracy = classifier(args.mnist, os.path.join(args.out, "mnist_classifier.keras"))
    print(f"classifier test accuracy: {judge_accuracy:.4f}", flush=True)

    raw = np.load(args.mnist)
    x_test = raw["x_test"][..., None].astype("float32") / 255.0
    variance = float(np.var(raw["x_train"].astype("float32") / 255.0))

    overrides, prior_overrides = map(parse_overrides, (args.override, args.prior_override))
    keras.utils.set_random_seed(args.seed)
    train = kv.data.load(args.mnist, batch_size=128, seed=args.seed)
    saved = os.path.join(args.out, "vqvae_mnist.keras")
    vq_seconds = None
    if args.reuse:
        if overrides:
            parser.error("--reuse loads a trained model; it takes no --override")
        model = keras.saving.load_model(saved)
        print(f"vqvae: loaded {saved}", flush=True)
    else:
        model = kv.VQVAE(input_shape=(28, 28, 1), num_embeddings=128, embedding_dim=16,
                         seed=args.seed, **overrides)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        start = time.perf_counter()
        history = model.fit(train, epochs=args.epochs, verbose=0)
        vq_seconds = time.perf_counter() - start
        last = {k: round(float(v[-1]), 3) for k, v in history.history.items()}
        print(f"vqvae {overrides or 'defaults'}: {args.epochs} epochs in {vq_seconds:.0f} s; "
              f"last epoch {last}", flush=True)
        model.save(saved)
    rebuilt = np.asarray(model.predict(x_test, batch_size=500, verbose=0))
    mse = float(np.mean((rebuilt - x_test) ** 2))
    stats = kv.evaluation.codebook_stats(kv.evaluation.code_counts(model, x_test))
    kv.plotting.save_reconstructions(os.path.join(args.out, "vqvae_reconstructions.png"),
                                     x_test[:16], rebuilt[:16])

    labelled = kv.data.load(args.mnist, batch_size=128, labels=True, seed=args.seed)
    test_labelled = (x_test, raw["y_test"].astype("int32"))
    rows = []
    if args.priors in ("both", "unconditional"):
        start = time.perf_counter()
        fitted = model.fit_prior(labelled, epochs=args.prior_epochs, conditional=False,
                                 validation_data=x_test, verbose=0, **prior_overrides)
        seconds = time.perf_counter() - start
        samples = np.asarray(model.sample(500, seed=args.seed + 1))
        confidence = softmax(judge.predict(samples, verbose=0)).max(axis=1)
        confident = float(np.mean(confidence >= 0.9))
        kv.plotting.save_image_grid(os.path.join(args.out, "vqvae_samples.png"),
                                    samples[:100], ncols=10,
                                    title="VQ-VAE + PixelCNN prior: samples")
        rows.append(f"| unconditional prior ({args.prior_epochs} epochs, {seconds:.0f} s, "
                    f"test loss {fitted.history['val_loss'][-1]:.3f} nats/code): samples "
                    f"classified with >= 90 % confidence | {confident:.1%} of 500 | >= 70 % |")

    if args.priors in ("both", "conditional"):
        labels = np.repeat(np.arange(10), 50)

        def score():
            drawn = np.asarray(model.sample(labels, seed=args.seed + 2))
            return drawn, np.argmax(judge.predict(drawn, verbose=0), axis=1)

        class Report(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if args.report_every and (epoch + 1) % args.report_every == 0:
                    print(f"  class prior epoch {epoch + 1}: loss {logs['loss']:.4f}, test "
                          f"loss {logs['val_loss']:.4f}, samples labelled as requested "
                          f"{np.mean(score()[1] == labels):.1%}", flush=True)

        start = time.perf_counter()
        fitted = model.fit_prior(labelled, epochs=args.prior_epochs, conditional=True,
                                 validation_data=test_labelled, verbose=0,
                                 callbacks=[Report()], **prior_overrides)
        seconds = time.perf_counter() - start
        class_samples, predicted = score()
        per_class = [float(np.mean(predicted[labels == c] == c)) for c in range(10)]
        grid = np.concatenate([class_samples[labels == c][:10] for c in range(10)])
        kv.plotting.save_image_grid(os.path.join(args.out, "vqvae_class_samples.png"), grid,
                                    ncols=10, title="VQ-VAE + class-conditional PixelCNN")
        rows.append(f"| class prior ({args.prior_epochs} epochs, {seconds:.0f} s, test loss "
                    f"{fitted.history['val_loss'][-1]:.3f} nats/code): samples labelled as "
                    f"requested | {np.mean(predicted == labels):.1%} of 500 | >= 90 % |")
        rows.append("| per class | " + " ".join(f"{c}:{a:.2f}" for c, a in enumerate(per_class))
                    + " | |")

    print()
    print(f"VQVAE {overrides or 'defaults'}, PixelCNN {prior_overrides or 'defaults'}")
    print("| figure | value | target |")
    print("| --- | --- | --- |")
    if vq_seconds is not None:
        print(f"| VQ-VAE training ({args.epochs} epochs) | {vq_seconds:.0f} s | <= 900 s |")
    print(f"| test MSE / train-pixel variance ({variance:.4f}) | {mse / variance:.4f} | <= 0.03 |")
    print(f"| test codes used (of {stats['num_embeddings']}) | {stats['codes_used']} "
          f"({stats['codebook_usage']:.1%}) | >= 90 % |")
    print(f"| test code perplexity | {stats['perplexity']:.1f} | |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
