"""Every model the package ships, with tiny constructor arguments.

Tests that loop over this registry (config round-trip, ``.keras`` save/load exactness, one
``fit`` step, and later export and distribution) run for every entry automatically: a new
variant gets all of them by adding one line here.
"""

import keras_vae as kv

TINY_IMAGE = (8, 8, 1)

MODELS = {
    "vae_mlp": (kv.VAE, dict(input_shape=TINY_IMAGE, latent_dim=2, hidden_units=(16,))),
    "vae_conv_gaussian": (
        kv.VAE,
        dict(input_shape=(8, 8, 3), latent_dim=3, architecture="conv", filters=(4, 8),
             likelihood="gaussian", likelihood_scale="learned"),
    ),
    "beta_vae_warmup": (
        kv.BetaVAE,
        dict(input_shape=TINY_IMAGE, latent_dim=2, hidden_units=(16,),
             beta=kv.schedules.LinearWarmup(0.0, 4.0, steps=10)),
    ),
    "beta_vae_capacity": (
        kv.BetaVAE,
        dict(input_shape=TINY_IMAGE, latent_dim=2, hidden_units=(16,), capacity_max=5.0,
             capacity_steps=10, gamma=10.0, free_bits=0.1),
    ),
}
