"""The ``keras-vae`` command line (also ``python -m keras_vae``).

A thin layer over :func:`keras_vae.training.train`: it parses and checks arguments, then
prints where the model, pictures and logs went. Bad arguments print one line and exit 2.
On x86 the command's process starts TensorFlow with its oneDNN kernels on, unless the user
set ``TF_ENABLE_ONEDNN_OPTS`` (:mod:`keras_vae.launch`, run from the package's ``__init__``).
"""

import argparse
import math
import os
import re
import sys

import numpy as np


def _model_kinds():
    """The registered model kinds (:data:`keras_vae.models.MODEL_KINDS`)."""
    from keras_vae.models import MODEL_KINDS

    return tuple(MODEL_KINDS)

#: ``--dense-units`` when not given, for the conv Gaussian models. ``256,256`` (Burgess et al.'s
#: dSprites network with the default filters) is what a β-VAE needs to disentangle shapes
#: (benchmarks/disentanglement_shapes.py, batch 64, Adam 5e-4), but with the main job's Adam
#: 1e-3 and batch 128 it stays collapsed (KL 0.02 nats) through its 1,000 steps.
CONV_DENSE_UNITS = ()


def _likelihoods():
    from keras_vae.losses import LIKELIHOODS

    return LIKELIHOODS


def _dci_estimators():
    from keras_vae.evaluation.disentanglement import DCI_ESTIMATORS

    return DCI_ESTIMATORS


def _architectures():
    from keras_vae.networks import ARCHITECTURES

    return ARCHITECTURES


def _prior_architectures():
    from keras_vae.models.priors import PRIOR_ARCHITECTURES

    return tuple(PRIOR_ARCHITECTURES)


def _default(kind, name):
    """The library's default of constructor argument (or training option) ``name`` of model
    ``kind``, for the help texts."""
    from keras_vae.models import kind_defaults
    from keras_vae.models import model_class

    return {**model_class(kind)[0].training_options, **kind_defaults(kind)}[name]


