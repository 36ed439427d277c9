import json
import os
import subprocess
import sys
import zipfile

import pytest

from keras_vae import cli
from keras_vae.evaluation import generation as kv_generation
from tests.machine import skip_bfloat16_crash

TINY = ["--architecture", "mlp", "--hidden-units", "8", "--latent-dim", "2", "--quiet"]


def run_cli(*argv):
    return cli.main(["train", *argv])


def test_train_writes_model_checkpoint_logs_pictures_and_metrics(tiny_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli("--dataset", tiny_npz, "--epochs", "2", "--output", str(out), *TINY) == 0
    for name in ("model.keras", "checkpoints/last.keras", "checkpoints/state.json",
                 "reconstructions.png", "samples.png", "metrics.json", "history.csv"):
        assert (out / name).is_file(), name
    assert any(files for _, _, files in os.walk(out / "logs"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["validation"]) == {"loss", "reconstruction_loss", "kl_loss", "elbo"}
    assert metrics["steps"] == 2  # 64 images at batch 128: one step per epoch
    printed = capsys.readouterr().out
    assert str(out / "model.keras") in printed and "Pictures:" in printed


def test_resume_continues_from_the_last_epoch(tiny_npz, tmp_path):
    out = str(tmp_path / "run")
    run_cli("--dataset", tiny_npz, "--epochs", "1", "--batch-size", "16", "--output", out,
            "--model", "beta_vae_capacity", "--capacity-steps", "100", *TINY)
    state = json.loads(open(os.path.join(out, "checkpoints", "state.json")).read())
    assert {k: state[k] for k in ("epoch", "step")} == {"epoch": 1, "step": 4}
    run_cli("--dataset", tiny_npz, "--epochs", "3", "--batch-size", "16", "--output", out,
            "--model", "beta_vae_capacity", "--resume", *TINY)
    state = json.loads(open(os.path.join(out, "checkpoints", "state.json")).read())
    assert {k: state[k] for k in ("epoch", "step")} == {"epoch": 3, "step": 12}
    history = open(os.path.join(out, "history.csv")).read().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["0", "1", "2"]
    # capacity continued from step 4 (C = 5 * step / 100): epoch 3 averages steps 8..11
    header = history[0].split(",")
    capacity = float(history[3].split(",")[header.index("capacity")])
    assert capacity == pytest.approx(25.0 * 9.5 / 100, rel=1e-4)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "mnits"], "Unknown dataset 'mnits'"),
        (["--dataset", "missing/file.npz"], "No such .npz file"),
        (["--beta", "4"], "--beta does not apply to --model vae"),
        (["--epochs", "0"], "expected a positive integer"),
        (["--model", "gan"], "invalid choice"),
        (["--filters", "32,x"], "comma-separated integers"),
        (["--model", "vqvae", "--latent-dim", "4"], "--latent-dim does not apply to --model vqvae"),
        (["--model", "vqvae", "--architecture", "mlp"], "convolutional"),
        (["--model", "vqvae", "--beta", "2"], "--beta does not apply to --model vqvae"),
        (["--num-embeddings", "64"], "--num-embeddings does not apply to --model vae"),
        (["--model", "vqvae", "--ema-decay", "1.5"], "expected a decay in (0, 1)"),
        (["--model", "vqvae", "--ema-decay", "0.9", "--gradient-codebook"], "exclude each other"),
        (["--strategy", "horovod"], "invalid choice"),
        (["--strategy", "tpu"], "needs a TPU"),
        (["--mixed-precision", "float8"], "invalid choice"),
        (["--architecture", "mlp", "--dense-units", "64"],
         "--dense-units is for --architecture conv"),
        (["--model", "vqvae", "--dense-units", "64"],
         "--dense-units does not apply to --model vqvae"),
        (["--dense-units", "256,0"], "positive integers"),
        (["--learning-rate", "nan"], "expected a positive number, got 'nan'"),
        (["--learning-rate", "-1"], "expected a positive number, got '-1'"),
        (["--learning-rate", "0"], "expected a positive number, got '0'"),
        (["--learning-rate", "inf"], "expected a positive number, got 'inf'"),
        (["--model", "beta_vae", "--beta", "nan"], "expected a number >= 0, got 'nan'"),
        (["--model", "beta_vae", "--beta", "-1"], "expected a number >= 0, got '-1'"),
        (["--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(*argv, "--output", str(tmp_path / "o"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1]
    assert not any("Traceback" in line for line in err)


def test_resume_without_checkpoint_is_a_clear_error(tiny_npz, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("--dataset", tiny_npz, "--resume", "--output", str(tmp_path / "none"), *TINY)
    assert exit_info.value.code == 2
    assert "No checkpoint to resume from" in capsys.readouterr().err


def test_module_entry_point_runs(tiny_npz, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "keras_vae", "train", "--dataset", tiny_npz, "--epochs", "1",
         "--output", str(out), *TINY],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Model:" in proc.stdout and (out / "model.keras").is_file()


def test_cvae_writes_one_row_per_class(tiny_npz, tmp_path):
    out = tmp_path / "cvae"
    assert run_cli("--model", "cvae", "--dataset", tiny_npz, "--epochs", "1", "--output", str(out),
                   "--num-classes", "10", "--standard-prior", *TINY) == 0
    assert (out / "samples.png").is_file() and (out / "1" / "saved_model.pb").is_file()
    from keras_vae import export

    assert export.read_metadata(out / "1")["num_classes"] == 10


def test_cvae_flags_are_refused_for_other_models(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_cli("--standard-prior", "--output", str(tmp_path / "o"))
    assert "--standard-prior does not apply to --model vae" in capsys.readouterr().err
    # A prior for a ConditionalVAE, which learns p(z|c), needs the flag that drops p(z|c).
    with pytest.raises(SystemExit):
        run_cli("--model", "cvae", "--prior", "vamp:10", "--output", str(tmp_path / "o"))
    assert "pass --standard-prior with it" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_vqvae_trains_then_its_prior_and_writes_the_codebook_histogram(tiny_npz, tmp_path, capsys):
    out = tmp_path / "vq"
    assert run_cli("--dataset", tiny_npz, "--model", "vqvae", "--epochs", "1", "--output", str(out),
                   "--filters", "4", "--num-embeddings", "8", "--embedding-dim", "3",
                   "--ema-decay", "0.9", "--kmeans-init", "--prior-epochs", "1",
                   "--class-prior", "--batch-size", "16", "--quiet") == 0
    for name in ("model.keras", "reconstructions.png", "samples.png", "codebook_usage.png",
                 "1/saved_model.pb"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"vq_loss", "perplexity", "codebook_usage"} <= set(metrics["validation"])
    assert metrics["codebook"]["num_embeddings"] == 8
    assert 1 <= metrics["codebook"]["codes_used"] <= 8
    meta = json.loads((out / "1" / "assets" / "keras_vae.json").read_text())
    assert meta["prior"] == "class-conditional PixelCNN" and meta["num_classes"] == 10
    assert "codebook_usage.png" in capsys.readouterr().out
    # Without a prior there is nothing to sample (and no samples.png).
    out2 = tmp_path / "vq2"
    assert run_cli("--dataset", tiny_npz, "--model", "vqvae", "--epochs", "1", "--output",
                   str(out2), "--filters", "4", "--prior-epochs", "0", "--no-export",
                   "--gradient-codebook", "--dead-code-steps", "0", "--quiet") == 0
    assert not (out2 / "samples.png").exists() and (out2 / "reconstructions.png").is_file()
    config = json.loads(zipfile.ZipFile(out2 / "model.keras").read("config.json"))["config"]
    assert config["ema_decay"] is None and config["dead_code_steps"] is None


def test_tune_prints_the_trials_and_exports_the_best_model(tiny_npz, tmp_path, capsys):
    import keras

    out = tmp_path / "tuning"
    assert cli.main(["tune", "--dataset", tiny_npz, "--model", "beta_vae", "--max-trials", "2",
                     "--epochs", "1", "--batch-size", "16", "--objective", "val_elbo",
                     "--fix", "hidden_units=128", "--fix", "latent_dim=3", "--quiet",
                     "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    table = [line for line in printed.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| trial | status | score | beta |")
    rows = table[2:]
    assert len(rows) == 2 and all("COMPLETED" in row and "| 128 | 3 |" in row for row in rows)
    scores = [float(row.split("|")[3]) for row in rows]
    assert scores[0] >= scores[1]  # best first, the ELBO maximised
    best = keras.saving.load_model(str(out / "best.keras"))
    assert best.latent_dim == 3 and (out / "1" / "saved_model.pb").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--objective", "val_accuracy"], "Unknown objective 'val_accuracy'"),
        (["--fix", "beta"], "--fix expects NAME=VALUE"),
        (["--fix", "beta=2.0"], r"\['beta'\] are not in the vae search space"),
        (["--num-classes", "3"], "--num-classes does not apply to --model vae"),
        (["--tuner", "hyperband", "--epochs", "1"], "Hyperband needs epochs >= 2"),
    ],
)
def test_tune_bad_arguments_exit_2_with_one_line(tiny_npz, tmp_path, capsys, argv, message):
    import re

    with pytest.raises(SystemExit) as raised:
        cli.main(["tune", "--dataset", tiny_npz, "--output", str(tmp_path / "t"), "--quiet",
                  *argv])
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err), err


def test_malformed_tf_config_is_named(tiny_npz, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}}')
    with pytest.raises(SystemExit) as exit_info:
        run_cli("--dataset", tiny_npz, "--output", str(tmp_path / "o"), *TINY)
    assert exit_info.value.code == 2
    assert 'TF_CONFIG needs a "task"' in capsys.readouterr().err


@skip_bfloat16_crash
def test_train_under_a_strategy_in_mixed_precision_exports_float32(tiny_npz, tmp_path):
    import keras
    import numpy as np
    import tensorflow as tf

    out = tmp_path / "run"
    assert run_cli("--dataset", tiny_npz, "--model", "vqvae", "--epochs", "1", "--output",
                   str(out), "--filters", "4", "--num-embeddings", "8", "--embedding-dim", "3",
                   "--prior-epochs", "1", "--strategy", "mirrored", "--mixed-precision",
                   "mixed_bfloat16", "--quiet") == 0
    # The run's policy does not leak into the process.
    assert keras.mixed_precision.dtype_policy().name == "float32"
    model = keras.models.load_model(out / "model.keras")
    assert model.compute_dtype == "bfloat16" and model.prior.compute_dtype == "bfloat16"
    served = tf.saved_model.load(str(out / "1"))
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    outputs = {**served.signatures["encode"](x=x), **served.signatures["reconstruct"](x=x)}
    assert outputs["z_e"].dtype == tf.float32 and outputs["x_mean"].dtype == tf.float32
    assert outputs["codes"].dtype == tf.int32


@pytest.mark.parametrize("model, extra, pictures", [
    ("vae", ["--latent-dim", "2"], ["traversals", "interpolations", "latent_scatter", "manifold"]),
    ("cvae", [], ["traversals", "interpolations", "latent_scatter"]),
    ("vqvae", ["--filters", "4", "--num-embeddings", "8", "--embedding-dim", "3",
               "--prior-epochs", "1", "--class-prior"], ["codebook_usage"]),
])
def test_evaluate_writes_metrics_pictures_and_a_report(tiny_npz, tmp_path, capsys, model, extra,
                                                       pictures):
    out = tmp_path / "run"
    tiny = TINY if model != "vqvae" else ["--quiet"]
    tiny = [a for a in tiny if model != "cvae" or a not in ("--latent-dim", "2")]
    assert run_cli("--dataset", tiny_npz, "--model", model, "--epochs", "2", "--output",
                   str(out), "--no-export", *tiny, *extra) == 0
    classifier = tmp_path / "classifier.keras"
    keras_classifier(classifier)
    argv = ["evaluate", str(out), "--dataset", tiny_npz, "--nll-samples", "50", "--quiet"]
    if model == "cvae":
        argv += ["--projection", "tsne"]  # a 4-D latent: the scatter needs a projection
    if model != "vae":
        argv += ["--classifier", str(classifier)]
    assert cli.main(argv) == 0
    folder = out / "evaluation"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["test"]) >= {"loss", "elbo"}
    for name in ["reconstructions", "samples", "training_curves", *pictures]:
        assert (folder / f"{name}.png").is_file(), name
    report = (folder / "report.md").read_text()
    assert "![reconstructions](reconstructions.png)" in report
    if model == "vqvae":
        assert metrics["codebook"]["num_embeddings"] == 8
        assert "iwae" not in metrics
    else:
        assert metrics["iwae"]["num_samples"] == 50 and metrics["iwae"]["num_examples"] == 32
        assert metrics["iwae"]["nll"] <= -metrics["iwae"]["elbo"]
        assert metrics["collapse"]["latent_dim"] == (2 if model == "vae" else 4)
        assert "IWAE NLL (K=50)" in capsys.readouterr().out
    if model != "vae":
        assert 0.0 <= metrics["conditional_accuracy"]["accuracy"] <= 1.0


