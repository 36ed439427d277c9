"""Shared pieces of the training runs that tests start in subprocesses (importable there,
with the repository root on ``sys.path``)."""

import contextlib
import os
import signal
import subprocess
import sys

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


#: A process that claims a folder (``keras_vae.outputs.claimed``, loaded without the rest
#: of the package, so it starts in a blink) until it is killed; "held" once it has it, or
#: "refused" when another process had it.
_CLAIMER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("outputs", sys.argv[1])
outputs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(outputs)
try:
    with outputs.claimed(sys.argv[2]):
        print("held", flush=True)
        time.sleep(600)
except outputs.FolderInUse:
    print("refused", flush=True)
"""


def claim_elsewhere(folder):
    """Starts a process that claims ``folder``; returns it with the word it printed first
    (``"held"`` or ``"refused"``)."""
    from keras_vae import outputs

    process = subprocess.Popen([sys.executable, "-c", _CLAIMER, outputs.__file__,
                                os.fspath(folder)], stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


@contextlib.contextmanager
def held_elsewhere(folder):
    """While the block runs another process holds ``folder``; it is killed (SIGKILL: no
    cleanup) when the block ends."""
    process, word = claim_elsewhere(folder)
    try:
        assert word == "held", word
        yield process
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