def _units_text(units):
    return ",".join(map(str, units)) or "none"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parse_number(text, cast, minimum, expected, strict=False):
    """Parses one finite number ``>= minimum`` (``> minimum`` when ``strict``) for argparse;
    anything else (NaN and infinities included) is a one-line usage error."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not (math.isfinite(value) and (value > minimum if strict else value >= minimum)):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _positive_int(text):
    return _parse_number(text, int, 1, "a positive integer")


def _non_negative_int(text):
    return _parse_number(text, int, 0, "an integer >= 0")


def _non_negative_float(text):
    return _parse_number(text.strip(), float, 0.0, "a number >= 0")


def _positive_float(text):
    return _parse_number(text.strip(), float, 0.0, "a positive number", strict=True)


def _decay(text):
    value = _parse_number(text.strip(), float, 0.0, "a decay in (0, 1)")
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a decay in (0, 1), got {text!r}")
    return value


def _int_list(text):
    parts = [v for v in text.split(",") if v.strip()]
    try:
        values = tuple(int(v) for v in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return tuple(_parse_number(v, int, 1, "positive integers") for v in parts)


def _spec(module_name, none=False):
    """An argparse type checking a ``name[:number]`` spec of ``keras_vae.<module>``'s
    ``from_spec`` (the model builds its own object from the string); with ``none``, also
    ``"none"``."""
    def parse(text):
        import keras_vae

        if none and text == "none":
            return text

        try:
            getattr(keras_vae, module_name).from_spec(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        return text
    return parse


def _label_list(text):
    parts = [v.strip() for v in text.split(",") if v.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected labels (integers >= 0), got {text!r}")
    return tuple(_parse_number(v, int, 0, "labels (integers >= 0)") for v in parts)


#: What ``keras-vae sample`` writes, by the extension of ``--out``.
SAMPLE_FORMATS = (".png", ".npz")
#: ``keras-vae sample``'s default count: unconditional samples, and samples per label or
#: condition vector (a row each).
SAMPLE_NUM = 64
SAMPLE_NUM_PER_CONDITION = 8


def _sample_file(text):
    if os.path.splitext(text)[1].lower() not in SAMPLE_FORMATS:
        raise argparse.ArgumentTypeError(
            f"expected a file ending in {' or '.join(SAMPLE_FORMATS)}, got {text!r}")
    return text


def _int_list_or_none(text):
    return () if text.strip().lower() == "none" else _int_list(text)


def _add_run_arguments(parser, epochs, epochs_help):
    """The model, data and step flags that ``train`` and ``tune`` share."""
    parser.add_argument("--model", choices=_model_kinds(), default="vae")
    parser.add_argument("--dataset", default="shapes",
                        help="shapes (embedded, default), a TFDS name, or a path to .npz / IDX "
                        "data")
    parser.add_argument("--epochs", type=_positive_int, default=epochs, help=epochs_help)
    parser.add_argument("--steps-per-epoch", type=_positive_int, default=None,
                        help="default: a full pass over the data (100 for shapes)")
    parser.add_argument("--validation-steps", type=_positive_int, default=None,
                        help="default: the whole test split (20 batches for shapes)")
    parser.add_argument("--batch-size", type=_positive_int, default=128)
    parser.add_argument("--binarize", choices=("none", "threshold", "static", "dynamic"),
                        default="none")
    parser.add_argument("--likelihood", choices=_likelihoods(), default="bernoulli",
                        help="bernoulli (default), gaussian, or logistic: a discretized "
                             "logistic for 8-bit images (colour datasets)")
    parser.add_argument("--seed", type=int, default=0)


def build_parser():
    parser = _Parser(prog="keras-vae", description="Variational Autoencoders for Keras.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser(
        "train",
        help="train a model",
        description="Train a VAE variant; writes the model, checkpoints, TensorBoard logs, "
        "pictures and metrics under --output.",
    )
    _add_run_arguments(t, epochs=10, epochs_help=None)
    t.add_argument("--learning-rate", type=_positive_float, default=1e-3)
    t.add_argument("--latent-dim", type=_positive_int, default=None,
                   help=f"default {CLI_NETWORK_DEFAULTS['latent_dim']} (cvae: "
                   f"{_default('cvae', 'latent_dim')}, the ConditionalVAE default; vqvae has a "
                   "code grid instead)")
    t.add_argument("--architecture", choices=_architectures(), default=None,
                   help=f"default {CLI_NETWORK_DEFAULTS['architecture']} (vqvae is "
                   "convolutional only; gru is for sequences)")
    t.add_argument("--hidden-units", type=_int_list, default=None,
                   help="MLP (or GRU) widths, comma-separated (default "
                   f"{_units_text(_default('vae', 'hidden_units'))})")
    t.add_argument("--filters", type=_int_list, default=None,
                   help="conv channels per stride-2 stage (default "
                   f"{_units_text(CLI_NETWORK_DEFAULTS['filters'])}, the conv "
                   "trunk of the dSprites network of Burgess et al.; the course ConvVAE is "
                   "32,64,128 with "
                   "--latent-dim 128; vqvae: 32,64, a 7x7 code grid on MNIST)")
    t.add_argument("--dense-units", type=_int_list_or_none, default=None,
                   help="conv only: ReLU dense layers between the conv trunk and the latent, "
                   f"comma-separated, or none (default {_units_text(CONV_DENSE_UNITS)}); 256,256 "
                   "with the default filters is the dSprites network of Burgess et al., the "
                   "one that disentangles shapes (with --batch-size 64 --learning-rate 5e-4)")
    t.add_argument("--free-bits", type=_non_negative_float, default=None,
                   help="KL floor per latent dimension in nats (default 0)")
    t.add_argument("--latent-dims", type=_int_list, default=None,
                   help="hvae: sizes of the stochastic layers, bottom first, comma-separated "
                        f"(default {_units_text(_default('hvae', 'latent_dims'))})")
    t.add_argument("--ladder-units", type=_int_list, default=None,
                   help="hvae: widths of the bottom-up and top-down MLPs between layers "
                        f"(default {_units_text(_default('hvae', 'ladder_units'))})")
    t.add_argument("--flow", type=_spec("flows"), default=None,
                   help="Gaussian models: a normalizing flow on the posterior, planar[:steps] "
                        "or iaf[:steps] (default 4 steps), e.g. iaf:4")
    t.add_argument("--prior", type=_spec("priors"), default=None,
                   help="Gaussian models: a learned prior, vamp[:pseudo-inputs] (default 500) "
                        "or mixture[:components] (default 10), e.g. vamp:500; cvae needs "
                        "--standard-prior with it")
    t.add_argument("--sampler", type=_spec("samplers", none=True), default=None,
                   help="Gaussian models: after training, fit an ex-post sampler to the "
                        "training codes and sample from it (the pictures, model.keras and the "
                        "export): gmm[:components] (default 10), maf[:steps] (default 5), "
                        "two_stage, or none for N(0, I); cvae: gmm only (default "
                        f"{CLI_NETWORK_DEFAULTS['sampler']} for models without labels, "
                        "none for the others)")
    t.add_argument("--num-samples", type=_positive_int, default=None,
                   help=f"iwae: importance samples k of the training bound "
                        f"(default {_default('iwae', 'num_samples')})")
    t.add_argument("--beta", type=_non_negative_float, default=None,
                   help=f"beta_vae: the KL weight (default {_default('beta_vae', 'beta'):g}); "
                        f"beta_tc_vae: the total correlation's "
                        f"(default {_default('beta_tc_vae', 'beta'):g})")
    t.add_argument("--kl-warmup-steps", type=_positive_int, default=None,
                   help="beta_vae: raise beta linearly from 0 over this many steps")
    t.add_argument("--capacity-max", type=_non_negative_float, default=None,
                   help=f"beta_vae_capacity: C_max in nats "
                        f"(default {_default('beta_vae_capacity', 'capacity_max'):g})")
    t.add_argument("--capacity-steps", type=_positive_int, default=None,
                   help=f"beta_vae_capacity: steps for C to reach C_max "
                        f"(default {_default('beta_vae_capacity', 'capacity_steps')})")
    t.add_argument("--gamma", type=_non_negative_float, default=None,
                   help=f"beta_vae_capacity: weight of |KL - C| "
                        f"(default {_default('beta_vae_capacity', 'gamma'):g}); factor_vae: "
                        f"of the total correlation "
                        f"(default {_default('factor_vae', 'gamma'):g}); beta_tc_vae: of the "
                        f"dimension-wise KL (default {_default('beta_tc_vae', 'gamma'):g})")
    t.add_argument("--alpha", type=_non_negative_float, default=None,
                   help=f"beta_tc_vae: weight of the index-code mutual information "
                        f"(default {_default('beta_tc_vae', 'alpha'):g})")
    t.add_argument("--dataset-size", type=_positive_int, default=None,
                   help="beta_tc_vae: training examples N of the minibatch-weighted estimator "
                        "(default: the batch is taken as the data set)")
    t.add_argument("--estimator", choices=("mws", "mss"), default=None,
                   help="beta_tc_vae: minibatch-weighted (mws, default) or stratified (mss) "
                        "sampling, with --dataset-size")
    t.add_argument("--dip-type", choices=("i", "ii"), default=None,
                   help=f"dip_vae: DIP-VAE-I or -II (default {_default('dip_vae', 'dip_type')})")
    t.add_argument("--lambda-od", type=_non_negative_float, default=None,
                   help=f"dip_vae: weight of the off-diagonal covariance "
                        f"(default {_default('dip_vae', 'lambda_od'):g})")
    t.add_argument("--lambda-d", type=_non_negative_float, default=None,
                   help="dip_vae: weight of the diagonal (default 10 x lambda-od for type i, "
                        "lambda-od for ii)")
    t.add_argument("--encoder-type", choices=("deterministic", "gaussian"), default=None,
                   help=f"aae, caae: the code is the encoder's mean or a sample "
                        f"(default {_default('aae', 'encoder_type')})")
    t.add_argument("--prior-type", choices=("normal", "mixture"), default=None,
                   help=f"aae, caae: the prior the discriminator matches codes to "
                        f"(default {_default('aae', 'prior_type')})")
    t.add_argument("--adversarial-weight", type=_non_negative_float, default=None,
                   help=f"aae, caae: weight of the encoder's adversarial term "
                        f"(default {_default('aae', 'adversarial_weight'):g})")
    t.add_argument("--num-classes", type=_positive_int, default=None,
                   help=f"cvae, caae: number of classes "
                        f"(default {_default('cvae', 'num_classes')})")
    t.add_argument("--condition-dim", type=_positive_int, default=None,
                   help="cvae, caae: condition on float vectors of this width instead of class "
                   "labels (the dataset's labels must be such vectors: celeb_a's 40 "
                   "attributes, or an .npz whose y_train is 2-D)")
    t.add_argument("--conditioning", choices=("one_hot", "embedding"), default=None,
                   help="cvae: how the label enters the networks (default one_hot)")
    t.add_argument("--standard-prior", action="store_true",
                   help="cvae: use N(0, I) as p(z|c) instead of the learned prior")
    t.add_argument("--num-embeddings", type=_positive_int, default=None,
                   help=f"vqvae, vqvae2: codebook size K (default "
                        f"{_default('vqvae', 'num_embeddings')})")
    t.add_argument("--embedding-dim", type=_positive_int, default=None,
                   help=f"vqvae, vqvae2: code size D (default "
                        f"{_default('vqvae', 'embedding_dim')})")
    t.add_argument("--commitment-cost", type=_non_negative_float, default=None,
                   help=f"vqvae, vqvae2: commitment weight beta "
                        f"(default {_default('vqvae', 'commitment_cost'):g})")
    t.add_argument("--ema-decay", type=_decay, default=None,
                   help=f"vqvae, vqvae2: decay of the EMA codebook updates "
                        f"(default {_default('vqvae', 'ema_decay'):g})")
    t.add_argument("--gradient-codebook", action="store_true",
                   help="vqvae, vqvae2: learn the codebook by its loss instead of by EMA")
    t.add_argument("--dead-code-steps", type=_non_negative_int, default=None,
                   help=f"vqvae, vqvae2: re-seed codes unused for this many steps "
                        f"(default {_default('vqvae', 'dead_code_steps')}; 0: never)")
    t.add_argument("--residual-blocks", type=_non_negative_int, default=None,
                   help=f"vqvae, vqvae2: residual blocks in encoder and decoder "
                        f"(default {_default('vqvae', 'residual_blocks')})")
    t.add_argument("--top-filters", type=_int_list, default=None,
                   help=f"vqvae2: channels of the stages from the bottom to the top code grid "
                        f"(default {_units_text(_default('vqvae2', 'top_filters'))}: 3x3 over "
                        "the 7x7 bottom grid of MNIST)")
    t.add_argument("--kmeans-init", action="store_true",
                   help="vqvae, vqvae2: start the codebook at k-means centres of encoder outputs")
    t.add_argument("--prior-epochs", type=_non_negative_int, default=None,
                   help="vqvae, vqvae2: epochs of the prior trained afterwards (default 10; 0: no "
                   "prior, no samples)")
    t.add_argument("--prior-architecture", choices=_prior_architectures(), default=None,
                   help="vqvae, vqvae2: the prior over the codes (default pixelcnn)")
    t.add_argument("--class-prior", action="store_true",
                   help="vqvae, vqvae2: class-conditional prior (the dataset needs labels)")
    t.add_argument("--output", default=None, help="default: saved_models/<model>/")
    t.add_argument("--resume", action="store_true",
                   help="continue from the last epoch checkpoint under --output (to train "
                   "further; an interrupted run resumes by itself from its backup)")
    t.add_argument("--overwrite", action="store_true",
                   help="train into an --output that holds an earlier run's results, "
                   "replacing them (they are restored if this run fails); without it, or "
                   "--resume, such a folder is refused")
    t.add_argument("--no-image-logs", action="store_true",
                   help="do not write reconstructions, samples and traversals to TensorBoard "
                   "after every epoch")
    t.add_argument("--strategy", choices=("auto", "default", "mirrored", "multi_worker", "tpu"),
                   default="auto",
                   help="tf.distribute strategy (default auto: TPU if configured, multi-worker "
                   "if TF_CONFIG names a cluster, mirrored on 2+ GPUs, else one device); "
                   "--batch-size is the global batch")
    t.add_argument("--mixed-precision", choices=("none", "mixed_float16", "mixed_bfloat16"),
                   default="none",
                   help="compute in float16 (with loss scaling) or bfloat16; variables and "
                   "losses stay float32")
    t.add_argument("--no-backup", action="store_true",
                   help="do not keep the per-epoch backup that lets an interrupted run resume "
                   "when the same command runs again")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--no-export", action="store_true",
                   help="skip the SavedModel export at the end")

    u = sub.add_parser(
        "tune",
        help="search hyperparameters with keras-tuner",
        description="Search a model's hyperparameters (kv.tuning default spaces), print the "
        "trials, and save and export the best model under --output. Needs the [tune] extra.",
    )
    _add_run_arguments(u, epochs=3, epochs_help="epochs per trial (hyperband: its largest "
                       "budget)")
    u.add_argument("--tuner", choices=("random", "bayesian", "hyperband"), default="random")
    u.add_argument("--max-trials", type=_positive_int, default=10,
                   help="trials to run (random, bayesian)")
    u.add_argument("--objective", default="val_loss",
                   help="val_loss (default), val_elbo, val_reconstruction_loss, "
                   "val_codebook_perplexity (vqvae), or metric:min|max")
    u.add_argument("--architecture", choices=_architectures(), default=None,
                   help="default mlp (vqvae is convolutional only)")
    u.add_argument("--num-classes", type=_positive_int, default=None,
                   help=f"cvae, caae: number of classes "
                        f"(default {_default('cvae', 'num_classes')})")
    u.add_argument("--condition-dim", type=_positive_int, default=None,
                   help="cvae: float condition vectors of this width instead of labels")
    u.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                   help="pin a hyperparameter of the search space (repeatable), e.g. "
                   "--fix latent_dim=8")
    u.add_argument("--output", default=None, help="default: saved_models/<model>_tuning/")
    u.add_argument("--overwrite", action="store_true",
                   help="start the search anew instead of continuing the one under --output")
    u.add_argument("--quiet", action="store_true", help="no per-trial output from keras-tuner")
    u.add_argument("--no-export", action="store_true",
                   help="skip the SavedModel export of the best model")

    v = sub.add_parser(
        "evaluate",
        help="evaluate a trained model: metrics and pictures",
        description="Evaluate a trained model on a test split: writes metrics.json, every "
        "picture that applies and report.md under --out. A SavedModel export is evaluated "
        "through its signatures: pictures, codebook usage and, where its metadata allows, the "
        "importance-weighted NLL; metrics.json names what needs the .keras file.",
    )
    v.add_argument("model", help="a .keras file, a train output folder, a checkpoint folder, "
                   "or a SavedModel export (what its signatures allow; see --help)")
    v.add_argument("--dataset", required=True,
                   help="shapes, a TFDS name, or a path to .npz / IDX data (its test split)")
    v.add_argument("--nll-samples", type=_non_negative_int, default=1000,
                   help="K of the importance-weighted NLL (default 1000; 0 skips it)")
    v.add_argument("--max-examples", type=_positive_int, default=None,
                   help="evaluate on at most this many test images (default all)")
    v.add_argument("--batch-size", type=_positive_int, default=256)
    v.add_argument("--binarize", choices=("auto", "none", "threshold", "static", "dynamic"),
                   default="auto", help="default auto: static (once, seeded) for Bernoulli "
                   "models, none for Gaussian ones")
    v.add_argument("--classifier", default=None,
                   help="a .keras image classifier: accuracy of conditional samples")
    v.add_argument("--feature-model", default=None,
                   help="a .keras feature extractor: Frechet distance of samples to test images")
    v.add_argument("--disentanglement-examples", type=_positive_int, default=10_000,
                   help="observations for the disentanglement metrics (shapes only)")
    v.add_argument("--dci-estimator", choices=_dci_estimators(), default="gbt",
                   help="shapes: the DCI classifier, gbt (default: gradient-boosted trees, "
                   "disentanglement_lib's, comparable with published figures; minutes) or "
                   "forest (a fast random forest; its figures compare only with each other)")
    v.add_argument("--projection", choices=("pca", "tsne"), default="pca",
                   help="how latent_scatter.png maps latents above 2-D to the plane")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--out", default=None, help="default: <model folder>/evaluation/ (an "
                   "export: evaluation-<version>/ beside its version folder)")
    v.add_argument("--quiet", action="store_true", help="no progress bars")

    s = sub.add_parser(
        "sample",
        help="draw samples from a trained model or a SavedModel export",
        description="Draw examples from the prior of a trained model (a .keras file, a train "
        "output or checkpoint folder) or of a SavedModel export (a version folder, or a "
        "folder of versions: the newest), and write them as a PNG grid or an .npz file.",
    )
    s.add_argument("model", help="a .keras file, a train output or checkpoint folder, or a "
                   "SavedModel export")
    s.add_argument("--num", type=_positive_int, default=None,
                   help=f"samples (default {SAMPLE_NUM}); with --label or --condition, per "
                   f"label or condition (default {SAMPLE_NUM_PER_CONDITION}), one row each")
    s.add_argument("--label", type=_label_list, default=None,
                   help="class-conditional models: comma-separated labels (default: every "
                   "class, a row each)")
    s.add_argument("--condition", action="append", default=None,
                   help="condition-vector models: one vector of comma-separated numbers "
                   "(repeat the flag for more), or a .npy file of rows")
    s.add_argument("--temperature", type=_non_negative_float, default=1.0,
                   help="multiplies the prior's standard deviation (default 1; a .keras "
                   "model only: an export samples at 1)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, type=_sample_file,
                   help="FILE.png (an image grid) or FILE.npz (the arrays: x, and labels or "
                   "conditions)")

    e = sub.add_parser(
        "export",
        help="export a trained model as a SavedModel",
        description="Write a SavedModel with serving signatures (encode, decode, reconstruct, "
        "sample; serving_default = reconstruct) as the next integer version under --output.",
    )
    e.add_argument("checkpoint", help="a .keras file, a train output folder or a checkpoint folder")
    e.add_argument("--output", default=None, help="default: saved_models/<model kind>/")
    e.add_argument("--version", type=_positive_int, default=None,
                   help="default: one more than the newest version present")
    e.add_argument("--onnx", action="store_true",
                   help="also write encode/decode/reconstruct .onnx graphs into <version>/onnx/ "
                   "(needs the onnx extra)")
    return parser


#: Model flags: ``flag -> (args attribute, what it sets)``: a constructor argument or a
#: training option of :func:`keras_vae.training.train`. A flag applies to the models whose
#: constructor (or ``training_options``) has that name (:func:`keras_vae.models.applies`).
MODEL_FLAGS = {
    "--latent-dim": ("latent_dim", "latent_dim"),
    "--hidden-units": ("hidden_units", "hidden_units"),
    "--dense-units": ("dense_units", "dense_units"),
    "--free-bits": ("free_bits", "free_bits"),
    "--num-samples": ("num_samples", "num_samples"),
    "--latent-dims": ("latent_dims", "latent_dims"),
    "--ladder-units": ("ladder_units", "ladder_units"),
    "--flow": ("flow", "flow"),
    "--prior": ("prior", "prior"),
    "--sampler": ("sampler", "sampler"),
    "--beta": ("beta", "beta"),
    "--kl-warmup-steps": ("kl_warmup_steps", "beta"),
    "--capacity-max": ("capacity_max", "capacity_max"),
    "--capacity-steps": ("capacity_steps", "capacity_steps"),
    "--gamma": ("gamma", "gamma"),
    "--alpha": ("alpha", "alpha"),
    "--dataset-size": ("dataset_size", "dataset_size"),
    "--estimator": ("estimator", "estimator"),
    "--dip-type": ("dip_type", "dip_type"),
    "--lambda-od": ("lambda_od", "lambda_od"),
    "--lambda-d": ("lambda_d", "lambda_d"),
    "--encoder-type": ("encoder_type", "encoder_type"),
    "--prior-type": ("prior_type", "prior_type"),
    "--adversarial-weight": ("adversarial_weight", "adversarial_weight"),
    "--num-classes": ("num_classes", "num_classes"),
    "--condition-dim": ("condition_dim", "condition_dim"),
    "--conditioning": ("conditioning", "conditioning"),
    "--standard-prior": ("standard_prior", "conditional_prior"),
    "--num-embeddings": ("num_embeddings", "num_embeddings"),
    "--embedding-dim": ("embedding_dim", "embedding_dim"),
    "--commitment-cost": ("commitment_cost", "commitment_cost"),
    "--ema-decay": ("ema_decay", "ema_decay"),
    "--gradient-codebook": ("gradient_codebook", "ema_decay"),
    "--dead-code-steps": ("dead_code_steps", "dead_code_steps"),
    "--residual-blocks": ("residual_blocks", "residual_blocks"),
    "--top-filters": ("top_filters", "top_filters"),
    "--kmeans-init": ("kmeans_init", "kmeans_init"),
    "--prior-epochs": ("prior_epochs", "prior_epochs"),
    "--class-prior": ("class_prior", "class_prior"),
    "--prior-architecture": ("prior_architecture", "prior_architecture"),
}
#: Flags whose value is passed to the constructor under the name they set.
_DIRECT = ("latent_dim", "latent_dims", "ladder_units", "hidden_units", "dense_units",
           "free_bits", "num_samples",
           "capacity_max", "capacity_steps", "gamma", "alpha", "dataset_size", "estimator",
           "dip_type", "lambda_od", "lambda_d", "encoder_type", "prior_type",
           "adversarial_weight", "num_classes", "condition_dim",
           "conditioning",
           "num_embeddings", "embedding_dim", "commitment_cost", "ema_decay",
           "dead_code_steps", "residual_blocks", "top_filters")
#: The places where ``keras-vae train`` departs from the library's defaults, for its main job
#: (a conv VAE on the 64x64 shapes): Gaussian models get these unless the flag is given
#: (``latent_dim`` only where the class keeps the base default; ConditionalVAE's 4 stays;
#: ``sampler`` only for models without labels: a mixture per class needs ten examples of
#: every class). With the mixture, 82 % of the main job's samples are valid shapes, against
#: 26 % from N(0, I), mostly blank (``benchmarks/generation_mnist.py --parts shapes``). Every
#: other model flag defaults to the library's value, read from the constructor.
CLI_NETWORK_DEFAULTS = {"architecture": "conv", "filters": (32, 32, 64, 64), "latent_dim": 10,
                        "sampler": "gmm:10"}


def _model_kwargs(args, parser):
    """Constructor arguments from the flags; a flag given to a model it does not apply to is
    a usage error, never silently ignored."""
    from keras_vae.models import BaseVAE
    from keras_vae.models import applies
    from keras_vae.models import constructor_defaults
    from keras_vae.models import kind_defaults
    from keras_vae.models import model_class

    kind = args.model
    cls = model_class(kind)[0]
    defaults = kind_defaults(kind)
    kwargs = {}
    for flag, (attribute, target) in MODEL_FLAGS.items():
        value = getattr(args, attribute)
        if value is None or value is False:
            continue
        if not applies(kind, target):
            parser.error(f"{flag} does not apply to --model {kind}")
        if attribute in _DIRECT:
            kwargs[attribute] = value
    if cls.latent_kind == "codes":
        if args.architecture == "mlp":
            parser.error(f"--model {kind} is convolutional: --architecture mlp does not apply")
        if args.gradient_codebook:
            if args.ema_decay is not None:
                parser.error("--gradient-codebook and --ema-decay exclude each other")
            kwargs["ema_decay"] = None
        if args.dead_code_steps == 0:
            kwargs["dead_code_steps"] = None
        return {"filters": args.filters or defaults["filters"], "likelihood": args.likelihood,
                **kwargs}
    if applies(kind, "latent_dim") and \
            defaults["latent_dim"] == constructor_defaults(BaseVAE)["latent_dim"]:
        kwargs.setdefault("latent_dim", CLI_NETWORK_DEFAULTS["latent_dim"])
    architecture = args.architecture or CLI_NETWORK_DEFAULTS["architecture"]
    if architecture == "mlp" and args.dense_units:
        parser.error("--dense-units is for --architecture conv; the MLP's layers are "
                     "--hidden-units")
    if architecture == "conv":
        kwargs.setdefault("dense_units", CONV_DENSE_UNITS)
    kwargs.update({
        "architecture": architecture,
        "hidden_units": args.hidden_units or defaults["hidden_units"],
        "filters": args.filters or CLI_NETWORK_DEFAULTS["filters"],
        "likelihood": args.likelihood,
    })
    if args.beta is not None or args.kl_warmup_steps:
        from keras_vae import schedules

        beta = defaults["beta"] if args.beta is None else args.beta
        if args.kl_warmup_steps:
            beta = schedules.LinearWarmup(0.0, beta, args.kl_warmup_steps)
        kwargs["beta"] = beta
    if args.standard_prior:
        kwargs["conditional_prior"] = False
    elif args.prior and applies(kind, "conditional_prior") and defaults["conditional_prior"]:
        parser.error(f"--prior replaces the learned p(z|c) of --model {kind} by one p(z) for "
                     "every condition: pass --standard-prior with it")
    if args.flow:
        from keras_vae import flows

        kwargs["flow"] = flows.from_spec(args.flow)
    if args.prior:
        from keras_vae.models import priors

        kwargs["prior"] = priors.from_spec(args.prior)
    return kwargs


def _sampler(args):
    """The ``--sampler`` spec of a run: the flag's, ``None`` for ``none``, else
    ``CLI_NETWORK_DEFAULTS["sampler"]`` for a model that takes one and needs no labels."""
    from keras_vae.models import applies
    from keras_vae.models import model_class

    if args.sampler is not None:
        return None if args.sampler == "none" else args.sampler
    if applies(args.model, "sampler") and not model_class(args.model)[0].needs_labels:
        return CLI_NETWORK_DEFAULTS["sampler"]
    return None


def _train(args, parser):
    from keras_vae import training

    output = args.output or os.path.join("saved_models", args.model)
    model_kwargs = _model_kwargs(args, parser)
    binarize = None if args.binarize == "none" else args.binarize
    if args.resume and args.overwrite:
        parser.error("--resume and --overwrite exclude each other")
    if args.resume:
        print("--resume: the model's settings come from the checkpoint.", flush=True)
    result = training.train(
        model=args.model,
        dataset=args.dataset,
        output=output,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        validation_steps=args.validation_steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        binarize=binarize,
        seed=args.seed,
        resume=args.resume,
        verbose=0 if args.quiet else (1 if sys.stdout.isatty() else 2),
        model_kwargs=model_kwargs,
        export=not args.no_export,
        prior_epochs=args.prior_epochs,
        class_prior=args.class_prior or None,
        kmeans_init=args.kmeans_init or None,
        prior_architecture=args.prior_architecture,
        sampler=_sampler(args),
        strategy=args.strategy,
        mixed_precision=None if args.mixed_precision == "none" else args.mixed_precision,
        backup=not args.no_backup,
        overwrite=args.overwrite,
        image_logs=not args.no_image_logs,
    )
    val = result["metrics"]["validation"]
    paths = result["paths"]
    if not paths:
        print("\nValidation: " + ", ".join(f"{k} {v:.3f}" for k, v in val.items()))
        print(f"Worker finished; the chief wrote the outputs under {output}.")
        return 0
    print("\nValidation: " + ", ".join(f"{k} {v:.3f}" for k, v in val.items()))
    print(f"Model:        {paths['model']}")
    print(f"Checkpoints:  {paths['checkpoints']}  (continue with --resume)")
    if "best" in paths:
        best = result["metrics"]["best_epoch"]
        print(f"Best epoch:   {paths['best']}  (epoch {best['epoch']}, "
              + ", ".join(f"{k} {v:.3f}" for k, v in best.items() if k != "epoch") + ")")
    pictures = [paths[k] for k in (*training.PICTURES, "codebook") if k in paths]
    if pictures:
        print(f"Pictures:     {', '.join(pictures)}")
    print(f"Logs:         {paths['logs']}  (tensorboard --logdir {paths['logs']})")
    print(f"Metrics:      {paths['metrics']}, {paths['history']}")
    if "saved_model" in paths:
        print(f"SavedModel:   {paths['saved_model']}  (tf.saved_model.load; TF Serving layout)")
    return 0


def _fixed_values(pairs, parser):
    import ast

    fixed = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            parser.error(f"--fix expects NAME=VALUE, got {pair!r}")
        try:
            fixed[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            fixed[name] = text  # a string choice such as conditioning=embedding
    return fixed


def _tune(args, parser):
    from keras_vae import tuning
    from keras_vae.models import applies
    from keras_vae.models import model_class

    codes = model_class(args.model)[0].latent_kind == "codes"
    if codes and args.architecture == "mlp":
        parser.error(f"--model {args.model} is convolutional: --architecture mlp does not apply")
    model_kwargs = {"likelihood": args.likelihood}
    if not codes:
        model_kwargs["architecture"] = args.architecture or "mlp"
    for name in ("num_classes", "condition_dim"):
        value = getattr(args, name)
        if value is not None:
            if not applies(args.model, name):
                parser.error(f"--{name.replace('_', '-')} does not apply to --model "
                             f"{args.model}")
            model_kwargs[name] = value
    output = args.output or os.path.join("saved_models", f"{args.model}_tuning")
    _, best, rows = tuning.search(
        model=args.model, dataset=args.dataset, output=output, tuner=args.tuner,
        max_trials=args.max_trials, objective_name=args.objective, epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch, validation_steps=args.validation_steps,
        batch_size=args.batch_size, binarize=None if args.binarize == "none" else args.binarize,
        fixed=_fixed_values(args.fix, parser), model_kwargs=model_kwargs, seed=args.seed,
        overwrite=args.overwrite, verbose=0 if args.quiet else 2)
    if best is None:
        print(f"Worker {os.environ.get('KERASTUNER_TUNER_ID')} finished its trials; the chief "
              "prints the results and saves the best model.")
        return 0
    names = sorted({k for row in rows for k in row} - {"trial", "status", "score"})
    print(f"\nTrials by {args.objective} (best first):")
    print("| trial | status | score | " + " | ".join(names) + " |")
    print("| --- " * (3 + len(names)) + "|")
    for row in rows:
        score = "-" if row["score"] is None else f"{row['score']:.4g}"
        cells = [row["trial"], row["status"], score] + [_cell(row.get(n)) for n in names]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print(f"\nBest model:   {os.path.join(output, 'best.keras')}")
    if not args.no_export:
        from keras_vae import export

        folder = export.export_saved_model(best, output)
        print(f"SavedModel:   {folder}")
    return 0


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else value


def _export(args):
    from keras_vae import export
    from keras_vae import training

    model = training.load_trained(args.checkpoint)
    folder = export.export_saved_model(model, args.output, version=args.version)
    meta = export.read_metadata(folder)
    print(f"SavedModel:   {folder}")
    print(f"Signatures:   {', '.join(meta['signatures'])} (serving_default = "
          f"{meta['serving_default']})")
    if args.onnx:
        written = export.export_onnx(model, os.path.join(folder, "onnx"))
        print(f"ONNX:         {', '.join(written.values())}")
    return 0


def _sample_conditions(model, args, parser):
    """``(what model.sample takes, the conditions drawn for, samples per row)`` from the flags,
    checked against what the model's ``sample`` takes."""
    spec = model.sample_condition_spec()
    what = None if spec is None else spec.name
    if what != "label" and args.label is not None:
        parser.error("--label applies to class-conditional models; this one samples from "
                     + ("condition vectors (--condition)" if what else "no label"))
    if what != "condition" and args.condition is not None:
        parser.error("--condition applies to condition-vector models; this one samples from "
                     + ("labels (--label)" if what else "no condition"))
    if what is None:
        num = args.num or SAMPLE_NUM
        return num, None, None
    per_row = args.num or SAMPLE_NUM_PER_CONDITION
    if what == "label":
        num_classes = model.export_metadata().get("num_classes")
        labels = args.label if args.label is not None else tuple(range(num_classes))
        bad = [v for v in labels if v >= num_classes]
        if bad:
            parser.error(f"--label {bad[0]} is outside the model's classes 0-{num_classes - 1}")
        rows = np.repeat(np.asarray(labels, np.int32), per_row)
        return rows, rows, per_row
    width = spec.shape[-1]
    if args.condition is None:
        parser.error(f"this model samples from condition vectors of {width} numbers: pass "
                     "--condition (comma-separated numbers, or a .npy file of rows)")
    vectors = []
    for text in args.condition:
        if text.endswith(".npy"):
            values = np.load(text)
            values = values[None] if values.ndim == 1 else values
        else:
            try:
                values = np.asarray([[float(v) for v in text.split(",")]])
            except ValueError:
                parser.error(f"--condition expects comma-separated numbers or a .npy file, "
                             f"got {text!r}")
        if values.ndim != 2 or values.shape[1] != width or not np.all(np.isfinite(values)):
            parser.error(f"--condition {text}: expected rows of {width} finite numbers, got "
                         f"shape {values.shape}")
        vectors.append(values.astype(np.float32))
    rows = np.repeat(np.concatenate(vectors), per_row, axis=0)
    return rows, rows, per_row


