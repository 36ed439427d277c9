"""Disentanglement metrics against ground-truth factors of variation.

Five metrics, each following its paper (parameters below; the defaults of the sampled metrics
are smaller than the papers' so that a CPU evaluates them in a minute, and every one is an
argument):

* :func:`mig` — Mutual Information Gap (Chen et al. 2018): for each factor, the gap between
  the two latent dimensions sharing the most information with it, divided by the factor's
  entropy; averaged over factors. Codes are discretized into ``num_bins`` equal-width bins.
* :func:`beta_vae_score` — Higgins et al. 2017: pairs of batches that share one factor; a
  linear classifier (logistic regression) predicts the shared factor from the mean absolute
  code difference; the score is its accuracy on held-out points.
* :func:`factor_vae_score` — Kim & Mnih 2018: batches that share one factor; codes scaled by
  their standard deviation over the data; the dimension of least variance votes for the
  factor; a majority-vote classifier; the score is its held-out accuracy. Dimensions whose
  variance over the data is at most ``prune_threshold`` (collapsed ones) do not vote.
* :func:`dci` — Eastwood & Williams 2018: a random forest per factor predicts it from the
  codes; its feature importances form R (codes x factors). Disentanglement is 1 minus the
  entropy (base = number of factors) of each code's importance distribution, weighted by the
  code's share of importance; completeness is 1 minus the entropy (base = number of codes)
  of each factor's; informativeness is the forests' mean held-out accuracy.
* :func:`sap` — Separated Attribute Predictability (Kumar et al. 2018): a score per (code,
  factor) pair from that code alone — R^2 of a linear fit for continuous factors, for
  discrete ones the held-out balanced accuracy of a thresholding classifier (a decision tree
  on the one code) scaled so chance is 0 and perfect is 1 — then for each factor the gap
  between its two best codes; averaged over factors.

Scores are in [0, 1]; higher is better. A ground truth is anything with ``factor_sizes``,
``sample_factors(num, rng)`` (int classes ``[num, F]``) and ``observations(factors)``
(images); :class:`ShapesGroundTruth` serves the embedded shapes dataset.
"""

import numpy as np

from keras_vae.validation import check_positive_int


# ---------------------------------------------------------------------------- ground truth
class ShapesGroundTruth:
    """The embedded shapes dataset as a ground truth: 5 factors (shape, scale, orientation,
    x, y) with 3, 6, 40, 32 and 32 classes, rendered on demand."""

    def __init__(self):
        from keras_vae.data.shapes import Shapes

        self.shapes = Shapes()
        self.factor_sizes = tuple(self.shapes.factor_sizes)
        self.factor_names = tuple(self.shapes.factor_names)

    def sample_factors(self, num, rng):
        return np.stack([rng.integers(0, s, size=num) for s in self.factor_sizes], axis=1)

    def observations(self, factors):
        return self.shapes.images(self.shapes.factors_to_index(factors))


def representation(model, batch_size=512):
    """``images -> codes``: the posterior mean of a Gaussian-latent model, as NumPy."""
    def represent(images):
        images = np.asarray(images, np.float32)
        out = [np.asarray(model.encode(images[i:i + batch_size])[0], np.float32)
               for i in range(0, len(images), batch_size)]
        return np.concatenate(out)
    return represent


def sample_codes(ground_truth, represent, num, rng, batch=2048):
    """``(codes, factors)`` of ``num`` observations with random factors."""
    factors = ground_truth.sample_factors(num, rng)
    return _codes_of(ground_truth, represent, factors, batch), factors


# ---------------------------------------------------------------------------- MIG
def _check_pair(codes, factors):
    codes, factors = np.asarray(codes, np.float64), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError(f"codes [N, D] and factors [N, F] must have the same N; received "
                         f"{codes.shape} and {factors.shape}.")
    if len(codes) < 2:
        raise ValueError("Disentanglement metrics need at least 2 examples.")
    return codes, factors


