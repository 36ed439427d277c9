"""SavedModel export: every registered model, served in a process that cannot import keras_vae."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae as kv
from keras_vae import cli
from tests import registry as reg
from tests.registry import MODELS

IDS = sorted(MODELS)

# Runs with `python -I`; keras_vae and keras are made unimportable before anything else.
SERVE_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["keras_vae"] = None
    sys.modules["keras"] = None
    import json
    import numpy as np
    import tensorflow as tf

    jobs = json.loads(sys.argv[1])
    for export_dir, inputs_file, outputs_file in jobs:
        inputs = np.load(inputs_file)
        served = tf.saved_model.load(export_dir)
        out = {}
        for name in ("encode", "reconstruct", "serving_default", "decode", "sample"):
            signature = served.signatures[name]
            names = sorted(signature.structured_input_signature[1])
            result = signature(**{k: tf.constant(inputs[k]) for k in names})
            for key, value in result.items():
                out[f"{name}/{key}"] = value.numpy()
        np.savez(outputs_file, **out)
    print("served", len(jobs))
    """
)


def serving_inputs(model, seed=1):
    """Every input any signature takes, by name: x, z (or codes), label, num, seed."""
    x, labels = reg.batch(model, n=5, seed=seed)
    inputs = {"x": x, "codes" if reg.is_vq(model) else "z": reg.latent_input(model, 5, seed),
              "num": np.int32(5), "seed": np.int32(7)}
    labels = reg.sample_labels(model, 5) if labels is None else labels
    if labels is not None:
        inputs[reg.condition_name(model)] = labels
    return inputs


def expected_outputs(model, inputs):
    x, labels = inputs["x"], inputs.get(reg.condition_name(model))
    z = inputs["codes" if reg.is_vq(model) else "z"]
    rec = reg.reconstruct(model, x, None if reg.is_vq(model) else labels)
    if reg.is_vq(model):
        codes, z_e = model.encode(x, return_z_e=True)
        out = {"encode/codes": codes, "encode/z_e": z_e}
        labels = None  # the model takes none; only the prior's sample does
    else:
        mean, log_var = reg.encode(model, x, labels)
        out = {"encode/mean": mean, "encode/log_var": log_var}
    out.update({
        "reconstruct/x_mean": rec, "serving_default/x_mean": rec,
        "decode/x_mean": reg.decode(model, z, labels),
        "sample/x_mean": reg.sample(model, 5, seed=7,
                                    labels=inputs.get(reg.condition_name(model))),
    })
    if model.likelihood == "bernoulli":
        out["decode/logits"] = reg.decode(model, z, labels, return_logits=True)
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    jobs, expected = [], {}
    for model_id in IDS:
        model = reg.trained(model_id)
        inputs = serving_inputs(model)
        folder = kv.export.export_saved_model(model, str(root / model_id))
        np.savez(root / f"{model_id}_in.npz", **inputs)
        jobs.append([folder, str(root / f"{model_id}_in.npz"), str(root / f"{model_id}_out.npz")])
        expected[model_id] = (model, folder, expected_outputs(model, inputs))
    proc = subprocess.run(
        [sys.executable, "-I", "-c", SERVE_SCRIPT, json.dumps(jobs)],
        capture_output=True, text=True, timeout=600, env={**os.environ,
                                                          "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = {model_id: dict(np.load(job[2])) for model_id, job in zip(IDS, jobs)}
    return expected, outputs


@pytest.mark.parametrize("model_id", IDS)
def test_every_signature_matches_the_model_without_keras_vae(served, model_id):
    expected, outputs = served
    _, _, want = expected[model_id]
    got = outputs[model_id]
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=1e-5, err_msg=key)


@pytest.mark.parametrize("model_id", IDS)
def test_metadata_describes_the_model(served, model_id):
    model, folder, _ = served[0][model_id]
    meta = kv.export.read_metadata(folder)
    assert meta["model_kind"] == model.kind
    assert meta["input_shape"] == list(model.data_shape)
    assert meta["latent_shape"] == reg.latent_shape(model)
    assert meta["likelihood"] == model.likelihood
    num_classes = model.prior.num_classes if reg.is_vq(model) else getattr(model, "num_classes",
                                                                           None)
    assert meta["num_classes"] == num_classes
    assert meta["num_embeddings"] == getattr(model, "num_embeddings", None)
    # What a reader of the export needs to evaluate it without the model (ExportedModel).
    assert meta["likelihood_scale"] == (None if model.likelihood == "bernoulli"
                                        else model.likelihood_scale)
    if not reg.is_vq(model):
        assert meta["prior"] == model.prior_kind and meta["has_elbo"] == model.has_elbo
        assert meta["flow"] == (None if model.flow is None else type(model.flow).__name__)
    assert meta["keras_vae_version"] == kv.__version__
    assert meta["signatures"] == ["reconstruct", "encode", "decode", "sample"]
    assert meta["serving_default"] == "reconstruct"


@pytest.mark.skipif(shutil.which("saved_model_cli") is None, reason="saved_model_cli not on PATH")
def test_saved_model_cli_lists_the_signatures(served):
    _, folder, _ = served[0]["vae_mlp"]
    proc = subprocess.run(["saved_model_cli", "show", "--dir", folder, "--all"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("encode", "decode", "reconstruct", "sample", "serving_default"):
        assert f"signature_def['{name}']" in proc.stdout


def test_versions_count_up_and_are_never_overwritten(tmp_path):
    model = kv.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,))
    first = kv.export.export_saved_model(model, str(tmp_path))
    second = kv.export.export_saved_model(model, str(tmp_path))
    assert [os.path.basename(first), os.path.basename(second)] == ["1", "2"]
    assert kv.export.existing_versions(str(tmp_path)) == [1, 2]
    assert sorted(os.listdir(tmp_path)) == ["1", "2"]  # no staging folder left behind
    with pytest.raises(FileExistsError, match="never overwritten"):
        kv.export.export_saved_model(model, str(tmp_path), version=2)
    with pytest.raises(ValueError, match="version"):
        kv.export.export_saved_model(model, str(tmp_path), version=0)
    with pytest.raises(ValueError, match="keras_vae model"):
        kv.export.export_saved_model(keras.Sequential([keras.layers.Dense(1)]), str(tmp_path))


def test_bad_input_at_the_serving_boundary_is_named(tmp_path):
    model = kv.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,))
    served = tf.saved_model.load(kv.export.export_saved_model(model, str(tmp_path)))
    cases = [
        ("reconstruct", {"x": tf.zeros((2, 9, 8, 1))}, r"`x` must have shape \[batch, 8, 8, 1\]"),
        ("encode", {"x": tf.zeros((2, 8, 8))}, r"`x` must have shape \[batch, 8, 8, 1\]"),
        ("encode", {"x": tf.fill((1, 8, 8, 1), 255.0)}, r"scaled to \[0, 1\]"),
        ("decode", {"z": tf.zeros((2, 3))}, r"`z` must have shape \[batch, 2\]"),
        ("sample", {"num": tf.constant(-1), "seed": tf.constant(0)}, "`num` must be >= 0"),
        ("reconstruct", {"x": tf.zeros((1, 8, 8, 1), tf.uint8)}, "float"),
    ]
    for name, kwargs, message in cases:
        with pytest.raises((tf.errors.InvalidArgumentError, TypeError, ValueError), match=message):
            served.signatures[name](**kwargs)