def keras_classifier(path):
    import keras

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.save(path)


def test_evaluate_on_shapes_reports_disentanglement(tmp_path):
    out = tmp_path / "run"
    assert run_cli("--dataset", "shapes", "--epochs", "1", "--steps-per-epoch", "2",
                   "--validation-steps", "1", "--batch-size", "16", "--filters", "4,4",
                   "--latent-dim", "3", "--output", str(out), "--no-export", "--quiet") == 0
    assert cli.main(["evaluate", str(out), "--dataset", "shapes", "--nll-samples", "0",
                     "--max-examples", "64", "--disentanglement-examples", "300",
                     "--dci-estimator", "forest", "--quiet"]) == 0
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert "iwae" not in metrics
    assert set(metrics["disentanglement"]) >= {"mig", "beta_vae_score", "factor_vae_score",
                                               "dci_disentanglement", "sap"}
    # the fast estimator (the default, gradient-boosted trees, takes a minute even here; the
    # library's report test and tests/test_disentanglement_reference.py run it)
    assert metrics["disentanglement"]["dci_estimator"] == "forest"
    validity = metrics["shapes_validity"]  # of 1,000 samples: after 2 steps, no shapes
    assert validity["threshold"] == kv_generation.SHAPE_IOU_THRESHOLD
    assert 0.0 <= validity["valid_fraction"] <= 0.05
    assert "valid shapes" in (out / "evaluation" / "report.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "nowhere", "--dataset", "shapes"], "No model at nowhere"),
    (["evaluate", "nowhere"], "required: --dataset"),
    (["evaluate", "nowhere", "--dataset", "shapes", "--nll-samples", "-1"], "an integer >= 0"),
    (["evaluate", "not-a-model.keras", "--dataset", "shapes"],
     "not-a-model.keras cannot be loaded as a Keras model (KeyError"),
])
def test_evaluate_bad_arguments_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with zipfile.ZipFile("not-a-model.keras", "w") as archive:  # a zip, but not a model
        archive.writestr("notes.txt", "hello")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and not any("Traceback" in line for line in err)


