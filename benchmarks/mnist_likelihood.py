"""Quality: the MNIST likelihood table. Test NLL of VAE, IWAE, flow posteriors and learned
priors on dynamically binarized MNIST, one network and one budget for every row.

Usage: python benchmarks/mnist_likelihood.py [--mnist ../shared/data/mnist.npz] [--epochs 20]
       [--network course|iwae|conv] [--nll-samples 1000] [--seeds 0 1] [--rows vae iaf ...]
       [--threads N] [--max-examples N]

Every row trains with `kv.training.train` (what `keras-vae train` calls): Adam 1e-3, batch 128,
dynamic binarization, --epochs epochs, no warm-up (but the *_warmup rows), no early stopping
(the last epoch's model).
`kv.evaluation.iwae_nll` then estimates -log p(x) with --nll-samples importance samples on the
10,000 test images binarized once with seed 0 (the same images for every row), through each
model's own posterior (flow included) and prior. Prints NLL ± standard error, the test -ELBO,
active units (posterior-mean variance > 0.01, Burda et al.), the training seconds, and the
published figure of the row's method (their networks and budgets, which differ: see PUBLISHED).
Two processes with --threads 1 and disjoint --rows or --seeds share a 2-core machine.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import keras_vae as kv  # noqa: E402
from keras_vae import training  # noqa: E402

NETWORKS = {
    "course": dict(latent_dim=20, architecture="mlp", hidden_units=(400,)),  # 784-400-20
    "iwae": dict(latent_dim=50, architecture="mlp", hidden_units=(200, 200)),  # Burda et al.
    # Stride-2 convolutions 28 -> 14 -> 7, a dense layer of 512, transposed convolutions back.
    "conv": dict(latent_dim=32, architecture="conv", filters=(32, 64), dense_units=(512,)),
}

def one_layer(make=dict):
    """A row's arguments for a one-layer model: the network's latent size plus ``make()``."""
    return lambda latent_dim: {"latent_dim": latent_dim, **make()}


def ladder(make=dict):
    """A row's arguments for the ladder: two stochastic layers, the network's latent size at the
    bottom and half of it on top, ladder MLPs of 256, plus ``make()``."""
    return lambda latent_dim: {"latent_dims": (latent_dim, latent_dim // 2),
                               "ladder_units": (256,), **make()}


def warmup():
    """β from 0 to 1 over the first 5 epochs (469 steps of 128 each)."""
    return kv.schedules.LinearWarmup(0.0, 1.0, steps=5 * 469)


#: ``row -> (model kind, latent size -> constructor arguments beyond the network)``; the
#: arguments (flows, priors, schedules) are made afresh for every run.
ROWS = {
    "vae": ("vae", one_layer()),
    "iwae_k5": ("iwae", one_layer(lambda: {"num_samples": 5})),
    "iwae_k50": ("iwae", one_layer(lambda: {"num_samples": 50})),
    # The plain VAE with the warm-up of the hvae_warmup row, to tell the two apart.
    "vae_warmup": ("beta_vae", one_layer(lambda: {"beta": warmup()})),
    "planar": ("vae", one_layer(lambda: {"flow": kv.flows.Planar(num_steps=8)})),
    "iaf": ("vae", one_layer(lambda: {"flow": kv.flows.IAF(num_steps=4, hidden_units=(320,))})),
    "mixture": ("vae", one_layer(lambda: {"prior": kv.priors.MixturePrior(num_components=10)})),
    "vamp": ("vae", one_layer(lambda: {"prior": kv.priors.VampPrior(num_components=500)})),
    "iaf_vamp": ("vae", one_layer(lambda: {
        "flow": kv.flows.IAF(num_steps=4, hidden_units=(320,)),
        "prior": kv.priors.VampPrior(num_components=500)})),
    "hvae": ("hvae", ladder()),
    # The ladder VAE's KL warm-up (Sønderby et al.).
    "hvae_warmup": ("hvae", ladder(lambda: {"beta": warmup()})),
    # The warmed-up ladder with a VampPrior over its top layer.
    "hvae_vamp_warmup": ("hvae", ladder(lambda: {
        "beta": warmup(), "prior": kv.priors.VampPrior(num_components=500)})),
}

#: Published test NLL of each method on dynamically binarized MNIST, with its setting.
PUBLISHED = {
    "vae": "86.76 (Burda et al., 784-200-200-50, 3,280 epochs)",
    "vae_warmup": "as vae",
    "iwae_k5": "85.54 (Burda et al., same)",
    "iwae_k50": "84.78 (Burda et al., same)",
    "planar": "≤ 85.1 with 80 steps (Rezende & Mohamed, a bound, DLGM)",
    "iaf": "79.88 (Kingma et al., ResNet VAE; no MLP figure)",
    "mixture": "—",
    "vamp": "85.57 (Tomczak & Welling, 1-layer MLP VAE)",
    "iaf_vamp": "—",
    "hvae": "85.33 (2-layer VAE, Burda et al.; their 2-layer IWAE k=50: 82.90)",
    "hvae_warmup": "as hvae",
    "hvae_vamp_warmup": "83.19 (Tomczak & Welling, 2-layer HVAE + VampPrior, MLP)",
}


def row_arguments(network, row):
    """``(model kind, constructor arguments)`` of ``row`` on ``network``, made afresh."""
    kind, arguments = ROWS[row]
    kwargs = dict(NETWORKS[network])
    kwargs.update(arguments(kwargs.pop("latent_dim")))
    return kind, kwargs


def active_units(model, test):
    stats = kv.evaluation.posterior_statistics(model, test)
    return kv.evaluation.active_units(stats)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                        "shared", "data", "mnist.npz"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--network", choices=NETWORKS, default="course")
    parser.add_argument("--nll-samples", type=int, default=1000)
    parser.add_argument("--max-examples", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rows", nargs="+", choices=ROWS,
                        default=["vae", "iwae_k5", "planar", "iaf", "mixture", "vamp"])
    parser.add_argument("--threads", type=int, default=None,
                        help="intra- and inter-op threads (default: TensorFlow's choice)")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "output",
                                                         "mnist_likelihood"))
    args = parser.parse_args()
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    test = kv.data.load(args.mnist, split="test", batch_size=500, binarize="static", seed=0)
    results = []
    for seed in args.seeds:
        for row in args.rows:
            output = os.path.join(args.output, f"{args.network}_{row}_seed{seed}")
            start = time.perf_counter()
            kind, kwargs = row_arguments(args.network, row)
            training.train(model=kind, dataset=args.mnist, output=output, epochs=args.epochs,
                           binarize="dynamic", seed=seed, verbose=0, backup=False,
                           export=False, model_kwargs=kwargs)
            seconds = time.perf_counter() - start
            model = training.load_trained(output)
            nll = kv.evaluation.iwae_nll(model, test, num_samples=args.nll_samples, seed=0,
                                         max_examples=args.max_examples)
            results.append((row, seed, nll, active_units(model, test), seconds))
            print(f"{row} seed {seed}: NLL {nll['nll']:.2f}, -ELBO {-nll['elbo']:.2f}, "
                  f"{seconds:.0f} s", flush=True)

    network = ", ".join(f"{k} {v}" for k, v in NETWORKS[args.network].items())
    print(f"\nMNIST, dynamically binarized; {args.network} network ({network}); "
          f"{args.epochs} epochs of Adam 1e-3, batch 128; test NLL by IWAE "
          f"with K = {args.nll_samples} ({results[0][2]['num_examples']} images)")
    print("| row | seed | test NLL (nats) | test −ELBO | active units | train s | published |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row, seed, nll, active, seconds in results:
        print(f"| {row} | {seed} | {nll['nll']:.2f} ± {nll['nll_std_error']:.2f} | "
              f"{-nll['elbo']:.2f} | {active} | {seconds:.0f} | {PUBLISHED[row]} |")
    if len(args.seeds) > 1:
        print("\n| row | NLL spread across seeds (nats) |\n| --- | --- |")
        for row in args.rows:
            values = [r[2]["nll"] for r in results if r[0] == row]
            print(f"| {row} | {np.ptp(values):.2f} |")


if __name__ == "__main__":
    main()
