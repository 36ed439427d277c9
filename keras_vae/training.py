"""A complete training run: data, model, fit with checkpoints and logs, pictures, metrics.

``keras-vae train`` is a thin layer over :func:`train`.
"""

import contextlib
import json
import math
import os
import shutil
import tempfile
import zipfile

import keras
import numpy as np
import tensorflow as tf

from keras_vae import callbacks as kv_callbacks
from keras_vae import data as kv_data
from keras_vae import distribute
from keras_vae import export as kv_export
from keras_vae import outputs
from keras_vae import plotting
from keras_vae.models import build_model
from keras_vae.models import model_class
from keras_vae.plotting import previews

#: Steps per epoch used for the shapes dataset when none is given (a full pass is 727,280
#: images, far more than a quick run needs).
SHAPES_STEPS_PER_EPOCH = 100
#: Validation batches per epoch for shapes when none is given.
SHAPES_VALIDATION_STEPS = 20


def _json_ready(logs):
    return {k: float(np.asarray(v)) for k, v in (logs or {}).items()}


def datasets(dataset, labels, batch_size, binarize, seed, steps_per_epoch=None,
             validation_steps=None, strategy=None, start_epoch=0):
    """The training and validation data of a run: ``(train, validation, input_shape,
    steps_per_epoch, validation_steps)``; for ``shapes`` the step counts default to 100 and 20.

    The training data is one seeded stream that repeats, and epoch k is its batches
    ``[k * steps_per_epoch, (k + 1) * steps_per_epoch)`` (by default ``steps_per_epoch`` is
    the number of batches in a pass). So a run resumed at ``start_epoch`` (the stream skips
    the epochs done) sees the same batches as an uninterrupted one. (A source whose length is
    unknown is not repeated and starts over instead.)

    ``batch_size`` is the global batch. Under a strategy with several replicas the training
    data drops its last partial batch (a replica left without examples would hit a
    TensorFlow bug in fused convolutions on empty batches), and with several workers both
    datasets are sharded by data (each worker takes its replicas' share of every batch).

    TensorFlow pairs a seeded op's seed with the global seed, which is whatever the process
    set last (an earlier run's seed, say): this clears it, so the data's order and
    binarization follow ``seed`` alone, the same in a fresh process as after other runs in
    it (a second run in one process once drew another stream). A run then sets the global
    seed to ``seed`` for its initial weights.
    """
    tf.random.set_seed(None)
    if dataset == "shapes":
        steps_per_epoch = steps_per_epoch or SHAPES_STEPS_PER_EPOCH
        validation_steps = validation_steps or SHAPES_VALIDATION_STEPS
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    train_ds = kv_data.load(dataset, split="train", batch_size=batch_size, binarize=binarize,
                            seed=seed, labels=labels, drop_remainder=replicas > 1)
    # Shuffled once (seeded) so that a partial pass (validation_steps) and the pictures see a
    # fair sample (the shapes test split, for one, is stored in factor order), the same one
    # every epoch: validation curves compare like with like, and a resumed run validates as
    # an uninterrupted one.
    val_ds = kv_data.load(dataset, split="test", batch_size=batch_size, binarize=binarize,
                          shuffle="once", seed=seed + 1, labels=labels)
    if validation_steps is not None:
        # Cut to the batches each validation takes: Keras starts a new iterator over the
        # validation data every epoch, and the one it leaves behind goes on prefetching
        # (rendering shapes) while the next epoch trains; on the main job one epoch in two
        # took twice as long (`benchmarks/main_job.py`).
        val_ds = val_ds.take(validation_steps)
    if steps_per_epoch is None and int(train_ds.cardinality()) > 0:
        steps_per_epoch = int(train_ds.cardinality())
    if steps_per_epoch is not None:
        train_ds = train_ds.repeat().skip(start_epoch * steps_per_epoch)
    if strategy is not None and distribute.num_workers(strategy) > 1:
        options = tf.data.Options()
        policy = tf.data.experimental.AutoShardPolicy.DATA
        options.experimental_distribute.auto_shard_policy = policy
        train_ds, val_ds = train_ds.with_options(options), val_ds.with_options(options)
    image_spec = train_ds.element_spec[0] if labels else train_ds.element_spec
    input_shape = tuple(int(d) for d in image_spec.shape[1:])
    return train_ds, val_ds, input_shape, steps_per_epoch, validation_steps


