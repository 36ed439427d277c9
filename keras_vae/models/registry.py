"""The variant registry: every model kind the package ships, by the name the CLI, the tuning
spaces, the export metadata and the conformance tests use. A new variant is one file in
``keras_vae/models/`` plus one :func:`register` line in ``keras_vae/models/__init__.py``.
"""

import inspect

#: ``kind -> (class, fixed constructor arguments)``, in registration order.
MODEL_KINDS = {}
#: ``kind -> constructor arguments that do not apply to it`` (a mode the kind is not in).
EXCLUDED = {}


def register(kind, cls, excluded=(), **fixed):
    """Registers ``cls`` (with constructor arguments ``fixed``) as model kind ``kind``;
    ``excluded`` names constructor arguments that do not apply to the kind (the CLI refuses
    their flags)."""
    if kind in MODEL_KINDS:
        raise ValueError(f"Model kind {kind!r} is registered already.")
    unknown = sorted((set(fixed) | set(excluded)) - set(constructor_defaults(cls)))
    if unknown:
        raise ValueError(f"{cls.__name__} has no constructor arguments {unknown}.")
    MODEL_KINDS[kind] = (cls, dict(fixed))
    EXCLUDED[kind] = tuple(excluded)
    return cls


def applies(kind, name):
    """Whether constructor argument or training option ``name`` applies to model ``kind``."""
    cls, _ = model_class(kind)
    if name in EXCLUDED[kind] or name in getattr(cls, "refused_arguments", {}):
        return False
    return name in constructor_defaults(cls) or name in cls.training_options


def model_class(kind):
    """``(class, fixed constructor arguments)`` of a model kind; unknown kinds are named."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"Unknown model {kind!r}. Known models: {', '.join(MODEL_KINDS)}.")
    return MODEL_KINDS[kind]


def build_model(kind, input_shape, **kwargs):
    """Builds the model ``kind`` (a key of :data:`MODEL_KINDS`) for ``input_shape``."""
    cls, fixed = model_class(kind)
    return cls(input_shape=input_shape, **{**fixed, **kwargs})


def constructor_defaults(cls):
    """Every constructor argument of ``cls`` and its base classes with its default (the
    defaults a subclass sets win): what a kind's CLI flags and tuning defaults read."""
    defaults = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or klass.__module__.split(".")[0] != "keras_vae":
            continue
        for name, parameter in inspect.signature(init).parameters.items():
            if name in ("self", "input_shape") or parameter.kind in (
                    parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                continue
            defaults[name] = parameter.default
    return defaults


def kind_defaults(kind):
    """The constructor defaults of model ``kind`` with its fixed arguments applied."""
    cls, fixed = model_class(kind)
    return {**constructor_defaults(cls), **fixed}
