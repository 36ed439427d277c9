"""The VAE variants, all ``keras.Model`` subclasses of :class:`BaseAutoencoder`, and the
variant registry (:data:`MODEL_KINDS`): one :func:`register` line per kind."""

from keras_vae.models import priors
from keras_vae.models.adversarial_autoencoder import AdversarialAutoencoder
from keras_vae.models.adversarial_autoencoder import ConditionalAdversarialAutoencoder
from keras_vae.models.base import BaseAutoencoder
from keras_vae.models.base import BaseVAE
from keras_vae.models.beta_tc_vae import BetaTCVAE
from keras_vae.models.beta_vae import BetaVAE
from keras_vae.models.conditional_vae import ConditionalVAE
from keras_vae.models.dip_vae import DIPVAE
from keras_vae.models.factor_vae import FactorVAE
from keras_vae.models.hierarchical_vae import HierarchicalVAE
from keras_vae.models.iwae import IWAE
from keras_vae.models.priors import PixelCNN
from keras_vae.models.priors import TransformerPrior
from keras_vae.models.registry import MODEL_KINDS
from keras_vae.models.registry import applies
from keras_vae.models.registry import build_model
from keras_vae.models.registry import constructor_defaults
from keras_vae.models.registry import kind_defaults
from keras_vae.models.registry import model_class
from keras_vae.models.registry import register
from keras_vae.models.vae import VAE
from keras_vae.models.vq_vae import VQVAE
from keras_vae.models.vq_vae2 import VQVAE2
from keras_vae.models.vq_vae2 import TwoLevelPrior

register("vae", VAE)
register("beta_vae", BetaVAE, excluded=("capacity_max", "capacity_steps", "gamma"))
register("beta_vae_capacity", BetaVAE, excluded=("beta",), capacity_max=25.0)
register("cvae", ConditionalVAE)
# Its `prior` is the PixelCNN a run trains (--prior-epochs), not the Gaussian models' --prior.
register("vqvae", VQVAE, excluded=("prior",))
register("vqvae2", VQVAE2, excluded=("prior",))
register("iwae", IWAE)
register("factor_vae", FactorVAE)
register("beta_tc_vae", BetaTCVAE)
register("dip_vae", DIPVAE)
register("aae", AdversarialAutoencoder)
register("caae", ConditionalAdversarialAutoencoder)
register("hvae", HierarchicalVAE, excluded=("latent_dim",))

__all__ = [
    "AdversarialAutoencoder",
    "BaseAutoencoder",
    "BaseVAE",
    "BetaTCVAE",
    "BetaVAE",
    "ConditionalAdversarialAutoencoder",
    "ConditionalVAE",
    "DIPVAE",
    "FactorVAE",
    "HierarchicalVAE",
    "IWAE",
    "MODEL_KINDS",
    "PixelCNN",
    "TransformerPrior",
    "VAE",
    "TwoLevelPrior",
    "VQVAE",
    "VQVAE2",
    "applies",
    "build_model",
    "constructor_defaults",
    "kind_defaults",
    "model_class",
    "priors",
    "register",
]
