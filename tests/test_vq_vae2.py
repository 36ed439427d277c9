"""The VQ-VAE-2 (two code levels, a two-level prior) and the code priors it introduced: the
grid-conditioned PixelCNN and the Transformer prior. The registry's conformance tests
(tests/registry.py: config, .keras, export, distribution, precision) cover both VQ-VAE-2
entries; these check what is particular to them."""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv
from keras_vae import cli

K = 6


def tiny(**kwargs):
    keras.utils.set_random_seed(0)  # initial weights: the checks below do not depend on order
    return kv.VQVAE2(input_shape=(8, 8, 1), num_embeddings=K, embedding_dim=3, filters=(4,),
                     top_filters=(4,), residual_blocks=0, seed=0, **kwargs)


def images(n=16, seed=0):
    return np.random.default_rng(seed).random((n, 8, 8, 1)).astype("float32")


def trained(epochs=3):
    model = tiny()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(images(64), epochs=epochs, batch_size=16, verbose=0)
    return model


def upsampled(top):
    """The 4x4 grid whose 2x2 quadrants repeat the codes of a 2x2 grid."""
    return np.repeat(np.repeat(top, 2, axis=1), 2, axis=2)


def test_the_mnist_defaults_give_a_3x3_top_over_a_7x7_bottom_grid():
    model = kv.VQVAE2(input_shape=(28, 28, 1))
    assert (model.top_shape, model.bottom_shape, model.code_shape) == ((3, 3), (7, 7), (58,))
    assert (model.codebook_size, model.num_embeddings) == (128, 256)
    assert model.constant_kl == pytest.approx(58 * np.log(128))
    assert set(model.metric_names()) >= {"perplexity", "top_perplexity", "bottom_perplexity"}


def test_code_rows_hold_the_top_grid_then_the_bottom_grid_in_their_own_ranges():
    model = tiny()
    x = images(4)
    codes = model.encode(x).numpy()
    assert codes.shape == (4, 20) and codes.dtype == np.int32
    assert (codes[:, :4] < K).all() and (codes[:, 4:] >= K).all() and (codes < 2 * K).all()
    top, bottom = model.split_codes(codes)
    assert top.shape == (4, 2, 2) and bottom.shape == (4, 4, 4)
    np.testing.assert_array_equal(model.join_codes(top, bottom), codes)
    np.testing.assert_allclose(model.decode(codes), model.reconstruct(x), atol=1e-6)
    bad = codes.copy()
    bad[0, 0] = K
    with pytest.raises(ValueError, match=r"top codes .* must lie in \[0, 6\)"):
        model.decode(bad)
    bad = codes.copy()
    bad[1, 7] = 2
    with pytest.raises(ValueError, match=r"bottom codes .* must lie in \[6, 12\); received "
                                         r"values from 2"):
        model.decode(bad)
    with pytest.raises(ValueError, match=r"codes must have shape \(None, 20\)"):
        model.decode(codes[:, :10])


def test_the_decoder_reads_both_levels_and_the_bottom_quantizer_sees_the_top_codes():
    model = trained()
    x = images(8, seed=1)
    codes, z_e = (np.asarray(v) for v in model.encode(x, return_z_e=True))
    top, bottom = (c.numpy() for c in model.split_codes(codes))
    other_top = model.join_codes((top + 1) % K, bottom)
    other_bottom = model.join_codes(top, (bottom + 1) % K)
    decoded = model.decode(codes).numpy()
    assert np.abs(model.decode(other_top).numpy() - decoded).max() > 1e-3
    assert np.abs(model.decode(other_bottom).numpy() - decoded).max() > 1e-3
    # The bottom level's input depends on the quantized top grid, the top level's does not.
    model.top_quantizer.set_codebook(model.top_quantizer.embeddings * 2.0 + 1.0)
    z_e2 = model.encode(x, return_z_e=True)[1].numpy()
    np.testing.assert_allclose(z_e2[:, :4], z_e[:, :4], atol=1e-6)
    assert np.abs(z_e2[:, 4:] - z_e[:, 4:]).max() > 1e-3


def test_training_reports_both_levels_and_k_means_seeds_both_codebooks():
    model = tiny()
    model.initialize_codebook(images(32), num_batches=1)
    top_book = model.top_quantizer.embeddings.numpy()
    bottom_book = model.quantizer.embeddings.numpy()
    z_e = model.encode(images(32), return_z_e=True)[1].numpy()
    # Each centre is a mean of its level's inputs: inside their range, not the initial ones.
    for book, inputs in ((top_book, z_e[:, :4]), (bottom_book, z_e[:, 4:])):
        flat = inputs.reshape(-1, 3)
        assert (book >= flat.min(0) - 1e-5).all() and (book <= flat.max(0) + 1e-5).all()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(images(32), epochs=2, batch_size=16, verbose=0).history
    for name in ("top_perplexity", "bottom_perplexity", "perplexity"):
        assert all(1.0 <= v <= 2 * K for v in history[name]), name
    # With the EMA codebooks, the VQ loss is both levels' commitment terms.
    assert history["vq_loss"][-1] == pytest.approx(0.25 * history["commitment_loss"][-1],
                                                   rel=1e-4)