#: ``mixed_precision`` values of :func:`train` (Keras dtype policies).
MIXED_PRECISION = ("mixed_float16", "mixed_bfloat16")


def train(
    model="vae",
    dataset="shapes",
    output=None,
    epochs=10,
    steps_per_epoch=None,
    validation_steps=None,
    batch_size=128,
    learning_rate=1e-3,
    binarize=None,
    seed=0,
    resume=False,
    verbose="auto",
    model_kwargs=None,
    export=True,
    prior_epochs=None,
    class_prior=None,
    kmeans_init=None,
    prior_architecture=None,
    sampler=None,
    strategy="default",
    mixed_precision=None,
    backup=True,
    callbacks=None,
    overwrite=False,
    image_logs=True,
    log=print,
):
    """Trains a model end to end and writes everything a user looks at.

    Under ``output`` (default ``saved_models/<model>/``) it writes ``model.keras``,
    ``checkpoints/`` (``last.keras``, the last completed epoch, for ``resume=True``, and
    ``best.keras``, the epoch of the lowest validation loss), ``logs/`` (TensorBoard: curves
    and, with ``image_logs``, pictures each epoch), ``history.csv``, ``metrics.json``
    (with the best epoch), and for images in [0, 1] ``reconstructions.png``, ``samples.png``
    and, for a Gaussian latent, ``traversals.png`` (most KL first) and
    ``kl_per_dimension.png`` (a VQ-VAE writes ``codebook_usage.png``), and (unless
    ``export=False``) a
    SavedModel version folder ``<output>/<n>/`` with serving signatures (see
    :mod:`keras_vae.export`). While training, ``backup/`` holds the state of the last
    completed epoch: if the run is interrupted, the same call resumes it (see ``backup``).

    Args:
        model: A key of :data:`keras_vae.models.MODEL_KINDS`.
        dataset: Anything :func:`keras_vae.data.load` accepts.
        output: Output folder.
        epochs: Total epochs (a resumed run continues up to this number).
        steps_per_epoch: Steps per epoch (default: a full pass; 100 for ``shapes``).
        validation_steps: Validation batches per epoch (default: the whole test split; 20
            for ``shapes``).
        batch_size: Global batch size (split across replicas under a strategy).
        learning_rate: Adam learning rate.
        binarize: Binarization of the training and test images (see ``load``).
        seed: Seed of the run: data order, binarization, initial weights and model noise (it
            calls ``keras.utils.set_random_seed``), so the same call trains the same model.
        resume: Continue from ``output/checkpoints`` (the last completed epoch of a finished
            or interrupted run) instead of starting anew; ``epochs`` is the new total.
        verbose: Keras ``fit`` verbosity.
        model_kwargs: Constructor arguments for the model.
        export: Write a SavedModel export at the end.
        prior_epochs: ``vqvae``: epochs of the PixelCNN prior trained after the VQ-VAE on the
            training codes (over ``steps_per_epoch`` batches of them when that is set; default
            10); 0 skips the prior (and the samples).
        class_prior: ``vqvae``: make the prior class-conditional (the dataset needs labels).
        kmeans_init: ``vqvae``: start the codebook at k-means centres of the encoder outputs
            of the first 10 training batches.
        prior_architecture: ``vqvae``, ``vqvae2``: the prior's architecture, ``"pixelcnn"``
            (default) or ``"transformer"`` (:data:`keras_vae.priors.PRIOR_ARCHITECTURES`).
        sampler: Gaussian-latent models: an ex-post sampler spec (``"gmm:10"``, ``"maf:5"``,
            ``"two_stage"``; :func:`keras_vae.samplers.from_spec`) fitted to the codes of
            the training data after training (``steps_per_epoch`` batches when set) and
            attached: the saved model, the pictures and the export sample from it.
            These four are the options of the model's ``training_options`` (``None``: the
            model's default); one a model does not have is refused unless it is 0/False.
        strategy: A ``tf.distribute.Strategy`` or a name for
            :func:`keras_vae.distribute.get_strategy` (``"auto"``, ``"mirrored"``,
            ``"multi_worker"``, ``"tpu"``, ``"default"``). The model is built, compiled
            (and restored) in its scope. In multi-worker training the chief writes
            ``output``; the other workers write to a temporary folder they delete.
        mixed_precision: ``None``, ``"mixed_float16"`` or ``"mixed_bfloat16"``: the Keras
            dtype policy of the run (low-precision compute, float32 variables and losses;
            float16 adds dynamic loss scaling).
        backup: Keep a ``keras.callbacks.BackupAndRestore`` backup in ``output/backup``
            (non-chief workers: ``output/backup-<task>``) and resume from it when one is
            there. It is deleted when training finishes.
        callbacks: More Keras callbacks for ``fit``.
        image_logs: Write reconstructions, samples and traversals of the first validation
            batch to TensorBoard after every epoch (:class:`keras_vae.callbacks.ImageLogger`).
        overwrite: Train into an ``output`` that holds an earlier run's results. Without it
            (or ``resume``) such a folder is refused. The earlier files are kept aside in
            ``output/.previous/`` while the run goes, and restored if it fails; earlier
            SavedModel versions stay (the new export is the next version).
        log: Function receiving progress lines.

    Every file is written under a temporary name and renamed when complete; the run stops
    at the first non-finite training loss (:class:`keras_vae.callbacks.StopOnNonFinite`),
    keeping the files of the last completed epoch. The backup records the run's settings
    (``run.json``); an interrupted run resumes only when the new call has the same ones.

    Returns:
        A dict with the final metrics and the paths written (no paths on a non-chief worker).
    """
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or \
            not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"`learning_rate` must be a positive finite number. Received: "
                         f"learning_rate={learning_rate!r}")
    if mixed_precision not in (None, *MIXED_PRECISION):
        raise ValueError(f"`mixed_precision` must be None or one of {MIXED_PRECISION}. "
                         f"Received: {mixed_precision!r}")
    if isinstance(strategy, str):
        strategy = distribute.get_strategy(strategy)
    output = os.fspath(output or os.path.join("saved_models", model))
    chief = distribute.is_chief(strategy)
    run_output = output if chief else tempfile.mkdtemp(prefix="keras-vae-worker-")
    settings = run_settings(model=model, dataset=dataset, batch_size=batch_size,
                            learning_rate=learning_rate, binarize=binarize, seed=seed,
                            steps_per_epoch=steps_per_epoch, model_kwargs=model_kwargs or {},
                            prior_epochs=prior_epochs, class_prior=class_prior,
                            kmeans_init=kmeans_init, prior_architecture=prior_architecture,
                            sampler=sampler, mixed_precision=mixed_precision,
                            replicas=strategy.num_replicas_in_sync)
    backup_dir = os.path.join(output, "backup" if chief else
                              f"backup-{distribute.worker_name(strategy)}")
    # The chief holds the folder for the whole run (workers write only their own backups).
    with outputs.claimed(output) if chief else contextlib.nullcontext():
        replacing = _claim_output(output, backup_dir if backup else None, settings, resume,
                                  overwrite, chief)
        previous_policy = keras.mixed_precision.dtype_policy()
        if mixed_precision:
            keras.mixed_precision.set_dtype_policy(mixed_precision)
        try:
            with replacing:
                result = _train(
                    model, dataset, run_output, output, epochs, steps_per_epoch,
                    validation_steps, batch_size, learning_rate, binarize, seed, resume,
                    verbose, model_kwargs, export, prior_epochs, class_prior, kmeans_init,
                    prior_architecture, sampler, strategy, chief,
                    backup_dir if backup else None, settings, callbacks or [], image_logs, log)
        finally:
            keras.mixed_precision.set_dtype_policy(previous_policy)
            if not chief:
                shutil.rmtree(run_output, ignore_errors=True)
    if not chief:
        result["paths"] = {}
    return result