def test_dense_units_reach_the_model():
    from keras_vae import cli

    parser = cli.build_parser()
    for argv, expected in ((["--dense-units", "256,128"], (256, 128)),
                           (["--dense-units", "none"], ()),
                           ([], cli.CONV_DENSE_UNITS)):
        args = parser.parse_args(["train", *argv])
        assert cli._model_kwargs(args, parser)["dense_units"] == expected


def test_cvae_on_float_conditions_from_an_npz(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    path = tmp_path / "conditions.npz"
    np.savez(path, x_train=rng.integers(0, 256, (48, 8, 8), dtype=np.uint8),
             y_train=rng.random((48, 3)).astype("float32"),
             x_test=rng.integers(0, 256, (16, 8, 8), dtype=np.uint8),
             y_test=rng.random((16, 3)).astype("float32"))
    out = tmp_path / "cvae"
    assert run_cli("--model", "cvae", "--dataset", str(path), "--condition-dim", "3",
                   "--epochs", "1", "--output", str(out), *TINY) == 0
    assert (out / "samples.png").is_file()
    from keras_vae import export

    meta = export.read_metadata(out / "1")
    assert meta["condition_dim"] == 3 and meta["num_classes"] is None


@pytest.mark.parametrize("argv, message", [
    (["--condition-dim", "3"], "--condition-dim does not apply to --model vae"),
    (["--model", "cvae", "--condition-dim", "3", "--conditioning", "embedding"],
     "num_classes and conditioning are for class labels"),
    (["--num-samples", "5"], "--num-samples does not apply to --model vae"),
    (["--model", "beta_vae", "--capacity-max", "5"],
     "--capacity-max does not apply to --model beta_vae"),
    (["--model", "beta_vae_capacity", "--beta", "2"],
     "--beta does not apply to --model beta_vae_capacity"),
])
def test_flags_apply_where_the_registry_says(argv, message, tiny_npz, tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        run_cli("--dataset", tiny_npz, "--output", str(tmp_path / "o"), *argv, *TINY)
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def test_iwae_trains_from_the_cli(tiny_npz, tmp_path):
    out = tmp_path / "iwae"
    assert run_cli("--model", "iwae", "--num-samples", "3", "--dataset", tiny_npz, "--epochs",
                   "1", "--output", str(out), "--no-export", *TINY) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert -metrics["validation"]["loss"] >= metrics["validation"]["elbo"] - 1.0


def test_cli_defaults_are_the_library_defaults():
    # Every model flag defaults to None, which means the constructor's default; the help text
    # prints that default from the constructor. Only CLI_NETWORK_DEFAULTS depart from it.
    from keras_vae.models import kind_defaults

    parser = cli.build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    actions = {a.dest: a for a in train._actions}
    for flag, (attribute, target) in cli.MODEL_FLAGS.items():
        assert actions[attribute].default in (None, False), flag
    assert set(cli.CLI_NETWORK_DEFAULTS) == {"architecture", "filters", "latent_dim", "sampler"}
    for flag, kind, name in (("--num-embeddings", "vqvae", "num_embeddings"),
                             ("--residual-blocks", "vqvae", "residual_blocks"),
                             ("--num-samples", "iwae", "num_samples"),
                             ("--beta", "beta_vae", "beta"),
                             ("--num-classes", "cvae", "num_classes")):
        help_text = actions[flag.lstrip("-").replace("-", "_")].help
        assert f"(default {kind_defaults(kind)[name]:g}" in help_text, (flag, help_text)


@pytest.mark.parametrize("model, flags, reported", [
    ("factor_vae", ["--gamma", "10"], {"tc_loss", "discriminator_loss", "elbo"}),
    ("beta_tc_vae", ["--beta", "4", "--alpha", "0.5", "--dataset-size", "64", "--estimator",
                     "mss"], {"mi_loss", "tc_loss", "dimension_kl_loss", "elbo"}),
    ("dip_vae", ["--dip-type", "ii", "--lambda-od", "5", "--lambda-d", "2"],
     {"dip_loss", "elbo"}),
    ("aae", ["--prior-type", "mixture", "--encoder-type", "gaussian",
             "--adversarial-weight", "2"], {"discriminator_loss", "adversarial_loss"}),
    ("caae", ["--num-classes", "10"], {"discriminator_loss", "adversarial_loss"}),
])
def test_the_disentangling_and_adversarial_kinds_train_and_evaluate(tiny_npz, tmp_path, model,
                                                                    flags, reported):
    import keras

    out = tmp_path / "run"
    assert run_cli("--dataset", tiny_npz, "--model", model, "--epochs", "1", "--batch-size",
                   "16", "--output", str(out), "--no-export", *TINY, *flags) == 0
    trained = keras.models.load_model(out / "model.keras")
    config = trained.get_config()
    for flag, value in zip(flags[::2], flags[1::2]):
        name = flag[2:].replace("-", "_")
        expected = value if not value[0].isdigit() else float(value)
        got = config[name]["config"]["value"] if name == "beta" else config[name]  # a schedule
        assert got == expected, name
    assert cli.main(["evaluate", str(out), "--dataset", tiny_npz, "--nll-samples", "20",
                     "--quiet"]) == 0
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert reported <= set(metrics["test"])
    # An adversarial autoencoder has no likelihood bound to report.
    assert ("iwae" in metrics) == trained.has_elbo == ("elbo" in reported)


@pytest.mark.parametrize("argv, message", [
    (["--model", "vae", "--alpha", "1"], "--alpha does not apply to --model vae"),
    (["--model", "factor_vae", "--beta", "4"], "--beta does not apply to --model factor_vae"),
    (["--model", "beta_vae", "--dip-type", "ii"], "--dip-type does not apply"),
    (["--model", "dip_vae", "--prior-type", "mixture"], "--prior-type does not apply"),
    (["--flow", "nvp:2"], "Unknown flow 'nvp'"),
    (["--prior", "vamp:0"], "num_components"),
    (["--model", "vqvae", "--prior", "vamp"], "--prior does not apply to --model vqvae"),
    (["--model", "beta_tc_vae", "--flow", "iaf"], "--flow does not apply to --model beta_tc_vae"),
    (["--model", "aae", "--prior", "mixture"], "--prior does not apply to --model aae"),
    (["--model", "iwae", "--free-bits", "1"], "--free-bits does not apply to --model iwae"),
    (["--model", "hvae", "--latent-dim", "4"], "--latent-dim does not apply to --model hvae"),
    (["--model", "vae", "--latent-dims", "4,2"], "--latent-dims does not apply to --model vae"),
])
def test_flags_of_other_kinds_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(*argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("model, flags", [
    ("vae", ["--flow", "iaf:2", "--prior", "vamp:8"]),
    ("iwae", ["--num-samples", "3", "--flow", "planar:2"]),
    ("cvae", ["--num-classes", "10", "--standard-prior", "--prior", "mixture:4"]),
    ("hvae", ["--latent-dims", "4,2", "--ladder-units", "8", "--prior", "vamp:4"]),
])
def test_flows_priors_and_the_ladder_train_and_evaluate_from_the_cli(tiny_npz, tmp_path, model,
                                                                   flags):
    import keras

    import keras_vae as kv

    out = tmp_path / "run"
    tiny = [f for f in TINY if f not in ("--latent-dim", "2")] if model == "hvae" else TINY
    assert run_cli("--dataset", tiny_npz, "--model", model, "--epochs", "1", "--batch-size",
                   "16", "--output", str(out), "--no-export", *tiny, *flags) == 0
    trained = keras.models.load_model(out / "model.keras")
    given = dict(zip(flags[::2], flags[1::2]))
    if model == "hvae":
        assert (trained.latent_dims, trained.ladder_units) == ((4, 2), (8,))
    if "--flow" in given:
        want = kv.flows.from_spec(given["--flow"])
        assert (type(trained.flow), trained.flow.num_steps) == (type(want), want.num_steps)
    if "--prior" in given:
        want = kv.priors.from_spec(given["--prior"])
        assert (type(trained.latent_prior), trained.latent_prior.num_components) == (
            type(want), want.num_components)
    assert cli.main(["evaluate", str(out), "--dataset", tiny_npz, "--nll-samples", "20",
                     "--quiet"]) == 0
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert metrics["iwae"]["nll"] > 0
