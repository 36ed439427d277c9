"""keras_vae: Variational Autoencoder variants for TensorFlow / Keras 3.

>>> import keras_vae as kv
>>> model = kv.VAE(input_shape=(28, 28, 1), latent_dim=20, hidden_units=(400,))
"""

from keras_vae import launch as _launch

try:
    # Before TensorFlow starts: the keras-vae command's own process defaults (launch.py).
    _launch.prepare_command_process()
    import tensorflow as _tf  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the install
    raise ImportError(
        "keras_vae needs TensorFlow, which is installed through an extra so you can pick the "
        "build: `pip install keras-vae[cpu]` (tensorflow-cpu), `keras-vae[gpu]` "
        "(tensorflow[and-cuda]) or `keras-vae[tf]` (tensorflow)."
    ) from err

from keras_vae import callbacks
from keras_vae import data
from keras_vae import distribute
from keras_vae import evaluation
from keras_vae import export
from keras_vae import flows
from keras_vae import layers
from keras_vae import losses
from keras_vae import models
from keras_vae import networks
from keras_vae import plotting
from keras_vae import samplers
from keras_vae import schedules
from keras_vae import training
from keras_vae.models import DIPVAE
from keras_vae.models import IWAE
from keras_vae.models import VAE
from keras_vae.models import VQVAE
from keras_vae.models import VQVAE2
from keras_vae.models import AdversarialAutoencoder
from keras_vae.models import BetaTCVAE
from keras_vae.models import BetaVAE
from keras_vae.models import ConditionalAdversarialAutoencoder
from keras_vae.models import ConditionalVAE
from keras_vae.models import FactorVAE
from keras_vae.models import HierarchicalVAE
from keras_vae.models import priors
from keras_vae.version import __version__


def __getattr__(name):
    # kv.tuning needs keras-tuner, an optional extra: import it on first use.
    if name == "tuning":
        import importlib
        import importlib.util

        if importlib.util.find_spec("keras_tuner") is None:
            raise ImportError(
                "keras_vae.tuning needs keras-tuner: pip install keras-vae[tune] "
                "(from a checkout: pip install -e \".[tune]\")."
            )
        return importlib.import_module("keras_vae.tuning")
    raise AttributeError(f"module 'keras_vae' has no attribute {name!r}")


__all__ = [
    "AdversarialAutoencoder",
    "BetaTCVAE",
    "BetaVAE",
    "ConditionalAdversarialAutoencoder",
    "ConditionalVAE",
    "DIPVAE",
    "FactorVAE",
    "HierarchicalVAE",
    "IWAE",
    "VAE",
    "VQVAE",
    "VQVAE2",
    "__version__",
    "callbacks",
    "data",
    "distribute",
    "evaluation",
    "export",
    "flows",
    "layers",
    "losses",
    "models",
    "networks",
    "plotting",
    "priors",
    "samplers",
    "schedules",
    "training",
    "tuning",
]
