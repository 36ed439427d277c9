"""SavedModel export with serving signatures, in the TF Serving layout.

``export_saved_model(model, "saved_models/vae")`` writes ``saved_models/vae/<version>/``:
a SavedModel that ``tf.saved_model.load`` serves in a process that never imports
keras_vae (or keras), with the signatures the model declares in ``serving_endpoints()``
(``serving_default`` = ``reconstruct``), plus ``assets/keras_vae.json`` describing the model.
Versions are integer folders; a new export takes the next number, so a TF Serving model
server pointed at ``saved_models/vae`` picks up the newest.
"""

import functools
import json
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_vae.version import __version__

METADATA_FILE = "keras_vae.json"


def _float32_outputs(fn):
    """``fn`` with floating outputs cast to float32: a model trained under mixed precision
    computes in float16/bfloat16, but its signatures promise float32 like any other."""
    @functools.wraps(fn)
    def wrapped(*args):
        return {key: tf.cast(value, tf.float32) if value.dtype.is_floating else value
                for key, value in fn(*args).items()}
    return wrapped


def existing_versions(path):
    """Integer version folders under ``path``, sorted."""
    if not os.path.isdir(path):
        return []
    return sorted(int(d) for d in os.listdir(path) if d.isdigit() and
                  os.path.isdir(os.path.join(path, d)))


def export_saved_model(model, path=None, version=None, verbose=False):
    """Writes ``model`` as a SavedModel version under ``path``.

    Args:
        model: A keras_vae model (anything with ``serving_endpoints()``).
        path: The model's base folder (default ``saved_models/<model.kind>``).
        version: Integer version (default: one more than the largest present, or 1).
        verbose: Print the endpoints Keras writes.

    Returns:
        The path of the version folder written.

    Raises:
        ValueError: For a model that is not a keras_vae model or a bad version.
        FileExistsError: If that version already exists (exports are never overwritten).

    Example:

    >>> import tempfile, keras_vae as kv
    >>> model = kv.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,))
    >>> folder = kv.export.export_saved_model(model, tempfile.mkdtemp())
    >>> os.path.basename(folder)
    '1'
    """
    if not hasattr(model, "serving_endpoints"):
        raise ValueError(
            f"export_saved_model needs a keras_vae model; received {type(model).__name__}."
        )
    path = os.fspath(path or os.path.join("saved_models", model.kind))
    if version is None:
        version = (existing_versions(path) or [0])[-1] + 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be a positive integer. Received: version={version!r}")
    target = os.path.join(path, str(version))
    if os.path.exists(target):
        raise FileExistsError(f"{target} exists already; exports are never overwritten.")
    os.makedirs(path, exist_ok=True)

    archive = keras.export.ExportArchive()
    archive.track(model)
    endpoints = model.serving_endpoints()
    for name, (fn, signature) in endpoints.items():  # the first becomes serving_default
        archive.add_endpoint(name, _float32_outputs(fn), input_signature=signature)

    # Write beside the target and rename, so a server never sees a half-written version.
    staging = tempfile.mkdtemp(prefix=f".{version}-", dir=path)
    try:
        archive.write_out(staging, verbose=verbose)
        metadata = {
            **model.export_metadata(),
            "signatures": list(endpoints),
            "serving_default": next(iter(endpoints)),
            "keras_vae_version": __version__,
        }
        os.makedirs(os.path.join(staging, "assets"), exist_ok=True)
        with open(os.path.join(staging, "assets", METADATA_FILE), "w") as f:
            json.dump(metadata, f, indent=2)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def read_metadata(version_path):
    """The ``keras_vae.json`` of an export version folder."""
    with open(os.path.join(os.fspath(version_path), "assets", METADATA_FILE)) as f:
        return json.load(f)


#: Signatures written as ONNX graphs (sampling stays in the SavedModel).
ONNX_SIGNATURES = ("encode", "decode", "reconstruct")


def export_onnx(model, directory, opset=17):
    """Writes ``encode``, ``decode`` and ``reconstruct`` as ONNX graphs (needs the ``onnx`` extra).

    Each graph has the SavedModel signature's named inputs and outputs, e.g. ``encode.onnx``
    maps ``x`` to ``mean`` and ``log_var``.

    Returns:
        ``{signature name: path of its .onnx file}``.

    Raises:
        ImportError: If tf2onnx is not installed, naming the extra to install.
    """
    try:
        import tf2onnx
    except ImportError as err:
        raise ImportError(
            "ONNX export needs tf2onnx and onnxruntime: pip install keras-vae[onnx]"
        ) from err
    import tensorflow as tf

    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    endpoints = model.serving_endpoints()
    written = {}
    for name in ONNX_SIGNATURES:
        fn, signature = endpoints[name]
        path = os.path.join(directory, f"{name}.onnx")
        tf2onnx.convert.from_function(
            tf.function(fn, input_signature=signature), input_signature=signature, opset=opset,
            output_path=path,
        )
        written[name] = path
    return written


# ---------------------------------------------------------------------- reading an export
def is_export(path):
    """Whether ``path`` is an export version folder (a SavedModel with keras_vae's metadata)."""
    path = os.fspath(path)
    return (os.path.isfile(os.path.join(path, "saved_model.pb"))
            and os.path.isfile(os.path.join(path, "assets", METADATA_FILE)))


