"""A complete evaluation: every metric and picture that applies to a model, written to a
folder with ``metrics.json`` and ``report.md``. ``keras-vae evaluate`` is a thin layer over
:func:`evaluate`."""

import os

import numpy as np

from keras_vae import data as kv_data
from keras_vae import outputs
from keras_vae import plotting
from keras_vae.data.arrays import numpy_batches
from keras_vae.evaluation import collapse
from keras_vae.evaluation import disentanglement
from keras_vae.evaluation import generation
from keras_vae.evaluation import likelihood
from keras_vae.export import ExportedModel


def _test_data(dataset, batch_size, binarize, seed, max_examples):
    """``(labelled or None, images)`` datasets of the test split, at most ``max_examples``."""
    try:
        labelled = kv_data.load(dataset, split="test", batch_size=batch_size, binarize=binarize,
                                seed=seed, labels=True)
    except ValueError as err:
        if "labels" not in str(err):
            raise
        labelled = None
    images = (labelled.map(lambda x, y: x) if labelled is not None else
              kv_data.load(dataset, split="test", batch_size=batch_size, binarize=binarize,
                           seed=seed))
    if max_examples is not None:
        images = images.unbatch().take(max_examples).batch(batch_size)
        labelled = None if labelled is None else labelled.unbatch().take(max_examples).batch(
            batch_size)
    return labelled, images


#: Samples :func:`evaluate` checks for valid shapes on the ``shapes`` dataset.
SHAPE_CHECK_SAMPLES = 1000


