"""Encoder/decoder builders, each returning ``(encoder, decoder)`` for the models'
``encoder=``/``decoder=`` (or chosen by name with a model's ``architecture``):

- :func:`mlp`: dense layers, any data shape (the 784-400-20 network of the course);
- :func:`conv`: stride-2 convolutions, images (the course ConvVAE);
- :func:`burgess`: Burgess et al.'s dSprites network (conv 32,32,64,64 + dense 256,256);
- :func:`resnet`: residual stages with a normalization option, colour images;
- :func:`gru`: GRU encoder and decoder for sequences ``(steps, features)`` (VRAE).
"""

from keras_vae.networks.conv import build_conv_decoder
from keras_vae.networks.conv import build_conv_encoder
from keras_vae.networks.conv import build_conv_grid_decoder
from keras_vae.networks.conv import build_conv_grid_encoder
from keras_vae.networks.conv import stage_sizes
from keras_vae.networks.mlp import build_mlp_decoder
from keras_vae.networks.mlp import build_mlp_encoder
from keras_vae.networks.recurrent import build_gru_decoder
from keras_vae.networks.recurrent import build_gru_encoder
from keras_vae.networks.resnet import NORMALIZATIONS
from keras_vae.networks.resnet import build_resnet_decoder
from keras_vae.networks.resnet import build_resnet_encoder

#: The ``architecture`` names a model builds its networks from (``"gru"``: its
#: ``hidden_units`` are the GRU widths).
ARCHITECTURES = ("mlp", "conv", "gru")


def mlp(input_shape, latent_dim, hidden_units=(400,), condition_dim=0):
    """``(encoder, decoder)``: dense ReLU layers of ``hidden_units`` (mirrored)."""
    return (build_mlp_encoder(input_shape, latent_dim, hidden_units, condition_dim),
            build_mlp_decoder(input_shape, latent_dim, hidden_units, condition_dim))


def conv(input_shape, latent_dim, filters=(32, 64, 128), kernel_size=4, dense_units=(),
         condition_dim=0):
    """``(encoder, decoder)``: stride-2 convolutions (``filters``), optional ReLU dense
    layers (``dense_units``) before the latent, transposed convolutions back."""
    return (build_conv_encoder(input_shape, latent_dim, filters, kernel_size, condition_dim,
                               dense_units),
            build_conv_decoder(input_shape, latent_dim, filters, kernel_size, condition_dim,
                               dense_units))


def burgess(input_shape=(64, 64, 1), latent_dim=10, condition_dim=0):
    """``(encoder, decoder)``: the dSprites network of Burgess et al. 2018 (four stride-2 4x4
    convolutions of 32, 32, 64, 64 channels, dense 256, 256)."""
    return conv(input_shape, latent_dim, filters=(32, 32, 64, 64), kernel_size=4,
                dense_units=(256, 256), condition_dim=condition_dim)


def resnet(input_shape, latent_dim, filters=(32, 64, 128), blocks=1, normalization="batch",
           condition_dim=0):
    """``(encoder, decoder)``: residual stages (``blocks`` per entry of ``filters``, each
    stage halving the side), ``normalization`` ``"batch"``, ``"group"``, ``"layer"`` or
    ``None``."""
    return (build_resnet_encoder(input_shape, latent_dim, filters, blocks, normalization,
                                 condition_dim),
            build_resnet_decoder(input_shape, latent_dim, filters, blocks, normalization,
                                 condition_dim))


def gru(input_shape, latent_dim, hidden_units=(64,), condition_dim=0):
    """``(encoder, decoder)``: stacked GRUs over ``(steps, features)`` sequences (VRAE)."""
    return (build_gru_encoder(input_shape, latent_dim, hidden_units, condition_dim),
            build_gru_decoder(input_shape, latent_dim, hidden_units, condition_dim))


def build_encoder_decoder(
    architecture, input_shape, latent_dim, hidden_units=(400,), filters=(32, 64, 128),
    kernel_size=4,
    condition_dim=0,
    dense_units=(),
):
    """Returns ``(encoder, decoder)`` for ``architecture`` in :data:`ARCHITECTURES`.

    With ``condition_dim > 0`` both take a condition vector ``c`` as a second input.
    ``dense_units`` (dense layers between the conv trunk and the latent) is for ``"conv"``;
    the MLP's and the GRU's layers are ``hidden_units``.
    """
    if architecture in ("mlp", "gru"):
        if dense_units:
            raise ValueError(
                "`dense_units` adds dense layers to the conv architecture; the "
                f"{architecture.upper()}'s layers are `hidden_units`. Received: "
                f"dense_units={dense_units!r} with architecture={architecture!r}"
            )
        builder = mlp if architecture == "mlp" else gru
        return builder(input_shape, latent_dim, hidden_units, condition_dim)
    if architecture == "conv":
        return conv(input_shape, latent_dim, filters, kernel_size, dense_units, condition_dim)
    raise ValueError(
        f"`architecture` must be one of {ARCHITECTURES}. Received: architecture={architecture!r}"
    )


__all__ = [
    "ARCHITECTURES",
    "NORMALIZATIONS",
    "build_conv_decoder",
    "build_conv_encoder",
    "build_conv_grid_decoder",
    "build_conv_grid_encoder",
    "build_encoder_decoder",
    "build_gru_decoder",
    "build_gru_encoder",
    "build_mlp_decoder",
    "build_mlp_encoder",
    "build_resnet_decoder",
    "build_resnet_encoder",
    "burgess",
    "conv",
    "gru",
    "mlp",
    "resnet",
    "stage_sizes",
]