def discretize(codes, num_bins=20):
    """Each column mapped to ``num_bins`` equal-width bins over its range (int ``[N, D]``)."""
    codes = np.asarray(codes, np.float64)
    out = np.zeros(codes.shape, np.int64)
    for i in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, i], bins=num_bins)
        out[:, i] = np.digitize(codes[:, i], edges[1:-1])
    return out


def discrete_entropy(values):
    """Entropy (nats) of the empirical distribution of integer values."""
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def discrete_mutual_information(a, b):
    """Mutual information (nats) of the empirical joint distribution of two integer arrays."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def factor_information(codes, factors, num_bins=20):
    """How much each code dimension tells about each factor: the mutual information of
    dimension ``i`` (discretized into ``num_bins`` bins) with factor ``j``, divided by the
    factor's entropy, ``[D, F]`` in [0, 1] (NaN for a constant factor). A disentangled code
    has one large entry per factor, each in its own row.

    >>> import numpy as np
    >>> f = np.random.default_rng(0).integers(0, 5, (2000, 2))
    >>> np.round(factor_information(f.astype(float), f), 2).tolist()  # codes = the factors
    [[1.0, 0.0], [0.0, 1.0]]
    """
    codes, factors = _check_pair(codes, factors)
    binned = discretize(codes, num_bins)
    info = np.array([[discrete_mutual_information(binned[:, i], factors[:, j])
                      for j in range(factors.shape[1])] for i in range(codes.shape[1])])
    entropy = np.array([discrete_entropy(factors[:, j]) for j in range(factors.shape[1])])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(entropy > 0, info / np.where(entropy > 0, entropy, 1.0), np.nan)


def mig(codes, factors, num_bins=20):
    """Mutual Information Gap of codes ``[N, D]`` against factor classes ``[N, F]``: for each
    factor, the gap between the two largest entries of its :func:`factor_information`
    column; averaged over the factors that vary.

    >>> import numpy as np
    >>> f = np.random.default_rng(0).integers(0, 5, (2000, 2))
    >>> round(mig(f.astype(float), f), 2)  # codes equal to the factors
    1.0
    """
    codes, factors = _check_pair(codes, factors)
    if codes.shape[1] < 2:
        raise ValueError("MIG needs at least 2 latent dimensions.")
    normalized = factor_information(codes, factors, num_bins)
    keep = ~np.isnan(normalized[0])
    if not keep.any():
        raise ValueError("Every factor is constant in the data: MIG is undefined.")
    top = np.sort(normalized[:, keep], axis=0)[::-1]
    return float(np.mean(top[0] - top[1]))


# ---------------------------------------------------------------------------- beta-VAE score
def _shared_factor_batches(ground_truth, num_points, batch_size, rng):
    """For each point: a factor k, and two factor batches that agree on k only by design."""
    num_factors = len(ground_truth.factor_sizes)
    ks = rng.integers(0, num_factors, size=num_points)
    first = ground_truth.sample_factors(num_points * batch_size, rng)
    second = ground_truth.sample_factors(num_points * batch_size, rng)
    rows = np.repeat(ks, batch_size)
    second[np.arange(len(rows)), rows] = first[np.arange(len(rows)), rows]
    return ks, first, second


def _codes_of(ground_truth, represent, factors, chunk=4096):
    return np.concatenate([represent(ground_truth.observations(factors[i:i + chunk]))
                           for i in range(0, len(factors), chunk)])


def _beta_vae_points(ground_truth, represent, num_points, batch_size, rng):
    ks, first, second = _shared_factor_batches(ground_truth, num_points, batch_size, rng)
    z1 = _codes_of(ground_truth, represent, first)
    z2 = _codes_of(ground_truth, represent, second)
    features = np.abs(z1 - z2).reshape(num_points, batch_size, -1).mean(axis=1)
    return features, ks


def beta_vae_score(ground_truth, represent, batch_size=64, num_train=1000, num_eval=500,
                   seed=0):
    """The β-VAE metric (Higgins et al. 2017). The paper and disentanglement_lib use
    ``batch_size=64``, 10,000 training and 5,000 evaluation points.

    Returns:
        ``{"train_accuracy", "eval_accuracy"}``; the score is ``eval_accuracy`` (chance is
        1 / number of factors).
    """
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    for name, value in (("batch_size", batch_size), ("num_train", num_train),
                        ("num_eval", num_eval)):
        check_positive_int(name, value)
    x_train, y_train = _beta_vae_points(ground_truth, represent, num_train, batch_size, rng)
    x_eval, y_eval = _beta_vae_points(ground_truth, represent, num_eval, batch_size, rng)
    scale = x_train.std(axis=0) + 1e-8  # logistic regression converges on standardised inputs
    classifier = LogisticRegression(max_iter=2000)
    classifier.fit(x_train / scale, y_train)
    return {"train_accuracy": float(classifier.score(x_train / scale, y_train)),
            "eval_accuracy": float(classifier.score(x_eval / scale, y_eval))}


# ---------------------------------------------------------------------------- FactorVAE
def factor_vae_score(ground_truth, represent, batch_size=64, num_train=1000, num_eval=500,
                     num_variance_estimate=5000, prune_threshold=0.05, seed=0):
    """The FactorVAE metric (Kim & Mnih 2018). The paper and disentanglement_lib use
    ``batch_size=64``, 10,000 training and 5,000 evaluation votes, and 10,000 examples to
    estimate each dimension's scale. Dimensions whose standard deviation is below
    ``prune_threshold`` take no part (disentanglement_lib's rule).

    Returns:
        ``{"train_accuracy", "eval_accuracy", "active_dims"}``; the score is
        ``eval_accuracy`` (0 when every dimension has collapsed).
    """
    rng = np.random.default_rng(seed)
    for name, value in (("batch_size", batch_size), ("num_train", num_train),
                        ("num_eval", num_eval), ("num_variance_estimate", num_variance_estimate)):
        check_positive_int(name, value)
    codes, _ = sample_codes(ground_truth, represent, num_variance_estimate, rng)
    scale = codes.std(axis=0, ddof=1)
    active = scale >= prune_threshold  # as disentanglement_lib: by standard deviation
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "active_dims": 0}
    num_factors = len(ground_truth.factor_sizes)

    def votes(num):
        counts = np.zeros((codes.shape[1], num_factors), np.int64)
        ks = rng.integers(0, num_factors, size=num)
        factors = ground_truth.sample_factors(num * batch_size, rng)
        rows = np.arange(num * batch_size)
        firsts = np.repeat(np.arange(num) * batch_size, batch_size)
        column = np.repeat(ks, batch_size)
        factors[rows, column] = factors[firsts, column]
        z = _codes_of(ground_truth, represent, factors).reshape(num, batch_size, -1) / scale
        local = z.var(axis=1, ddof=1)
        local[:, ~active] = np.inf
        np.add.at(counts, (local.argmin(axis=1), ks), 1)
        return counts

    train, evaluation = votes(num_train), votes(num_eval)
    classifier = train.argmax(axis=1)  # each dimension votes for its most frequent factor
    correct = evaluation[np.arange(len(classifier)), classifier].sum()
    return {"train_accuracy": float(train.max(axis=1).sum() / train.sum()),
            "eval_accuracy": float(correct / evaluation.sum()),
            "active_dims": int(active.sum())}


# ---------------------------------------------------------------------------- DCI
#: ``estimator`` values of :func:`dci`.
DCI_ESTIMATORS = ("gbt", "forest")


def _dci_model(estimator, num_trees, seed):
    if estimator == "gbt":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(random_state=seed)
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=num_trees, random_state=seed, n_jobs=-1)


def dci(codes_train, factors_train, codes_test, factors_test, estimator="gbt", num_trees=50,
        seed=0):
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018), as
    disentanglement_lib computes them: the importance matrix R ``[D, F]`` from one classifier
    per factor, disentanglement as the importance-weighted mean over codes of
    ``1 - H_F(R_i.)``, completeness as the importance-weighted mean over factors of
    ``1 - H_D(R_.j)``, informativeness as the mean test accuracy.

    Args:
        estimator: ``"gbt"`` (default): scikit-learn's ``GradientBoostingClassifier`` with its
            defaults, disentanglement_lib's estimator, so the figures compare with published
            ones; ``"forest"``: a random forest of ``num_trees`` trees, much faster on factors
            with many classes but lower on clean codes (its importances spread over noise
            dimensions), so its figures compare only with each other.

    Returns:
        ``{"disentanglement", "completeness", "informativeness", "importance", "estimator"}``
        (R as nested lists).
    """
    if estimator not in DCI_ESTIMATORS:
        raise ValueError(f"`estimator` must be one of {DCI_ESTIMATORS}. Received: "
                         f"{estimator!r}")
    codes_train, factors_train = _check_pair(codes_train, factors_train)
    codes_test, factors_test = _check_pair(codes_test, factors_test)
    num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
    importance = np.zeros((num_codes, num_factors))
    accuracy = []
    for j in range(num_factors):
        model = _dci_model(estimator, num_trees, seed)
        model.fit(codes_train, factors_train[:, j])
        importance[:, j] = np.abs(model.feature_importances_)
        accuracy.append(model.score(codes_test, factors_test[:, j]))
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    per_code = 1.0 - _entropy(importance, axis=1, base=num_factors)
    per_factor = 1.0 - _entropy(importance, axis=0, base=num_codes)
    return {
        "disentanglement": float((per_code * weights.sum(axis=1)).sum() / weights.sum()),
        "completeness": float((per_factor * weights.sum(axis=0)).sum() / weights.sum()),
        "informativeness": float(np.mean(accuracy)),
        "importance": np.round(importance, 5).tolist(),
        "estimator": estimator,
    }


def _entropy(weights, axis, base):
    """Entropy in ``base`` of ``weights + 1e-11`` normalised along ``axis`` (0 when
    ``base`` is 1: a single code or factor)."""
    if base < 2:
        return np.zeros(weights.shape[1 - axis])
    p = weights + 1e-11
    p = p / p.sum(axis=axis, keepdims=True)
    return -(p * np.log(p)).sum(axis=axis) / np.log(base)


# ---------------------------------------------------------------------------- SAP
#: ``predictor`` values of :func:`sap` for discrete factors.
SAP_PREDICTORS = ("svm", "tree")


def sap(codes_train, factors_train, codes_test, factors_test, continuous_factors=False,
        predictor="svm"):
    """Separated Attribute Predictability (Kumar et al. 2018): the mean over factors of the
    gap between the two codes that predict it best, from a score matrix ``[D, F]``.

    The two variants of disentanglement_lib:

    * discrete factors (default): the score of code i for factor j is the test accuracy of a
      classifier of j from code i alone, ``LinearSVC(C=0.01, class_weight="balanced")``
      (``predictor="svm"``);
    * ``continuous_factors=True``: the squared correlation of code i and factor j on the
      training split, 0 where the code is constant.

    ``predictor="tree"`` is this package's earlier discrete variant, not comparable with
    published figures: a decision tree of ``4 x classes`` leaves and balanced accuracy
    rescaled so that chance is 0.

    Returns:
        ``{"sap", "scores", "variant"}``: the score, the matrix behind it and which variant
        computed it (``"discrete (LinearSVC)"``, ``"continuous (correlation)"`` or
        ``"discrete (tree, chance-rescaled)"``).
    """
    if predictor not in SAP_PREDICTORS:
        raise ValueError(f"`predictor` must be one of {SAP_PREDICTORS}. Received: "
                         f"{predictor!r}")
    codes_train, factors_train = _check_pair(codes_train, factors_train)
    codes_test, factors_test = _check_pair(codes_test, factors_test)
    num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
    if num_codes < 2:
        raise ValueError("SAP needs at least 2 latent dimensions.")
    if continuous_factors:
        variant = "continuous (correlation)"
    else:
        variant = ("discrete (LinearSVC)" if predictor == "svm" else
                   "discrete (tree, chance-rescaled)")
    scores = np.zeros((num_codes, num_factors))
    for j in range(num_factors):
        for i in range(num_codes):
            if continuous_factors:
                c = np.cov(codes_train[:, i], factors_train[:, j], ddof=1)
                if c[0, 0] > 1e-12 and c[1, 1] > 0:
                    scores[i, j] = c[0, 1] ** 2 / (c[0, 0] * c[1, 1])
            else:
                scores[i, j] = _predictability(codes_train[:, i:i + 1], factors_train[:, j],
                                               codes_test[:, i:i + 1], factors_test[:, j],
                                               predictor)
    top = np.sort(scores, axis=0)[::-1]
    return {"sap": float(np.mean(top[0] - top[1])), "scores": np.round(scores, 5).tolist(),
            "variant": variant}


def _predictability(code_train, factor_train, code_test, factor_test, predictor):
    classes = np.unique(factor_train)
    if predictor == "svm":
        from sklearn.svm import LinearSVC

        if len(classes) < 2:  # LinearSVC needs two classes; one is predicted always
            return float(np.mean(factor_test == classes[0]))
        model = LinearSVC(C=0.01, class_weight="balanced", random_state=0)
        model.fit(code_train, factor_train)
        return float(np.mean(model.predict(code_test) == factor_test))
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.tree import DecisionTreeClassifier

    if len(classes) < 2:
        return 0.0
    tree = DecisionTreeClassifier(max_leaf_nodes=4 * len(classes), random_state=0)
    tree.fit(code_train, factor_train)
    accuracy = balanced_accuracy_score(factor_test, tree.predict(code_test))
    chance = 1.0 / len(classes)
    return max(0.0, (accuracy - chance) / (1.0 - chance))


# ---------------------------------------------------------------------------- all of them
def disentanglement_report(ground_truth, represent, num_examples=10_000, seed=0,
                           sampled_points=(1000, 500), batch_size=64, dci_estimator="gbt"):
    """Every metric above for one model, JSON-ready.

    Args:
        ground_truth: A ground truth (e.g. :class:`ShapesGroundTruth`).
        represent: ``images -> codes`` (e.g. :func:`representation` of a model).
        num_examples: Observations for MIG, DCI and SAP (split 80/20 into fit and test for
            DCI and SAP).
        seed: Seed of every draw.
        sampled_points: ``(train, eval)`` points of the β-VAE and FactorVAE scores.
        batch_size: Batch of each such point.
        dci_estimator: ``estimator`` of :func:`dci` (``"gbt"``, disentanglement_lib's, or the
            faster ``"forest"``).

    SAP is disentanglement_lib's discrete variant (the shapes factors are classes).
    """
    rng = np.random.default_rng(seed)
    codes, factors = sample_codes(ground_truth, represent, num_examples, rng)
    cut = int(0.8 * num_examples)
    num_train, num_eval = sampled_points
    dci_scores = dci(codes[:cut], factors[:cut], codes[cut:], factors[cut:],
                     estimator=dci_estimator, seed=seed)
    return {
        "mig": mig(codes, factors),
        "beta_vae_score": beta_vae_score(ground_truth, represent, batch_size, num_train,
                                         num_eval, seed)["eval_accuracy"],
        "factor_vae_score": factor_vae_score(ground_truth, represent, batch_size, num_train,
                                             num_eval, seed=seed)["eval_accuracy"],
        "dci_disentanglement": dci_scores["disentanglement"],
        "dci_completeness": dci_scores["completeness"],
        "dci_informativeness": dci_scores["informativeness"],
        "sap": sap(codes[:cut], factors[:cut], codes[cut:], factors[cut:])["sap"],
        "dci_estimator": dci_estimator,
        "num_examples": num_examples,
    }
