"""Evaluation of trained models: codebook usage over whole datasets (more as they land)."""

from keras_vae.evaluation.codebook import code_counts
from keras_vae.evaluation.codebook import codebook_stats

__all__ = ["code_counts", "codebook_stats"]
