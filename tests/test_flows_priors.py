"""Flow posteriors and mixture priors: log-determinants against autodiff Jacobians, the
mixture density against a NumPy oracle, and the model's bound and samples against the
Gaussian case they reduce to."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

import keras_vae as kv
from keras_vae import losses
from keras_vae.models.mixture_priors import mixture_from_noise

TINY = dict(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,))


def _log_abs_det_jacobian(flow, z):
    with tf.GradientTape() as tape:
        tape.watch(z)
        out, _ = flow(z)
    jacobian = tape.batch_jacobian(out, z)
    return tf.linalg.slogdet(jacobian)[1]


@pytest.mark.parametrize("flow", [
    lambda: kv.flows.Planar(num_steps=3, seed=0),
    lambda: kv.flows.IAF(num_steps=3, hidden_units=(12, 12), seed=0),
])
def test_log_det_equals_the_jacobian_determinant(flow):
    flow = flow()
    z = tf.constant(np.random.default_rng(0).normal(size=(6, 4)), tf.float32)
    flow(z)
    # Weights far from the near-identity start, so the test sees a real transform.
    for w in flow.weights:
        w.assign(np.random.default_rng(1).normal(scale=0.7, size=w.shape))
    _, log_det = flow(z)
    np.testing.assert_allclose(log_det, _log_abs_det_jacobian(flow, z), atol=1e-4)
    assert float(tf.reduce_max(tf.abs(log_det))) > 0.05


def test_planar_steps_stay_invertible_when_u_opposes_w():
    flow = kv.flows.Planar(num_steps=1, seed=0)
    flow(tf.zeros((1, 2)))
    flow.w.assign([[1.0, 0.0]])
    flow.u.assign([[-5.0, 0.0]])  # unconstrained, f would fold the line back on itself
    line = tf.constant(np.stack([np.linspace(-3, 3, 201), np.zeros(201)], 1), tf.float32)
    out, log_det = flow(line)
    assert np.all(np.diff(np.asarray(out)[:, 0]) > 0)  # still monotone along w
    assert np.all(np.isfinite(log_det))


def test_made_masks_are_autoregressive():
    masks = kv.flows.made_masks(5, (7, 9))
    reach = masks[0]
    for mask in masks[1:]:
        reach = (reach @ mask) > 0
    for half in (reach[:, :5], reach[:, 5:]):  # m and s; half[j, i]: input j reaches output i
        # Output i depends on inputs j < i only (and on all of them): the first on none.
        assert not np.any(half[np.tril_indices(5)])
        assert np.all(half[np.triu_indices(5, 1)])


def test_mixture_log_density_matches_numpy():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 3, 5)).astype("float32")
    means = rng.normal(size=(7, 5)).astype("float32")
    log_vars = rng.normal(scale=0.5, size=(7, 5)).astype("float32")
    log_weights = np.log(rng.dirichlet(np.ones(7))).astype("float32")
    diff = z[..., None, :] - means
    per = -0.5 * np.sum(diff ** 2 / np.exp(log_vars) + log_vars + np.log(2 * np.pi), axis=-1)
    want = logsumexp(per + log_weights, axis=-1)
    got = losses.mixture_log_density(z, log_weights, means, log_vars)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_mixture_draws_follow_the_weights_and_components():
    log_weights = np.log([0.1, 0.6, 0.3]).astype("float32")
    means = np.array([[-10.0, 0.0], [0.0, 0.0], [10.0, 0.0]], "float32")
    log_vars = np.log(np.full((3, 2), 0.25, "float32"))
    noise = tf.random.stateless_normal((20_000, 3), seed=(1, 2))
    draws = np.asarray(mixture_from_noise(noise, log_weights, means, log_vars))
    component = np.round(draws[:, 0] / 10.0).astype(int) + 1
    np.testing.assert_allclose(np.bincount(component, minlength=3) / len(draws),
                               [0.1, 0.6, 0.3], atol=0.015)
    np.testing.assert_allclose(draws[component == 1].std(axis=0), [0.5, 0.5], atol=0.02)
    half = np.asarray(mixture_from_noise(noise, log_weights, means, log_vars, temperature=0.5))
    np.testing.assert_allclose(half[component == 1].std(axis=0), [0.25, 0.25], atol=0.01)


def _same_networks(model, reference):
    for a, b in zip(model.encoder.weights + model.decoder.weights,
                    reference.encoder.weights + reference.decoder.weights):
        a.assign(b)


def test_a_standard_normal_mixture_and_an_identity_flow_give_the_plain_bound():
    x = (np.random.default_rng(0).random((5, 8, 8, 1)) > 0.5).astype("float32")
    plain = kv.VAE(**TINY, seed=0)
    prior = kv.priors.MixturePrior(num_components=2, seed=0)
    flow = kv.flows.Planar(num_steps=2, seed=0)
    model = kv.VAE(**TINY, seed=0, flow=flow, prior=prior)
    _same_networks(model, plain)
    prior.means.assign(np.zeros((2, 3)))  # two copies of N(0, I)
    flow.w.assign(np.zeros((2, 3)))  # w = 0 and b = 0: f is the identity, log det 0
    want = plain.importance_log_weights(x, num_samples=9, seed=3)
    got = model.importance_log_weights(x, num_samples=9, seed=3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    # The Monte-Carlo KL of a training pass is the analytic KL plus zero-mean noise.
    terms = model.compute_terms(tf.constant(np.repeat(x[:1], 4000, axis=0)))
    analytic = losses.gaussian_kl(terms["mean"][:1], terms["log_var"][:1])
    assert terms["kl_per_dim"].shape == (4000, 1)
    # within 4 standard errors of the 4,000-draw mean (about 0.03 to 0.04 nats here; a fixed
    # 0.05 failed by chance for networks drawn from other global seeds)
    draws = np.asarray(terms["kl_per_dim"])[:, 0]
    np.testing.assert_allclose(draws.mean(), float(analytic[0]),
                               atol=4 * draws.std() / np.sqrt(len(draws)))


def test_vamp_prior_is_the_mixture_of_the_encoder_at_its_pseudo_inputs():
    model = kv.VAE(**TINY, seed=0, prior=kv.priors.VampPrior(num_components=6, seed=0))
    prior = model.latent_prior
    prior.pseudo.assign(np.random.default_rng(0).normal(0.5, 1.0, size=prior.pseudo.shape))
    u = np.asarray(prior.pseudo_inputs(model))
    assert u.min() == 0.0 and u.max() == 1.0  # data in [0, 1]: clipped to it
    mean, log_var = model.encode(u)
    log_w, means, log_vars = prior.components(model)
    np.testing.assert_allclose(means, mean, atol=1e-6)
    np.testing.assert_allclose(log_vars, log_var, atol=1e-6)
    np.testing.assert_allclose(np.exp(log_w), np.full(6, 1 / 6), rtol=1e-6)
    real = kv.VAE(input_shape=(4,), latent_dim=2, hidden_units=(8,), likelihood="gaussian",
                  prior=kv.priors.VampPrior(num_components=3, seed=0))
    real.latent_prior.pseudo.assign(np.full((3, 4), 7.0))
    assert np.all(np.asarray(real.latent_prior.pseudo_inputs(real)) == 7.0)  # not clipped


def test_training_moves_the_pseudo_inputs_and_the_flow():
    x = (np.random.default_rng(0).random((64, 8, 8, 1)) > 0.5).astype("float32")
    model = kv.VAE(**TINY, seed=0, flow=kv.flows.IAF(2, hidden_units=(8,), seed=0),
                   prior=kv.priors.VampPrior(num_components=4, seed=0))
    before = [np.asarray(w).copy() for w in model.flow.weights + model.latent_prior.weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, epochs=2, batch_size=16, verbose=0)
    after = model.flow.weights + model.latent_prior.weights
    assert all(not np.allclose(a, np.asarray(b)) for a, b in zip(before, after)
               if a.std() > 0 or "kernel" in b.path)
    assert not np.allclose(before[-1], np.asarray(model.latent_prior.pseudo))


def test_sample_draws_from_the_models_prior():
    model = kv.VAE(**TINY, seed=0, prior=kv.priors.MixturePrior(num_components=2, seed=0))
    model.latent_prior.means.assign([[5.0, 5.0, 5.0], [-5.0, -5.0, -5.0]])
    model.latent_prior.log_vars.assign(np.full((2, 3), np.log(1e-4)))
    z = np.asarray(model.prior_sample(None, 400, seed=1))
    assert np.all(np.abs(np.abs(z) - 5.0) < 0.05)
    assert 0.4 < np.mean(z[:, 0] > 0) < 0.6
    np.testing.assert_array_equal(model.sample(3, seed=4), model.sample(3, seed=4))


def test_flows_and_priors_save_and_reload_exactly(tmp_path):
    model = kv.VAE(**TINY, seed=0, flow=kv.flows.Planar(2, seed=0),
                   prior=kv.priors.MixturePrior(3, seed=0))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = (np.random.default_rng(0).random((32, 8, 8, 1)) > 0.5).astype("float32")
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.flow) is kv.flows.Planar and loaded.flow.num_steps == 2
    assert type(loaded.latent_prior) is kv.priors.MixturePrior
    np.testing.assert_array_equal(loaded.sample(4, seed=2), model.sample(4, seed=2))
    np.testing.assert_array_equal(loaded.importance_log_weights(x[:3], num_samples=5, seed=1),
                                  model.importance_log_weights(x[:3], num_samples=5, seed=1))


@pytest.mark.parametrize("spec, want", [
    ("iaf:3", (kv.flows.IAF, 3)), ("planar", (kv.flows.Planar, 4)),
])
def test_flow_specs(spec, want):
    flow = kv.flows.from_spec(spec)
    assert (type(flow), flow.num_steps) == want


@pytest.mark.parametrize("spec, want", [
    ("vamp:50", (kv.priors.VampPrior, 50)), ("vamp", (kv.priors.VampPrior, 500)),
    ("mixture:4", (kv.priors.MixturePrior, 4)),
])
def test_prior_specs(spec, want):
    prior = kv.priors.from_spec(spec)
    assert (type(prior), prior.num_components) == want


@pytest.mark.parametrize("make, message", [
    (lambda: kv.flows.from_spec("nvp:2"), "Unknown flow 'nvp'"),
    (lambda: kv.flows.from_spec("iaf:0"), "num_steps"),
    (lambda: kv.priors.from_spec("vamp:many"), "must be an integer"),
    (lambda: kv.VAE(**TINY, flow=keras.layers.Dense(3)), "must map z"),
    (lambda: kv.VAE(**TINY, flow="iaf"), "must be a Keras layer"),
    (lambda: kv.VAE(**TINY, prior="vamp"), "must be a keras_vae prior"),
    (lambda: kv.VAE(**TINY, free_bits=0.5, prior=kv.priors.MixturePrior()),
     "free_bits floors the KL of each latent dimension"),
    (lambda: kv.BetaTCVAE(**TINY, flow=kv.flows.Planar()), "flow does not apply to BetaTCVAE"),
    (lambda: kv.AdversarialAutoencoder(**TINY, prior=kv.priors.MixturePrior()),
     "prior does not apply to AdversarialAutoencoder"),
    (lambda: kv.ConditionalVAE(**TINY, prior=kv.priors.MixturePrior()),
     "conditional_prior=False"),
    (lambda: kv.ConditionalVAE(**TINY, conditional_prior=False,
                               prior=kv.priors.VampPrior()), "Use kv.priors.MixturePrior"),
])
def test_bad_flows_and_priors_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
