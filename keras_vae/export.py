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

    @property
    def has_elbo(self):
        """Whether the export's signatures give its ELBO and importance weights: a model
        with an ELBO, p(z) = N(0, I), no flow, and a likelihood whose every parameter is
        served (Bernoulli logits, or a fixed Gaussian or logistic scale)."""
        m = self.metadata
        return bool(m.get("has_elbo") and m.get("prior") == "standard_normal"
                    and m.get("flow") is None and self.latent_kind == "gaussian"
                    and (self.likelihood == "bernoulli"
                         or isinstance(m.get("likelihood_scale"), (int, float))))

    def without_elbo_reason(self):
        """Why :attr:`has_elbo` is false, in words (``None`` when it is true)."""
        if self.has_elbo:
            return None
        m = self.metadata
        if self.latent_kind != "gaussian":
            return "the latent is a code grid"
        if "prior" not in m:
            return "this export predates the metadata that records the prior"
        if not m.get("has_elbo"):
            return "the model has no ELBO"
        if m["prior"] != "standard_normal":
            return f"its prior ({m['prior']}) is not served"
        if m.get("flow") is not None:
            return f"its posterior flow ({m['flow']}) is not served"
        return f"its {self.likelihood} likelihood's scale is learned and not served"

    @staticmethod
    def split_batch(batch):
        from keras_vae.data.arrays import split_batch

        return split_batch(batch)

    def _require_elbo(self):
        if not self.has_elbo:
            raise ValueError(f"This export cannot give the ELBO: {self.without_elbo_reason()}; "
                             "use the model's .keras file.")

    def posterior_and_prior(self, x, condition=None):
        """``(mean, log_var, prior_mean, prior_log_var)``: zeros for p(z) = N(0, I), NaN for
        a prior the export does not serve (the posterior alone is still exact)."""
        mean, log_var = self.encode(x, condition)
        known = self.metadata.get("prior") == "standard_normal"
        prior = np.zeros_like(mean) if known else np.full_like(mean, np.nan)
        return mean, log_var, prior, prior

    def kl_per_dimension(self, x, condition=None):
        from keras_vae import losses

        self._require_elbo()
        mean, log_var, _, _ = self.posterior_and_prior(x, condition)
        return np.mean(np.asarray(losses.gaussian_kl_per_dim(mean, log_var)), axis=0)

    def reconstruction_nll(self, x, z, condition=None):
        """``-log p(x|z)`` per example from the ``decode`` signature, in nats."""
        from keras_vae import losses

        self._require_elbo()
        x = tf.constant(np.asarray(x, np.float32))
        if self.likelihood == "bernoulli":
            return losses.bernoulli_nll(x, self.decode(z, condition, return_logits=True))
        mean = tf.constant(self.decode(z, condition))
        log_scale = float(np.log(self.metadata["likelihood_scale"]))
        if self.likelihood == "logistic":
            return losses.discretized_logistic_nll(x, mean, log_scale)
        return losses.gaussian_nll(x, mean, log_scale)

    def importance_log_weights(self, x, condition=None, num_samples=100, seed=0,
                               chunk_size=None):
        """``log p(x|z_k) + log p(z_k) - log q(z_k|x)`` for K draws per example, ``[batch,
        K]``, from the ``encode`` and ``decode`` signatures: the same draws, for the same
        seed, as the model's own :meth:`~keras_vae.models.BaseVAE.importance_log_weights`."""
        from keras_vae import losses
        from keras_vae.models.base import gaussian_log_density

        self._require_elbo()
        x = np.asarray(x, np.float32)
        mean, log_var = (np.asarray(v, np.float32) for v in self.encode(x, condition))
        log_var = np.asarray(losses.clip_log_var(log_var))
        batch = len(x)
        chunk = chunk_size or max(1, min(num_samples, 32_768 // max(batch, 1)))
        parts = []
        for start in range(0, num_samples, chunk):
            k = min(chunk, num_samples - start)
            eps = tf.random.stateless_normal([batch, k, self.latent_dim],
                                             tf.constant([seed, start], tf.int32))
            z = mean[:, None] + np.exp(0.5 * log_var)[:, None] * eps.numpy()
            log_q = gaussian_log_density(z, mean[:, None], log_var[:, None])
            log_p_z = gaussian_log_density(z, 0.0, 0.0)
            flat = z.reshape(batch * k, self.latent_dim)
            cond = None if condition is None else np.repeat(np.asarray(condition), k, axis=0)
            log_p_x = -tf.reshape(self.reconstruction_nll(np.repeat(x, k, axis=0), flat, cond),
                                  [batch, k])
            parts.append(log_p_x + log_p_z - log_q)
        return tf.concat(parts, axis=1)

    def summary_statistics(self, data):
        """A VQ-VAE export's codebook usage over ``data`` (as the model's own); nothing for
        a Gaussian latent."""
        if self.latent_kind != "codes":
            return {}, {}
        from keras_vae.evaluation.codebook import codebook_summary

        return codebook_summary(self, data)

    def preview_pictures(self, batch, seed, title):
        """Reconstructions of the batch's first 16 examples and samples: 64, or for a
        conditional ``sample`` a row of 8 per class (per condition of the batch)."""
        x, labels = self.split_batch(batch)
        x = x[:16]
        condition = None if labels is None or not self.needs_labels else labels[:16]
        pictures = {"reconstructions": (x, self.reconstruct(x, condition))}
        if "sample" not in self.signatures:
            return pictures
        spec = self.sample_condition_spec()
        if spec is None:
            from keras_vae.models.serving import samples_title

            pictures["samples"] = (self.sample(64, seed=seed), None,
                                   samples_title(title, self.metadata.get("sampler")))
        elif spec.name == "label":
            rows = np.repeat(np.arange(self.metadata["num_classes"], dtype=np.int32), 8)
            pictures["samples"] = (self.sample(rows, seed=seed), 8,
                                   f"{title}: one row per class")
        elif labels is not None:
            rows = np.repeat(np.asarray(labels[:8], np.float32), 8, axis=0)
            pictures["samples"] = (self.sample(rows, seed=seed), 8,
                                   f"{title}: one row per condition of the test batch")
        return pictures

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
