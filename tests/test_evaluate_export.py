"""``keras-vae evaluate`` of a SavedModel export: what its signatures allow, equal to the
same figures from the .keras file, and a clear account of what needs the .keras file."""

import json
import os

import keras
import numpy as np
import pytest

import keras_vae as kv
from keras_vae import cli
from keras_vae.export import ExportedModel
from tests import registry as reg

#: Bernoulli and a fixed Gaussian scale (served: the NLL is exact from the export); a
#: learned scale, a flow with a VampPrior, a learned conditional prior (not served); codes.
CASES = ("vae_mlp", "dip_vae_ii_conv_gaussian", "vae_conv_gaussian",
         "iwae_tabular_planar_flow_vamp_prior", "cvae_one_hot_mlp",
         "vqvae_ema_dead_codes_class_prior")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("exported")
    out = {}
    for name in CASES:
        model = reg.trained(name)
        x, labels = reg.batch(model)
        folder = kv.export.export_saved_model(model, str(root / name))
        out[name] = (model, ExportedModel(folder), (x, labels))
    return out


@pytest.mark.parametrize("name", ["vae_mlp", "dip_vae_ii_conv_gaussian"])
def test_importance_weights_from_the_signatures_equal_the_model_s(exported, name):
    model, served, (x, labels) = exported[name]
    assert served.has_elbo and served.without_elbo_reason() is None
    if model.likelihood == "bernoulli":
        x = (x > 0.5).astype("float32")
    ours = np.asarray(served.importance_log_weights(x[:8], num_samples=20, seed=3, chunk_size=7))
    theirs = np.asarray(model.importance_log_weights(x[:8], num_samples=20, seed=3,
                                                     chunk_size=7))
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(served.kl_per_dimension(x), model.kl_per_dimension(x),
                               rtol=1e-4, atol=1e-5)
    nll_served = kv.evaluation.iwae_nll(served, x, num_samples=30, seed=1)["nll"]
    nll_model = kv.evaluation.iwae_nll(model, x, num_samples=30, seed=1)["nll"]
    assert abs(nll_served - nll_model) < 1e-3 * max(1.0, abs(nll_model))


@pytest.mark.parametrize("name, reason", [
    ("vae_conv_gaussian", "gaussian likelihood's scale is learned"),
    ("iwae_tabular_planar_flow_vamp_prior", "its prior (VampPrior) is not served"),
    ("cvae_one_hot_mlp", "its prior (conditional_gaussian) is not served"),
])
def test_what_an_export_cannot_give_is_refused_with_its_reason(exported, name, reason):
    _, served, (x, labels) = exported[name]
    assert not served.has_elbo
    assert reason in served.without_elbo_reason()
    with pytest.raises(ValueError, match="cannot give the ELBO"):
        served.importance_log_weights(x[:2], labels if labels is None else labels[:2])
    mean, _, prior_mean, _ = served.posterior_and_prior(x[:2], None if labels is None
                                                        else labels[:2])
    assert np.all(np.isfinite(mean))
    # The prior is known (zeros) only when it is N(0, I); else NaN, never a made-up one.
    standard = served.metadata["prior"] == "standard_normal"
    assert np.all(prior_mean == 0.0) if standard else np.all(np.isnan(prior_mean))


def test_an_export_without_the_prior_in_its_metadata_says_so(exported, tmp_path):
    _, served, _ = exported["vae_mlp"]
    served.metadata = {k: v for k, v in served.metadata.items() if k != "prior"}
    try:
        assert "predates the metadata" in served.without_elbo_reason()
    finally:
        served.metadata = kv.export.read_metadata(served.path)


def test_codebook_usage_of_a_vq_export_equals_the_model_s(exported):
    model, served, (x, _) = exported["vqvae_ema_dead_codes_class_prior"]
    assert served.latent_kind == "codes"
    np.testing.assert_array_equal(kv.evaluation.code_counts(served, x),
                                  kv.evaluation.code_counts(model, x))
    assert served.summary_statistics(x)[0] == model.summary_statistics(x)[0]


def test_cli_evaluates_an_export_beside_it(exported, tiny_npz, tmp_path, capsys):
    model = kv.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    base = tmp_path / "saved"
    folder = kv.export.export_saved_model(model, str(base))
    before = sorted(os.listdir(folder))
    assert cli.main(["evaluate", str(base), "--dataset", tiny_npz, "--nll-samples", "20",
                     "--quiet"]) == 0
    assert sorted(os.listdir(folder)) == before  # nothing written into the export
    out = base / "evaluation-1"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["export"] == folder and metrics["model"] == "VAE"
    assert set(metrics["test"]) == {"reconstruction_mse"}
    assert metrics["needs_keras_file"] == ["the model's objective (loss and its terms)"]
    assert metrics["iwae"]["num_samples"] == 20 and "collapse" in metrics
    for picture in ("reconstructions", "samples", "traversals", "interpolations",
                    "latent_scatter", "manifold"):
        assert (out / f"{picture}.png").is_file(), picture
    assert "needs the .keras file" in (out / "report.md").read_text()
    printed = capsys.readouterr().out
    assert "IWAE NLL (K=20)" in printed and "Not from an export" in printed
    # The same model from its .keras file gives the same NLL.
    model.save(tmp_path / "m.keras")
    assert cli.main(["evaluate", str(tmp_path / "m.keras"), "--dataset", tiny_npz,
                     "--nll-samples", "20", "--quiet", "--out", str(tmp_path / "ev")]) == 0
    keras_metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert abs(keras_metrics["iwae"]["nll"] - metrics["iwae"]["nll"]) < 1e-3
