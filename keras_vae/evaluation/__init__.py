"""Evaluation of trained models: likelihood, posterior collapse, disentanglement, codebook
usage and sample quality."""

from keras_vae.evaluation.codebook import code_counts
from keras_vae.evaluation.codebook import codebook_stats
from keras_vae.evaluation.collapse import active_units
from keras_vae.evaluation.collapse import collapse_report
from keras_vae.evaluation.collapse import collapse_summary
from keras_vae.evaluation.collapse import kl_per_dimension
from keras_vae.evaluation.collapse import mutual_information
from keras_vae.evaluation.collapse import posterior_statistics
from keras_vae.evaluation.disentanglement import ShapesGroundTruth
from keras_vae.evaluation.disentanglement import beta_vae_score
from keras_vae.evaluation.disentanglement import dci
from keras_vae.evaluation.disentanglement import disentanglement_report
from keras_vae.evaluation.disentanglement import factor_information
from keras_vae.evaluation.disentanglement import factor_vae_score
from keras_vae.evaluation.disentanglement import mig
from keras_vae.evaluation.disentanglement import representation
from keras_vae.evaluation.disentanglement import sap
from keras_vae.evaluation.generation import conditional_accuracy
from keras_vae.evaluation.generation import draw_samples
from keras_vae.evaluation.generation import features_of
from keras_vae.evaluation.generation import frechet_distance
from keras_vae.evaluation.generation import precision_recall
from keras_vae.evaluation.generation import sample_frechet_distance
from keras_vae.evaluation.generation import sample_quality
from keras_vae.evaluation.generation import shapes_validity
from keras_vae.evaluation.generation import train_feature_model
from keras_vae.evaluation.likelihood import iwae_nll
from keras_vae.evaluation.likelihood import log_weights
from keras_vae.evaluation.report import evaluate

__all__ = [
    "ShapesGroundTruth",
    "active_units",
    "beta_vae_score",
    "code_counts",
    "codebook_stats",
    "collapse_report",
    "collapse_summary",
    "conditional_accuracy",
    "dci",
    "draw_samples",
    "evaluate",
    "disentanglement_report",
    "factor_information",
    "factor_vae_score",
    "features_of",
    "frechet_distance",
    "iwae_nll",
    "kl_per_dimension",
    "log_weights",
    "mig",
    "mutual_information",
    "posterior_statistics",
    "precision_recall",
    "representation",
    "sample_frechet_distance",
    "sample_quality",
    "shapes_validity",
    "train_feature_model",
    "sap",
]
