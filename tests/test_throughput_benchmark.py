"""benchmarks/throughput.py's counted work, its PyTorch VQ-VAE peer and its variants' worker
environment."""

import os
import sys

import pytest

import keras_vae as kv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import throughput  # noqa: E402


def test_forward_flops_count_dense_and_convolution_layers():
    mlp = kv.VAE(input_shape=(28, 28, 1), latent_dim=20)  # 784-400-(20+20); 20-400-784
    assert throughput.forward_flops(mlp) == 2 * (784 * 400 + 400 * 40 + 20 * 400 + 400 * 784)
    conv = kv.VAE(input_shape=(28, 28, 1), latent_dim=128, architecture="conv")
    # Multiply-adds: each conv per output position, each transposed conv per input position.
    encoder = 14 * 14 * 16 * 1 * 32 + 7 * 7 * 16 * 32 * 64 + 3 * 3 * 16 * 64 * 128
    decoder = 3 * 3 * 16 * 128 * 64 + 7 * 7 * 16 * 64 * 32 + 14 * 14 * 16 * 32 * 1
    dense = 1152 * 256 + 128 * 1152
    assert throughput.forward_flops(conv) == 2 * (encoder + decoder + dense)


def test_the_pytorch_vq_peer_has_the_same_network():
    pytest.importorskip("torch")
    import torch_vqvae

    model = kv.VQVAE(input_shape=(28, 28, 1), num_embeddings=128, embedding_dim=16)
    peer = torch_vqvae.VQVAE()
    assert sum(p.numel() for p in peer.parameters()) == sum(
        int(w.numpy().size) for w in model.trainable_weights)
    assert tuple(peer.embeddings.shape) == (128, 16)
    import torch

    logits, commitment = peer(torch.zeros(2, 1, 28, 28))
    assert tuple(logits.shape) == (2, 1, 28, 28) and tuple(commitment.shape) == (2,)


def test_conv_layers_finds_every_convolution_and_times_each_gradient():
    import conv_layers

    layers = conv_layers.network_layers("conv")
    assert [(s["kind"], s["input"], s["output"]) for s in layers] == [
        ("conv", [28, 28, 1], [14, 14, 32]), ("conv", [14, 14, 32], [7, 7, 64]),
        ("conv", [9, 9, 64], [3, 3, 128]), ("deconv", [3, 3, 128], [8, 8, 64]),
        ("deconv", [7, 7, 64], [14, 14, 32]), ("deconv", [14, 14, 32], [28, 28, 1])]
    # Each column is timed, and the worker's layer gives the network's output shape.
    for spec in layers[2:4]:
        for polyphase in (False, True):
            result = conv_layers.tf_worker(spec, batch=2, reps=1, polyphase=polyphase)
            assert result["shape"] == spec["output"]
            assert all(result[column] > 0 for column in conv_layers.COLUMNS)
    burgess = conv_layers.network_layers("shapes")
    assert burgess[0]["input"] == [64, 64, 1] and len(burgess) == 8


def test_conv_layers_pytorch_layer_gives_the_same_output_shape():
    pytest.importorskip("torch")
    import conv_layers

    for spec in conv_layers.network_layers("conv"):
        result = conv_layers.torch_worker(spec, batch=2, reps=1)
        # PyTorch's padding cannot give TensorFlow's 'same' output for an odd input.
        if spec["padding"] == "valid" or spec["input"][0] % 2 == 0:
            assert result["shape"] == spec["output"], spec


def test_a_variants_environment_reaches_its_worker_process():
    """The oneDNN variants' variable must be in the worker's environment when it starts
    (TensorFlow reads it at import), so the driver passes it to the process."""
    assert set(throughput.VARIANT_ENVIRONMENT) <= set(throughput.VARIANTS)
    report = [sys.executable, "-c", "import json, os; "
              "print(json.dumps({'value': os.environ.get('TF_ENABLE_ONEDNN_OPTS')}))"]
    for variant, expected in (("onednn", "1"), ("no-onednn", "0")):
        result = throughput.run(report, throughput.VARIANT_ENVIRONMENT.get(variant))
        assert result == {"value": expected}
