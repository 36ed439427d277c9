"""Speed: keras_vae's default ``fit`` against the PyTorch course code, side by side in one run.

Usage: python benchmarks/throughput.py [--models mlp conv vqvae] [--batch-sizes 128 512]
       [--rounds 3] [--variants default eager-graph] [--mnist PATH]

For each model and batch size, every round runs, each in a fresh process, one after another:
the PyTorch reference (``../shared/peers/torch_vae.py``: the course's 784-400-20 MLP VAE and
its ConvVAE, eager CPU training; it needs ``pip install torch==2.13.0``) and keras_vae with
each --variant. A run trains 50 warm-up steps, then one timed epoch over the 60,000 MNIST
training images in full batches (scaled to [0, 1], Bernoulli likelihood, Adam 1e-3; the
last, partial batch is dropped, as PyTorch's loop drops it), and reports samples/s;
the table gives the median over the rounds, the GFLOP/s that rate achieves (from the
counted work of the network, the same for both sides: see ``forward_flops``), the peak
resident memory of the process, and the ratio to PyTorch. Rounds interleave the contenders
so that drift in this machine's speed hits them alike.

Variants of keras_vae (compile arguments; the package's defaults are what users get):
    default      ``model.compile(optimizer)`` with nothing else
    graph        ``jit_compile=False, steps_per_execution=1`` (Keras's own CPU default)
    xla          ``jit_compile=True, steps_per_execution=1``
    keras-conv   the default, with the network built from Keras's own Conv2D and
                 Conv2DTranspose in every stage (no ``kv.layers`` polyphase layers)
    onednn       the default, in a process started with ``TF_ENABLE_ONEDNN_OPTS=1``
                 (TensorFlow's oneDNN kernels, off by default on CPUs without AVX-512
                 VNNI/BF16 or AMX)
    no-onednn    the default with ``TF_ENABLE_ONEDNN_OPTS=0``

The VQ-VAE (kv.VQVAE defaults, K=128, D=16) races ``benchmarks/torch_vqvae.py``, the same
network written in eager PyTorch. The pipeline row times ``kv.data.load`` alone (no model):
images/s it delivers, against what the fastest training step consumes (target >= 10x).

PyTorch's peer takes its batch size as its fourth argument.
"""

import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from mnist_classifier import MNIST
from mnist_classifier import mnist_parser

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "..", "..", "shared", "peers", "torch_vae.py")
VQ_PEER = os.path.join(HERE, "torch_vqvae.py")
WARMUP_STEPS = 50

VARIANTS = {
    "default": {},
    "graph": {"jit_compile": False, "steps_per_execution": 1},
    "xla": {"jit_compile": True, "steps_per_execution": 1},
    "keras-conv": {},
    "onednn": {},
    "no-onednn": {},
}

#: Environment a variant's worker process starts with (it must be set before TensorFlow is
#: imported, so the driver passes it to the process).
VARIANT_ENVIRONMENT = {
    "onednn": {"TF_ENABLE_ONEDNN_OPTS": "1"},
    "no-onednn": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}


# ---------------------------------------------------------------------- the networks
def build_model(model_name):
    """The keras_vae model of a row: ``mlp`` (784-400-20), ``conv`` (the course ConvVAE,
    z 128) or ``vqvae`` (kv.VQVAE's defaults, K 128, D 16), all on 28x28x1 MNIST."""
    import keras_vae as kv

    if model_name == "mlp":
        return kv.VAE(input_shape=(28, 28, 1), latent_dim=20)
    if model_name == "conv":
        return kv.VAE(input_shape=(28, 28, 1), latent_dim=128, architecture="conv")
    return kv.VQVAE(input_shape=(28, 28, 1), num_embeddings=128, embedding_dim=16)


def nested_layers(layer):
    """Every layer inside ``layer``, depth first."""
    for sub in getattr(layer, "layers", []):
        yield sub
        yield from nested_layers(sub)


