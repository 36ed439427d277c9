import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv
from keras_vae import networks


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 1), (64, 64, 3), (30, 17, 2)])
@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_any_image_shape_round_trips(shape, architecture):
    encoder, decoder = networks.build_encoder_decoder(
        architecture, shape, latent_dim=4, hidden_units=(8,), filters=(4, 8, 8)
    )
    x = np.random.rand(2, *shape).astype("float32")
    mean, log_var = encoder(x)
    assert tuple(mean.shape) == tuple(log_var.shape) == (2, 4)
    assert tuple(decoder(mean).shape) == (2, *shape)


def test_course_mlp_is_784_400_20():
    encoder, decoder = networks.build_encoder_decoder("mlp", (28, 28, 1), 20, hidden_units=(400,))
    dense = [layer for layer in encoder.layers if layer.weights]
    assert [tuple(layer.kernel.shape) for layer in dense] == [(784, 400), (400, 20), (400, 20)]
    dense = [layer for layer in decoder.layers if layer.weights]
    assert [tuple(layer.kernel.shape) for layer in dense] == [(20, 400), (400, 784)]
    # torch: fc1 + mu + logvar / fc3 + fc4
    assert encoder.count_params() == 784 * 400 + 400 + 2 * (400 * 20 + 20)
    assert decoder.count_params() == 20 * 400 + 400 + 400 * 784 + 784


def test_course_conv_vae_layers_and_parameters():
    encoder, decoder = networks.build_encoder_decoder(
        "conv", (28, 28, 1), 128, filters=(32, 64, 128), kernel_size=4
    )
    assert [tuple(s) for s in networks.stage_sizes((28, 28, 1))] == [(28, 28), (14, 14), (7, 7),
                                                                     (3, 3)]
    convs = [layer for layer in encoder.layers if layer.name.startswith("conv_")]
    assert [(layer.filters, layer.kernel_size, layer.strides) for layer in convs] == [
        (32, (4, 4), (2, 2)), (64, (4, 4), (2, 2)), (128, (4, 4), (2, 2))
    ]
    conv_params = (16 * 32 + 32) + (32 * 16 * 64 + 64) + (64 * 16 * 128 + 128)
    assert encoder.count_params() == conv_params + 2 * (1152 * 128 + 128)
    deconv_params = (128 * 16 * 64 + 64) + (64 * 16 * 32 + 32) + (32 * 16 * 1 + 1)
    assert decoder.count_params() == (128 * 1152 + 1152) + deconv_params


