"""keras_vae's DCI, FactorVAE score and SAP against disentanglement_lib's published definitions,
written out here in NumPy (disentanglement_lib is TF1-era and does not install), on synthetic
codes: clean, permuted, sign-flipped, mixed by a rotation, noisy, scaled, duplicated and with
noise dimensions added."""

import numpy as np
import pytest
import scipy.stats

import keras_vae as kv
from keras_vae.evaluation import disentanglement as dis

SIZES = (4, 5, 6)


class Toy:
    """Three independent factors; observations are the factor classes themselves."""

    factor_sizes = SIZES

    def sample_factors(self, num, rng):
        return np.stack([rng.integers(0, s, size=num) for s in self.factor_sizes], axis=1)

    def observations(self, factors):
        return factors.astype("float64")


def _standardized(f):
    sizes = np.asarray(SIZES, "float64")
    mean, std = (sizes - 1) / 2, np.sqrt((sizes ** 2 - 1) / 12)
    return (f - mean) / std  # each code has standard deviation 1


_ROTATION = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))[0]


def _noisy(f):
    rng = np.random.default_rng(int(f.sum()) % 2**32)
    return _standardized(f) + 0.3 * rng.normal(size=f.shape)


def _with_noise_dims(f):
    rng = np.random.default_rng(int(f.sum()) % 2**32 + 1)
    return np.concatenate([_standardized(f), rng.normal(size=(len(f), 5))], axis=1)


CODES = {
    "clean": _standardized,
    "permuted": lambda f: _standardized(f)[:, [2, 0, 1]],
    "sign-flipped": lambda f: _standardized(f) * np.array([-1.0, 1.0, -1.0]),
    "rotated": lambda f: _standardized(f) @ _ROTATION,
    "noisy": _noisy,
    "scaled by 0.1": lambda f: 0.1 * _standardized(f),
    "duplicated": lambda f: np.repeat(_standardized(f), 2, axis=1),
    "noise dims added": _with_noise_dims,
}


# ------------------------------------------------- disentanglement_lib's definitions
def reference_dci(x_train, y_train, x_test, y_test):
    """dci.py: GradientBoostingClassifier importances, entropy with +1e-11, importance-
    weighted disentanglement and completeness, test accuracy as informativeness."""
    from sklearn.ensemble import GradientBoostingClassifier

    num_codes, num_factors = x_train.shape[1], y_train.shape[1]
    importance = np.zeros((num_codes, num_factors))
    accuracy = []
    for j in range(num_factors):
        model = GradientBoostingClassifier(random_state=0)
        model.fit(x_train, y_train[:, j])
        importance[:, j] = np.abs(model.feature_importances_)
        accuracy.append(np.mean(model.predict(x_test) == y_test[:, j]))
    per_code = 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=num_factors)
    code_weight = importance.sum(axis=1) / importance.sum()
    per_factor = 1.0 - scipy.stats.entropy(importance + 1e-11, base=num_codes)
    factor_weight = importance.sum(axis=0) / importance.sum()
    return {"disentanglement": float(np.sum(per_code * code_weight)),
            "completeness": float(np.sum(per_factor * factor_weight)),
            "informativeness": float(np.mean(accuracy))}


def reference_factor_vae(ground_truth, represent, rng, batch_size, num_train, num_eval,
                         num_variance_estimate):
    """factor_vae.py: one vote per point, dimensions pruned by standard deviation < 0.05,
    the argmin of local over global variance among the active dimensions. The random draws
    are taken in keras_vae's order (the variance sample, then each split's factor indices
    and its batches at once), so that both see the same points: the score's own sampling
    spread (0.73 to 0.84 over seeds on rotated codes) would hide any difference."""
    observations = ground_truth.observations(
        ground_truth.sample_factors(num_variance_estimate, rng))
    global_variances = np.var(represent(observations), axis=0, ddof=1)
    active = np.sqrt(global_variances) >= 0.05
    if not active.any():
        return 0.0
    num_factors = len(ground_truth.factor_sizes)

    def votes(num_points):
        counts = np.zeros((num_factors, len(global_variances)), np.int64)
        ks = rng.integers(0, num_factors, size=num_points)
        batches = ground_truth.sample_factors(num_points * batch_size, rng)
        for point, k in enumerate(ks):
            factors = batches[point * batch_size:(point + 1) * batch_size].copy()
            factors[:, k] = factors[0, k]
            local = np.var(represent(ground_truth.observations(factors)), axis=0, ddof=1)
            counts[k, np.argmin(local[active] / global_variances[active])] += 1
        return counts

    train, evaluation = votes(num_train), votes(num_eval)
    classifier = np.argmax(train, axis=0)
    return float(np.sum(evaluation[classifier, np.arange(train.shape[1])])
                 / np.sum(evaluation))


