"""Your own networks, data of any shape, the variant registry and the model hooks: what a
user who brings a ResNet, tabular rows or a new variant relies on."""

import inspect
import pathlib
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv
from tests.registry import SubclassedEncoder
from tests.registry import conv_bn_networks


def _images(n=32, shape=(8, 8, 1), seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


def _train_and_reload(model, x, tmp_path, y=None):
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    path = tmp_path / "own.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    args = (x[:5],) if y is None else (x[:5], y[:5])
    np.testing.assert_allclose(np.asarray(model.encode(*args)[0]),
                               np.asarray(loaded.encode(*args)[0]), atol=1e-6)
    return history.history, loaded


def test_a_functional_conv_encoder_with_batch_norm_trains_reloads_and_exports(tmp_path):
    encoder, decoder = conv_bn_networks(3)
    model = kv.VAE(input_shape=(8, 8, 1), encoder=encoder, decoder=decoder, latent_dim=3,
                   seed=0)
    history, loaded = _train_and_reload(model, _images(), tmp_path)
    assert history["loss"][-1] < history["loss"][0]
    # BatchNormalization's moving statistics moved in training and came back.
    bn = next(layer for layer in loaded.encoder.layers
              if isinstance(layer, keras.layers.BatchNormalization))
    assert np.abs(np.asarray(bn.moving_mean)).max() > 0
    assert loaded.get_config()["encoder"]["config"]["name"] == "user_conv_encoder"
    folder = kv.export.export_saved_model(loaded, tmp_path / "export")
    served = tf.saved_model.load(folder).signatures["encode"](x=tf.constant(_images(4)))
    np.testing.assert_allclose(served["mean"].numpy(),
                               np.asarray(loaded.encode(_images(4))[0]), atol=1e-5)


def test_a_subclassed_encoder_returning_a_pair(tmp_path):
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(64),
                                keras.layers.Reshape((8, 8, 1))])
    model = kv.BetaVAE(input_shape=(8, 8, 1), encoder=SubclassedEncoder(2), decoder=decoder,
                       latent_dim=2, beta=2.0)
    history, loaded = _train_and_reload(model, _images(), tmp_path)
    assert type(loaded.encoder) is SubclassedEncoder and history["beta"] == [2.0] * 3


def test_your_own_networks_in_a_conditional_model(tmp_path):
    x_in, c_in = keras.Input((8, 8, 1)), keras.Input((3,))
    h = keras.layers.Concatenate()([keras.layers.Flatten()(x_in), c_in])
    encoder = keras.Model([x_in, c_in], keras.layers.Dense(4)(h))
    z_in, c2 = keras.Input((2,)), keras.Input((3,))
    h = keras.layers.Dense(64)(keras.layers.Concatenate()([z_in, c2]))
    decoder = keras.Model([z_in, c2], keras.layers.Reshape((8, 8, 1))(h))
    model = kv.ConditionalVAE(input_shape=(8, 8, 1), num_classes=3, latent_dim=2,
                              encoder=encoder, decoder=decoder)
    labels = np.arange(32, dtype="int32") % 3
    _, loaded = _train_and_reload(model, _images(), tmp_path, labels)
    assert tuple(loaded.sample(labels[:4], seed=0).shape) == (4, 8, 8, 1)


@pytest.mark.parametrize("encoder_out, message", [
    (5, r"\[batch, 6\] \(mean, then log-variance.*returned shapes \[\(2, 5\)\]"),
    ("pair2", r"returned shapes \[\(2, 2\), \(2, 2\)\]"),
])
def test_an_encoder_of_the_wrong_width_is_named(encoder_out, message):
    width = 2 if encoder_out == "pair2" else encoder_out
    x = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(x)
    outputs = [keras.layers.Dense(width)(h), keras.layers.Dense(width)(h)] \
        if encoder_out == "pair2" else keras.layers.Dense(width)(h)
    decoder = keras.Sequential([keras.Input((3,)), keras.layers.Dense(64),
                                keras.layers.Reshape((8, 8, 1))])
    with pytest.raises(ValueError, match=message):
        kv.VAE(input_shape=(8, 8, 1), encoder=keras.Model(x, outputs), decoder=decoder,
               latent_dim=3)


