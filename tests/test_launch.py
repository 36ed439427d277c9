"""The keras-vae command's process defaults (keras_vae/launch.py): set for the command only,
before TensorFlow starts, never over the user's own value."""

import os
import subprocess
import sys

import pytest

from keras_vae import launch
from tests.runs import subprocess_env

COMMAND = ["/usr/local/bin/keras-vae", "train"]
PYTHON_M = ["/usr/bin/python3", "-m", "keras_vae", "train"]
#: What TensorFlow logs at import when its oneDNN kernels are on.
ONEDNN_ON = "oneDNN custom operations are on"


@pytest.mark.parametrize("argv, orig_argv, expected", [
    (COMMAND, COMMAND, True),
    (["C:\\Python\\Scripts\\keras-vae.exe", "train"], [], True),
    (["/usr/lib/python3/keras_vae/__main__.py", "train"], PYTHON_M, True),
    (["/usr/bin/pytest", "tests"], ["/usr/bin/python3", "/usr/bin/pytest", "tests"], False),
    (["-c"], ["/usr/bin/python3", "-c", "import keras_vae"], False),
    (["/x/pytest/__main__.py"], ["/usr/bin/python3", "-m", "pytest", "-m", "keras_vae"],
     False),
    (["train.py"], ["/usr/bin/python3", "train.py", "-m", "keras_vae"], False),
    (["/x/keras_vae/__main__.py"], ["python", "-X", "dev", "-W", "error", "-mkeras_vae"], True),
])
def test_is_command(argv, orig_argv, expected):
    assert launch.is_command(argv, orig_argv) is expected


def prepare(environ, modules=(), argv=COMMAND, machine="x86_64"):
    return launch.prepare_command_process(environ, dict.fromkeys(modules), argv, argv,
                                          machine)


def test_the_command_gets_the_defaults_the_user_has_not_set():
    environ = {}
    assert prepare(environ) == ["TF_ENABLE_ONEDNN_OPTS"]
    assert environ == launch.COMMAND_ENVIRONMENT
    environ = {"TF_ENABLE_ONEDNN_OPTS": "0"}
    assert prepare(environ) == []
    assert environ == {"TF_ENABLE_ONEDNN_OPTS": "0"}
    environ = {}
    assert prepare(environ, machine="AMD64") == ["TF_ENABLE_ONEDNN_OPTS"]


@pytest.mark.parametrize("case", ["library", "tensorflow imported", "arm"])
def test_nothing_is_set_outside_the_command_or_too_late(case):
    environ = {}
    if case == "library":
        assert prepare(environ, argv=["train.py"]) == []
    elif case == "tensorflow imported":
        assert prepare(environ, modules=["tensorflow"]) == []
    else:
        assert prepare(environ, machine="aarch64") == []
    assert environ == {}


def run_python(args, **environment):
    env = {k: v for k, v in subprocess_env().items() if k not in launch.COMMAND_ENVIRONMENT}
    env.update(environment, TF_CPP_MIN_LOG_LEVEL="0")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=os.path.dirname(os.path.dirname(__file__)))


REPORT = "import os, keras_vae; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"


@pytest.mark.skipif(launch.platform.machine().lower() not in launch.X86_MACHINES,
                    reason="the command sets oneDNN's variable on x86 only")
def test_tensorflow_starts_with_onednn_in_the_command():
    """`python -m keras_vae` imports TensorFlow with its oneDNN kernels on (TensorFlow says so
    in its log), whatever this CPU's default."""
    proc = run_python(["-m", "keras_vae", "--help"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert ONEDNN_ON in proc.stderr
    # The console script's name in argv[0] is recognized the same way.
    proc = run_python(["-c", "import sys; sys.argv[0] = '/bin/keras-vae'; " + REPORT])
    assert proc.stdout.split() == ["1"], proc.stderr[-2000:]
    assert ONEDNN_ON in proc.stderr


def test_the_users_setting_and_the_library_import_are_left_alone():
    proc = run_python(["-c", "import sys; sys.argv[0] = '/bin/keras-vae'; " + REPORT],
                      TF_ENABLE_ONEDNN_OPTS="0")
    assert proc.stdout.split() == ["0"], proc.stderr[-2000:]
    assert ONEDNN_ON not in proc.stderr
    proc = run_python(["-c", REPORT])
    assert proc.stdout.split() == ["None"], proc.stderr[-2000:]