def test_cli_export_writes_the_next_version(tiny_npz, tmp_path, capsys):
    out = tmp_path / "run"
    cli.main(["train", "--dataset", tiny_npz, "--epochs", "1", "--output", str(out), "--quiet",
              "--architecture", "mlp", "--hidden-units", "8", "--latent-dim", "2"])
    assert (out / "1" / "saved_model.pb").is_file()  # train exports by default
    assert cli.main(["export", str(out), "--output", str(out)]) == 0
    assert (out / "2" / "saved_model.pb").is_file()
    printed = capsys.readouterr().out
    assert f"SavedModel:   {out / '2'}" in printed
    assert "reconstruct, encode, decode, sample (serving_default = reconstruct)" in printed
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", str(tmp_path / "nothing-here")])
    assert exit_info.value.code == 2
    assert "No model at" in capsys.readouterr().err


@pytest.mark.parametrize("model_id", IDS)
def test_onnx_graphs_match_the_model(model_id, tmp_path):
    pytest.importorskip("tf2onnx", reason="the onnx extra (tf2onnx) is not installed")
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")
    model = reg.trained(model_id)
    written = kv.export.export_onnx(model, str(tmp_path))
    assert sorted(written) == ["decode", "encode", "reconstruct"]
    inputs = serving_inputs(model, seed=2)
    want = expected_outputs(model, inputs)
    for name in ("encode", "decode", "reconstruct"):
        session = ort.InferenceSession(written[name], providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        expected_names = [("codes" if reg.is_vq(model) else "z") if name == "decode" else "x"]
        if reg.is_conditional(model):
            expected_names.append(reg.condition_name(model))
        assert sorted(names) == sorted(expected_names)
        feed = {k: inputs[k] for k in names}
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
        assert {f"{name}/{k}" for k in outputs} == {k for k in want if k.startswith(name + "/")}
        for key, value in outputs.items():
            np.testing.assert_allclose(value, want[f"{name}/{key}"], atol=1e-4, err_msg=key)


def test_cli_export_onnx(tmp_path, capsys):
    pytest.importorskip("tf2onnx", reason="the onnx extra (tf2onnx) is not installed")
    model = kv.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,))
    model.save(tmp_path / "m.keras")
    assert cli.main(["export", str(tmp_path / "m.keras"), "--output", str(tmp_path / "out"),
                     "--onnx"]) == 0
    for name in ("encode", "decode", "reconstruct"):
        assert (tmp_path / "out" / "1" / "onnx" / f"{name}.onnx").is_file()
    assert "ONNX:" in capsys.readouterr().out