# ---------------------------------------------------------------------- counted work
def forward_flops(model):
    """Floating-point operations of one example's forward pass through the model's dense and
    convolution layers (a multiply-add counts 2; biases, activations and the loss are left
    out, as they are a few percent of these networks)."""
    import keras

    flops = 0
    for layer in nested_layers(model):
        if isinstance(layer, keras.layers.Dense):
            flops += 2 * int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            kh, kw = layer.kernel_size
            cin = int(layer.input.shape[-1])
            # A convolution does its window's work per output position; a transposed one per
            # input position.
            grid = layer.output if isinstance(layer, keras.layers.Conv2D) else layer.input
            positions = int(grid.shape[1]) * int(grid.shape[2])
            flops += 2 * kh * kw * cin * layer.filters * positions
    return flops


#: Training costs about three forward passes: the forward itself and, backward, the gradient
#: with respect to each layer's input and to its weights.
TRAIN_PASSES = 3


# ---------------------------------------------------------------------- workers (one process)
def keras_worker(model_name, batch_size, variant, mnist):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    import keras_vae as kv

    keras.utils.set_random_seed(0)
    if variant == "keras-conv":
        kv.layers.polyphase.MIN_CHANNELS = float("inf")
    model = build_model(model_name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), **VARIANTS[variant])
    # Full batches only, as the PyTorch loop does (a last, smaller batch would also cost an
    # extra trace inside the timed epoch).
    train = kv.data.load(mnist, batch_size=batch_size, seed=0, drop_remainder=True)
    model.fit(train.take(WARMUP_STEPS), epochs=1, verbose=0)
    images = int(train.cardinality()) * batch_size
    start = time.perf_counter()
    history = model.fit(train, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return {"samples_per_sec": images / seconds, "seconds": seconds,
            "train_flops": TRAIN_PASSES * forward_flops(model),
            "last_loss": float(history.history["loss"][-1]),
            "jit_compile": bool(model.jit_compile),
            "steps_per_execution": int(model.steps_per_execution)}


def pipeline_worker(batch_size, mnist):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras_vae as kv

    train = kv.data.load(mnist, batch_size=batch_size, seed=0, drop_remainder=True)
    for _ in train.take(WARMUP_STEPS):
        pass
    rates = []
    for _ in range(3):
        start, images = time.perf_counter(), 0
        for x in train:
            images += int(x.shape[0])
        rates.append(images / (time.perf_counter() - start))
    return {"samples_per_sec": statistics.median(rates)}


# ---------------------------------------------------------------------- the driver
def run(command, environment=None):
    """Runs ``command`` (a worker that prints one JSON line last, ``peak_mib`` among it), with
    ``environment`` added to this process's."""
    process = subprocess.run(command, capture_output=True, text=True,
                             env=dict(os.environ, **(environment or {})))
    if process.returncode:
        raise RuntimeError(f"{command[:3]} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def peer_command(model_name, batch_size, mnist):
    """The PyTorch peer of ``model_name``, run in a process that adds its peak memory to the
    JSON line the peer prints: the course code (``../shared/peers/torch_vae.py``) for the
    MLP and the ConvVAE, ``torch_vqvae.py`` here for the VQ-VAE."""
    if model_name == "vqvae":
        path, argv = VQ_PEER, [VQ_PEER, mnist, "1", str(batch_size)]
    else:
        path, argv = PEER, ["torch_vae.py", model_name, mnist, "1", str(batch_size)]
        if "sys.argv[4]" not in open(PEER).read():
            raise RuntimeError(f"{PEER} no longer reads its batch size from its fourth "
                               "argument; update this benchmark.")
    code = ("import resource, sys, io, contextlib, json, runpy\n"
            f"sys.argv = {argv!r}\n"
            "buffer = io.StringIO()\n"
            "with contextlib.redirect_stdout(buffer):\n"
            f"    runpy.run_path({path!r}, run_name='__main__')\n"
            "result = json.loads(buffer.getvalue().strip().splitlines()[-1])\n"
            "result['peak_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
            "print(json.dumps(result))\n")
    return [sys.executable, "-c", code]


def self_command(*args):
    return [sys.executable, os.path.abspath(__file__), "--worker", *map(str, args)]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, *rest = sys.argv[2:]
        if kind == "pipeline":
            result = pipeline_worker(int(rest[0]), rest[1])
        else:
            result = keras_worker(kind, int(rest[0]), rest[1], rest[2])
        result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    parser = mnist_parser(__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=["mlp", "conv", "vqvae"],
                        default=["mlp", "conv", "vqvae"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[128, 512])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=["default"])
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    args = parser.parse_args()
    mnist = os.path.abspath(args.mnist)
    if not os.path.isfile(mnist):
        parser.error(f"no MNIST file at {mnist} (default {MNIST})")
    torch = not args.no_torch
    if torch:
        if importlib.util.find_spec("torch") is None:
            parser.error("the PyTorch reference needs torch: pip install torch==2.13.0 "
                         "(or pass --no-torch)")

    results = {}  # (model, batch, contender) -> list of run results
    for round_index in range(args.rounds):
        for model_name in args.models:
            for batch_size in args.batch_sizes:
                contenders = [(v, self_command(model_name, batch_size, v, mnist))
                              for v in args.variants]
                if torch:
                    contenders.insert(0, ("pytorch", peer_command(model_name, batch_size, mnist)))
                for name, command in contenders:
                    result = run(command, VARIANT_ENVIRONMENT.get(name))
                    results.setdefault((model_name, batch_size, name), []).append(result)
                    print(f"round {round_index + 1}: {model_name} batch {batch_size} {name}: "
                          f"{result['samples_per_sec']:.0f} samples/s, "
                          f"{result['peak_mib']:.0f} MiB", flush=True)
        for batch_size in args.batch_sizes:
            result = run(self_command("pipeline", batch_size, mnist))
            results.setdefault(("pipeline", batch_size, "kv.data.load"), []).append(result)

    def median(key, field="samples_per_sec"):
        return statistics.median(r[field] for r in results[key])

    def counted(model_name):
        """Training FLOPs per example of ``model_name`` (keras_vae's count: the PyTorch peer
        runs the same network)."""
        return results[(model_name, args.batch_sizes[0], args.variants[0])][0]["train_flops"]

    print()
    print(f"MNIST 60,000 images, one timed epoch per run after {WARMUP_STEPS} warm-up steps, "
          f"median of {args.rounds} runs; {os.cpu_count()} CPU cores")
    print("| model | batch | contender | samples/s | GFLOP/s | vs PyTorch | peak MiB | last loss |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    fastest_step = {}
    for model_name in args.models:
        for batch_size in args.batch_sizes:
            reference = results.get((model_name, batch_size, "pytorch"))
            base = median((model_name, batch_size, "pytorch")) if reference else None
            flops = counted(model_name)
            for name in (["pytorch"] if reference else []) + args.variants:
                key = (model_name, batch_size, name)
                rate = median(key)
                if name != "pytorch":
                    fastest_step[batch_size] = max(fastest_step.get(batch_size, 0), rate)
                ratio = f"{rate / base:.2f}x" if base else "-"
                label = name if name == "pytorch" else f"keras_vae {name}"
                extra = ""
                if name != "pytorch":
                    first = results[key][0]
                    extra = (f" (jit_compile={first['jit_compile']}, "
                             f"steps_per_execution={first['steps_per_execution']})")
                print(f"| {model_name} | {batch_size} | {label}{extra} | {rate:,.0f} "
                      f"| {rate * flops / 1e9:.0f} | {ratio} "
                      f"| {median(key, 'peak_mib'):.0f} | {results[key][-1]['last_loss']:.2f} |")
    for batch_size in args.batch_sizes:
        rate = median(("pipeline", batch_size, "kv.data.load"))
        need = fastest_step.get(batch_size)
        ratio = f"{rate / need:.1f}x the fastest step" if need else "-"
        print(f"| pipeline alone | {batch_size} | kv.data.load | {rate:,.0f} | {ratio} "
              f"| {median(('pipeline', batch_size, 'kv.data.load'), 'peak_mib'):.0f} | |")
    print("last loss: keras_vae's epoch mean; PyTorch's last batch (nats per example)")
    print("GFLOP/s: samples/s times the counted training work per example "
          f"({TRAIN_PASSES} forward passes of the dense and convolution layers): "
          + ", ".join(f"{m} {counted(m) / 1e6:.1f} MFLOP" for m in args.models))


if __name__ == "__main__":
    main()
