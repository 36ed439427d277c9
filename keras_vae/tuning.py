"""keras-tuner search for every model: :class:`HyperModel`, objectives with their directions,
and :class:`EpochMetric` for objectives computed after each epoch (codebook perplexity...).

Needs keras-tuner (``pip install -e ".[tune]"``).

Example:

>>> import keras_tuner as kt, keras_vae as kv
>>> hypermodel = kv.tuning.HyperModel("beta_vae", input_shape=(8, 8, 1),
...                                   fixed={"latent_dim": 2, "hidden_units": 128})
>>> hp = kt.HyperParameters()
>>> model = hypermodel.build(hp)
>>> model.latent_dim, hp.values["hidden_units"], sorted(hp.values)
(2, 128, ['beta', 'hidden_layers', 'hidden_units', 'latent_dim', 'learning_rate'])
"""

import os

import keras
import keras_tuner as kt

from keras_vae import evaluation
from keras_vae.models import build_model
from keras_vae.models import kind_defaults
from keras_vae.models import model_class

#: Directions of the objectives the models report (``val_`` versions included).
DIRECTIONS = {
    "loss": "min",
    "reconstruction_loss": "min",
    "kl_loss": "min",
    "elbo": "max",
    "vq_loss": "min",
    "perplexity": "max",
    "codebook_usage": "max",
    "codebook_perplexity": "max",
}


def objective(name):
    """A ``keras_tuner.Objective`` for a metric name (``"val_elbo"``, ``"val_loss"``...) with
    its direction; ``"name:min"`` / ``"name:max"`` gives any other metric a direction."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"An objective is a metric name such as 'val_loss'; received {name!r}.")
    if ":" in name:
        metric, direction = name.rsplit(":", 1)
        if direction not in ("min", "max") or not metric:
            raise ValueError(f"Objective {name!r}: write 'metric:min' or 'metric:max'.")
        return kt.Objective(metric, direction)
    base = name[4:] if name.startswith("val_") else name
    if base not in DIRECTIONS:
        known = ", ".join(sorted(DIRECTIONS))
        raise ValueError(
            f"Unknown objective {name!r}. Known metrics (with or without 'val_'): {known}; "
            "or give a direction, e.g. 'my_metric:max'."
        )
    return kt.Objective(name, DIRECTIONS[base])


# ---------------------------------------------------------------------- search spaces
# Each space takes ``(hp, architecture, defaults)``, ``defaults`` being the kind's constructor
# defaults (:func:`keras_vae.models.kind_defaults`): every hyperparameter's default is the
# library's, so a trial that tunes nothing builds the model the library builds.
def _choice(hp, name, values, default):
    values = sorted(set(values) | {default})
    return hp.Choice(name, values, default=default)


def _network_space(hp, architecture, d):
    if architecture == "conv":
        base = _choice(hp, "filters", [16, 32, 64], d["filters"][0])
        return {"filters": tuple(base * 2 ** i for i in range(len(d["filters"])))}
    width = _choice(hp, "hidden_units", [128, 256, 400, 512], d["hidden_units"][0])
    depth = hp.Int("hidden_layers", 1, 2, default=len(d["hidden_units"]))
    return {"hidden_units": (width,) * depth}


def _gaussian_space(hp, architecture, d):
    return {"latent_dim": _choice(hp, "latent_dim", [2, 4, 8, 16, 32], d["latent_dim"]),
            **_network_space(hp, architecture, d)}


def _latent_space(hp):
    """The posterior flow and the prior (``--flow``/``--prior`` specs): none and N(0, I) by
    default, as the library builds."""
    from keras_vae import flows
    from keras_vae.models import priors

    flow = hp.Choice("flow", ["none", "planar:4", "iaf:4"], default="none")
    prior = hp.Choice("prior", ["normal", "mixture:10", "vamp:500"], default="normal")
    return {"flow": None if flow == "none" else flows.from_spec(flow),
            "prior": None if prior == "normal" else priors.from_spec(prior)}


def _vae_space(hp, architecture, d):
    return {**_gaussian_space(hp, architecture, d), **_latent_space(hp)}


def _hvae_space(hp, architecture, d):
    # Sønderby et al.'s MNIST ladders have 2 to 5 layers of shrinking size.
    layers = _choice(hp, "latent_dims", ["32,16", "64,32", "32,16,8"],
                     ",".join(map(str, d["latent_dims"])))
    return {"latent_dims": tuple(int(v) for v in layers.split(",")),
            "ladder_units": (_choice(hp, "ladder_units", [128, 256, 512],
                                     d["ladder_units"][0]),),
            **_network_space(hp, architecture, d)}


def _beta_space(hp, architecture, d):
    return {**_gaussian_space(hp, architecture, d),
            "beta": hp.Float("beta", 0.5, 10.0, sampling="log", default=d["beta"])}


def _capacity_space(hp, architecture, d):
    return {**_gaussian_space(hp, architecture, d),
            "capacity_max": hp.Float("capacity_max", 5.0, 50.0, default=d["capacity_max"]),
            "gamma": _choice(hp, "gamma", [100.0, 1000.0], d["gamma"])}


def _conditioning_space(hp, d):
    """A label model's choice of conditioning (float conditions enter as they are)."""
    if "conditioning" not in d or d.get("condition_dim") is not None:
        return {}
    return {"conditioning": _choice(hp, "conditioning", ["one_hot", "embedding"],
                                    d["conditioning"])}


