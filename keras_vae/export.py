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
