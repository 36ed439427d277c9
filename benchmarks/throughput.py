"""Speed: keras_vae's default ``fit`` against the PyTorch course code, side by side in one run.

Usage: python benchmarks/throughput.py [--models mlp conv vqvae] [--batch-sizes 128 512]
       [--rounds 3] [--variants default eager-graph] [--mnist PATH]

For each model and batch size, every round runs, each in a fresh process, one after another:
the PyTorch reference (``../shared/peers/torch_vae.py``: the course's 784-400-20 MLP VAE and
its ConvVAE, eager CPU training; it needs ``pip install torch==2.13.0``) and keras_vae with
each --variant. A run trains 50 warm-up steps, then one timed epoch over the 60,000 MNIST
training images in full batches (scaled to [0, 1], Bernoulli likelihood, Adam 1e-3; the
last, partial batch is dropped, as PyTorch's loop drops it), and reports samples/s;
the table gives the median over the rounds, the peak resident memory of the process, and
the ratio to PyTorch. Rounds interleave the contenders so that drift in this machine's speed
hits them alike.

Variants of keras_vae (compile arguments; the package's defaults are what users get):
    default      ``model.compile(optimizer)`` with nothing else
    graph        ``jit_compile=False, steps_per_execution=1`` (Keras's own CPU default)
    xla          ``jit_compile=True, steps_per_execution=1``

The VQ-VAE (kv.VQVAE defaults, K=128, D=16) has no PyTorch peer; its row shows keras_vae
alone. The pipeline row times ``kv.data.load`` alone (no model): images/s it delivers,
against what the fastest training step consumes (target >= 10x).

PyTorch's peer fixes its batch at 128; for other batch sizes this script runs the same file
with that one constant changed (the line ``B = 128``), nothing else.
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
WARMUP_STEPS = 50

VARIANTS = {
    "default": {},
    "graph": {"jit_compile": False, "steps_per_execution": 1},
    "xla": {"jit_compile": True, "steps_per_execution": 1},
}


# ---------------------------------------------------------------------- workers (one process)
def keras_worker(model_name, batch_size, variant, mnist):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    import keras_vae as kv

    keras.utils.set_random_seed(0)
    if model_name == "mlp":
        model = kv.VAE(input_shape=(28, 28, 1), latent_dim=20)  # 784-400-20
    elif model_name == "conv":
        model = kv.VAE(input_shape=(28, 28, 1), latent_dim=128, architecture="conv")
    else:
        model = kv.VQVAE(input_shape=(28, 28, 1), num_embeddings=128, embedding_dim=16)
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
def run(command):
    """Runs ``command`` (a worker that prints one JSON line last, ``peak_mib`` among it)."""
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode:
        raise RuntimeError(f"{command[:3]} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def peer_command(model_name, batch_size, mnist):
    source = open(PEER).read()
    if source.count("B = 128\n") != 1:
        raise RuntimeError(f"{PEER} no longer has one `B = 128` line; update this benchmark.")
    source = source.replace("B = 128\n", f"B = {batch_size}\n")
    code = ("import resource, sys, io, contextlib, json\n"
            f"sys.argv = ['torch_vae.py', {model_name!r}, {mnist!r}, '1']\n"
            "buffer = io.StringIO()\n"
            "with contextlib.redirect_stdout(buffer):\n"
            f"    exec(compile({source!r}, 'torch_vae.py', 'exec'))\n"
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
                if torch and model_name != "vqvae":
                    contenders.insert(0, ("pytorch", peer_command(model_name, batch_size, mnist)))
                for name, command in contenders:
                    result = run(command)
                    results.setdefault((model_name, batch_size, name), []).append(result)
                    print(f"round {round_index + 1}: {model_name} batch {batch_size} {name}: "
                          f"{result['samples_per_sec']:.0f} samples/s, "
                          f"{result['peak_mib']:.0f} MiB", flush=True)
        for batch_size in args.batch_sizes:
            result = run(self_command("pipeline", batch_size, mnist))
            results.setdefault(("pipeline", batch_size, "kv.data.load"), []).append(result)

    def median(key, field="samples_per_sec"):
        return statistics.median(r[field] for r in results[key])

    print()
    print(f"MNIST 60,000 images, one timed epoch per run after {WARMUP_STEPS} warm-up steps, "
          f"median of {args.rounds} runs; {os.cpu_count()} CPU cores")
    print("| model | batch | contender | samples/s | vs PyTorch | peak MiB | last loss |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    fastest_step = {}
    for model_name in args.models:
        for batch_size in args.batch_sizes:
            reference = results.get((model_name, batch_size, "pytorch"))
            base = median((model_name, batch_size, "pytorch")) if reference else None
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
                print(f"| {model_name} | {batch_size} | {label}{extra} | {rate:,.0f} | {ratio} "
                      f"| {median(key, 'peak_mib'):.0f} | {results[key][-1]['last_loss']:.2f} |")
    for batch_size in args.batch_sizes:
        rate = median(("pipeline", batch_size, "kv.data.load"))
        need = fastest_step.get(batch_size)
        ratio = f"{rate / need:.1f}x the fastest step" if need else "-"
        print(f"| pipeline alone | {batch_size} | kv.data.load | {rate:,.0f} | {ratio} "
              f"| {median(('pipeline', batch_size, 'kv.data.load'), 'peak_mib'):.0f} | |")
    print("last loss: keras_vae's epoch mean; PyTorch's last batch (nats per example)")


if __name__ == "__main__":
    main()