@outputs.claims_folder("output")
def evaluate(model, dataset, output, nll_samples=1000, max_examples=None, batch_size=256,
             binarize="auto", seed=0, classifier=None, feature_model=None,
             disentanglement_examples=10_000, history=None, projection="pca", verbose=True,
             log=print, dci_estimator="gbt"):
    """Evaluates ``model`` on the test split of ``dataset`` and writes the results.

    Under ``output``: ``metrics.json``; ``report.md`` showing the numbers and pictures;
    ``reconstructions.png``; ``samples.png`` (one row per class for conditional models; for a
    VQ-VAE when it has a prior); for Gaussian latents ``traversals.png`` (rows sorted by KL),
    ``interpolations.png`` (linear and spherical), ``latent_scatter.png`` (coloured by label,
    PCA above 2-D) and for a 2-D latent ``manifold.png``; for a VQ-VAE
    ``codebook_usage.png``; ``training_curves.png`` when a training history is found.

    Metrics: the model's own objective on the test data (``test``); for Gaussian latents of
    a model with an ELBO (``model.has_elbo``; not an adversarial autoencoder) the
    importance-weighted NLL with ``nll_samples`` draws (0 skips it) and the collapse
    diagnostics; on ``shapes``, the disentanglement metrics; for a VQ-VAE codebook usage over
    the whole test set; with ``classifier``, the accuracy of conditional samples; with
    ``feature_model``, the Fréchet distance, precision and recall of samples against test
    images in its features; on ``shapes``, the fraction of 1,000 samples that are valid
    shapes (:func:`keras_vae.evaluation.shapes_validity`).

    A SavedModel export (:class:`keras_vae.export.ExportedModel`) is evaluated through its
    signatures: every picture, the codebook usage and, where its metadata allows (an ELBO,
    p(z) = N(0, I), no flow, a likelihood with no learned scale), the importance-weighted
    NLL and the collapse diagnostics; ``test`` then holds the reconstruction error, and
    ``needs_keras_file`` names what was left out.

    Args:
        model: A keras_vae model, or a :class:`keras_vae.export.ExportedModel`.
        dataset: Anything :func:`keras_vae.data.load` accepts.
        output: Folder for the results (created).
        nll_samples: K of the importance-weighted NLL.
        max_examples: Evaluate on at most this many test images (default all).
        batch_size: Batch size.
        binarize: ``"auto"`` binarizes the test images once with ``seed`` (``"static"``) for
            a Bernoulli likelihood, the usual protocol for likelihoods on MNIST, and leaves
            them alone for a Gaussian one; or any ``binarize`` of ``load``.
        seed: Seed of binarization and every sampled estimate.
        classifier: A Keras classifier of the images, for conditional models.
        feature_model: A Keras model whose outputs are features, for the Fréchet distance.
        disentanglement_examples: Observations for the disentanglement metrics (shapes).
        dci_estimator: The DCI classifier: ``"gbt"`` (disentanglement_lib's; minutes on
            10,000 shapes observations) or ``"forest"`` (fast; see
            :func:`keras_vae.evaluation.dci`).
        history: A training history (``history.csv``, TensorBoard folder, History) for the
            curves (``keras-vae evaluate`` passes the ``history.csv`` of a train folder).
        projection: How the latent scatter maps more than 2 dimensions to 2: ``"pca"`` or
            ``"tsne"``.
        verbose: Progress bars for the long metrics.
        log: Function receiving progress lines.

    Returns:
        A dict with the metrics and the paths written.
    """
    if projection not in ("pca", "tsne"):
        raise ValueError(f"`projection` must be 'pca' or 'tsne'. Received: {projection!r}")
    os.makedirs(output, exist_ok=True)
    if binarize == "auto":
        binarize = "static" if model.likelihood == "bernoulli" else None
    conditional = model.needs_labels
    gaussian = model.latent_kind == "gaussian"
    labelled, images = _test_data(dataset, batch_size, binarize, seed, max_examples)
    if conditional and labelled is None:
        raise ValueError(f"{dataset!r} has no test labels, which the ConditionalVAE needs.")
    eval_data = labelled if conditional else images
    served = isinstance(model, ExportedModel)
    paths, metrics = {}, {"dataset": str(dataset), "binarize": binarize,
                          "model": model.export_metadata()["class"]}
    if served:
        metrics["export"] = model.path
        metrics["needs_keras_file"] = _needs_keras_file(model)
        log("Test reconstruction error (an export serves no objective) ...")
        metrics["test"] = {"reconstruction_mse": _reconstruction_mse(model, eval_data)}
    else:
        log("Test objective ...")
        metrics["test"] = {k: float(v) for k, v in model.evaluate(
            eval_data, verbose=0, return_dict=True).items()}
    # One test batch for the pictures (with its labels when the data has them).
    batch = next(iter(labelled if labelled is not None else images))
    x, y = (np.asarray(batch[0]), np.asarray(batch[1])) if labelled is not None else (
        np.asarray(batch), None)

    if gaussian:
        if nll_samples and model.has_elbo:
            log(f"Importance-weighted NLL, K = {nll_samples} ...")
            metrics["iwae"] = likelihood.iwae_nll(model, eval_data, num_samples=nll_samples,
                                                  seed=seed, verbose=verbose)
        stats = collapse.posterior_statistics(model, labelled if labelled is not None
                                              else images)
        kl = None
        if model.has_elbo:  # an adversarial autoencoder has no KL to diagnose
            log("Posterior collapse diagnostics ...")
            metrics["collapse"] = collapse.collapse_summary(stats, seed=seed)
            kl = np.asarray(metrics["collapse"]["kl_per_dimension"])
        if dataset == "shapes" and not conditional:
            log(f"Disentanglement metrics ({disentanglement_examples} observations) ...")
            metrics["disentanglement"] = disentanglement.disentanglement_report(
                disentanglement.ShapesGroundTruth(), disentanglement.representation(model),
                num_examples=disentanglement_examples, seed=seed, dci_estimator=dci_estimator)
        label = int(y[0]) if conditional else None
        paths["traversals"] = plotting.save_traversals(
            os.path.join(output, "traversals.png"), model, x[0], kl, max_dims=10, label=label)
        pairs = [(x[2 * i], x[2 * i + 1]) for i in range(min(3, len(x) // 2))]
        paths["interpolations"] = plotting.save_interpolations(
            os.path.join(output, "interpolations.png"), model, pairs,
            labels=None if not conditional else [int(v) for v in y[0:2 * len(pairs):2]])
        paths["latent_scatter"] = plotting.save_latent_scatter(
            os.path.join(output, "latent_scatter.png"), stats["mean"][:5000],
            None if stats["labels"] is None else stats["labels"][:5000], method=projection)
        if model.latent_dim == 2:
            paths["manifold"] = plotting.save_manifold(os.path.join(output, "manifold.png"),
                                                       model, label=label)
    statistics, pictures = model.summary_statistics(images)
    metrics.update(statistics)
    for name, (filename, draw) in pictures.items():
        paths[name] = draw(os.path.join(output, filename), split="test")

    paths.update(_pictures(model, x, y, output, seed))
    if classifier is not None:
        log("Accuracy of conditional samples ...")
        metrics["conditional_accuracy"] = generation.conditional_accuracy(
            model, classifier, seed=seed)
    if feature_model is not None:
        if conditional:
            raise ValueError("The Fréchet distance here is for unconditional models.")
        real = np.concatenate([np.asarray(b) for b in images])[:10_000]
        log(f"Sample quality in the feature model's space ({len(real)} samples) ...")
        quality = generation.sample_quality(model, real, feature_model, seed=seed)
        metrics["frechet_distance"] = quality.pop("frechet_distance")
        metrics["sample_precision_recall"] = quality
    if dataset == "shapes" and gaussian and not conditional:
        log(f"Are samples valid shapes ({SHAPE_CHECK_SAMPLES} samples) ...")
        validity = generation.shapes_validity(
            generation.draw_samples(model, SHAPE_CHECK_SAMPLES, seed=seed))
        validity.pop("iou")
        metrics["shapes_validity"] = validity
    curves = _training_curves(model, history, output)
    if curves:
        paths["training_curves"] = curves

    paths["metrics"] = os.path.join(output, outputs.METRICS_FILE)
    outputs.write_json(paths["metrics"], metrics)
    paths["report"] = write_report(os.path.join(output, "report.md"), metrics, paths)
    return {"metrics": metrics, "paths": paths}


def _needs_keras_file(model):
    """What an evaluation of the export ``model`` leaves out, in words."""
    missing = ["the model's objective (loss and its terms)"]
    if model.latent_kind == "gaussian" and not model.has_elbo:
        missing.append("the importance-weighted NLL and the collapse diagnostics: "
                       + model.without_elbo_reason())
    return missing


def _reconstruction_mse(model, data):
    """Mean squared error of ``reconstruct`` over ``data``, per value."""
    total, count = 0.0, 0
    for batch in numpy_batches(data):
        x, y = model.split_batch(batch)
        rebuilt = model.reconstruct(x, y if model.needs_labels else None)
        total += float(np.sum((np.asarray(rebuilt, np.float64) - x) ** 2))
        count += x.size
    return total / max(count, 1)


def _pictures(model, x, y, output, seed):
    from keras_vae.training import save_pictures

    paths = {"reconstructions": os.path.join(output, "reconstructions.png"),
             "samples": os.path.join(output, "samples.png")}
    batch = x if y is None else (x, y)
    save_pictures(model, batch, paths, seed, model.export_metadata()["class"])
    return paths


def _training_curves(model, history, output):
    if history is None:
        return None
    return plotting.save_training_curves(os.path.join(output, "training_curves.png"), history)


def write_report(path, metrics, paths):
    """Writes ``report.md``: the headline numbers as tables, then every picture."""
    lines = [f"# Evaluation of a {metrics['model']} on {metrics['dataset']}", ""]
    lines.append(f"Test images binarized: {metrics['binarize'] or 'no'}. Nats per example.")
    lines.append("")
    if "export" in metrics:
        lines += [f"From the SavedModel export {metrics['export']}, through its signatures. "
                  "Not computed (needs the .keras file): "
                  + "; ".join(metrics["needs_keras_file"]) + ".", ""]
    lines += ["| test metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {v:.4f} |" for k, v in metrics["test"].items()]
    if "iwae" in metrics:
        iwae = metrics["iwae"]
        lines += ["", f"Importance-weighted NLL (K = {iwae['num_samples']}, "
                  f"{iwae['num_examples']} images): **{iwae['nll']:.2f}** ± "
                  f"{iwae['nll_std_error']:.2f} nats; ELBO {iwae['elbo']:.2f}."]
    if "collapse" in metrics:
        c = metrics["collapse"]
        lines += ["", f"Active units: {c['active_units']} of {c['latent_dim']}; KL "
                  f"{c['kl_total']:.2f} nats; I(x; z) ≈ {c['mutual_information']:.2f} nats.",
                  "", "| dimension | KL (nats) | Var_x E[z] |", "| --- | --- | --- |"]
        lines += [f"| z{i} | {k:.3f} | {v:.3f} |" for i, (k, v) in enumerate(
            zip(c["kl_per_dimension"], c["posterior_mean_variance"]))]
    for key, title in (("disentanglement", "Disentanglement (shapes factors)"),
                       ("codebook", "Codebook usage over the test set")):
        if key in metrics:
            lines += ["", f"**{title}**", "", "| metric | value |", "| --- | --- |"]
            lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
                      for k, v in metrics[key].items()]
    if "conditional_accuracy" in metrics:
        lines += ["", f"Conditional samples recognised as their class: "
                  f"{metrics['conditional_accuracy']['accuracy']:.1%}."]
    if "frechet_distance" in metrics:
        pr = metrics["sample_precision_recall"]
        lines += ["", f"Samples in the feature model's space: Fréchet distance "
                  f"{metrics['frechet_distance']:.3f}, precision {pr['precision']:.3f}, "
                  f"recall {pr['recall']:.3f} (k = {pr['k']})."]
    if "shapes_validity" in metrics:
        v = metrics["shapes_validity"]
        lines += ["", f"Samples that are valid shapes: {v['valid_fraction']:.1%} (best IoU "
                  f"with a rendered shape >= {v['threshold']}), exact shapes "
                  f"{v['exact_fraction']:.1%}; mean IoU {v['mean_iou']:.3f}."]
    folder = os.path.dirname(path)
    for key in ("reconstructions", "samples", "traversals", "interpolations", "latent_scatter",
                "manifold", "codebook", "training_curves"):
        if key in paths and os.path.isfile(paths[key]):
            lines += ["", f"![{key}]({os.path.relpath(paths[key], folder)})"]
    with outputs.replacing(path) as tmp, open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path