def reference_sap(x_train, y_train, x_test, y_test, continuous_factors):
    """sap_score.py: LinearSVC(C=0.01, balanced) accuracy per code and factor, or the squared
    correlation; the mean gap between the top two codes per factor."""
    from sklearn.svm import LinearSVC

    scores = np.zeros((x_train.shape[1], y_train.shape[1]))
    for i in range(x_train.shape[1]):
        for j in range(y_train.shape[1]):
            if continuous_factors:
                c = np.cov(x_train[:, i], y_train[:, j], ddof=1)
                scores[i, j] = c[0, 1] ** 2 / (c[0, 0] * c[1, 1]) if c[0, 0] > 1e-12 else 0.0
            else:
                model = LinearSVC(C=0.01, class_weight="balanced", random_state=0)
                model.fit(x_train[:, i:i + 1], y_train[:, j])
                scores[i, j] = np.mean(model.predict(x_test[:, i:i + 1]) == y_test[:, j])
    top = np.sort(scores, axis=0)
    return float(np.mean(top[-1] - top[-2]))


def _split(represent, seed=0, num_train=1000, num_test=500):
    rng = np.random.default_rng(seed)
    codes, factors = dis.sample_codes(Toy(), represent, num_train + num_test, rng)
    return codes[:num_train], factors[:num_train], codes[num_train:], factors[num_train:]


# ------------------------------------------------------------------------- the checks
@pytest.mark.parametrize("name", list(CODES))
def test_dci_equals_the_reference(name):
    data = _split(CODES[name])
    ours = kv.evaluation.dci(*data)
    reference = reference_dci(*data)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, abs=0.02), (key, ours[key], value)
    assert ours["estimator"] == "gbt"
    if name in ("clean", "permuted", "sign-flipped", "scaled by 0.1"):
        assert ours["disentanglement"] > 0.98 and ours["completeness"] > 0.98


def test_the_forest_estimator_stays_available_and_says_so():
    forest = kv.evaluation.dci(*_split(CODES["clean"]), estimator="forest", num_trees=20)
    assert forest["estimator"] == "forest" and forest["informativeness"] > 0.99
    with pytest.raises(ValueError, match="`estimator` must be one of"):
        kv.evaluation.dci(*_split(CODES["clean"]), estimator="svm")


@pytest.mark.parametrize("name", list(CODES))
def test_factor_vae_score_equals_the_reference(name):
    args = dict(batch_size=32, num_train=1000, num_eval=3000, num_variance_estimate=2000)
    ours = kv.evaluation.factor_vae_score(Toy(), CODES[name], seed=0, **args)
    reference = reference_factor_vae(Toy(), CODES[name], np.random.default_rng(0), **args)
    assert ours["eval_accuracy"] == pytest.approx(reference, abs=0.02), (ours, reference)
    if name in ("clean", "permuted", "sign-flipped", "scaled by 0.1", "duplicated"):
        assert ours["eval_accuracy"] == 1.0


def test_factor_vae_score_prunes_by_standard_deviation():
    tiny = kv.evaluation.factor_vae_score(Toy(), lambda f: 0.04 * _standardized(f), seed=0,
                                          batch_size=16, num_train=50, num_eval=50,
                                          num_variance_estimate=500)
    assert tiny["active_dims"] == 0 and tiny["eval_accuracy"] == 0.0
    small = kv.evaluation.factor_vae_score(Toy(), lambda f: 0.06 * _standardized(f), seed=0,
                                           batch_size=16, num_train=50, num_eval=50,
                                           num_variance_estimate=500)
    assert small["active_dims"] == 3 and small["eval_accuracy"] == 1.0


@pytest.mark.parametrize("name", ["clean", "rotated", "noisy", "duplicated"])
@pytest.mark.parametrize("continuous", [False, True])
def test_sap_equals_the_reference_in_both_variants(name, continuous):
    data = _split(CODES[name])
    ours = kv.evaluation.sap(*data, continuous_factors=continuous)
    assert ours["sap"] == pytest.approx(reference_sap(*data, continuous), abs=0.02)
    assert ours["variant"] == ("continuous (correlation)" if continuous
                               else "discrete (LinearSVC)")


def test_the_tree_variant_of_sap_is_named_as_such():
    ours = kv.evaluation.sap(*_split(CODES["clean"]), predictor="tree")
    assert ours["variant"] == "discrete (tree, chance-rescaled)" and ours["sap"] > 0.9