def test_dense_units_make_the_burgess_dsprites_network():
    encoder, decoder = networks.build_encoder_decoder(
        "conv", (64, 64, 1), 10, filters=(32, 32, 64, 64), dense_units=(256, 256)
    )
    dense = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Dense)]
    assert [(tuple(layer.kernel.shape), layer.activation.__name__) for layer in dense] == [
        ((1024, 256), "relu"), ((256, 256), "relu"), ((256, 10), "linear"),
        ((256, 10), "linear")]
    dense = [layer for layer in decoder.layers if isinstance(layer, keras.layers.Dense)]
    assert [(tuple(layer.kernel.shape), layer.activation.__name__) for layer in dense] == [
        ((10, 256), "relu"), ((256, 256), "relu"), ((256, 1024), "relu")]
    assert tuple(decoder(np.zeros((2, 10), "float32")).shape) == (2, 64, 64, 1)
    with pytest.raises(ValueError, match="dense_units.*hidden_units"):
        networks.build_encoder_decoder("mlp", (8, 8, 1), 2, dense_units=(4,))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_shape=(28, 28)), "input_shape"),
        (dict(input_shape=(28, 28, 1), dense_units=(0,)), "dense_units"),
        (dict(input_shape=(28, 28, 1), latent_dim=0), "latent_dim"),
        (dict(input_shape=(4, 4, 1), filters=(8, 8, 8, 8)), "below one pixel"),
        (dict(input_shape=(28, 28, 1), filters=()), "filters"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    kwargs = {"latent_dim": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        networks.build_conv_encoder(**kwargs)


def test_unknown_architecture():
    with pytest.raises(ValueError, match="architecture"):
        networks.build_encoder_decoder("resnet", (8, 8, 1), 2)


def _torch_style_encoder(encoder, x, kernel_size):
    """The conv trunk as PyTorch computes it: symmetric padding (k - 1) // 2, stride 2."""
    pad = (kernel_size - 1) // 2
    h = tf.constant(x)
    for layer in (layer for layer in encoder.layers if layer.name.startswith("conv_")):
        h = tf.pad(h, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        h = tf.nn.relu(tf.nn.conv2d(h, layer.kernel, 2, "VALID") + layer.bias)
    return h


def _torch_style_decoder_stages(decoder, h, sizes, kernel_size):
    """Full transposed convolutions cropped by (k - 1) // 2 at the start, to each stage's size."""
    pad = (kernel_size - 1) // 2
    deconvs = [layer for layer in decoder.layers
               if isinstance(layer, keras.layers.Conv2DTranspose)]
    for i, layer in enumerate(deconvs):
        n = h.shape[1:3]
        full = [(s - 1) * 2 + kernel_size for s in n]
        out_channels = layer.kernel.shape[2]
        h = tf.nn.conv2d_transpose(h, layer.kernel, [h.shape[0], *full, out_channels], 2,
                                   "VALID") + layer.bias
        target = sizes[-2 - i]
        h = h[:, pad:pad + target[0], pad:pad + target[1], :]
        if i < len(deconvs) - 1:
            h = tf.nn.relu(h)
    return h


@pytest.mark.parametrize("shape", [(28, 28, 1), (7, 9, 1), (64, 64, 2), (30, 17, 1)])
@pytest.mark.parametrize("kernel_size", [3, 4, 5])
def test_conv_stages_compute_what_pytorch_padding_computes(shape, kernel_size):
    # Stages use padding="same" where it is equivalent (faster) and explicit padding and
    # cropping elsewhere; either way the numbers must be PyTorch's.
    filters = (3, 4)
    encoder, decoder = networks.build_encoder_decoder(
        "conv", shape, latent_dim=2, filters=filters, kernel_size=kernel_size)
    x = np.random.default_rng(0).random((2, *shape)).astype("float32")
    trunk = encoder.get_layer("flatten").input
    features = keras.Model(encoder.inputs, trunk)(x)
    np.testing.assert_allclose(features, _torch_style_encoder(encoder, x, kernel_size),
                               rtol=1e-5, atol=1e-5)
    sizes = networks.stage_sizes(shape, filters, kernel_size)
    bottom = np.random.default_rng(1).random((2, *sizes[-1], filters[-1])).astype("float32")
    reshape = decoder.get_layer("reshape")
    upsample = keras.Model(reshape.output, decoder.outputs[0])
    np.testing.assert_allclose(
        upsample(bottom), _torch_style_decoder_stages(decoder, bottom, sizes, kernel_size),
        rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("normalization", ["batch", "group", "layer", None])
def test_resnet_builder_on_colour_images(normalization):
    encoder, decoder = networks.resnet((32, 32, 3), 6, filters=(8, 16), blocks=1,
                                       normalization=normalization)
    model = kv.VAE(input_shape=(32, 32, 3), encoder=encoder, decoder=decoder, latent_dim=6,
                   likelihood="gaussian")
    x = np.random.default_rng(0).random((4, 32, 32, 3)).astype("float32")
    model.compile(optimizer="adam")
    logs = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"]).all()
    assert tuple(model.reconstruct(x).shape) == (4, 32, 32, 3)
    with pytest.raises(ValueError, match="divisible by 4"):
        networks.resnet((30, 30, 3), 6, filters=(8, 16))
    with pytest.raises(ValueError, match="normalization"):
        networks.resnet((32, 32, 3), 6, normalization="instance")


def test_burgess_network_is_the_dsprites_network():
    encoder, decoder = networks.burgess()
    dense = [layer.units for layer in encoder.layers if isinstance(layer, keras.layers.Dense)]
    convs = [layer.filters for layer in encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [32, 32, 64, 64] and dense == [256, 256, 10, 10]
    assert tuple(decoder.output_shape[1:]) == (64, 64, 1)


def test_gru_vae_learns_synthetic_sequences():
    # Sine waves of random phase and frequency, two features: a VRAE must reconstruct them far
    # better than their variance.
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, 12)
    phase, freq = rng.uniform(0, 2 * np.pi, (256, 1)), rng.uniform(0.5, 1.5, (256, 1))
    x = np.stack([np.sin(freq * t + phase), np.cos(freq * t + phase)], -1).astype("float32")
    keras.utils.set_random_seed(0)
    model = kv.VAE(input_shape=(12, 2), architecture="gru", hidden_units=(32,), latent_dim=2,
                   likelihood="gaussian", likelihood_scale="learned", seed=0)
    assert model.data_range == "real"
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, batch_size=32, epochs=30, verbose=0)
    error = np.mean((np.asarray(model.reconstruct(x)) - x) ** 2)
    assert error < 0.2 * np.var(x)
    with pytest.raises(ValueError, match=r"sequences: input_shape must be \(steps, features\)"):
        kv.VAE(input_shape=(8, 8, 1), architecture="gru")
