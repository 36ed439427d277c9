"""Checks every registered model gets: config round-trip, save/load exactness, a fit step."""

import keras
import numpy as np
import pytest

from tests import registry as reg
from tests.registry import MODELS

IDS = sorted(MODELS)


def make(model_id, seed=0):
    return reg.build(model_id, seed)


@pytest.mark.parametrize("model_id", IDS)
def test_config_round_trip(model_id):
    model = make(model_id)
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config
    assert len(clone.weights) == len(model.weights)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert type(revived) is type(model)
    assert revived.get_config() == config


@pytest.mark.parametrize("model_id", IDS)
def test_fit_step_reports_the_design_metrics(model_id):
    model = make(model_id)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, labels = reg.batch(model)
    history = model.fit(x, labels, batch_size=16, epochs=1, verbose=0)
    assert set(history.history) == set(model.metric_names())
    assert {"loss", "reconstruction_loss"} <= set(history.history)
    if model.has_elbo:
        assert {"kl_loss", "elbo"} <= set(history.history)
    if reg.is_vq(model):
        assert {"vq_loss", "codebook_loss", "commitment_loss", "perplexity",
                "codebook_usage"} <= set(history.history)
    for name, values in history.history.items():
        assert np.isfinite(values).all(), name
    assert int(model.optimizer.iterations) == 2
    x, labels = reg.batch(model, seed=1)
    logs = model.evaluate(x, labels, batch_size=16, verbose=0, return_dict=True)
    assert set(logs) == set(model.metric_names())


@pytest.mark.parametrize("model_id", IDS)
def test_keras_save_load_is_exact_and_fit_continues(model_id, tmp_path):
    model = make(model_id)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, labels = reg.batch(model)
    model.fit(x, labels, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)

    assert type(loaded) is type(model)
    for a, b in zip(reg.latents(model, x, labels), reg.latents(loaded, x, labels)):
        assert np.max(np.abs(np.asarray(a) - np.asarray(b))) <= 1e-6
    # Every variable, trainable or not (codebook EMA state, a prior's weights), comes back.
    assert [tuple(w.shape) for w in loaded.weights] == [tuple(w.shape) for w in model.weights]
    networks = (getattr(model, "encoder", None), getattr(model, "decoder", None))
    if not any(isinstance(n, keras.Model) and not isinstance(n, keras.Sequential)
               and type(n).__name__ != "Functional" for n in networks):
        # Keras rebuilds a subclassed network's layers outside its name scope when it
        # deserializes one: the same variables and values, other paths.
        assert [w.path for w in loaded.weights] == [w.path for w in model.weights]
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 2
    # Every optimizer's state (an adversary's too) comes back.
    optimizers = [opt for opt, _ in model.optimizer_steps()]
    loaded_optimizers = [opt for opt, _ in loaded.optimizer_steps()]
    assert len(optimizers) == len(loaded_optimizers)
    for original, reloaded in zip(optimizers, loaded_optimizers):
        assert int(reloaded.iterations) == int(original.iterations) == 2
        assert len(reloaded.variables) == len(original.variables)
        for a, b in zip(original.variables, reloaded.variables):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    if hasattr(model, "sampling"):
        # The noise generator state travels too: both draw the same next samples.
        state = np.asarray(model.sampling.seed_generator.state)
        assert state.any(), "training should have advanced the noise state"
        np.testing.assert_array_equal(state, np.asarray(loaded.sampling.seed_generator.state))
    labels_s = reg.sample_labels(model, 3)
    np.testing.assert_array_equal(reg.sample(model, 3, seed=5, labels=labels_s),
                                  reg.sample(loaded, 3, seed=5, labels=labels_s))

    # Continuing: one more epoch on each gives identical weights and step.
    model.fit(x, labels, batch_size=16, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, labels, batch_size=16, epochs=1, verbose=0, shuffle=False)
    assert int(loaded.optimizer.iterations) == 4
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


@pytest.mark.parametrize("model_id", IDS)
def test_api_shapes_and_seeded_sampling(model_id):
    model = make(model_id)
    x, labels = reg.batch(model, n=5)
    if reg.is_vq(model):
        codes, z_e = model.encode(x, return_z_e=True)
        assert codes.dtype == "int32" and tuple(codes.shape) == (5, *model.code_shape)
        assert tuple(z_e.shape) == (5, *model.code_shape, model.embedding_dim)
    else:
        mean, log_var = reg.encode(model, x, labels)
        assert tuple(mean.shape) == tuple(log_var.shape) == (5, model.latent_dim)
    z = reg.latent_input(model, 5)
    assert tuple(reg.decode(model, z, labels).shape) == (5, *model.data_shape)
    assert tuple(reg.reconstruct(model, x, labels).shape) == (5, *model.data_shape)
    assert tuple(reg.call(model, x, labels).shape) == (5, *model.data_shape)
    a = np.asarray(reg.sample(model, 4, seed=3))
    b = np.asarray(reg.sample(model, 4, seed=3))
    c = np.asarray(reg.sample(model, 4, seed=4))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    if model.data_range == "unit":
        assert a.min() >= 0.0 and a.max() <= 1.0
    if not reg.is_vq(model):
        assert tuple(reg.kl_per_dimension(model, x, labels).shape) == (model.latent_dim,)
