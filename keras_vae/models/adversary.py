"""A discriminator with an optimizer of its own, for the variants that train an adversary
beside the autoencoder (FactorVAE's total-correlation critic, the adversarial autoencoder's
prior critic). The autoencoder's optimizer is the one ``compile`` takes; the discriminator's
is a constructor argument, saved in the config, its state saved with the model."""

import copy

import keras

from keras_vae.validation import check_int_tuple


def discriminator_mlp(input_dim, units, name):
    """``[batch, input_dim]`` -> one logit per example: LeakyReLU(0.2) layers of
    ``units`` (Kim & Mnih 2018, appendix)."""
    inputs = keras.Input((input_dim,))
    h = inputs
    for i, width in enumerate(units):
        h = keras.layers.Dense(width, name=f"dense_{i}")(h)
        h = keras.layers.LeakyReLU(0.2, name=f"leaky_relu_{i}")(h)
    logit = keras.layers.Dense(1, name="logit")(h)
    return keras.Model(inputs, logit, name=name)


class Adversary:
    """Mixin for a :class:`~keras_vae.models.base.BaseVAE` subclass with a discriminator.

    Call :meth:`init_adversary` in the constructor (after the base constructor). The
    discriminator's variables are left out of :meth:`training_variables` (the autoencoder's
    optimizer never moves them) and updated by ``discriminator_optimizer``;
    :meth:`optimizer_steps` lists both, so both are built before the first step and when a
    model is reloaded, and ``.keras`` files carry both optimizers' state.
    """

    def init_adversary(self, input_dim, discriminator, units, optimizer):
        if discriminator is None:
            self.discriminator_units = check_int_tuple("discriminator_units", units,
                                                       allow_empty=False)
            self.custom_discriminator = False
            discriminator = discriminator_mlp(input_dim, self.discriminator_units,
                                              name="discriminator")
        else:
            if not isinstance(discriminator, keras.layers.Layer):
                raise ValueError("`discriminator` must be a Keras layer or model mapping "
                                 f"[batch, {input_dim}] to [batch, 1]. Received: "
                                 f"{type(discriminator).__name__}")
            self.discriminator_units = None
            self.custom_discriminator = True
        self.discriminator = discriminator
        out = self.discriminator(keras.ops.zeros((2, input_dim)))
        if tuple(out.shape) not in ((2, 1), (2,)):
            raise ValueError(f"The discriminator must map [batch, {input_dim}] to [batch, 1] "
                             f"(one logit per example); it returned shape {tuple(out.shape)}.")
        if isinstance(optimizer, keras.optimizers.Optimizer):
            self.discriminator_optimizer = optimizer
        else:
            self.discriminator_optimizer = keras.optimizers.get(copy.deepcopy(optimizer))
        self.discriminator_optimizer_config = keras.optimizers.serialize(
            self.discriminator_optimizer)
        if self.dtype_policy.name == "mixed_float16":
            # As `compile` does for the model's own optimizer: float16 gradients need scaling.
            self.discriminator_optimizer = keras.optimizers.LossScaleOptimizer(
                self.discriminator_optimizer)

    def discriminator_logit(self, z, training=False):
        """One logit per example ``[batch]`` (float32)."""
        out = keras.ops.cast(self.discriminator(z, training=training), "float32")
        return keras.ops.reshape(out, (-1,))

    @staticmethod
    def discriminator_loss(real, fake):
        """D's cross-entropy per example, halved over both kinds:
        ``-log D(real) - log(1 - D(fake))`` from the logits."""
        return 0.5 * (keras.ops.softplus(-real) + keras.ops.softplus(fake))

    def gradient_step(self, inputs):
        # One forward pass: the model's ``loss`` moves the autoencoder (D's weights are not
        # among its variables), ``discriminator_loss`` moves D alone.
        return self.minimize_all(
            lambda: self._objective(inputs, training=True),
            [(optimizer, variables, key) for (optimizer, variables), key
             in zip(self.optimizer_steps(), ("loss", "discriminator_loss"))])

    def training_variables(self):
        own = {id(v) for v in self.discriminator.trainable_variables}
        return [v for v in self.trainable_variables if id(v) not in own]

    def optimizer_steps(self):
        return [(self.optimizer, self.training_variables()),
                (self.discriminator_optimizer, self.discriminator.trainable_variables)]

    def adversary_config(self):
        config = {"discriminator_optimizer": self.discriminator_optimizer_config}
        if self.custom_discriminator:
            config["discriminator"] = keras.saving.serialize_keras_object(self.discriminator)
        else:
            config["discriminator_units"] = self.discriminator_units
        return config
