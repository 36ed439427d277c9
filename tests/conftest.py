import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests import machine  # noqa: E402

SHARED_MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def pytest_report_header(config):
    return machine.describe()


@pytest.fixture(scope="session")
def mnist_path():
    """The real MNIST .npz beside the checkout (../shared/data/mnist.npz)."""
    if not SHARED_MNIST.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the real MNIST at {SHARED_MNIST}")
        pytest.skip(f"real MNIST not found at {SHARED_MNIST}")
    return str(SHARED_MNIST)


@pytest.fixture
def tiny_npz(tmp_path):
    """A Keras-style .npz of random 8x8 uint8 'digits' with labels 0..9."""
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, size=(64, 8, 8), dtype=np.uint8),
        y_train=rng.integers(0, 10, size=64).astype(np.uint8),
        x_test=rng.integers(0, 256, size=(32, 8, 8), dtype=np.uint8),
        y_test=rng.integers(0, 10, size=32).astype(np.uint8),
    )
    return str(path)
