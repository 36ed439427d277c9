"""Quality: does training on the k-sample bound help? kv.IWAE(num_samples=k) against kv.VAE
on the same 784-400-20 network, budget and data, judged by the test IWAE NLL.

Usage: python benchmarks/iwae_vs_vae_mnist.py [--mnist ../shared/data/mnist.npz] [--epochs 10]
       [--k 5] [--nll-samples 500] [--seeds 0]

Both train with Adam 1e-3, batch 128 on dynamically binarized MNIST (`keras-vae train`'s call,
`kv.training.train`), then `kv.evaluation.iwae_nll` estimates -log p(x) with --nll-samples
importance samples on the test set binarized once with seed 0 (the same images for both).
Prints one row per model and seed, and the gain in nats.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_vae as kv  # noqa: E402
from keras_vae import training  # noqa: E402

NETWORK = dict(latent_dim=20, architecture="mlp", hidden_units=(400,))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                        "shared", "data", "mnist.npz"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--k", type=int, default=5, help="IWAE training samples")
    parser.add_argument("--nll-samples", type=int, default=500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "output",
                                                         "iwae_vs_vae"))
    args = parser.parse_args()

    test = kv.data.load(args.mnist, split="test", batch_size=500, binarize="static", seed=0)
    rows = []
    for seed in args.seeds:
        for kind, extra in (("vae", {}), ("iwae", {"num_samples": args.k})):
            output = os.path.join(args.output, f"{kind}_seed{seed}")
            start = time.perf_counter()
            training.train(model=kind, dataset=args.mnist, output=output, epochs=args.epochs,
                           binarize="dynamic", seed=seed, verbose=0, backup=False, export=False,
                           model_kwargs={**NETWORK, **extra})
            seconds = time.perf_counter() - start
            model = training.load_trained(output)
            nll = kv.evaluation.iwae_nll(model, test, num_samples=args.nll_samples, seed=0)
            rows.append((kind, seed, nll, seconds))

    print(f"\n784-400-20, {args.epochs} epochs, batch 128, Adam 1e-3; test NLL by IWAE with "
          f"K = {args.nll_samples} ({rows[0][2]['num_examples']} images)")
    print("| model | seed | test NLL (nats) | test ELBO | train seconds |")
    print("| --- | --- | --- | --- | --- |")
    for kind, seed, nll, seconds in rows:
        name = f"IWAE k={args.k}" if kind == "iwae" else "VAE"
        print(f"| {name} | {seed} | {nll['nll']:.2f} ± {nll['nll_std_error']:.2f} | "
              f"{nll['elbo']:.2f} | {seconds:.0f} |")
    for seed in args.seeds:
        vae, iwae = (r[2]["nll"] for r in rows if r[1] == seed)
        print(f"seed {seed}: IWAE gains {vae - iwae:.2f} nats over the VAE")


if __name__ == "__main__":
    main()