#: The file in a backup folder that records the settings of the run that wrote it.
RUN_SETTINGS_FILE = "run.json"


def _describe(value):
    """``value`` as plain JSON data that compares equal for equal settings: objects with a
    ``get_config`` (schedules, flows, priors, optimizers) by class and config."""
    if isinstance(value, dict):
        return {str(k): _describe(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "get_config"):
        return {"class": type(value).__name__, "config": _describe(value.get_config())}
    return repr(value)


def run_settings(**settings):
    """The settings that decide what a run trains (what a backup must match to be resumed),
    as plain data."""
    return _describe(settings)


def settings_difference(recorded, current):
    """One line naming the settings in which ``current`` differs from ``recorded``."""
    names = sorted(set(recorded) | set(current))
    return "; ".join(f"{n}: {recorded.get(n)!r} there, {current.get(n)!r} now"
                     for n in names if recorded.get(n) != current.get(n))


def _claim_output(output, backup_dir, settings, resume, overwrite, chief):
    """Checks that this run may write into ``output`` and returns the context manager to run
    it in: a :class:`keras_vae.outputs.replacing_folder` when it replaces an earlier run,
    else a no-op. Refuses a folder holding an earlier run's results unless ``resume`` or
    ``overwrite``, and a backup left by a run with other settings unless ``overwrite``."""
    if not chief:
        return contextlib.nullcontext()
    recorded = None
    if backup_dir is not None and os.path.isdir(backup_dir):
        path = os.path.join(backup_dir, RUN_SETTINGS_FILE)
        if os.path.isfile(path):
            with open(path) as f:
                recorded = json.load(f)
    if recorded is not None and recorded != settings:
        if not overwrite:
            raise ValueError(
                f"{output} holds the backup of an interrupted run with other settings "
                f"({settings_difference(recorded, settings)}): rerun it as it was to resume "
                "it, or pass overwrite=True (--overwrite) to start anew")
        shutil.rmtree(backup_dir)
    resuming = backup_dir is not None and os.path.isdir(backup_dir)
    if resume or not outputs.holds_results(output):
        return contextlib.nullcontext()
    if resuming and not os.path.isdir(os.path.join(output, outputs.PREVIOUS)):
        return contextlib.nullcontext()  # an interrupted run resumes by itself
    if not overwrite and not resuming:
        raise FileExistsError(
            f"{output} holds the results of an earlier run: pass overwrite=True (--overwrite) "
            "to replace them (they are kept until the new run succeeds), or resume=True "
            "(--resume) to train that model further")
    return outputs.replacing_folder(output, keep=[os.path.basename(backup_dir)]
                                    if resuming else ())


def _train(model, dataset, output, shared_output, epochs, steps_per_epoch, validation_steps,
           batch_size, learning_rate, binarize, seed, resume, verbose, model_kwargs, export,
           prior_epochs, class_prior, kmeans_init, prior_architecture, sampler, strategy, chief,
           backup_dir, settings, callbacks, image_logs, log):
    ckpt_dir = os.path.join(output, "checkpoints")
    cls = model_class(model)[0]
    conditional = cls.needs_labels
    options = run_options(cls, model, prior_epochs=prior_epochs, class_prior=class_prior,
                          kmeans_init=kmeans_init, prior_architecture=prior_architecture,
                          sampler=sampler)
    initial_epoch = 0
    if resume:
        with strategy.scope():
            # Every worker resumes from the chief's checkpoint (a shared folder).
            vae, state = kv_callbacks.load_checkpoint(os.path.join(shared_output, "checkpoints"))
        initial_epoch = int(state["epoch"])
        log(f"Resuming {ckpt_dir} after epoch {initial_epoch} (step {state['step']}).")
    start_epoch = initial_epoch
    run_callbacks, restoring = [kv_callbacks.StopOnNonFinite()], False
    if backup_dir is not None:
        backup_callback = kv_callbacks.BackupAndRestore(backup_dir)
        restoring = backup_callback.found
        if restoring:
            start_epoch = backup_callback.completed_epochs()
            log(f"Resuming the interrupted run from {backup_dir} (after epoch {start_epoch}).")
        if chief:
            os.makedirs(backup_dir, exist_ok=True)
            outputs.write_json(os.path.join(backup_dir, RUN_SETTINGS_FILE), settings)
        run_callbacks.append(backup_callback)

    train_ds, val_ds, input_shape, steps_per_epoch, validation_steps = datasets(
        dataset, conditional, batch_size, binarize, seed, steps_per_epoch, validation_steps,
        strategy=strategy, start_epoch=start_epoch)
    if not resume:
        keras.utils.set_random_seed(seed)  # initial weights (the layers draw from it)
        with strategy.scope():
            vae = build_model(model, input_shape, seed=seed, **(model_kwargs or {}))
            vae.compile(optimizer=keras.optimizers.Adam(learning_rate))
            vae.before_fit(train_ds, **options)
    if tuple(vae.data_shape) != input_shape:
        raise ValueError(
            f"The model expects data of shape {vae.data_shape} but {dataset!r} has "
            f"{input_shape}."
        )
    os.makedirs(output, exist_ok=True)
    paths = {
        "model": os.path.join(output, "model.keras"),
        "checkpoints": ckpt_dir,
        "logs": os.path.join(output, "logs"),
        "history": os.path.join(output, "history.csv"),
        "metrics": os.path.join(output, outputs.METRICS_FILE),
    }
    if previews.shows_images(vae):  # the pictures of a run, where they apply
        paths.update({name: os.path.join(output, f"{name}.png") for name in PICTURES})
    run_callbacks += [
        kv_callbacks.EpochCheckpoint(ckpt_dir),
        keras.callbacks.TensorBoard(paths["logs"]),
        kv_callbacks.HistoryCSV(paths["history"], append=resume or restoring),
        *callbacks,
    ]
    # The batch the run's pictures show, the TensorBoard ones and the final PNG files alike.
    preview_batch = next(iter(val_ds.take(1))) if previews.shows_images(vae) else None
    if image_logs and preview_batch is not None:
        run_callbacks.append(kv_callbacks.ImageLogger(paths["logs"], preview_batch, seed=seed))
    best = os.path.join(ckpt_dir, kv_callbacks.BEST_FILE)
    history = None
    if initial_epoch < epochs:
        history = vae.fit(
            train_ds,
            validation_data=val_ds,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            verbose=verbose,
            shuffle=False,  # the datasets shuffle themselves
            callbacks=run_callbacks,
        )
    else:
        log(f"Nothing to train: the checkpoint already has {initial_epoch} of {epochs} epochs.")

    def make_data(labels):
        return kv_data.load(dataset, split="train", batch_size=batch_size, seed=seed,
                            labels=labels, binarize=binarize)

    vae.after_fit(make_data, batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                  verbose=verbose, log=log, **options)
    with outputs.replacing(paths["model"]) as tmp:
        vae.save(tmp)

    statistics, pictures = vae.summary_statistics(val_ds)  # already cut to validation_steps
    for name, (filename, draw) in pictures.items():
        paths[name] = draw(os.path.join(output, filename), split="validation")
    if preview_batch is not None:
        save_pictures(vae, preview_batch, paths, seed, model)

    final = {
        "train": _json_ready({k: v[-1] for k, v in history.history.items()
                              if not k.startswith("val_")}) if history else {},
        "validation": _json_ready(vae.evaluate(val_ds, steps=validation_steps, verbose=0,
                                               return_dict=True)),
        "epochs": epochs,
        "steps": int(vae.optimizer.iterations.numpy()),
    }
    final.update(statistics)
    if os.path.isfile(best):
        with open(os.path.join(ckpt_dir, kv_callbacks.STATE_FILE)) as f:
            state = json.load(f)
        paths["best"] = best
        final["best_epoch"] = {"epoch": state["best_epoch"], state["monitor"]: state["best"]}
    outputs.write_json(paths["metrics"], final)
    if export:
        paths["saved_model"] = kv_export.export_saved_model(vae, output)
    return {"metrics": final, "paths": paths}


#: The pictures a training run writes, each as ``<name>.png`` (those that apply: see
#: :func:`save_pictures`).
PICTURES = ("reconstructions", "samples", "traversals", "kl_per_dimension")


def save_pictures(vae, batch, paths, seed, title):
    """Writes the pictures of :func:`keras_vae.plotting.previews.run_pictures` whose names
    are keys of ``paths``: ``"reconstructions"``, ``"samples"`` (one row per class for
    conditional models), ``"traversals"`` and ``"kl_per_dimension"`` (a bar chart of the
    batch's KL per latent dimension). A picture the model cannot make (samples before a
    VQ-VAE has a prior, traversals of codes, the KL of a model without one) is left out of
    ``paths``."""
    pictures = previews.run_pictures(vae, batch, seed, title,
                                     traversals="traversals" in paths or
                                     "kl_per_dimension" in paths)
    for name in ("reconstructions", "samples", "traversals"):
        if name not in paths:
            continue
        if name not in pictures:
            paths.pop(name)
            continue
        images, ncols, caption = pictures[name][:3]
        plotting.save_image_grid(paths[name], images, ncols=ncols, title=caption)
    if "kl_per_dimension" in paths:
        kl = pictures["traversals"][3] if "traversals" in pictures else None
        if kl is None:
            paths.pop("kl_per_dimension")
        else:
            n = len(vae.split_batch(batch)[0])
            plotting.save_kl_per_dimension(paths["kl_per_dimension"], kl,
                                           title=f"{title}, {n} validation examples")


def run_options(cls, kind, **given):
    """The training options of a run for model class ``cls`` (its ``training_options`` with
    the ``given`` values that are not ``None``); an option the model does not have is an
    error unless it is 0/False."""
    options = dict(cls.training_options)
    for name, value in given.items():
        if value is None:
            continue
        if name not in options:
            if value:
                have = ", ".join(cls.training_options) or "none"
                raise ValueError(f"{name} does not apply to the {kind} model (its training "
                                 f"options: {have}).")
            continue
        options[name] = value
    return options


def load_model_or_export(path):
    """:func:`load_trained`'s model, or a :class:`keras_vae.export.ExportedModel` when ``path``
    is a SavedModel export (a version folder, or a folder of versions with no ``.keras``
    model in it: a train output folder gives its ``model.keras``).

    Raises:
        FileNotFoundError: If ``path`` holds neither.
    """
    path = os.fspath(path)
    if kv_export.is_export(path):
        return kv_export.ExportedModel(path)
    try:
        return load_trained(path)
    except FileNotFoundError as err:
        if kv_export.find_export(path) is None:
            raise FileNotFoundError(f"{err} Nor is it a SavedModel export (a version folder "
                                    "holding saved_model.pb, or a folder of them).") from None
        return kv_export.ExportedModel(path)


def load_model_file(path):
    """``keras.models.load_model(path)``; a file that is not a Keras model (or one of a class
    not registered) raises a ValueError naming the file."""
    try:
        return keras.models.load_model(path)
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} cannot be loaded as a Keras model "
                         f"({type(err).__name__}: {err})") from err


def load_trained(path):
    """Loads a model from a ``.keras`` file, a ``keras-vae train`` output folder
    (``model.keras``) or a checkpoint folder (``last.keras``).

    Raises:
        FileNotFoundError: If none of these is there.
        ValueError: If the file is not a Keras model (or one of a class not registered).
    """
    path = os.fspath(path)
    candidates = [path] if path.endswith(".keras") else [
        os.path.join(path, "model.keras"),
        os.path.join(path, kv_callbacks.CHECKPOINT_FILE),
        os.path.join(path, "checkpoints", kv_callbacks.CHECKPOINT_FILE),
    ]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return load_model_file(candidate)
    raise FileNotFoundError(
        f"No model at {path}: expected a .keras file, or a folder holding model.keras "
        "(a keras-vae train output) or last.keras (a checkpoint folder)."
    )
