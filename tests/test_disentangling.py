"""FactorVAE, β-TCVAE and DIP-VAE: their estimators against the published definitions
(disentanglement_lib's, which does not install with TensorFlow 2, and Chen et al.'s, written
here in NumPy), their objectives, and the errors for arguments they do not take."""

import keras
import numpy as np
import pytest
from scipy.special import logsumexp

import keras_vae as kv
from keras_vae import losses

SHAPE = (8, 8, 1)
TINY = dict(input_shape=SHAPE, latent_dim=3, hidden_units=(16,))


def posteriors(n=12, d=3, seed=0, correlated=False):
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal((n, d))
    if correlated:
        mean[:, 1:] = mean[:, :1] + 0.05 * rng.standard_normal((n, d - 1))
    log_var = rng.uniform(-3.0, 0.5, (n, d))
    z = mean + np.exp(0.5 * log_var) * rng.standard_normal((n, d))
    return z.astype("float32"), mean.astype("float32"), log_var.astype("float32")


def np_log_density(z, mean, log_var):
    return -0.5 * (np.log(2 * np.pi) + log_var + (z - mean) ** 2 * np.exp(-log_var))


def np_dl_total_correlation(z, mean, log_var):
    """disentanglement_lib's `total_correlation` (methods/unsupervised/vae.py), in NumPy."""
    pairs = np_log_density(z[:, None], mean[None], log_var[None])
    log_qz_product = logsumexp(pairs, axis=1).sum(axis=1)
    log_qz = logsumexp(pairs.sum(axis=2), axis=1)
    return np.mean(log_qz - log_qz_product)


def np_mws_terms(z, mean, log_var, dataset_size):
    """Chen et al.'s minibatch-weighted sampling (their `_get_log_pz_qz_prodzi_qzCx`)."""
    m = len(z)
    pairs = np_log_density(z[:, None], mean[None], log_var[None])
    log_qz = logsumexp(pairs.sum(axis=2), axis=1) - np.log(dataset_size * m)
    log_prod = (logsumexp(pairs, axis=1) - np.log(dataset_size * m)).sum(axis=1)
    log_qz_x = np_log_density(z, mean, log_var).sum(axis=1)
    log_pz = np_log_density(z, 0.0, 0.0).sum(axis=1)
    return log_qz_x - log_qz, log_qz - log_prod, log_prod - log_pz


def test_total_correlation_of_the_batch_mixture_matches_disentanglement_lib():
    z, mean, log_var = posteriors()
    m, d = mean.shape
    _, tc, _ = losses.kl_decomposition(z, mean, log_var, mean, log_var, -np.log(m))
    # The batch mixture normalizes q(z) by 1/M, disentanglement_lib does not: a constant of
    # (d - 1) log M between the two, the same gradient.
    np.testing.assert_allclose(np.mean(tc) - (d - 1) * np.log(m),
                               np_dl_total_correlation(z, mean, log_var), rtol=1e-5, atol=1e-5)


def test_minibatch_weighted_terms_match_chen_et_al_and_sum_to_the_kl_sample():
    z, mean, log_var = posteriors()
    n = 1000
    ours = losses.kl_decomposition(z, mean, log_var, mean, log_var,
                                   -(np.log(n) + np.log(len(z))))
    for a, b in zip(ours, np_mws_terms(z, mean, log_var, n)):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-4)
    total = np.sum([np.asarray(t) for t in ours], axis=0)
    expected = (np_log_density(z, mean, log_var) - np_log_density(z, 0.0, 0.0)).sum(axis=1)
    np.testing.assert_allclose(total, expected, rtol=1e-5, atol=1e-4)


def test_correlated_codes_have_the_larger_total_correlation():
    def tc(correlated):
        z, mean, log_var = posteriors(n=64, correlated=correlated, seed=1)
        log_var = np.full_like(log_var, -4.0)
        z = mean + np.exp(-2.0) * np.random.default_rng(2).standard_normal(mean.shape)
        return float(np.mean(losses.kl_decomposition(
            z.astype("float32"), mean, log_var, mean, log_var, -np.log(64))[1]))

    assert tc(True) > tc(False) + 1.0