def _cvae_space(hp, architecture, d):
    return {**_gaussian_space(hp, architecture, d), **_conditioning_space(hp, d)}


def _iwae_space(hp, architecture, d):
    return {**_vae_space(hp, architecture, d),
            "num_samples": _choice(hp, "num_samples", [1, 5, 10, 50], d["num_samples"])}


def _factor_space(hp, architecture, d):
    # Kim & Mnih sweep γ over 10-100 on 2D Shapes; disentanglement_lib over 10-100.
    return {**_gaussian_space(hp, architecture, d),
            "gamma": _choice(hp, "gamma", [10.0, 20.0, 40.0, 100.0], d["gamma"])}


def _beta_tc_space(hp, architecture, d):
    # Chen et al. and disentanglement_lib sweep β over 1-10.
    return {**_gaussian_space(hp, architecture, d),
            "beta": _choice(hp, "beta", [1.0, 2.0, 4.0, 6.0, 8.0, 10.0], d["beta"])}


def _dip_space(hp, architecture, d):
    # disentanglement_lib's sweep of λ_od (λ_d = 10 λ_od for DIP-VAE-I, λ_od for -II).
    return {**_gaussian_space(hp, architecture, d),
            "dip_type": _choice(hp, "dip_type", ["i", "ii"], d["dip_type"]),
            "lambda_od": _choice(hp, "lambda_od", [1.0, 2.0, 5.0, 10.0, 20.0, 50.0],
                                 d["lambda_od"])}


def _aae_space(hp, architecture, d):
    return {**_gaussian_space(hp, architecture, d),
            "encoder_type": _choice(hp, "encoder_type", ["deterministic", "gaussian"],
                                    d["encoder_type"]),
            "adversarial_weight": _choice(hp, "adversarial_weight", [0.5, 1.0, 2.0],
                                          d["adversarial_weight"]),
            **_conditioning_space(hp, d)}


def _vq_space(hp, architecture, d):
    base = _choice(hp, "filters", [16, 32, 64], d["filters"][0])
    filters = tuple(base * 2 ** i for i in range(len(d["filters"])))
    # The VQ-VAE-2's stages to its top grid keep the last bottom stage's width, as by default.
    top = {"top_filters": (filters[-1],) * len(d["top_filters"])} if "top_filters" in d else {}
    return {"filters": filters, **top,
            "num_embeddings": _choice(hp, "num_embeddings", [32, 64, 128, 256],
                                      d["num_embeddings"]),
            "embedding_dim": _choice(hp, "embedding_dim", [8, 16, 32], d["embedding_dim"]),
            "commitment_cost": hp.Float("commitment_cost", 0.1, 1.0, sampling="log",
                                        default=d["commitment_cost"])}


#: The default search space of each model kind: ``kind -> function(hp, architecture,
#: defaults)`` returning constructor arguments; a kind without its own space gets the
#: Gaussian one. Every space also tunes ``learning_rate`` (Adam, 1e-4 to 3e-3, log scale,
#: default 1e-3 as ``keras-vae train``).
SEARCH_SPACES = {
    "vae": _vae_space,
    "beta_vae": _beta_space,
    "beta_vae_capacity": _capacity_space,
    "cvae": _cvae_space,
    "vqvae": _vq_space,
    "vqvae2": _vq_space,
    "iwae": _iwae_space,
    "factor_vae": _factor_space,
    "beta_tc_vae": _beta_tc_space,
    "dip_vae": _dip_space,
    "aae": _aae_space,
    "caae": _aae_space,
    "hvae": _hvae_space,
}

