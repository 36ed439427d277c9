"""The compiled step: XLA by default where it is faster on CPU, same numbers as the graph step,
input checks kept when XLA is on, several steps per call where that is exact, and the
choices saved with the model."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv


def images(n=16, size=8, seed=0):
    return np.random.default_rng(seed).random((n, size, size, 1)).astype("float32")


def mlp(**kwargs):
    keras.utils.set_random_seed(0)
    return kv.VAE(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), seed=1, **kwargs)


def test_auto_means_xla_for_dense_models_and_graph_for_convolutions_on_cpu():
    model = mlp()
    model.compile(optimizer="adam")
    assert model.jit_compile is True
    conv = kv.VAE(input_shape=(8, 8, 1), latent_dim=3, architecture="conv", filters=(4,))
    conv.compile(optimizer="adam")
    assert conv.jit_compile is False
    vq = kv.VQVAE(input_shape=(8, 8, 1), num_embeddings=4, embedding_dim=2, filters=(4,),
                  residual_blocks=0)
    vq.compile(optimizer="adam")
    assert vq.jit_compile is False


def test_explicit_choices_eager_and_strategies_win_over_auto():
    model = mlp()
    model.compile(optimizer="adam", jit_compile=False)
    assert model.jit_compile is False
    model.compile(optimizer="adam", run_eagerly=True)
    assert model.jit_compile is False
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        scoped = mlp()
        scoped.compile(optimizer="adam")
    assert scoped.jit_compile is False
    conv = kv.VAE(input_shape=(8, 8, 1), latent_dim=3, architecture="conv", filters=(4,))
    conv.compile(optimizer="adam", jit_compile=True)
    assert conv.jit_compile is True


def test_xla_step_matches_the_graph_step(monkeypatch):
    # TensorFlow's random kernels and XLA's draw different noise from the same seed, so the
    # comparison fixes z at the posterior mean; everything else (objective, gradients, Adam,
    # metrics) must agree.
    monkeypatch.setattr(kv.layers.Sampling, "call", lambda self, inputs: inputs[0])
    x = images()
    results = {}
    for jit in (True, False):
        model = mlp(likelihood="gaussian")
        model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=jit)
        history = model.fit(x, batch_size=8, epochs=3, shuffle=False, verbose=0)
        results[jit] = (history.history, [w.numpy() for w in model.weights])
    for name in results[True][0]:
        np.testing.assert_allclose(results[True][0][name], results[False][0][name],
                                   rtol=1e-4, atol=1e-4, err_msg=name)
    for xla_weight, graph_weight in zip(results[True][1], results[False][1]):
        np.testing.assert_allclose(xla_weight, graph_weight, rtol=1e-4, atol=1e-5)


def test_input_checks_survive_xla():
    keras.utils.set_random_seed(0)
    model = kv.ConditionalVAE(input_shape=(8, 8, 1), num_classes=3, latent_dim=2,
                              hidden_units=(8,))
    model.compile(optimizer="adam")
    assert model.jit_compile is True
    x = images(4)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must lie in \[0, 3\)"):
        model.fit(x, np.array([0, 1, 5, 2]), epochs=1, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must lie in \[0, 3\)"):
        model.evaluate(x, np.array([0, 1, -1, 2]), verbose=0)
    history = model.fit(x, np.array([0, 1, 2, 2]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_the_choice_is_saved_with_the_model(tmp_path):
    for jit in (True, False):
        model = mlp()
        model.compile(optimizer="adam", jit_compile=jit)
        model.fit(images(), batch_size=8, epochs=1, verbose=0)
        path = str(tmp_path / f"model_{jit}.keras")
        model.save(path)
        assert keras.saving.load_model(path).jit_compile is jit


def test_auto_steps_per_execution_runs_exactly_the_steps_asked_for():
    # Keras runs whole executions, so on repeated data an execution that does not divide
    # steps_per_epoch would run past the epoch's end and take the next epoch's batches.
    x = images(64)
    data = tf.data.Dataset.from_tensor_slices(x).batch(4)
    weights = {}
    for steps_per_execution in ("auto", 1):
        model = mlp()
        model.compile(optimizer=keras.optimizers.Adam(1e-2),
                      steps_per_execution=steps_per_execution)
        model.fit(data.repeat(), epochs=2, steps_per_epoch=36, verbose=0,
                  validation_data=data.repeat(), validation_steps=8)
        assert int(model.optimizer.iterations) == 72
        assert model.steps_per_execution == (4 if steps_per_execution == "auto" else 1)
        weights[steps_per_execution] = [w.numpy() for w in model.trainable_weights]
    for auto, single in zip(weights["auto"], weights[1]):
        np.testing.assert_allclose(auto, single, rtol=1e-5, atol=1e-6)


def test_auto_steps_per_execution_is_resolved_for_each_run():
    auto = kv.models.execution.AUTO_STEPS_PER_EXECUTION
    model = mlp()
    model.compile(optimizer="adam")
    data = tf.data.Dataset.from_tensor_slices(images(64)).batch(1)
    model.fit(data, epochs=1, verbose=0)  # a finite dataset ends the epoch itself
    assert model.steps_per_execution == auto
    model.evaluate(data.take(auto - 1), verbose=0)  # shorter than a chunk: one step per call
    assert model.steps_per_execution == 1

    def resolved(run, *validation):  # what `fit`/`evaluate`/`predict` set, without running
        model._resolve_steps_per_execution(run, *validation)
        return model.steps_per_execution

    assert resolved((48, data.repeat(), None)) == 24  # divides steps_per_epoch
    # The validation data ends first, so only steps_per_epoch must be divided.
    assert resolved((40, data.repeat(), None), (80, data, None)) == 20
    assert resolved((40, data.repeat(), None), (8, data.repeat(), None)) == 8
    assert resolved((None, data.take(40), None)) == auto
    # Known to be shorter than one chunk: a short dataset, a short steps_per_epoch, arrays in
    # few batches (Keras's default batch size is 32).
    assert resolved((None, data.take(auto - 1), None)) == 1
    assert resolved((12, data.repeat(), None)) == 1
    assert resolved((None, images(64), None)) == 1
    assert resolved((None, images(64), 1)) == auto
    # A length that cannot be known without reading the data counts as long.
    assert resolved((None, data.filter(lambda x: True), None)) == auto


def test_the_length_of_a_run_is_read_without_reading_its_data():
    batches_in = kv.models.execution._batches_in
    x = images(10)
    assert batches_in(x, 4) == 3 and batches_in(x, None) == 1
    assert batches_in((x, {"a": x}), 5) == 2
    assert batches_in((x, x[:5]), 4) is None  # rows disagree: Keras will refuse them
    assert batches_in(tf.data.Dataset.from_tensor_slices(x).batch(3), None) == 4
    assert batches_in(tf.data.Dataset.from_tensor_slices(x).repeat(), None) is None
    assert batches_in(iter([x]), 4) is None and batches_in(None, 4) is None

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 5

        def __getitem__(self, index):
            return x

    assert batches_in(Batches(), 4) == 5


def test_steps_per_execution_choices_eager_strategies_and_bad_values():
    model = mlp()
    model.compile(optimizer="adam", steps_per_execution=5)
    model.fit(images(), batch_size=4, epochs=1, verbose=0)
    assert model.steps_per_execution == 5 and not model.auto_steps_per_execution
    model.compile(optimizer="adam", run_eagerly=True)
    model.fit(images(), batch_size=4, epochs=1, verbose=0)
    assert model.steps_per_execution == 1
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        scoped = mlp()
        scoped.compile(optimizer="adam")
        scoped.fit(images(), batch_size=4, epochs=1, verbose=0)
    assert scoped.steps_per_execution == 1
    conv = kv.VAE(input_shape=(8, 8, 1), latent_dim=3, architecture="conv", filters=(4,))
    conv.compile(optimizer="adam")  # the graph step: one step per call
    conv.fit(images(), batch_size=4, epochs=1, verbose=0)
    assert conv.auto_steps_per_execution and conv.steps_per_execution == 1
    for bad in (0, -2, 1.5, "fast", True):
        with pytest.raises(ValueError, match="steps_per_execution"):
            model.compile(optimizer="adam", steps_per_execution=bad)


def test_auto_steps_per_execution_is_saved_as_auto(tmp_path):
    model = mlp()
    model.compile(optimizer="adam")
    model.fit(images(), batch_size=4, epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.auto_steps_per_execution
    loaded.fit(tf.data.Dataset.from_tensor_slices(images()).batch(4).repeat(), epochs=1,
               steps_per_epoch=33, verbose=0)
    assert loaded.steps_per_execution == 11


def test_xla_chunks_run_the_same_steps_as_single_steps(monkeypatch):
    # Several steps per call run as one XLA program over a chunk of batches; a chunk cut
    # short by the end of the data (40 examples: 10 batches, chunks of 4, 4, 2) runs that
    # program over fewer batches, and one that mixes batch sizes (42: a last batch of 2)
    # runs that program once per step. Every path must train as single steps do, and the
    # model's training step is traced once per chunked function, whatever paths it takes.
    monkeypatch.setattr(kv.layers.Sampling, "call", lambda self, inputs: inputs[0])
    chunked, traced = [], []
    original = kv.models.execution.CompiledModel._chunk_function
    monkeypatch.setattr(kv.models.execution.CompiledModel, "_chunk_function",
                        lambda self, kind: chunked.append(kind) or original(self, kind))
    gradient_step = kv.models.trainer.ObjectiveModel.gradient_step
    monkeypatch.setattr(kv.models.trainer.ObjectiveModel, "gradient_step",
                        lambda self, inputs: traced.append(self.steps_per_execution)
                        or gradient_step(self, inputs))
    for n in (40, 42):
        x = images(n)
        runs = {}
        for steps_per_execution in (4, 1):
            model = mlp(likelihood="gaussian")
            model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True,
                          steps_per_execution=steps_per_execution)
            history = model.fit(x, batch_size=4, epochs=2, shuffle=False, verbose=0,
                                validation_data=x[:20])
            assert int(model.optimizer.iterations) == 2 * -(-n // 4)
            runs[steps_per_execution] = (history.history, [w.numpy() for w in model.weights],
                                         model.evaluate(x, batch_size=4, verbose=0))
        for name in runs[1][0]:
            np.testing.assert_allclose(runs[4][0][name], runs[1][0][name], rtol=1e-5,
                                       atol=1e-5, err_msg=name)
        for chunk_weight, single_weight in zip(runs[4][1], runs[1][1]):
            np.testing.assert_allclose(chunk_weight, single_weight, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(runs[4][2], runs[1][2], rtol=1e-5)
    assert chunked.count("train") == 2 and chunked.count("test") >= 2
    assert traced.count(4) == 2, traced


def test_a_chunk_checks_every_batch_before_training_on_any():
    keras.utils.set_random_seed(0)
    model = kv.ConditionalVAE(input_shape=(8, 8, 1), num_classes=3, latent_dim=2,
                              hidden_units=(8,))
    model.compile(optimizer="adam", steps_per_execution=4)
    assert model.jit_compile is True
    before = [w.numpy() for w in model.trainable_weights]
    labels = np.array([0, 1, 2, 0, 1, 7, 2, 0])  # the third batch of two is bad
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must lie in \[0, 3\)"):
        model.fit(images(8), labels, batch_size=2, epochs=1, verbose=0)
    for old, new in zip(before, model.trainable_weights):
        np.testing.assert_array_equal(old, new.numpy())


def test_a_subclass_with_its_own_step_keeps_one_step_per_call():
    class Counted(kv.VAE):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.counter = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                           name="counter")

        def train_step(self, data):
            self.counter.assign_add(1.0)
            return super().train_step(data)

    keras.utils.set_random_seed(0)
    model = Counted(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,))
    model.compile(optimizer="adam", steps_per_execution=4)
    assert model.split_step("train") is None and model.split_step("test") is not None
    model.fit(images(16), batch_size=2, epochs=1, verbose=0)
    assert float(model.counter) == 8.0
