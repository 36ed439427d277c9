"""VectorQuantizer, PixelCNN and VQVAE: each behaviour against a value worked out by hand."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv
from keras_vae.layers import MaskedConv2D
from keras_vae.layers import VectorQuantizer
from keras_vae.layers import kmeans
from keras_vae.layers.vector_quantizer import code_statistics
from keras_vae.models.priors import CodePrior


def quantizer_with(codebook, **kwargs):
    codebook = np.asarray(codebook, "float32")
    vq = VectorQuantizer(codebook.shape[0], codebook.shape[1], **kwargs)
    vq.set_codebook(codebook)
    return vq


# ---------------------------------------------------------------------- quantization
def test_nearest_code_matches_brute_force():
    rng = np.random.default_rng(0)
    codebook = rng.normal(size=(37, 5)).astype("float32")
    z = rng.normal(size=(6, 4, 3, 5)).astype("float32") * 2
    vq = quantizer_with(codebook)
    out = vq(z)
    brute = np.argmin(((z[..., None, :] - codebook) ** 2).sum(-1), axis=-1)
    np.testing.assert_array_equal(out["codes"].numpy(), brute)
    np.testing.assert_allclose(out["quantized"].numpy(), codebook[brute], atol=1e-6)
    np.testing.assert_allclose(vq.lookup(out["codes"]).numpy(), codebook[brute])


@pytest.mark.parametrize("scale", [1e2, 1e3, 1e4])
@pytest.mark.parametrize("layout", ["cluster far from the origin", "spread codebook"])
def test_nearest_code_is_exact_at_any_magnitude(scale, layout):
    # float64 brute force on the float32 values: the expanded |x|^2 - 2x.e + |e|^2 form
    # alone picks a wrong code for a quarter of these vectors at 1e3
    rng = np.random.default_rng(0)
    num_codes, dim = 64, 8
    if layout == "spread codebook":
        codes = scale * rng.normal(size=(num_codes, dim))
        x = codes[rng.integers(0, num_codes, 2000)] + rng.normal(size=(2000, dim))
    else:
        centre = scale * rng.normal(size=(1, dim))
        codes = centre + rng.normal(size=(num_codes, dim))
        x = centre + rng.normal(size=(2000, dim))
    quantizer = VectorQuantizer(num_codes, dim, ema_decay=None)
    quantizer.build((None, dim))
    quantizer.embeddings.assign(codes.astype("float32"))
    x = x.astype("float32")
    distances = ((x.astype("float64")[:, None] - codes.astype("float32")[None]) ** 2).sum(-1)
    got = quantizer.nearest(tf.constant(x)).numpy()
    rows = np.arange(len(x))
    np.testing.assert_array_equal(distances[rows, got], distances.min(axis=1))


def test_straight_through_passes_the_gradient_unchanged():
    vq = quantizer_with(np.eye(3))
    z = tf.constant(np.random.default_rng(1).normal(size=(2, 2, 2, 3)).astype("float32"))
    upstream = tf.constant(np.random.default_rng(2).normal(size=(2, 2, 2, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(z)
        quantized = vq(z)["quantized"]
        downstream = tf.reduce_sum(quantized * upstream)  # a "decoder loss" with gradient upstream
    np.testing.assert_allclose(tape.gradient(downstream, z).numpy(), upstream.numpy())


def test_codebook_and_commitment_losses_by_hand():
    # Codes 0 -> (0, 0) and 1 -> (4, 0); inputs (1, 0) -> code 0, (3, 1) -> code 1.
    vq = quantizer_with([[0.0, 0.0], [4.0, 0.0]], commitment_cost=0.25)
    z = np.array([[[1.0, 0.0], [3.0, 1.0]]], "float32")  # one example, a 1x2 "grid"
    out = vq(z)
    # |z - e|^2 summed over the example: 1 + (1 + 1) = 3.
    np.testing.assert_allclose(out["codebook_loss"].numpy(), [3.0])
    np.testing.assert_allclose(out["commitment_loss"].numpy(), [3.0])
    np.testing.assert_allclose(out["vq_loss"].numpy(), [3.0 + 0.25 * 3.0])
    # The codebook loss moves only the codebook, the commitment loss only the encoder.
    zt = tf.constant(z)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(zt)
        out = vq(zt)
        codebook, commitment = out["codebook_loss"][0], out["commitment_loss"][0]
    assert tape.gradient(codebook, zt) is None or not np.any(tape.gradient(codebook, zt))
    assert tape.gradient(commitment, vq.embeddings) is None
    np.testing.assert_allclose(tape.gradient(commitment, zt).numpy(),
                               2 * (z - np.array([[[0.0, 0.0], [4.0, 0.0]]])))
    np.testing.assert_allclose(tf.convert_to_tensor(tape.gradient(codebook, vq.embeddings)),
                               [[-2.0, 0.0], [2.0, -2.0]])


def test_ema_update_by_hand():
    decay, eps = 0.5, 0.01
    vq = quantizer_with([[0.0], [10.0]], ema_decay=decay, epsilon=eps)
    assert not vq.embeddings.trainable
    z = np.array([[[1.0], [3.0], [2.0]]], "float32")  # all three pick code 0
    out = vq(z, training=True)
    # n = (3, 0), s = (6, 0); counts start at 1, sums at the codebook.
    counts = np.array([0.5 * 1 + 0.5 * 3, 0.5 * 1 + 0.5 * 0])  # (2.0, 0.5)
    sums = np.array([0.5 * 0 + 0.5 * 6, 0.5 * 10 + 0.5 * 0])  # (3.0, 5.0)
    total = counts.sum()
    smoothed = (counts + eps) / (total + 2 * eps) * total
    np.testing.assert_allclose(vq.ema_counts.numpy(), counts, rtol=1e-6)
    np.testing.assert_allclose(vq.ema_sums.numpy()[:, 0], sums, rtol=1e-6)
    np.testing.assert_allclose(vq.embeddings.numpy()[:, 0], sums / smoothed, rtol=1e-6)
    # The codebook term is reported but not part of the loss under EMA.
    np.testing.assert_allclose(out["vq_loss"].numpy(), 0.25 * out["commitment_loss"].numpy())
    # Not training: no update.
    before = vq.embeddings.numpy().copy()
    vq(z, training=False)
    np.testing.assert_array_equal(vq.embeddings.numpy(), before)


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_dead_codes_are_reseeded_from_the_batch(ema_decay):
    far = [[100.0, 100.0], [-100.0, 100.0]]
    vq = quantizer_with([[0.0, 0.0], [1.0, 1.0], *far], dead_code_steps=2, seed=3,
                        ema_decay=ema_decay)
    z = np.random.default_rng(0).uniform(0.0, 1.0, size=(4, 3, 3, 2)).astype("float32")
    vq(z, training=True)
    np.testing.assert_array_equal(vq.unused_steps.numpy()[2:], [1.0, 1.0])
    np.testing.assert_allclose(vq.embeddings.numpy()[2:], far, rtol=1e-4)  # one unused step: kept
    vq(z, training=True)
    rows = z.reshape(-1, 2)
    for code in vq.embeddings.numpy()[2:]:  # two unused steps: re-seeded with batch vectors
        assert np.min(np.abs(rows - code).sum(axis=1)) < 1e-5
    np.testing.assert_array_equal(vq.unused_steps.numpy()[2:], [0.0, 0.0])
    assert float(vq.num_resets.numpy()) == 2.0


def test_perplexity_of_uniform_and_one_hot_usage():
    perplexity, usage = code_statistics(np.array([7.0, 7.0, 7.0, 7.0]))
    assert float(perplexity) == pytest.approx(4.0) and float(usage) == 1.0
    perplexity, usage = code_statistics(np.array([0.0, 12.0, 0.0, 0.0]))
    assert float(perplexity) == pytest.approx(1.0) and float(usage) == 0.25
    stats = kv.evaluation.codebook_stats([5, 5, 0, 0])
    assert stats == {"codebook_usage": 0.5, "perplexity": 2.0, "entropy_bits": 1.0,
                     "codes_used": 2, "num_embeddings": 4}
    # The layer computes them for a batch of codes; its outputs are per example only.
    vq = quantizer_with([[0.0], [1.0], [2.0], [3.0]])
    out = vq(np.array([[[0.0], [1.0], [2.0], [3.0]], [[0.0], [0.0], [0.0], [0.0]]], "float32"))
    assert all(value.shape[0] == 2 for value in out.values())
    perplexity, usage = vq.batch_statistics(out["codes"])
    assert float(usage) == 1.0 and float(perplexity) == pytest.approx(
        np.exp(-(5 / 8 * np.log(5 / 8) + 3 * (1 / 8) * np.log(1 / 8))))


def test_kmeans_initialisation_finds_the_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0]], "float32")
    points = np.concatenate([c + 0.1 * rng.normal(size=(50, 2)) for c in centres]).astype("float32")
    found = np.asarray(kmeans(points, 3, seed=1))
    for c in centres:
        assert np.min(np.linalg.norm(found - c, axis=1)) < 0.1

    model = kv.VQVAE(input_shape=(8, 8, 1), num_embeddings=4, embedding_dim=2, filters=(4,),
                     ema_decay=0.9, seed=0)
    x = rng.random((64, 8, 8, 1)).astype("float32")
    model.initialize_codebook(x, num_batches=1)
    z_e = model.encode(x, return_z_e=True)[1].numpy().reshape(-1, 2)
    expected = np.asarray(kmeans(z_e, 4, seed=0))
    np.testing.assert_allclose(model.quantizer.embeddings.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(model.quantizer.ema_sums.numpy(), expected, atol=1e-5)


def test_quantizer_errors_name_the_problem():
    vq = VectorQuantizer(4, 3)
    with pytest.raises(ValueError, match="has 5 channels but the codebook's embedding_dim is 3"):
        vq(np.zeros((1, 2, 2, 5), "float32"))
    with pytest.raises(ValueError, match="ema_decay"):
        VectorQuantizer(4, 3, ema_decay=1.0)
    with pytest.raises(ValueError, match="num_embeddings"):
        VectorQuantizer(0, 3)
    with pytest.raises(ValueError, match="shape"):
        vq.set_codebook(np.zeros((3, 3)))


# ---------------------------------------------------------------------- PixelCNN
def test_masked_convolutions_are_causal():
    prior = kv.priors.PixelCNN(grid_shape=(4, 5), num_embeddings=6, filters=8, num_blocks=3,
                               first_kernel_size=5, seed=0)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 6, (1, 4, 5)).astype("int32")
    logits = prior(base).numpy().reshape(20, 6)
    for j in range(20):
        changed = base.copy().reshape(-1)
        changed[j] = (changed[j] + 1) % 6
        new = prior(changed.reshape(1, 4, 5)).numpy().reshape(20, 6)
        # Positions up to and including j never see position j ...
        np.testing.assert_array_equal(new[: j + 1], logits[: j + 1])
    # ... and the stack does see the past (it is not constant): position (1, 1) depends on (0, 0).
    changed = base.copy()
    changed[0, 0, 0] = (changed[0, 0, 0] + 1) % 6
    assert not np.allclose(prior(changed).numpy()[0, 1, 1], logits.reshape(4, 5, 6)[1, 1])
    with pytest.raises(ValueError, match="odd"):
        MaskedConv2D("A", 4, 4)


@pytest.mark.parametrize("condition", ["none", "label", "grid"])
@pytest.mark.parametrize("architecture", ["pixelcnn", "transformer"])
def test_sampling_steps_read_only_what_their_position_sees(architecture, condition):
    # Each sampling step runs the network on what its position can see (a PixelCNN: 4 of the
    # 9 rows here; a Transformer: the positions up to it); its logits must equal the whole
    # grid's, so samples are those of whole-grid forward passes.
    kwargs = {"none": {}, "label": {"num_classes": 3},
              "grid": {"condition_shape": (2, 2), "condition_embeddings": 5}}[condition]
    if architecture == "pixelcnn":
        prior = kv.priors.PixelCNN(grid_shape=(9, 3), num_embeddings=6, filters=8,
                                   num_blocks=2, first_kernel_size=3, seed=0, **kwargs)
        assert prior.receptive_rows == 3
    else:
        prior = kv.priors.TransformerPrior(grid_shape=(9, 3), num_embeddings=6, units=8,
                                           num_layers=2, num_heads=2, seed=0, **kwargs)
    rng = np.random.default_rng(0)
    codes = tf.constant(rng.integers(0, 6, (4, 9, 3)), tf.int32)
    cond = {"none": None, "label": tf.constant([0, 1, 2, 1]),
            "grid": tf.constant(rng.integers(0, 5, (4, 2, 2)), tf.int32)}[condition]
    full = prior.forward(codes, cond).numpy().reshape(4, 27, 6)
    context = prior.sampling_context(cond)
    for t in range(27):
        np.testing.assert_allclose(prior.position_logits(codes, context, t).numpy(),
                                   full[:, t], rtol=1e-5, atol=1e-5)
    # The whole-grid step of the base class gives the same draws.
    whole = type(prior).from_config(prior.get_config())
    whole.set_weights(prior.get_weights())
    whole.position_logits = functools.partial(CodePrior.position_logits, whole)
    arg = 5 if cond is None else cond
    np.testing.assert_array_equal(prior.sample(arg, seed=3).numpy(),
                                  whole.sample(arg, seed=3).numpy())


def test_pixelcnn_learns_a_deterministic_pattern_and_samples_it():
    # Every grid is the same checkerboard: after training, sampling reproduces it.
    grid = (np.indices((3, 3)).sum(0) % 2).astype("int32")
    data = np.repeat(grid[None], 64, axis=0)
    prior = kv.priors.PixelCNN(grid_shape=(3, 3), num_embeddings=2, filters=16, num_blocks=2,
                               first_kernel_size=3, seed=0)
    prior.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = prior.fit(data, epochs=30, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.05
    samples = prior.sample(8, seed=1).numpy()
    assert (samples == grid).mean() > 0.95
    np.testing.assert_array_equal(samples, prior.sample(8, seed=1).numpy())
    assert float(np.mean(prior.log_prob(data[:4]))) > -0.5


def test_class_conditional_prior_follows_the_label():
    grids = np.stack([np.zeros((2, 2), "int32"), np.full((2, 2), 3, "int32")])
    labels = np.tile([0, 1], 32).astype("int32")
    prior = kv.priors.PixelCNN(grid_shape=(2, 2), num_embeddings=4, num_classes=2, filters=16,
                               num_blocks=1, first_kernel_size=3, seed=0)
    prior.compile(optimizer=keras.optimizers.Adam(1e-2))
    prior.fit(grids[labels], labels, epochs=30, batch_size=32, verbose=0)
    samples = prior.sample(np.array([0, 1, 0, 1]), seed=0).numpy()
    np.testing.assert_array_equal(samples, grids[[0, 1, 0, 1]])
    with pytest.raises(ValueError, match="pass one label per grid"):
        prior.sample(4)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        prior.sample(np.array([2]))


def test_pixelcnn_errors_name_the_problem():
    prior = kv.priors.PixelCNN(grid_shape=(2, 2), num_embeddings=4, filters=4, num_blocks=1)
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 4\)"):
        prior(np.full((1, 2, 2), 4, "int32"))
    with pytest.raises(ValueError, match=r"codes must have shape \(None, 2, 2\)"):
        prior(np.zeros((1, 3, 2), "int32"))
    with pytest.raises(ValueError, match="integers"):
        prior(np.zeros((1, 2, 2), "float32"))
    with pytest.raises(ValueError, match="unconditional"):
        prior.compile(optimizer="adam") or prior.fit(np.zeros((4, 2, 2), "int32"),
                                                     np.zeros(4, "int32"), verbose=0)


# ---------------------------------------------------------------------- VQVAE
def tiny_vqvae(**kwargs):
    return kv.VQVAE(input_shape=(8, 8, 1), num_embeddings=8, embedding_dim=3, filters=(4,),
                    seed=0, **kwargs)


def test_vqvae_errors_name_the_problem():
    model = tiny_vqvae()
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 8\)"):
        model.decode(np.full((1, 4, 4), 9, "int32"))
    with pytest.raises(ValueError, match=r"codes must have shape \(None, 4, 4\)"):
        model.decode(np.zeros((1, 3, 3), "int32"))
    with pytest.raises(ValueError, match="needs a prior"):
        model.sample(2)
    with pytest.raises(ValueError, match=r"models \(3, 3\) code grids but this VQVAE's grid is "
                                         r"\(4, 4\)"):
        model.attach_prior(kv.priors.PixelCNN(grid_shape=(3, 3), num_embeddings=8))
    with pytest.raises(ValueError, match="prior has 5 codes"):
        model.attach_prior(kv.priors.PixelCNN(grid_shape=(4, 4), num_embeddings=5))
    with pytest.raises(ValueError, match="shrink"):
        kv.VQVAE(input_shape=(4, 4, 1), filters=(8, 8, 8, 8))
    with pytest.raises(ValueError, match="labelled data"):
        model.fit_prior(np.zeros((4, 8, 8, 1), "float32"), conditional=True)


def test_vqvae_learns_and_the_prior_trains_on_its_codes():
    rng = np.random.default_rng(0)
    x = (rng.random((128, 8, 8, 1)) > 0.5).astype("float32")
    model = tiny_vqvae(ema_decay=0.9)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(x, epochs=4, batch_size=32, verbose=0)
    losses = history.history["reconstruction_loss"]
    assert losses[-1] < losses[0]
    kl = history.history["kl_loss"][-1]
    assert kl == pytest.approx(16 * np.log(8), rel=1e-5)  # H'W' log K: the uniform prior
    counts = kv.evaluation.code_counts(model, x)
    assert counts.sum() == 128 * 16
    codes, labels = model.codes_of((x, np.arange(128) % 2))
    assert codes.shape == (128, 4, 4) and labels.tolist() == (np.arange(128) % 2).tolist()
    model.fit_prior((x, np.arange(128) % 2), epochs=1, batch_size=32, verbose=0,
                    filters=8, num_blocks=1)
    assert model.prior.conditional and model.prior.num_classes == 2
    assert model.sample(np.array([0, 1]), seed=0).shape == (2, 8, 8, 1)
    # The VQ-VAE's optimizer never touches the prior.
    before = [w.numpy().copy() for w in model.prior.weights]
    model.fit(x, epochs=1, batch_size=32, verbose=0)
    for a, b in zip(before, model.prior.weights):
        np.testing.assert_array_equal(a, b.numpy())