#: Adam's learning rate when a trial does not tune it (``keras-vae train``'s default).
DEFAULT_LEARNING_RATE = 1e-3


class _Recorder:
    """Wraps ``HyperParameters`` to note which names a search space asks for."""

    def __init__(self, hp):
        self.hp, self.names = hp, set()

    def __getattr__(self, method):
        def define(name, *args, **kwargs):
            self.names.add(name)
            return getattr(self.hp, method)(name, *args, **kwargs)

        return define


class HyperModel(kt.HyperModel):
    """A keras-tuner ``HyperModel`` for one model kind of the package.

    ``build(hp)`` draws the constructor arguments from the kind's default search space
    (:data:`SEARCH_SPACES`; see the README for the ranges), builds the model and compiles it
    with Adam at the drawn ``learning_rate``. To narrow or extend a space, pin values with
    ``fixed`` or pass your own ``keras_tuner.HyperParameters`` to the tuner (a name you define
    there takes precedence over the default range). To extend it, pass ``extend``: a
    function ``hp -> {constructor argument: value}`` whose entries are added to (or replace)
    the default space's, e.g. ``lambda hp: {"free_bits": hp.Float("free_bits", 0.0, 0.5)}``.

    Args:
        model: A model kind, a key of :data:`keras_vae.models.MODEL_KINDS`.
        input_shape: Image shape ``(H, W, C)``.
        fixed: ``{hyperparameter: value}`` pinned for every trial (names from the space).
        extend: Optional function ``hp -> dict`` of further searched constructor arguments.
        **model_kwargs: Constructor arguments that are not searched (``num_classes``,
            ``architecture``, ``likelihood``, ``capacity_steps``...).
    """

    def __init__(self, model, input_shape, fixed=None, extend=None, name=None, tunable=True,
                 **model_kwargs):
        super().__init__(name=name or f"keras_vae_{model}", tunable=tunable)
        cls = model_class(model)[0]  # names an unknown kind
        self.model = model
        self.input_shape = tuple(input_shape)
        self.fixed = dict(fixed or {})
        if extend is not None and not callable(extend):
            raise ValueError("`extend` must be a function hp -> {constructor argument: value}.")
        self.extend = extend
        self.model_kwargs = model_kwargs
        self.defaults = {**kind_defaults(model), **model_kwargs}
        self.architecture = model_kwargs.get(
            "architecture", "conv" if cls.latent_kind == "codes" else "mlp")
        names = self.search_space_names()
        unknown = sorted(set(self.fixed) - names)
        if unknown:
            raise ValueError(f"`fixed` names {unknown} are not in the {model} search space "
                             f"({', '.join(sorted(names))}).")
        clash = sorted(set(model_kwargs) & set(self._space(kt.HyperParameters())))
        if clash:
            raise ValueError(f"{clash} are searched; pin them with fixed={{...}} instead of "
                             "passing them as model arguments.")

    def _space(self, hp):
        space = SEARCH_SPACES.get(self.model, _gaussian_space)
        kwargs = space(hp, self.architecture, self.defaults)
        if self.extend is not None:
            kwargs.update(self.extend(hp))
        return kwargs

    def search_space_names(self):
        """Names of the hyperparameters this model's space defines."""
        recorder = _Recorder(kt.HyperParameters())
        self._space(recorder)
        return recorder.names | {"learning_rate"}

    def build(self, hp):
        for name, value in self.fixed.items():
            hp.Fixed(name, value)
        kwargs = self._space(hp)
        model = build_model(self.model, self.input_shape, **self.model_kwargs, **kwargs)
        learning_rate = hp.Float("learning_rate", 1e-4, 3e-3, sampling="log",
                                 default=DEFAULT_LEARNING_RATE)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
        # Build the optimizers now (an adversary's too): the tuner reloads a trial's
        # checkpoint, optimizer state included, into a model from `build`, which must
        # therefore have the same variables.
        model.build_optimizers()
        return model


class EpochMetric(keras.callbacks.Callback):
    """Adds ``logs[name] = function(model)`` at the end of every epoch, so a metric computed
    after training steps (on a whole dataset, say) can be a tuner objective (give it to the
    tuner's ``search(callbacks=[...])`` with ``objective=kv.tuning.objective(name)``)."""

    def __init__(self, name, function):
        super().__init__()
        self.name, self.function = name, function

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.name] = float(self.function(self.model))


