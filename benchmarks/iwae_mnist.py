"""Quality: IWAE NLL of the course's 784-400-20 VAE on MNIST, as `keras-vae evaluate` reports
it, cross-checked by an independent computation from the exported encoder and decoder.

Usage: python benchmarks/iwae_mnist.py [--mnist ../shared/data/mnist.npz] [--epochs 10] [--k 1000]

1. `keras-vae train` (the Python call behind it) trains the VAE: Adam 1e-3, batch 128, dynamic
   binarization, --epochs epochs, and exports a SavedModel.
2. `kv.evaluation.evaluate` (what `keras-vae evaluate` runs) reports the IWAE NLL with K = --k
   on the test set, binarized once with seed 0 (its default for Bernoulli models).
3. A separate Python process that never imports keras_vae loads the SavedModel, draws
   its own z with NumPy, and computes log p(x|z) + log p(z) - log q(z|x) and the log-mean-exp
   in float64 NumPy from the `encode` and `decode` signatures, on the same binarized images.

Prints a table of both figures and their difference (the target: within 1 nat).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import keras_vae as kv  # noqa: E402
from keras_vae import training  # noqa: E402

INDEPENDENT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    export, images_path, k, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    assert "keras_vae" not in sys.modules
    served = tf.saved_model.load(export)
    encode, decode = served.signatures["encode"], served.signatures["decode"]
    x_all = np.load(images_path)["x"]
    rng = np.random.default_rng(seed)
    bounds = []
    for start in range(0, len(x_all), 50):
        x = x_all[start:start + 50]
        out = encode(x=tf.constant(x))
        mean, log_var = (out["mean"].numpy().astype(np.float64),
                         out["log_var"].numpy().astype(np.float64))
        flat = x.reshape(len(x), -1).astype(np.float64)
        for i in range(len(x)):
            z = mean[i] + np.exp(0.5 * log_var[i]) * rng.standard_normal((k, mean.shape[1]))
            logits = decode(z=tf.constant(z.astype(np.float32)))["logits"].numpy()
            logits = logits.reshape(k, -1).astype(np.float64)
            # log Bernoulli(x | sigmoid(l)) = x * l - log(1 + e^l)
            log_px = (flat[i] * logits - np.logaddexp(0.0, logits)).sum(axis=1)
            log_pz = -0.5 * (z ** 2 + np.log(2 * np.pi)).sum(axis=1)
            log_qz = -0.5 * (((z - mean[i]) ** 2) * np.exp(-log_var[i]) + log_var[i]
                             + np.log(2 * np.pi)).sum(axis=1)
            w = log_px + log_pz - log_qz
            bounds.append(np.logaddexp.reduce(w) - np.log(k))
    print("RESULT" + json.dumps({"nll": float(-np.mean(bounds)), "n": len(bounds)}))
    """
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                        "shared", "data", "mnist.npz"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--max-examples", type=int, default=None)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "output",
                                                         "iwae_mnist"))
    parser.add_argument("--reuse", action="store_true",
                        help="evaluate the model already under --output")
    args = parser.parse_args()

    start = time.perf_counter()
    if not args.reuse:
        training.train(model="vae", dataset=args.mnist, output=args.output, epochs=args.epochs,
                       binarize="dynamic", seed=0, verbose=0, backup=False,
                       model_kwargs=dict(latent_dim=20, architecture="mlp", hidden_units=(400,)))
    train_seconds = time.perf_counter() - start
    model = training.load_trained(args.output)
    export = os.path.join(args.output, str(kv.export.existing_versions(args.output)[-1]))

    start = time.perf_counter()
    result = kv.evaluation.evaluate(model, args.mnist, os.path.join(args.output, "evaluation"),
                                    nll_samples=args.k, max_examples=args.max_examples,
                                    verbose=False, log=lambda *a: None)
    ours = result["metrics"]["iwae"]
    ours_seconds = time.perf_counter() - start

    # The same images evaluate saw: the test split binarized once with seed 0.
    test = kv.data.load(args.mnist, split="test", batch_size=1000, binarize="static", seed=0)
    images = np.concatenate([np.asarray(b) for b in test])[: args.max_examples]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "images.npz")
        np.savez(path, x=images)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", INDEPENDENT, export, path, str(args.k), "1"],
                              capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        independent_seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(proc.stderr[-3000:])
    independent = json.loads(proc.stdout.split("RESULT", 1)[1])

    print(f"\n784-400-20 VAE, {args.epochs} epochs (trained in {train_seconds:.0f} s), "
          f"{ours['num_examples']} test images, K = {args.k}")
    print("| computation | IWAE NLL (nats) | seconds |")
    print("| --- | --- | --- |")
    print(f"| keras-vae evaluate | {ours['nll']:.3f} ± {ours['nll_std_error']:.3f} | "
          f"{ours_seconds:.0f} |")
    print(f"| independent (SavedModel + NumPy float64) | {independent['nll']:.3f} | "
          f"{independent_seconds:.0f} |")
    print(f"| difference | {abs(ours['nll'] - independent['nll']):.3f} | |")
    print(f"| test -ELBO (same images) | {-result['metrics']['test']['elbo']:.3f} | |")


if __name__ == "__main__":
    main()
