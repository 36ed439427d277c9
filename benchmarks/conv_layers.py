"""Speed, layer by layer: where a conv model's training step spends its time, against PyTorch.

Usage: python benchmarks/conv_layers.py [--models conv vqvae shapes] [--batch-size 128]
       [--rounds 3] [--reps 20] [--no-torch]

For every convolution and transposed convolution of a keras_vae network (``conv``: the
ConvVAE of ``benchmarks/throughput.py``, 32-64-128 on MNIST, z 128; ``vqvae``: kv.VQVAE's
defaults on MNIST; ``shapes``: Burgess et al.'s network on 64x64 images, as the
disentanglement benchmark trains it), times, at one batch size, in fresh processes and
interleaved over the rounds:
  fwd  the layer's forward pass;
  dx   forward and the gradient with respect to the layer's input only;
  dk   forward and the gradient with respect to its kernel (and bias) only;
for keras_vae's layer as a TensorFlow graph function (what ``fit`` runs on a CPU for conv
models) and for the same layer in eager PyTorch (same kernel, strides and channels; padding
chosen to give the same output size where PyTorch can, else the nearest: the table shows
both output shapes). The printed table has the median milliseconds per call and the
TF / PyTorch ratio per column, so a slow op shows up by name (e.g. TensorFlow's
Conv2DBackpropInput, which runs the transposed convolutions' forward pass and the
convolutions' input gradient).
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

import throughput

MODELS = ("conv", "vqvae", "shapes")
COLUMNS = ("fwd", "dx", "dk")


def network_layers(model_name):
    """The network's convolutions as dicts: kind, input shape (H, W, C), filters, kernel,
    strides, padding and TensorFlow's output shape."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    import keras_vae as kv

    if model_name == "shapes":
        encoder, decoder = kv.networks.burgess((64, 64, 1), 10)
        model = kv.VAE(input_shape=(64, 64, 1), latent_dim=10, encoder=encoder,
                       decoder=decoder)
    else:
        model = throughput.build_model(model_name)

    found = []
    for layer in throughput.nested_layers(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            found.append({
                "kind": "deconv" if isinstance(layer, keras.layers.Conv2DTranspose) else "conv",
                "input": [int(d) for d in layer.input.shape[1:]],
                "output": [int(d) for d in layer.output.shape[1:]],
                "filters": int(layer.filters), "kernel": list(layer.kernel_size),
                "strides": list(layer.strides), "padding": layer.padding})
    return found


def timed(function, reps):
    for _ in range(3):
        function()
    start = time.perf_counter()
    for _ in range(reps):
        function()
    return (time.perf_counter() - start) / reps * 1e3


def tf_worker(spec, batch, reps, polyphase=False):
    import keras
    import tensorflow as tf

    import keras_vae as kv

    kind = {"conv": (keras.layers.Conv2D, kv.layers.PolyphaseConv2D),
            "deconv": (keras.layers.Conv2DTranspose, kv.layers.PolyphaseConv2DTranspose),
            }[spec["kind"]][polyphase]
    layer = kind(spec["filters"], spec["kernel"], strides=spec["strides"],
                 padding=spec["padding"])
    x = tf.random.stateless_normal([batch, *spec["input"]], [0, 0])
    dy = tf.random.stateless_normal(layer(x).shape, [0, 1])

    @tf.function
    def fwd():
        return layer(x)

    @tf.function
    def dx():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(layer(x) * dy)
        return tape.gradient(y, x)

    @tf.function
    def dk():
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(layer(x) * dy)
        return tape.gradient(y, layer.trainable_weights)

    return {"fwd": timed(lambda: fwd().numpy(), reps), "dx": timed(lambda: dx().numpy(), reps),
            "dk": timed(lambda: [g.numpy() for g in dk()], reps),
            "shape": list(layer(x).shape[1:])}


def torch_worker(spec, batch, reps):
    import torch

    torch.set_num_threads(os.cpu_count())
    (h, w, cin), k, s = spec["input"], spec["kernel"], spec["strides"]
    pad = [(kk - ss) // 2 if spec["padding"] == "same" else 0 for kk, ss in zip(k, s)]
    if spec["kind"] == "deconv":
        layer = torch.nn.ConvTranspose2d(cin, spec["filters"], k, s, pad)
    else:
        layer = torch.nn.Conv2d(cin, spec["filters"], k, s, pad)
    x = torch.randn(batch, cin, h, w)
    dy = torch.randn(layer(x).shape)

    def fwd():
        with torch.no_grad():
            layer(x)

    def backward(wrt_input):
        x.requires_grad_(wrt_input)
        for p in layer.parameters():
            p.requires_grad_(not wrt_input)

        def run():
            x.grad = None
            layer.zero_grad()
            layer(x).backward(dy)
        return run

    shape = list(layer(x).shape)
    return {"fwd": timed(fwd, reps), "dx": timed(backward(True), reps),
            "dk": timed(backward(False), reps), "shape": [shape[2], shape[3], shape[1]]}


def run_worker(framework, spec, batch, reps):
    command = [sys.executable, os.path.abspath(__file__), "--worker", framework,
               json.dumps(spec), str(batch), str(reps)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{framework} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        framework, spec, batch, reps = sys.argv[2:]
        args = json.loads(spec), int(batch), int(reps)
        result = (torch_worker(*args) if framework == "torch"
                  else tf_worker(*args, polyphase=framework == "polyphase"))
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=["conv"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch layers")
    parser.add_argument("--polyphase", action="store_true",
                        help="also time kv.layers' Polyphase layers (keras_vae/layers/"
                             "polyphase.py) in place of Keras's")
    args = parser.parse_args()
    torch = not args.no_torch
    if torch and importlib.util.find_spec("torch") is None:
        parser.error("the PyTorch layers need torch: pip install torch==2.13.0 "
                     "(or pass --no-torch)")
    ours = ["tf", "polyphase"] if args.polyphase else ["tf"]
    frameworks = ours + (["torch"] if torch else [])
    layers = {name: network_layers(name) for name in args.models}
    times = {}  # (model, index, framework) -> [result per round]
    for round_index in range(args.rounds):
        for name, specs in layers.items():
            for index, spec in enumerate(specs):
                for framework in frameworks:
                    result = run_worker(framework, spec, args.batch_size, args.reps)
                    times.setdefault((name, index, framework), []).append(result)
        print(f"round {round_index + 1} of {args.rounds} done", flush=True)

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from tests.machine import cpu_and_cores

    print(f"\nms per call at batch {args.batch_size}, median of {args.rounds} rounds of "
          f"{args.reps} calls; {cpu_and_cores()}")
    label = {"tf": "TF", "polyphase": "polyphase", "torch": "torch"}
    head = "| model | layer | in -> out (" + " / ".join(label[f] for f in frameworks) + ") |"
    for column in COLUMNS:
        head += "".join(f" {column} {label[f]} |" for f in frameworks)
        if torch:
            head += "".join(f" {label[f]} / torch |" for f in ours)
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for name, specs in layers.items():
        for index, spec in enumerate(specs):
            runs = {f: times[(name, index, f)] for f in frameworks}
            cells = []
            for column in COLUMNS:
                medians = {f: statistics.median(r[column] for r in runs[f]) for f in frameworks}
                cells += [f"{medians[f]:.2f}" for f in frameworks]
                if torch:
                    cells += [f"{medians[f] / medians['torch']:.2f}x" for f in ours]
            shapes = "x".join(map(str, spec["input"])) + " -> " + " / ".join(
                "x".join(map(str, runs[f][0]["shape"])) for f in frameworks)
            kind = f"{spec['kind']} k{spec['kernel'][0]} s{spec['strides'][0]} {spec['padding']}"
            print(f"| {name} | {kind} | {shapes} | " + " | ".join(cells) + " |")
    print("fwd: forward; dx: forward + gradient w.r.t. the input; dk: forward + gradient "
          "w.r.t. the kernel and bias. X / torch: above 1, X is slower than PyTorch")


if __name__ == "__main__":
    main()
