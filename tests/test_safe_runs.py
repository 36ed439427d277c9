"""Runs that never damage what exists, and bad input refused with one clear line: the
output-folder rules of ``train``, atomic files, the non-finite stop, hyperparameter and data
checks."""

import hashlib
import json
import os
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv
from keras_vae import cli
from keras_vae import outputs
from keras_vae import training
from keras_vae.models import MODEL_KINDS
from keras_vae.models import constructor_defaults
from keras_vae.models import model_class
from tests.runs import claim_elsewhere
from tests.runs import held_elsewhere

TINY = ["--architecture", "mlp", "--hidden-units", "8", "--latent-dim", "2", "--quiet",
        "--epochs", "1", "--no-export"]


def _files(folder):
    """Every file under ``folder`` (logs aside) with the hash of its bytes."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            if "logs" not in os.path.relpath(path, folder).split(os.sep):
                found[os.path.relpath(path, folder)] = hashlib.sha256(
                    open(path, "rb").read()).hexdigest()
    return found


def _cli_error(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    assert not any("Traceback" in line for line in err), err
    return exit_info.value.code, err[-1]


def test_a_failing_run_leaves_an_earlier_one_as_it_was(tiny_npz, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert cli.main(["train", "--dataset", tiny_npz, "--output", out, *TINY]) == 0
    before = _files(out)
    assert {"model.keras", "history.csv", "metrics.json"} <= set(before)
    bad = ["train", "--model", "cvae", "--num-classes", "5", "--dataset", tiny_npz,
           "--output", out, *TINY]  # the data has labels up to 9
    code, line = _cli_error(capsys, *bad)
    assert code == 2 and "holds the results of an earlier run" in line and "--overwrite" in line
    code, line = _cli_error(capsys, *bad, "--overwrite")
    assert code == 2 and "labels must lie in [0, 5)" in line
    assert _files(out) == before
    assert not os.path.exists(os.path.join(out, outputs.PREVIOUS))
    rows = open(os.path.join(out, "history.csv")).read().splitlines()
    assert len(rows) == 2 and rows[0].startswith("epoch,")


def test_overwrite_replaces_an_earlier_run_when_it_succeeds(tiny_npz, tmp_path):
    out = str(tmp_path / "run")
    assert cli.main(["train", "--dataset", tiny_npz, "--output", out, *TINY]) == 0
    first = json.load(open(os.path.join(out, "metrics.json")))
    assert cli.main(["train", "--dataset", tiny_npz, "--output", out, "--seed", "3",
                     "--overwrite", *TINY]) == 0
    second = json.load(open(os.path.join(out, "metrics.json")))
    assert second["validation"]["loss"] != first["validation"]["loss"]
    assert not os.path.exists(os.path.join(out, outputs.PREVIOUS))
    assert not [n for n in os.listdir(out) if ".partial" in n]


def test_a_folder_another_process_holds_is_refused_and_left_as_it_was(tiny_npz, tmp_path,
                                                                      capsys):
    out = str(tmp_path / "run")
    assert cli.main(["train", "--dataset", tiny_npz, "--output", out, *TINY]) == 0
    before = _files(out)
    report = os.path.join(out, "evaluation")  # where `evaluate` writes
    for held, command in [
            (out, ["train", "--dataset", tiny_npz, "--output", out, "--overwrite", *TINY]),
            (out, ["train", "--dataset", tiny_npz, "--output", out, "--resume", *TINY[:-3],
                   "--epochs", "2", "--no-export"]),
            (report, ["evaluate", out, "--dataset", tiny_npz, "--nll-samples", "0"])]:
        with held_elsewhere(held):
            code, line = _cli_error(capsys, *command)
        assert code == 2 and line.endswith(f"{held} is in use by another process (a run or "
                                           "scoring writing into it): wait for it to end, or "
                                           "choose another output folder"), line
        assert _files(out) == before
    # The holder was killed outright: its claim went with it.
    assert cli.main(["train", "--dataset", tiny_npz, "--output", out, "--overwrite",
                     *TINY]) == 0


def test_claims_nest_in_a_process_and_a_folder_left_empty_is_removed(tmp_path):
    folder = tmp_path / "new"
    with outputs.claimed(folder):
        with outputs.claimed(folder):
            assert folder.is_dir()
        process, word = claim_elsewhere(folder)  # the outer claim still holds it
        process.wait()
        assert word == "refused"
    assert not folder.exists()  # created by the claim, and nothing was written
    folder.mkdir()
    with outputs.claimed(folder):
        pass
    assert folder.is_dir()  # not created by it: kept


class _FailAfterEpoch(keras.callbacks.Callback):
    """Fails at the end of epoch ``epoch`` (after the backup of that epoch is written)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def _train(tiny_npz, out, seed=0, log=lambda *a: None, **kwargs):
    return training.train(model="vae", dataset=tiny_npz, output=out, epochs=2, batch_size=16,
                          seed=seed, verbose=0, export=False, log=log,
                          model_kwargs={"architecture": "mlp", "hidden_units": (8,),
                                        "latent_dim": 2}, **kwargs)


