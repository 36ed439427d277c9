"""ConditionalVAE: conditioning, the learned prior, labels in every API, errors."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv
from keras_vae import losses


def tiny(**kwargs):
    return kv.ConditionalVAE(**{"input_shape": (8, 8, 1), "num_classes": 3, "latent_dim": 2,
                                "hidden_units": (16,), "seed": 0, **kwargs})


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 8, 8, 1)) > 0.5).astype("float32"), rng.integers(0, 3, n).astype("int32")


@pytest.mark.parametrize("conditioning", ["one_hot", "embedding"])
@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_gradients_reach_every_trainable_variable(conditioning, architecture):
    model = tiny(conditioning=conditioning, architecture=architecture, filters=(4,),
                 conditional_prior=True)
    x, y = data(8)
    with tf.GradientTape() as tape:
        terms = model.compute_terms((tf.constant(x), tf.constant(y)), training=True)
        loss = tf.reduce_mean(terms["reconstruction_loss"] + tf.reduce_sum(terms["kl_per_dim"], 1))
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None for g in grads)
    names = [v.path for v, g in zip(model.trainable_variables, grads) if np.any(np.asarray(g))]
    assert any("conditional_prior" in n for n in names)
    if conditioning == "embedding":
        assert any("embeddings" in n for n in names)


@pytest.mark.parametrize("conditioning", ["one_hot", "embedding"])
def test_the_decoder_output_depends_on_the_label(conditioning):
    model = tiny(conditioning=conditioning)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(*data(64), batch_size=16, epochs=1, verbose=0)
    z = np.zeros((3, 2), "float32")
    images = np.asarray(model.decode(z, np.array([0, 1, 2])))
    assert not np.allclose(images[0], images[1]) and not np.allclose(images[1], images[2])


def test_kl_against_the_learned_prior_matches_closed_form():
    model = tiny(conditional_prior=True)
    prior_mean = np.array([[0.5, -1.0], [2.0, 0.0], [0.0, 0.3]], "float32")
    prior_log_var = np.array([[0.0, 1.0], [-1.0, 0.5], [0.2, 0.0]], "float32")
    model.prior_net.set_weights([np.concatenate([prior_mean, prior_log_var], 1),
                                 np.zeros(4, "float32")])
    x, y = data(6)
    terms = model.compute_terms((tf.constant(x), tf.constant(y)))
    mu, lv = (np.asarray(t, "float64") for t in (terms["mean"], terms["log_var"]))
    pm, plv = prior_mean[y].astype("float64"), prior_log_var[y].astype("float64")
    expected = 0.5 * (plv - lv + (np.exp(lv) + (mu - pm) ** 2) / np.exp(plv) - 1.0)
    np.testing.assert_allclose(np.asarray(terms["kl_per_dim"]), expected, rtol=1e-5, atol=1e-6)
    # sampling at temperature 0 returns the decoded class means of the prior
    np.testing.assert_allclose(
        np.asarray(model.sample([1], seed=0, temperature=0.0)),
        np.asarray(model.decode(prior_mean[[1]], [1])), rtol=1e-6)


def test_without_learned_prior_kl_is_against_the_standard_normal():
    model = tiny(conditional_prior=False)
    x, y = data(4)
    terms = model.compute_terms((tf.constant(x), tf.constant(y)))
    expected = losses.gaussian_kl_per_dim(terms["mean"], terms["log_var"])
    np.testing.assert_allclose(np.asarray(terms["kl_per_dim"]), np.asarray(expected), rtol=1e-6)


def test_conditional_beta_vae_is_a_configuration():
    model = tiny(beta=kv.schedules.LinearWarmup(0.0, 4.0, 8))
    model.compile(optimizer="adam")
    history = model.fit(*data(64), batch_size=16, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["beta"], [np.mean([0, 1, 2, 3]) / 2], rtol=1e-5)
    capacity = tiny(capacity_max=4.0, capacity_steps=4, gamma=2.0)
    capacity.compile(optimizer="adam")
    assert "capacity" in capacity.fit(*data(64), batch_size=16, epochs=1, verbose=0).history


def test_sampling_one_image_per_label_and_temperature():
    model = tiny(conditional_prior=True)
    labels = np.array([2, 0, 1, 2])
    a = np.asarray(model.sample(labels, seed=3))
    np.testing.assert_array_equal(a, np.asarray(model.sample(labels, seed=3)))
    assert a.shape == (4, 8, 8, 1)
    cold = np.asarray(model.sample(labels, seed=3, temperature=0.0))
    np.testing.assert_allclose(cold[0], cold[3], rtol=1e-6)  # same class, no noise


def test_interpolation_helpers():
    model = tiny()
    morph = np.asarray(model.interpolate_labels(0, 2, steps=5, seed=1))
    assert morph.shape == (5, 8, 8, 1)
    z = np.asarray(model.prior_sample(tf.constant([0]), 1, 1))
    np.testing.assert_allclose(morph[0], np.asarray(model.decode(z, [0]))[0], rtol=1e-5)
    np.testing.assert_allclose(morph[-1], np.asarray(model.decode(z, [2]))[0], rtol=1e-5)
    path = np.asarray(model.interpolate_latents(1, [0.0, 0.0], [1.0, -1.0], steps=3))
    np.testing.assert_allclose(path[2], np.asarray(model.decode([[1.0, -1.0]], [1]))[0], rtol=1e-5)


def test_label_errors_are_named():
    model = tiny()
    x, y = data(4)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        model.encode(x, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        model.sample(np.array([-1]))
    with pytest.raises(ValueError, match="integer class indices"):
        model.encode(x, y.astype("float32"))
    with pytest.raises(ValueError, match="needs labels"):
        model.encode(x)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"labels=True"):
        model.fit(x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="integer class indices"):
        model.fit(x, y.astype("float32"), epochs=1, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must lie in \[0, 3\)"):
        model.fit(x, np.array([0, 1, 5, 2]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="num_classes"):
        tiny(num_classes=0)
    with pytest.raises(ValueError, match="conditioning"):
        tiny(conditioning="film")


def test_labels_out_of_range_at_the_serving_boundary(tmp_path):
    model = tiny()
    served = tf.saved_model.load(kv.export.export_saved_model(model, str(tmp_path)))
    x, _ = data(2)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must lie in \[0, 3\)"):
        served.signatures["encode"](x=tf.constant(x), label=tf.constant([0, 7]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must lie in \[0, 3\)"):
        served.signatures["sample"](label=tf.constant([-1]), seed=tf.constant(0))


def test_mock_tfds_mnist_with_labels_trains():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=32):
        ds = kv.data.load("mnist", batch_size=16, labels=True, binarize="dynamic")
        model = kv.ConditionalVAE(input_shape=(28, 28, 1), num_classes=10, latent_dim=2,
                                  hidden_units=(16,))
        model.compile(optimizer="adam")
        history = model.fit(ds, epochs=1, verbose=0)
    assert math.isfinite(history.history["loss"][0])


@pytest.mark.slow
def test_a_few_steps_on_real_mnist_lower_the_loss(mnist_path):
    train = kv.data.load(mnist_path, batch_size=128, labels=True, binarize="dynamic")
    test = kv.data.load(mnist_path, split="test", batch_size=500, labels=True, binarize="dynamic")
    model = kv.ConditionalVAE(input_shape=(28, 28, 1), num_classes=10, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = model.evaluate(test.take(4), verbose=0, return_dict=True)["loss"]
    model.fit(train.take(150), epochs=1, verbose=0)
    after = model.evaluate(test.take(4), verbose=0, return_dict=True)["loss"]
    assert before > 500 and after < 200, (before, after)
