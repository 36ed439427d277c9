"""β-VAE (Higgins et al. 2017) and its capacity-controlled form (Burgess et al. 2018)."""

import keras

from keras_vae.models.base import BaseVAE


@keras.saving.register_keras_serializable(package="keras_vae")
class BetaVAE(BaseVAE):
    """A VAE whose KL term is weighted by β, or held near a rising capacity C(t).

    Two modes:

    * β mode (``capacity_max=None``): loss = ``-log p(x|z) + β(step) · KL``, where ``beta`` is
      a number or a :mod:`keras_vae.schedules` schedule (KL warm-up, cyclical). Reports
      ``beta``.
    * capacity mode: loss = ``-log p(x|z) + γ · |KL − C(step)|`` with C rising linearly from
      0 to ``capacity_max`` nats over ``capacity_steps`` training steps (Burgess et al. 2018,
      eq. 8). Reports ``capacity``.

    The step is ``optimizer.iterations``: saved with the model, so a resumed run continues
    the schedule where it stopped.

    Args:
        beta: β, a number (default 4.0) or a schedule. Ignored in capacity mode.
        capacity_max: C_max in nats, or ``None`` for β mode.
        capacity_steps: Steps over which C rises from 0 to ``capacity_max``.
        gamma: γ, the weight of ``|KL − C|`` (default 1000, as in the paper).
        **kwargs: Everything :class:`keras_vae.VAE` takes (``input_shape``, ``latent_dim``,
            ``architecture``, ``likelihood``, ``free_bits``, ``seed``, ...).

    Example:

    >>> import keras_vae as kv
    >>> beta_vae = kv.BetaVAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,),
    ...                       beta=kv.schedules.LinearWarmup(0.0, 4.0, steps=1000))
    >>> capacity_vae = kv.BetaVAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,),
    ...                           capacity_max=25.0, capacity_steps=100_000, gamma=1000.0)
    >>> capacity_vae.metric_names()[-1]
    'capacity'

    References:
        Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained
        Variational Framework", ICLR 2017.
        Burgess et al., "Understanding disentangling in beta-VAE", arXiv:1804.03599, 2018.
    """

    has_kl_weighting = True

    @property
    def kind(self):
        return "beta_vae_capacity" if self.capacity is not None else "beta_vae"

    def __init__(
        self,
        input_shape,
        beta=4.0,
        capacity_max=None,
        capacity_steps=100_000,
        gamma=1000.0,
        **kwargs,
    ):
        super().__init__(
            input_shape,
            beta=beta,
            capacity_max=capacity_max,
            capacity_steps=capacity_steps,
            gamma=gamma,
            **kwargs,
        )