def test_a_decoder_of_the_wrong_shape_or_builder_arguments_beside_own_networks_are_refused():
    encoder, decoder = conv_bn_networks(3)
    wrong = keras.Sequential([keras.Input((3,)), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match=r"to \[batch, 8, 8, 1\].*returned \(2, 10\)"):
        kv.VAE(input_shape=(8, 8, 1), encoder=encoder, decoder=wrong, latent_dim=3)
    with pytest.raises(ValueError, match="hidden_units build the package's own networks"):
        kv.VAE(input_shape=(8, 8, 1), encoder=encoder, decoder=decoder, latent_dim=3,
               hidden_units=(64,))
    with pytest.raises(ValueError, match="give both `encoder` and `decoder`"):
        kv.VAE(input_shape=(8, 8, 1), encoder=encoder, latent_dim=3)
    with pytest.raises(ValueError, match="must be a Keras layer or model"):
        kv.VAE(input_shape=(8, 8, 1), encoder=lambda x: x, decoder=decoder, latent_dim=3)


def test_a_tabular_vae_reconstructs_standardized_rows_negative_values_included(tmp_path):
    from sklearn.datasets import load_breast_cancer

    rows = load_breast_cancer().data
    rows = ((rows - rows.mean(0)) / rows.std(0)).astype("float32")
    model = kv.VAE(input_shape=(30,), likelihood="gaussian", likelihood_scale="learned",
                   latent_dim=4, hidden_units=(64,), seed=0)
    assert model.data_range == "real"
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(rows, batch_size=64, epochs=60, verbose=0)
    rebuilt = np.asarray(model.reconstruct(rows))
    assert rebuilt.min() < -1.0  # the mean is not squashed into [0, 1]
    # Four latent dimensions keep most of the 30 correlated features: far better than the
    # mean (error 1 per standardized value).
    assert np.mean((rebuilt - rows) ** 2) < 0.35
    served = tf.saved_model.load(kv.export.export_saved_model(model, tmp_path))
    out = served.signatures["reconstruct"](x=tf.constant(rows[:8]))["x_mean"].numpy()
    np.testing.assert_allclose(out, rebuilt[:8], atol=1e-5)


def test_sequences_and_data_range_checks():
    model = kv.VAE(input_shape=(6, 2), likelihood="gaussian", latent_dim=2, hidden_units=(8,))
    assert tuple(model.sample(3, seed=0).shape) == (3, 6, 2)
    with pytest.raises(ValueError, match=r"expects data of shape \(None, 6, 2\)"):
        model.encode(np.zeros((2, 12), "float32"))
    with pytest.raises(ValueError, match="needs likelihood='gaussian'"):
        kv.VAE(input_shape=(6,), data_range="real")
    images = kv.VAE(input_shape=(4, 4, 1), likelihood="gaussian", hidden_units=(8,))
    assert images.data_range == "unit"


def test_iwae_bound_is_tighter_than_its_elbo_and_normalized_by_k(monkeypatch):
    x = _images(64)
    keras.utils.set_random_seed(0)
    model = kv.IWAE(input_shape=(8, 8, 1), num_samples=20, latent_dim=2, hidden_units=(16,),
                    seed=0)
    model.compile(optimizer="adam")
    logs = model.evaluate(x, verbose=0, return_dict=True)
    # -loss is L_20, elbo the analytic-KL ELBO of the same model: L_k >= ELBO.
    assert -logs["loss"] > logs["elbo"]
    # With the noise at zero every draw is z = mean: L_k = log w(mean) whatever k, so the
    # 1/k inside the log is applied exactly once.
    monkeypatch.setattr(kv.layers.Sampling, "noise", lambda self, mean: tf.zeros_like(mean))
    single = kv.IWAE(input_shape=(8, 8, 1), num_samples=1, latent_dim=2, hidden_units=(16,))
    single.set_weights(model.get_weights())
    for m in (model, single):
        m.compile(optimizer="adam", jit_compile=False)
    loss_k = model.evaluate(x, verbose=0, return_dict=True)["loss"]
    loss_1 = single.evaluate(x, verbose=0, return_dict=True)["loss"]
    assert loss_k == pytest.approx(loss_1, rel=1e-5)
    with pytest.raises(ValueError, match="free_bits does not apply"):
        kv.IWAE(input_shape=(8, 8, 1), free_bits=0.5)


def test_unknown_constructor_arguments_name_the_models_that_take_them():
    with pytest.raises(ValueError, match="VAE has no argument num_samples.*IWAE takes them"):
        kv.VAE(input_shape=(8, 8, 1), num_samples=5)
    with pytest.raises(ValueError, match="has no argument colour"):
        kv.BetaVAE(input_shape=(8, 8, 1), colour="red")


class TwoOptimizerVAE(kv.VAE):
    """Encoder and decoder updated by optimizers of their own: the multi-optimizer hook."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.decoder_optimizer = keras.optimizers.SGD(0.1)

    def optimizer_steps(self):
        return [(self.optimizer, self.encoder.trainable_variables),
                (self.decoder_optimizer, self.decoder.trainable_variables)]

    def gradient_step(self, inputs):
        def objective():
            return self._objective(inputs, training=True)

        self.minimize(objective, self.optimizer, self.encoder.trainable_variables)
        return self.minimize(objective, self.decoder_optimizer,
                             self.decoder.trainable_variables)


def test_a_variant_with_two_optimizers_overrides_one_method():
    model = TwoOptimizerVAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    decoder_before = [np.asarray(v) for v in model.decoder.trainable_variables]
    model.fit(_images(32), batch_size=16, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 2 and int(model.decoder_optimizer.iterations) == 2
    assert all(not np.allclose(a, np.asarray(b)) for a, b in
               zip(decoder_before, model.decoder.trainable_variables))


def test_the_private_apis_of_the_execution_policy_still_exist():
    # One module touches private Keras/TensorFlow names (kv.models.execution.PRIVATE_APIS);
    # this fails the day one of them moves.
    from keras_vae.models import execution

    model = kv.VAE(input_shape=(4, 4, 1), latent_dim=2, hidden_units=(4,))
    model.compile(optimizer="adam")
    assert hasattr(model, "_compile_config") and "steps_per_execution" in \
        model._compile_config.config
    assert callable(keras.Model._flatten_layers) and callable(keras.Model._maybe_symbolic_build)
    assert "_use_cached_eval_dataset" in inspect.getsource(keras.Model.fit)
    assert execution.op_determinism_enabled() in (True, False)
    assert len(execution.PRIVATE_APIS) == 5


def test_the_registry_is_the_single_list_of_kinds():
    from keras_vae import cli
    from keras_vae import tuning
    from tests import registry

    kinds = list(kv.models.MODEL_KINDS)
    parser = cli.build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    model_action = next(a for a in train._actions if a.dest == "model")
    assert list(model_action.choices) == kinds
    assert set(tuning.SEARCH_SPACES) == set(kinds)
    covered = {cls for cls, _ in registry.MODELS.values()}
    assert {cls for cls, _ in kv.models.MODEL_KINDS.values()} <= covered


def test_untuned_hyperparameters_default_to_the_library_defaults():
    import keras_tuner as kt

    for kind in kv.models.MODEL_KINDS:
        defaults = kv.models.kind_defaults(kind)
        codes = kv.models.model_class(kind)[0].latent_kind == "codes"
        hypermodel = kv.tuning.HyperModel(kind, (28, 28, 1) if codes else (8, 8, 1))
        hp = kt.HyperParameters()
        model = hypermodel.build(hp)
        config = model.get_config()
        for name in set(hp.values) & set(defaults):
            value = config[name]
            if isinstance(value, dict):  # a schedule: beta is a Constant
                value = value["config"]["value"]
            assert value == defaults[name], (kind, name)
        assert hp.values["learning_rate"] == kv.tuning.DEFAULT_LEARNING_RATE


def test_no_module_outside_models_asks_which_class_a_model_is():
    root = pathlib.Path(kv.__file__).parent
    classes = "|".join(name for name in dir(kv.models) if name[0].isupper())
    pattern = re.compile(rf"(isinstance|issubclass)\([^)]*\b({classes})\b")
    offenders = [f"{path.relative_to(root)}:{i}" for path in root.rglob("*.py")
                 if "models" not in path.relative_to(root).parts
                 for i, line in enumerate(path.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert not offenders


def test_bad_conditions_give_one_clear_error():
    model = kv.ConditionalVAE(input_shape=(8, 8, 1), condition_dim=3, latent_dim=2,
                              hidden_units=(8,))
    x = _images(4)
    good = np.random.default_rng(0).random((4, 3)).astype("float32")
    for bad, message in ((good[:, :2], r"shape \(batch, 3\)"),
                         (np.full((4, 3), np.nan, "float32"), "must be finite"),
                         (np.arange(4), "float condition vectors.*received dtype int")):
        with pytest.raises(ValueError, match=message):
            model.encode(x, bad)
    with pytest.raises(ValueError, match="num_classes and conditioning are for class labels"):
        kv.ConditionalVAE(input_shape=(8, 8, 1), condition_dim=3, num_classes=5)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="trains on \\(x, condition\\) batches"):
        model.fit(x, epochs=1, verbose=0)
    bad = good.copy()
    bad[1, 1] = np.inf
    with pytest.raises(Exception, match="Conditions must be finite"):
        model.fit(x, bad, epochs=1, verbose=0)  # checked in the graph step too
