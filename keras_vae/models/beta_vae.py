"""β-VAE (Higgins et al. 2017) and its capacity-controlled form (Burgess et al. 2018)."""

import keras

from keras_vae import losses
from keras_vae import schedules
from keras_vae.models.base import BaseVAE
from keras_vae.validation import check_int
from keras_vae.validation import check_number


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

    def __init__(
        self,
        input_shape,
        beta=4.0,
        capacity_max=None,
        capacity_steps=100_000,
        gamma=1000.0,
        **kwargs,
    ):
        # Set before the base constructor, which creates the metric trackers.
        self.beta = schedules.get(beta, "beta", minimum=0.0)
        self.capacity_max = (
            None if capacity_max is None else check_number("capacity_max", capacity_max, 0.0)
        )
        self.capacity_steps = check_int("capacity_steps", capacity_steps, minimum=1)
        self.gamma = check_number("gamma", gamma, minimum=0.0, exclusive=True)
        self.capacity = (
            None
            if capacity_max is None
            else schedules.LinearWarmup(0.0, self.capacity_max, self.capacity_steps)
        )
        super().__init__(input_shape, **kwargs)

    @property
    def kind(self):
        return "beta_vae_capacity" if self.capacity is not None else "beta_vae"

    def metric_names(self):
        return [*super().metric_names(), "capacity" if self.capacity is not None else "beta"]

    def regularizer(self, kl_per_dim, step):
        """``β(step) · KL`` (with the free-bits floor), or ``γ · |KL − C(step)|`` in capacity
        mode; reports ``beta`` or ``capacity``."""
        kl = losses.free_bits_kl(kl_per_dim, self.kl_floor())
        if self.capacity is not None:
            capacity = self.capacity(step)
            return losses.capacity_penalty(kl, capacity, self.gamma), {"capacity": capacity}
        beta = self.beta(step)
        return beta * kl, {"beta": beta}

    def get_config(self):
        return {
            **super().get_config(),
            "beta": schedules.serialize(self.beta),
            "capacity_max": self.capacity_max,
            "capacity_steps": self.capacity_steps,
            "gamma": self.gamma,
        }