def find_export(path):
    """The export version folder ``path`` names: ``path`` itself, or the newest version
    under a base folder (``saved_models/vae``); ``None`` when there is none."""
    path = os.fspath(path)
    if is_export(path):
        return path
    for version in reversed(existing_versions(path)):
        folder = os.path.join(path, str(version))
        if is_export(folder):
            return folder
    return None


class ExportedModel:
    """A keras_vae SavedModel export, used through its signatures only (no keras_vae class
    is rebuilt, so any export loads, whoever wrote its networks).

    It answers the calls the pictures and samplers make of a model: ``encode``, ``decode``,
    ``reconstruct`` and ``sample``, with the model's attributes that describe them
    (``data_shape``, ``likelihood``, ``latent_kind``, ``latent_dim``, ``needs_labels``), read
    from ``assets/keras_vae.json`` and the signatures. What needs the model's own variables
    (its objective, a sampling temperature, an importance-weighted NLL of a likelihood
    whose scale the export does not record) needs the ``.keras`` file.

    Args:
        path: An export version folder, or a base folder (its newest version is used).

    Raises:
        FileNotFoundError: If ``path`` holds no keras_vae export.
    """

    def __init__(self, path):
        folder = find_export(path)
        if folder is None:
            raise FileNotFoundError(
                f"No keras_vae export at {path}: expected a SavedModel version folder holding "
                f"saved_model.pb and assets/{METADATA_FILE}, or a folder of such versions.")
        self.path = folder
        self.metadata = read_metadata(folder)
        self.loaded = tf.saved_model.load(folder)
        self.signatures = dict(self.loaded.signatures)

    # ------------------------------------------------------------------ description
    def inputs_of(self, signature):
        """``{input name: TensorSpec}`` of a signature."""
        return dict(self.signatures[signature].structured_input_signature[1])

    @property
    def data_shape(self):
        return tuple(self.metadata["input_shape"])

    @property
    def likelihood(self):
        return self.metadata["likelihood"]

    @property
    def data_range(self):
        return self.metadata.get("data_range", "unit")

    @property
    def latent_kind(self):
        return "codes" if self.metadata.get("num_embeddings") else "gaussian"

    @property
    def latent_dim(self):
        return int(self.metadata["latent_shape"][0])

    @property
    def condition_name(self):
        """``"label"``, ``"condition"`` or ``None``: what ``encode`` takes beside ``x``."""
        names = set(self.inputs_of("encode")) - {"x"}
        return names.pop() if names else None

    @property
    def needs_labels(self):
        return self.condition_name is not None

    def sample_condition_spec(self):
        """The ``TensorSpec`` of what ``sample`` takes in place of ``num`` (``None``: it
        takes ``num``)."""
        if "sample" not in self.signatures:
            return None
        specs = self.inputs_of("sample")
        if "num" in specs:
            return None
        name, spec = next((n, s) for n, s in specs.items() if n != "seed")
        return tf.TensorSpec(spec.shape, spec.dtype, name=name)

    def export_metadata(self):
        return dict(self.metadata)

    # ------------------------------------------------------------------ calls
    def _call(self, signature, **inputs):
        fn = self.signatures[signature]
        specs = self.inputs_of(signature)
        missing = sorted(set(specs) - {k for k, v in inputs.items() if v is not None})
        if missing:
            raise ValueError(f"The export's {signature} signature needs {', '.join(missing)}.")
        return {k: v.numpy() for k, v in fn(**{
            name: tf.constant(np.asarray(inputs[name]), dtype=spec.dtype)
            for name, spec in specs.items()}).items()}

    def _condition(self, condition):
        if self.needs_labels:
            if condition is None:
                raise ValueError(f"This export is conditional: pass its {self.condition_name}.")
            return {self.condition_name: condition}
        return {}

    def encode(self, x, condition=None):
        """``(mean, log_var)`` of a Gaussian latent, or ``codes`` of a VQ-VAE."""
        out = self._call("encode", x=x, **self._condition(condition))
        return out["codes"] if self.latent_kind == "codes" else (out["mean"], out["log_var"])

    def decode(self, z, condition=None, return_logits=False):
        key = "codes" if self.latent_kind == "codes" else "z"
        out = self._call("decode", **{key: z}, **self._condition(condition))
        if return_logits:
            if "logits" not in out:
                raise ValueError(f"The export's decode gives no logits (its likelihood is "
                                 f"{self.likelihood}).")
            return out["logits"]
        return out["x_mean"]

    def reconstruct(self, x, condition=None):
        return self._call("reconstruct", x=x, **self._condition(condition))["x_mean"]

    def sample(self, num_or_conditions, seed=None, temperature=1.0):
        """Draws from the export's ``sample`` signature: ``sample(n)``, or
        ``sample(labels or conditions)`` for an export whose ``sample`` takes them.
        ``seed=None`` draws a fresh seed. Only temperature 1 is served (the signature
        draws from the model's prior as it is)."""
        if "sample" not in self.signatures:
            raise ValueError(f"The export at {self.path} has no sample signature (a VQ-VAE "
                             "exported before a prior over its codes was trained).")
        if temperature != 1.0:
            raise ValueError("A SavedModel export samples at temperature 1 only (its sample "
                             "signature takes no temperature): use the .keras file for "
                             f"temperature {temperature:g}.")
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        spec = self.sample_condition_spec()
        first = {"num": np.int32(num_or_conditions)} if spec is None else {
            spec.name: num_or_conditions}
        return self._call("sample", seed=np.int32(seed), **first)["x_mean"]