def _sample(args, parser):
    from keras_vae import outputs
    from keras_vae import plotting
    from keras_vae import training

    model = training.load_model_or_export(args.model)
    request, conditions, per_row = _sample_conditions(model, args, parser)
    images = np.asarray(model.sample(request, seed=args.seed, temperature=args.temperature))
    if args.out.lower().endswith(".png"):
        if len(model.data_shape) != 3 or model.data_range != "unit":
            raise ValueError(f"The model's data (shape {tuple(model.data_shape)}, range "
                             f"{model.data_range}) is not images in [0, 1]: write the samples "
                             "to an .npz file instead.")
        title = f"{len(images)} samples, temperature {args.temperature:g}, seed {args.seed}"
        if conditions is not None:
            title += f", a row per {model.sample_condition_spec().name}"
        plotting.save_image_grid(args.out, images, ncols=per_row, title=title)
    else:
        arrays = {"x": images, "seed": np.int64(args.seed),
                  "temperature": np.float64(args.temperature)}
        if conditions is not None:
            arrays[model.sample_condition_spec().name + "s"] = conditions
        folder = os.path.dirname(os.path.abspath(args.out))
        os.makedirs(folder, exist_ok=True)
        with outputs.replacing(args.out) as tmp:
            np.savez(tmp, **arrays)
    print(f"Samples: {args.out} ({len(images)} from {args.model})")
    return 0