@pytest.mark.parametrize("architecture, kwargs", [
    ("pixelcnn", dict(filters=16, num_blocks=2)),
    ("transformer", dict(units=16, num_layers=2, num_heads=2)),
])
def test_a_grid_conditioned_prior_learns_what_its_condition_determines(architecture, kwargs):
    """Bottom grids that repeat their top grid: a prior that ignored its condition would
    get a quarter of the codes right."""
    rng = np.random.default_rng(0)
    top = rng.integers(0, 4, (512, 2, 2)).astype("int32")
    cls = kv.priors.PRIOR_ARCHITECTURES[architecture]
    prior = cls((4, 4), 4, condition_shape=(2, 2), condition_embeddings=4, seed=0, **kwargs)
    prior.compile(optimizer=keras.optimizers.Adam(1e-2))
    prior.fit(upsampled(top), top, batch_size=64, epochs=15, verbose=0)
    new_top = rng.integers(0, 4, (200, 2, 2)).astype("int32")
    accuracy = (prior.sample(new_top, seed=0).numpy() == upsampled(new_top)).mean()
    assert accuracy > 0.95, accuracy
    with pytest.raises(ValueError, match="conditioned on .* code grids; pass them"):
        prior.sample(None)
    with pytest.raises(ValueError, match="grid-conditioned: pass one condition code grid"):
        prior.sample(3)


@pytest.mark.parametrize("architecture, kwargs", [
    ("pixelcnn", dict(filters=8, num_blocks=1)),
    ("transformer", dict(units=8, num_layers=1, num_heads=2)),
])
def test_every_position_sees_the_whole_condition_grid(architecture, kwargs):
    """The first bottom position reads the top grid's far corner through the condition
    blocks (3 by default for a 4x4 grid); without them it sees only the cells around it."""
    cls = kv.priors.PRIOR_ARCHITECTURES[architecture]
    codes = np.zeros((2, 8, 8), "int32")
    top = np.zeros((2, 4, 4), "int32")
    corner = top.copy()
    corner[:, 3, 3] = 2
    changes = {}
    for blocks in (None, 2, 0):
        keras.utils.set_random_seed(0)
        prior = cls((8, 8), 5, condition_shape=(4, 4), condition_embeddings=3,
                    condition_blocks=blocks, seed=0, **kwargs)
        first = [prior((codes, t)).numpy()[:, 0, 0] for t in (top, corner)]
        changes[prior.condition_blocks] = np.abs(first[1] - first[0]).max()
    assert changes[3] > 1e-5 and changes[2] == 0.0 and changes[0] == 0.0, changes
    # A prior saved before the blocks existed (the last one has none) loads as it was.
    config = prior.get_config()
    config.pop("condition_blocks")
    loaded = cls.from_config(config)
    assert loaded.condition_blocks == 0 and len(loaded.weights) == len(prior.weights)
    with pytest.raises(ValueError, match="`condition_blocks` applies to a code-grid condition"):
        cls((8, 8), 5, condition_blocks=1, **kwargs)
    with pytest.raises(ValueError, match="`condition_blocks` must be >= 0"):
        cls((8, 8), 5, condition_shape=(4, 4), condition_embeddings=3, condition_blocks=-1,
            **kwargs)