def codebook_perplexity(data, name="val_codebook_perplexity"):
    """An :class:`EpochMetric`: the VQ-VAE's code perplexity over all of ``data`` (not per
    batch); objective direction ``max``."""
    def perplexity(model):
        return evaluation.codebook_stats(evaluation.code_counts(model, data))["perplexity"]

    return EpochMetric(name, perplexity)


def is_worker():
    """True in a worker of a distributed search (keras-tuner's ``KERASTUNER_TUNER_ID`` set,
    and not to a chief): workers run trials, the chief runs the oracle and keeps the results."""
    ip = os.environ.get("KERASTUNER_ORACLE_IP")
    return bool(ip) and "chief" not in os.environ.get("KERASTUNER_TUNER_ID", "")


TUNERS = {"random": "RandomSearch", "bayesian": "BayesianOptimization", "hyperband": "Hyperband"}


def search(model="vae", dataset="shapes", output=None, tuner="random", max_trials=10,
           objective_name="val_loss", epochs=3, steps_per_epoch=None, validation_steps=None,
           batch_size=128, binarize=None, fixed=None, model_kwargs=None, seed=0, overwrite=False,
           verbose=0):
    """Runs a search end to end (the ``keras-vae tune`` command).

    Loads ``dataset`` as :func:`keras_vae.training.train` does, searches ``max_trials``
    trials of ``epochs`` epochs each (Hyperband: ``epochs`` is its ``max_epochs``), saves the
    best model as ``<output>/best.keras``, and returns ``(tuner, best_model, rows)`` where
    ``rows`` lists every trial (id, status, score, hyperparameters), best first. The tuner's
    state lives in ``<output>/search`` (a rerun continues it unless ``overwrite``).

    Distributed (keras-tuner's chief/worker mechanism): start the same call in a chief
    (``KERASTUNER_TUNER_ID=chief``) and in workers (``tuner0``, ``tuner1``...), all with
    ``KERASTUNER_ORACLE_IP`` / ``KERASTUNER_ORACLE_PORT`` set to the chief's address and
    ``output`` on a filesystem they share. Workers run trials and return
    ``(tuner, None, [])``; the chief returns when every trial is done, with the results.
    """
    from keras_vae import training

    if tuner not in TUNERS:
        raise ValueError(f"Unknown tuner {tuner!r}; choose one of {', '.join(TUNERS)}.")
    if tuner == "hyperband" and epochs < 2:
        raise ValueError("Hyperband needs epochs >= 2 (its largest training budget).")
    output = output or os.path.join("saved_models", f"{model}_tuning")
    cls = model_class(model)[0]
    conditional = cls.needs_labels
    train_ds, val_ds, input_shape, steps, val_steps = training.datasets(
        dataset, conditional, batch_size, binarize, seed, steps_per_epoch, validation_steps)
    model_kwargs = dict(model_kwargs or {})
    if conditional and model_kwargs.get("condition_dim") is None:
        model_kwargs.setdefault("num_classes", 10)
    hypermodel = HyperModel(model, input_shape, fixed=fixed, seed=seed, **model_kwargs)
    goal = objective(objective_name)
    callbacks = []
    if goal.name == "val_codebook_perplexity":
        if cls.latent_kind != "codes":
            raise ValueError("val_codebook_perplexity is a VQ-VAE objective.")
        callbacks.append(codebook_perplexity(val_ds))  # cut to val_steps
    options = {"max_epochs": epochs} if tuner == "hyperband" else {"max_trials": max_trials}
    # keras-tuner takes a seed of 0 for "no seed" and draws one at random; shift by one so
    # that every seed, 0 included, repeats its trials.
    search_tuner = getattr(kt, TUNERS[tuner])(
        hypermodel, objective=goal, seed=seed + 1, directory=output, project_name="search",
        overwrite=overwrite, **options)
    fit_kwargs = {} if tuner == "hyperband" else {"epochs": epochs}
    search_tuner.search(train_ds, validation_data=val_ds, steps_per_epoch=steps,
                        validation_steps=val_steps, callbacks=callbacks, verbose=verbose,
                        **fit_kwargs)
    if is_worker():
        return search_tuner, None, []  # the chief holds the results and saves the best model
    best = search_tuner.get_best_models(1)[0]
    best.save(os.path.join(output, "best.keras"))
    trials = search_tuner.oracle.get_best_trials(len(search_tuner.oracle.trials))
    rows = [{"trial": t.trial_id, "status": t.status, "score": t.score,
             **t.hyperparameters.values} for t in trials]
    return search_tuner, best, rows