def _evaluate(args):
    from keras_vae import evaluation
    from keras_vae import export
    from keras_vae import training

    model = training.load_model_or_export(args.model)
    if isinstance(model, export.ExportedModel):
        # Results go beside the export (a version folder is never written into); a train
        # output folder holding it has the history.
        folder, version = os.path.split(model.path)
        out = args.out or os.path.join(folder, f"evaluation-{version}")
    else:
        folder = args.model if os.path.isdir(args.model) else os.path.dirname(args.model) or "."
        out = args.out or os.path.join(folder, "evaluation")
    history = os.path.join(folder, "history.csv")
    extras = {}
    for flag, path in (("classifier", args.classifier), ("feature_model", args.feature_model)):
        if path is not None:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"No such model file for --{flag.replace('_', '-')}: "
                                        f"{path}")
            extras[flag] = training.load_model_file(path)
    result = evaluation.evaluate(
        model, args.dataset, out, nll_samples=args.nll_samples, max_examples=args.max_examples,
        batch_size=args.batch_size, binarize=None if args.binarize == "none" else args.binarize,
        seed=args.seed, disentanglement_examples=args.disentanglement_examples,
        history=history if os.path.isfile(history) else None, projection=args.projection,
        dci_estimator=args.dci_estimator,
        verbose=not args.quiet,
        log=(lambda *a: None) if args.quiet else print, **extras)
    metrics = result["metrics"]
    print("\nTest: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics["test"].items()))
    for missing in metrics.get("needs_keras_file", ()):
        print(f"Not from an export (needs the .keras file): {missing}")
    if "iwae" in metrics:
        iwae = metrics["iwae"]
        print(f"IWAE NLL (K={iwae['num_samples']}): {iwae['nll']:.2f} nats "
              f"(± {iwae['nll_std_error']:.2f}, {iwae['num_examples']} images)")
    if "disentanglement" in metrics:
        d = metrics["disentanglement"]
        print(f"Disentanglement: MIG {d['mig']:.3f}, beta-VAE score {d['beta_vae_score']:.3f}, "
              f"FactorVAE score {d['factor_vae_score']:.3f}, DCI D {d['dci_disentanglement']:.3f}, "
              f"SAP {d['sap']:.3f}")
    print(f"Report:  {result['paths']['report']}")
    print(f"Metrics: {result['paths']['metrics']}")
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return _train(args, parser)
        if args.command == "export":
            return _export(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "sample":
            return _sample(args, parser)
        if args.command == "tune":
            return _tune(args, parser)
    except Exception as err:  # one line for every error a user can cause, never a traceback
        status, line = _error_line(err)
        if status is None:
            raise
        parser.exit(status, f"keras-vae {args.command}: error: {line}\n")
    return 0


def _error_line(err):
    """``(exit status, one line)`` for an error a user's input or environment causes (bad
    values, files, permissions, data that breaks a model's check, a run that went
    non-finite); ``(None, None)`` for anything else (a bug, which keeps its traceback)."""
    from keras_vae.callbacks import NonFiniteLossError

    if isinstance(err, NonFiniteLossError):
        return 1, str(err)
    if isinstance(err, OSError) and err.filename is not None:
        return 2, f"{err.strerror or err}: {err.filename}"
    if isinstance(err, (ValueError, OSError, ImportError)):
        return 2, " ".join(str(err).split())
    import tensorflow as tf

    if isinstance(err, (tf.errors.NotFoundError, tf.errors.FailedPreconditionError,
                        tf.errors.PermissionDeniedError, tf.errors.AlreadyExistsError)):
        return 2, " ".join(str(err.message).split())  # TensorFlow's file errors
    if isinstance(err, tf.errors.InvalidArgumentError):
        text = str(err.message)
        found = re.search(r"assertion failed: \[(.*?)\] \[", text)
        if found:
            return 2, f"the data fails a check of the model: {found.group(1)}"
        return 2, text.strip().splitlines()[0]
    return None, None


if __name__ == "__main__":
    sys.exit(main())
