"""Encoder/decoder builders for any HxWxC image shape."""

from keras_vae.networks.conv import build_conv_decoder
from keras_vae.networks.conv import build_conv_encoder
from keras_vae.networks.conv import build_conv_grid_decoder
from keras_vae.networks.conv import build_conv_grid_encoder
from keras_vae.networks.conv import stage_sizes
from keras_vae.networks.mlp import build_mlp_decoder
from keras_vae.networks.mlp import build_mlp_encoder

ARCHITECTURES = ("mlp", "conv")


def build_encoder_decoder(
    architecture, input_shape, latent_dim, hidden_units=(400,), filters=(32, 64, 128),
    kernel_size=4,
    condition_dim=0,
    dense_units=(),
):
    """Returns ``(encoder, decoder)`` for ``architecture`` in ``("mlp", "conv")``.

    With ``condition_dim > 0`` both take a condition vector ``c`` as a second input.
    ``dense_units`` (dense layers between the conv trunk and the latent) is for ``"conv"``;
    the MLP's layers are ``hidden_units``.
    """
    if architecture == "mlp":
        if dense_units:
            raise ValueError(
                "`dense_units` adds dense layers to the conv architecture; the MLP's layers "
                f"are `hidden_units`. Received: dense_units={dense_units!r} with "
                "architecture='mlp'"
            )
        return (
            build_mlp_encoder(input_shape, latent_dim, hidden_units, condition_dim),
            build_mlp_decoder(input_shape, latent_dim, hidden_units, condition_dim),
        )
    if architecture == "conv":
        return (
            build_conv_encoder(input_shape, latent_dim, filters, kernel_size, condition_dim,
                               dense_units),
            build_conv_decoder(input_shape, latent_dim, filters, kernel_size, condition_dim,
                               dense_units),
        )
    raise ValueError(
        f"`architecture` must be one of {ARCHITECTURES}. Received: architecture={architecture!r}"
    )


__all__ = [
    "ARCHITECTURES",
    "build_conv_decoder",
    "build_conv_encoder",
    "build_conv_grid_decoder",
    "build_conv_grid_encoder",
    "build_encoder_decoder",
    "build_mlp_decoder",
    "build_mlp_encoder",
    "stage_sizes",
]