def test_the_transformer_prior_reaches_every_earlier_position():
    """The last code repeats the first, across the whole grid."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (1024, 3, 3)).astype("int32")
    codes[:, 2, 2] = codes[:, 0, 0]
    prior = kv.priors.TransformerPrior((3, 3), 4, units=32, num_layers=2, num_heads=2, seed=0)
    prior.compile(optimizer=keras.optimizers.Adam(3e-3))
    prior.fit(codes, batch_size=64, epochs=20, verbose=0)
    samples = prior.sample(300, seed=1).numpy()
    assert (samples[:, 2, 2] == samples[:, 0, 0]).mean() > 0.9
    # The other positions stay uniform: no code takes more than 40 % of position 1.
    assert np.bincount(samples[:, 0, 1], minlength=4).max() < 0.4 * 300


def test_priors_are_causal():
    rng = np.random.default_rng(0)
    for prior in (kv.priors.PixelCNN((3, 3), 5, filters=8, num_blocks=2, seed=0),
                  kv.priors.TransformerPrior((3, 3), 5, units=8, num_layers=2, num_heads=2,
                                             seed=0)):
        codes = rng.integers(0, 5, (4, 3, 3)).astype("int32")
        logits = prior(codes).numpy().reshape(4, 9, 5)
        for t in range(9):
            changed = codes.reshape(4, 9).copy()
            changed[:, t:] = (changed[:, t:] + 1) % 5
            again = prior(changed.reshape(4, 3, 3)).numpy().reshape(4, 9, 5)
            np.testing.assert_allclose(again[:, :t + 1], logits[:, :t + 1], atol=1e-5)
            if t < 8:  # a later position does see the change
                assert np.abs(again[:, t + 1:] - logits[:, t + 1:]).max() > 1e-6


def test_fit_prior_trains_a_two_level_prior_and_samples_are_seeded():
    model = trained(epochs=1)
    x, labels = images(64), np.arange(64, dtype="int32") % 3
    histories = model.fit_prior((x, labels), epochs=1, batch_size=32, filters=8, num_blocks=1,
                                condition_blocks=0, verbose=0)
    assert set(histories) == {"top", "bottom"}
    prior = model.prior
    assert isinstance(prior, kv.models.TwoLevelPrior) and prior.conditional
    assert prior.num_classes == 3 and not prior.bottom.conditional
    assert prior.bottom.condition_shape == model.top_shape
    assert prior.bottom.condition_blocks == 0 and prior.top.condition_blocks is None
    assert prior.description == "two-level PixelCNN"
    assert model.export_metadata()["prior"] == "class-conditional two-level PixelCNN"
    rows = prior.sample(np.array([0, 1, 2]), seed=5).numpy()
    np.testing.assert_array_equal(rows, prior.sample(np.array([0, 1, 2]), seed=5))
    graph = tf.function(lambda: prior.sample_codes(3, 5, tf.constant([0, 1, 2])))
    np.testing.assert_array_equal(rows, graph())
    assert model.sample(np.array([0, 1, 2]), seed=5).shape == (3, 8, 8, 1)
    # A Transformer prior replaces it; an unconditional one needs no labels.
    model.fit_prior(x, epochs=1, architecture="transformer", units=8, num_layers=1,
                    num_heads=2, verbose=0)
    assert isinstance(model.prior.top, kv.priors.TransformerPrior)
    assert model.prior.bottom.condition_blocks == max(model.top_shape) - 1
    assert not model.prior.conditional and model.sample(2, seed=0).shape == (2, 8, 8, 1)


def test_wrong_priors_are_refused_with_the_reason():
    model = tiny()
    with pytest.raises(ValueError, match="TwoLevelPrior"):
        model.attach_prior(kv.priors.PixelCNN((2, 2), K, filters=4, num_blocks=1))
    top = kv.priors.PixelCNN((2, 2), K, filters=4, num_blocks=1)
    with pytest.raises(ValueError, match=r"must be conditioned on \(2, 2\) grids of 6 codes"):
        kv.models.TwoLevelPrior(top, kv.priors.PixelCNN((4, 4), K, filters=4, num_blocks=1))
    wrong_grid = kv.models.TwoLevelPrior(
        top, kv.priors.PixelCNN((3, 3), K, condition_shape=(2, 2), condition_embeddings=K,
                                filters=4, num_blocks=1))
    with pytest.raises(ValueError, match=r"\(3, 3\) code grids but the bottom grid is"):
        model.attach_prior(wrong_grid)
    with pytest.raises(ValueError, match="Unknown prior architecture 'gpt'"):
        model.fit_prior(images(8), architecture="gpt")
    with pytest.raises(ValueError, match="labels .* or on a code grid .* not both"):
        kv.priors.PixelCNN((2, 2), K, num_classes=2, condition_shape=(2, 2),
                           condition_embeddings=K)


def test_the_cli_trains_a_vqvae2_with_a_transformer_prior(tiny_npz, tmp_path):
    out = tmp_path / "vq2"
    assert cli.main(["train", "--dataset", tiny_npz, "--model", "vqvae2", "--epochs", "1",
                     "--output", str(out), "--filters", "4", "--top-filters", "4",
                     "--num-embeddings", "8", "--embedding-dim", "3", "--prior-epochs", "1",
                     "--prior-architecture", "transformer", "--class-prior", "--kmeans-init",
                     "--batch-size", "16", "--quiet"]) == 0
    for name in ("model.keras", "samples.png", "codebook_usage.png", "1/saved_model.pb"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"top_perplexity", "bottom_perplexity"} <= set(metrics["validation"])
    assert metrics["codebook"]["num_embeddings"] == 16  # both codebooks
    meta = json.loads((out / "1" / "assets" / "keras_vae.json").read_text())
    assert meta["prior"] == "class-conditional two-level TransformerPrior"
    assert (meta["top_shape"], meta["bottom_shape"], meta["latent_shape"]) == ([2, 2], [4, 4],
                                                                              [20])
    config = json.loads(zipfile.ZipFile(out / "model.keras").read("config.json"))["config"]
    assert config["top_filters"] == [4] and config["num_embeddings"] == 8
    with pytest.raises(SystemExit):
        cli.main(["train", "--model", "vae", "--top-filters", "4", "--output",
                  str(tmp_path / "x")])