def test_stratified_weights_follow_the_paper_and_normalize_every_row():
    w = np.exp(np.asarray(losses.stratified_log_weights(5, 100)))
    m = 4
    np.testing.assert_allclose(np.diag(w), 1 / 100, rtol=1e-6)
    np.testing.assert_allclose([w[i, (i + 1) % 5] for i in range(5)], (100 - m) / (100 * m),
                               rtol=1e-6)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)
    others = w[~(np.eye(5, dtype=bool) | np.roll(np.eye(5, dtype=bool), 1, axis=1))]
    np.testing.assert_allclose(others, 1 / m, rtol=1e-6)


def np_dl_dip(mean, log_var, dip_type, lambda_od, lambda_d):
    """disentanglement_lib's DIP-VAE regularizer (compute_covariance_z_mean and
    regularize_diag_off_diag_dip), in NumPy."""
    expectation_mu_mu_t = np.mean(mean[:, :, None] * mean[:, None, :], axis=0)
    expectation_mu = np.mean(mean, axis=0)
    cov = expectation_mu_mu_t - np.outer(expectation_mu, expectation_mu)
    if dip_type == "ii":
        cov = cov + np.diag(np.mean(np.exp(log_var), axis=0))
    diag = np.diag(cov)
    off = cov - np.diag(diag)
    return lambda_od * np.sum(off ** 2) + lambda_d * np.sum((diag - 1) ** 2)


@pytest.mark.parametrize("dip_type", ["i", "ii"])
def test_dip_penalty_matches_disentanglement_lib(dip_type):
    _, mean, log_var = posteriors()
    model = kv.DIPVAE(**TINY, dip_type=dip_type, lambda_od=3.0)
    penalty = losses.dip_penalty(model.covariance(mean, log_var), model.lambda_od,
                                 model.lambda_d)
    np.testing.assert_allclose(float(penalty),
                               np_dl_dip(mean, log_var, dip_type, 3.0, model.lambda_d),
                               rtol=1e-5)
    assert model.lambda_d == (30.0 if dip_type == "i" else 3.0)


def objective_of(model, x):
    return {k: np.asarray(v) for k, v in model.objective_values(
        model.compute_terms(model.check_data(x), training=False)).items()}


def test_each_objective_is_its_terms_weighted():
    x = np.random.default_rng(0).random((16, *SHAPE)).astype("float32")
    factor = objective_of(kv.FactorVAE(**TINY, gamma=7.0, discriminator_units=(8,), seed=0), x)
    np.testing.assert_allclose(factor["loss"], factor["reconstruction_loss"] + factor["kl_loss"]
                               + 7.0 * factor["tc_loss"], rtol=1e-5, atol=1e-4)
    tc = objective_of(kv.BetaTCVAE(**TINY, alpha=2.0, beta=5.0, gamma=3.0, seed=0), x)
    np.testing.assert_allclose(tc["loss"], tc["reconstruction_loss"] + 2.0 * tc["mi_loss"]
                               + 5.0 * tc["tc_loss"] + 3.0 * tc["dimension_kl_loss"],
                               rtol=1e-5, atol=1e-3)
    dip = objective_of(kv.DIPVAE(**TINY, seed=0), x)
    np.testing.assert_allclose(dip["loss"], dip["reconstruction_loss"] + dip["kl_loss"]
                               + dip["dip_loss"], rtol=1e-5, atol=1e-4)
    assert np.ptp(dip["dip_loss"]) == 0.0  # one batch-level value


def test_permute_dims_shuffles_every_column_apart():
    z = np.arange(200, dtype="float32").reshape(100, 2)
    z[:, 1] += 1000.0
    out = np.asarray(kv.layers.PermuteDims(seed=0)(z))
    for column in range(2):
        assert sorted(out[:, column]) == sorted(z[:, column])
    assert not np.array_equal(out[:, 0], z[:, 0])
    # The columns move independently: rows no longer pair up as they did.
    assert np.mean(out[:, 1] - out[:, 0] == 1001.0) < 0.1