def test_a_run_trains_the_same_model_whatever_ran_before_it_in_the_process(tiny_npz, tmp_path):
    # TensorFlow pairs seeded ops with the global seed, which an earlier run (or the user)
    # leaves set: the data of a run once followed it, so a second run in one process drew
    # another order and binarization than the same run in a fresh process.
    def weights(name, global_seed):
        tf.random.set_seed(global_seed)
        _train(tiny_npz, str(tmp_path / name), binarize="dynamic")
        return [np.asarray(w) for w in training.load_trained(str(tmp_path / name)).weights]

    fresh = weights("fresh", None)
    for name, global_seed in (("after_seed_0", 0), ("after_seed_5", 5)):
        for a, b in zip(fresh, weights(name, global_seed), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_an_interrupted_run_resumes_only_with_its_own_settings(tiny_npz, tmp_path):
    out = str(tmp_path / "run")
    with pytest.raises(RuntimeError, match="interrupted"):
        _train(tiny_npz, out, callbacks=[_FailAfterEpoch(0)])
    assert os.path.isfile(os.path.join(out, "backup", training.RUN_SETTINGS_FILE))
    with pytest.raises(ValueError, match=r"other settings \(seed: 0 there, 1 now\)"):
        _train(tiny_npz, out, seed=1)
    lines = []
    result = _train(tiny_npz, out, log=lines.append)
    assert any("Resuming the interrupted run" in line for line in lines)
    assert result["metrics"]["steps"] == 8  # 4 steps an epoch: the resumed epoch not redone
    assert not os.path.exists(os.path.join(out, "backup"))
    # another interrupted run; a different seed starts anew once asked to
    with pytest.raises(RuntimeError):
        _train(tiny_npz, out, overwrite=True, callbacks=[_FailAfterEpoch(0)])
    assert _train(tiny_npz, out, seed=1, overwrite=True)["metrics"]["steps"] == 8


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_files(tiny_npz, tmp_path,
                                                                       capsys):
    out = str(tmp_path / "run")
    code, line = _cli_error(capsys, "train", "--dataset", tiny_npz, "--output", out,
                            "--learning-rate", "1e30", "--batch-size", "16", *TINY)
    assert code == 1
    assert line.startswith("keras-vae train: error: training stopped at step ")
    assert " is nan" in line or " is inf" in line
    assert not os.path.exists(os.path.join(out, "model.keras"))
    assert not os.path.exists(os.path.join(out, "metrics.json"))


def test_stop_on_non_finite_names_the_metric_and_raises_before_the_epoch_ends():
    x = np.random.default_rng(0).random((32, 4, 4, 1)).astype("float32")
    model = kv.VAE(input_shape=(4, 4, 1), latent_dim=2, hidden_units=(8,), architecture="mlp")
    model.compile(keras.optimizers.Adam(1e30), steps_per_execution=1)
    ended = []
    on_end = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: ended.append(e))
    with pytest.raises(kv.callbacks.NonFiniteLossError, match=r"at step \d+: loss is"):
        model.fit(x, batch_size=4, epochs=5, verbose=0,
                  callbacks=[kv.callbacks.StopOnNonFinite(), on_end])
    assert not ended or max(ended) < 4


def test_json_is_always_valid_and_a_failed_write_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "metrics.json")
    outputs.write_json(path, {"a": float("nan"), "b": [np.float32(np.inf), 1.5],
                              "c": np.arange(2)})
    assert json.loads(open(path).read(), parse_constant=lambda c: 1 / 0) == \
        {"a": None, "b": [None, 1.5], "c": [0, 1]}
    with pytest.raises(TypeError):
        outputs.write_json(path, {"x": object()})
    assert json.load(open(path))["b"] == [None, 1.5]
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_history_is_never_empty_between_epochs(tmp_path):
    path = str(tmp_path / "history.csv")
    open(path, "w").write("epoch,loss\n0,1.0\n1,0.5\n")
    logger = kv.callbacks.HistoryCSV(path, append=True)
    logger.on_epoch_begin(1)
    assert open(path).read() == "epoch,loss\n0,1.0\n1,0.5\n"  # untouched until an epoch ends
    logger.on_epoch_end(1, {"loss": 0.25, "kl_loss": 2.0})
    assert open(path).read().splitlines() == ["epoch,kl_loss,loss", "0,,1.0", "1,2.0,0.25"]
    fresh = kv.callbacks.HistoryCSV(path)
    fresh.on_epoch_begin(0)
    assert len(open(path).read().splitlines()) == 3


