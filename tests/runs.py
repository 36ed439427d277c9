"""Shared pieces of the training runs that tests start in subprocesses (importable there,
with the repository root on ``sys.path``)."""

import os
import signal

import keras
import numpy as np

#: ``model_kwargs`` of ``keras_vae.training.train`` for tiny runs on 8x8 images.
TINY_RUNS = {
    "vqvae": dict(num_embeddings=8, embedding_dim=3, filters=(4,), ema_decay=0.9),
    "beta_vae_capacity": dict(latent_dim=3, hidden_units=(16,), capacity_max=5.0,
                              capacity_steps=120, gamma=10.0),
    # Two optimizers, and the permutation's random stream beside the noise's.
    "factor_vae": dict(latent_dim=3, hidden_units=(16,), gamma=10.0, discriminator_units=(8,)),
}


class KillMidEpoch(keras.callbacks.Callback):
    """SIGKILLs this process after batch ``batch`` of epoch ``epoch`` (no Python cleanup, as
    when a machine is pre-empted); with several steps per execution, after the execution that
    runs that batch."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.kill_epoch, self.kill_batch, self.epoch = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.kill_epoch and batch >= self.kill_batch:
            os.kill(os.getpid(), signal.SIGKILL)


def subprocess_env():
    """Environment for a test subprocess: quiet TensorFlow, the repository importable."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": root if not path else root + os.pathsep + path}


def write_binary_npz(path, num_train, num_test=16):
    """A Keras-style .npz of random binary 8x8 images (labels 0) at ``path``."""
    rng = np.random.default_rng(0)
    images = (rng.random((num_train + num_test, 8, 8)) > 0.5).astype("uint8") * 255
    np.savez(path, x_train=images[:num_train], y_train=np.zeros(num_train, "uint8"),
             x_test=images[num_train:], y_test=np.zeros(num_test, "uint8"))
    return path