def test_factor_vae_discriminator_has_its_own_optimizer():
    x = np.random.default_rng(0).random((32, *SHAPE)).astype("float32")
    frozen = kv.FactorVAE(**TINY, discriminator_units=(8,), seed=0,
                          discriminator_optimizer=keras.optimizers.SGD(0.0))
    before = [np.asarray(v) for v in frozen.discriminator.weights]
    encoder_before = [np.asarray(v) for v in frozen.encoder.weights]
    frozen.compile(optimizer=keras.optimizers.Adam(1e-2))
    frozen.fit(x, batch_size=16, epochs=1, verbose=0)
    # The VAE's optimizer never moves the discriminator, which its own (lr 0) leaves alone.
    for a, b in zip(before, frozen.discriminator.weights):
        np.testing.assert_array_equal(a, np.asarray(b))
    assert any(not np.allclose(a, np.asarray(b))
               for a, b in zip(encoder_before, frozen.encoder.weights))
    assert int(frozen.discriminator_optimizer.iterations) == 2


def test_factor_vae_discriminator_learns_to_spot_correlated_codes():
    # Codes whose dimensions move together: the permuted ones are easy to tell apart.
    rng = np.random.default_rng(0)
    base = rng.standard_normal((512, 1)).astype("float32")
    z = np.concatenate([base, base + 0.05 * rng.standard_normal((512, 1))], axis=1)
    model = kv.FactorVAE(input_shape=SHAPE, latent_dim=2, hidden_units=(8,),
                         discriminator_units=(32, 32), seed=0,
                         discriminator_optimizer=keras.optimizers.Adam(1e-2))
    optimizer = model.discriminator_optimizer
    variables = model.discriminator.trainable_variables
    for _ in range(100):
        model.minimize(lambda: {"d": _d_loss(model, z)}, optimizer, variables, key="d")
    assert float(np.mean(_d_loss(model, z))) < 0.4  # chance is log 2 = 0.69
    assert float(np.mean(model.discriminator_logit(z))) > 1.0  # TC estimate: clearly positive


def _d_loss(model, z):
    import tensorflow as tf

    logit = model.discriminator_logit(z)
    shuffled = model.discriminator_logit(model.permute(z))
    return 0.5 * (tf.nn.softplus(-logit) + tf.nn.softplus(shuffled))


@pytest.mark.parametrize("build, message", [
    (lambda: kv.FactorVAE(**TINY, beta=4.0), "FactorVAE has no argument beta"),
    (lambda: kv.BetaTCVAE(**TINY, free_bits=0.5), "free_bits does not apply to BetaTCVAE"),
    (lambda: kv.BetaTCVAE(**TINY, estimator="mss"), "pass dataset_size"),
    (lambda: kv.BetaTCVAE(**TINY, estimator="exact"), "`estimator` must be one of"),
    (lambda: kv.DIPVAE(**TINY, dip_type="iii"), "`dip_type` must be one of"),
    (lambda: kv.DIPVAE(**TINY, lambda_od=-1.0), "lambda_od"),
    (lambda: kv.FactorVAE(**TINY, discriminator=keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2)])), "must map \\[batch, 3\\] to \\[batch, 1\\]"),
    (lambda: kv.FactorVAE(**TINY, discriminator=lambda z: z), "must be a Keras layer"),
])
def test_arguments_a_variant_does_not_take_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_a_users_discriminator_is_saved_with_the_model(tmp_path):
    discriminator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                                      keras.layers.Dense(1)], name="my_critic")
    model = kv.FactorVAE(**TINY, discriminator=discriminator, seed=0)
    model.compile(optimizer="adam")
    x = np.random.default_rng(0).random((16, *SHAPE)).astype("float32")
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.discriminator.name == "my_critic"
    for a, b in zip(model.discriminator.weights, loaded.discriminator.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