def test_os_errors_are_one_line(tiny_npz, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, line = _cli_error(capsys, "train", "--dataset", tiny_npz,
                            "--output", str(blocker / "run"), *TINY)
    assert code == 2 and str(blocker) in line
    out = str(tmp_path / "run")
    assert cli.main(["train", "--dataset", tiny_npz, "--output", out, *TINY]) == 0
    code, line = _cli_error(capsys, "export", out, "--output", str(blocker / "exports"))
    assert code == 2 and str(blocker) in line
    not_a_model = tmp_path / "features.keras"
    with zipfile.ZipFile(not_a_model, "w") as archive:
        archive.writestr("notes.txt", "hello")
    code, line = _cli_error(capsys, "evaluate", out, "--dataset", tiny_npz, "--nll-samples", "0",
                            "--feature-model", str(not_a_model))
    assert code == 2 and "features.keras cannot be loaded as a Keras model" in line
    code, line = _cli_error(capsys, "tune", "--dataset", tiny_npz, "--max-trials", "1",
                            "--epochs", "1", "--output", str(blocker / "search"))
    assert code == 2 and "not a directory" in line


def test_kv_training_is_reachable_from_the_package():
    assert kv.training.train is training.train


def _numeric_arguments():
    for kind in MODEL_KINDS:
        cls = model_class(kind)[0]
        for name, value in constructor_defaults(cls).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                yield kind, name


def test_every_numeric_hyperparameter_refuses_nan_and_negative_values():
    accepted = []
    for kind, name in _numeric_arguments():
        cls = model_class(kind)[0]
        base = {"input_shape": (8, 8, 1)}
        if cls.latent_kind != "codes":
            base.update(architecture="mlp", hidden_units=(8,))
        for bad in (-1, float("nan"), float("inf")):
            try:
                cls(**base, **{name: bad})
            except ValueError:
                continue
            accepted.append((kind, name, bad))
    assert not accepted


def test_schedules_below_the_minimum_are_refused():
    with pytest.raises(ValueError, match="`beta` must be >= 0.0. Received: beta=-1"):
        kv.BetaVAE(input_shape=(8, 8, 1), architecture="mlp", hidden_units=(8,), beta=-1)
    with pytest.raises(ValueError, match="`beta` must be >= 0.0 at every step"):
        kv.BetaVAE(input_shape=(8, 8, 1), architecture="mlp", hidden_units=(8,),
                   beta=kv.schedules.LinearWarmup(-1.0, 2.0, 10))
    with pytest.raises(ValueError, match="finite number"):
        kv.schedules.Constant(float("nan"))


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_fit_refuses_non_finite_data(run_eagerly):
    x = np.random.default_rng(0).random((16, 4, 4, 1)).astype("float32")
    x[3, 1, 2, 0] = np.nan
    model = kv.VAE(input_shape=(4, 4, 1), latent_dim=2, hidden_units=(8,), architecture="mlp")
    model.compile(keras.optimizers.Adam(1e-3), run_eagerly=run_eagerly)
    with pytest.raises(ValueError, match=r"`x` holds NaN or infinite values \(the first at "
                                         r"index \(3, 1, 2, 0\)"):
        model.fit(x, epochs=1, verbose=0)
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(x).batch(8)
    expected = ValueError if run_eagerly else tf.errors.InvalidArgumentError
    with pytest.raises(expected, match="the data holds NaN or infinite values"):
        model.fit(data, epochs=1, verbose=0)
    assert np.isfinite(model.get_weights()[0]).all()


def test_label_encoding_refuses_labels_out_of_range():
    encoding = kv.layers.LabelEncoding(3)
    assert encoding(np.array([0, 2])).numpy().tolist() == [[1, 0, 0], [0, 0, 1]]
    for labels in ([3], [-1], [0, 5]):
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
            encoding(np.array(labels))


def test_a_subclass_build_runs_for_the_library_layers():
    class Scaled(kv.layers.Sampling):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    layer = Scaled(seed=1)
    layer((np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32")))
    assert layer.built and [v.name for v in layer.trainable_weights] == ["scale"]
    encoding = kv.layers.LabelEncoding(3, mode="embedding", embedding_dim=4)
    assert not encoding.built
    encoding(np.array([1]))
    assert encoding.built and encoding.embeddings.shape == (3, 4)
