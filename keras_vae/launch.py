"""What the ``keras-vae`` command sets in its own process before TensorFlow starts.

TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS`` once, when it is imported. Left unset, its x86
builds use oneDNN's CPU kernels only on CPUs with AVX-512 VNNI or BF16 or AMX; elsewhere
(an AVX2-only AMD EPYC, for one) convolutions run on Eigen's kernels: there a kernel
gradient of the main job's network took 38 ms against oneDNN's 13.6, and the whole job
1.23x as long (README, Performance; ``benchmarks/throughput.py --variants default onednn``).
So the command (``keras-vae ...`` or ``python -m keras_vae ...``) starts with
:data:`COMMAND_ENVIRONMENT` on x86 machines, each variable only where the user has not set
it: ``TF_ENABLE_ONEDNN_OPTS=0 keras-vae train`` runs without oneDNN.

Importing ``keras_vae`` in your own program sets nothing: the process is yours, and the
variable must be set before TensorFlow is imported (``TF_ENABLE_ONEDNN_OPTS=1 python
train.py``).

This module is imported by ``keras_vae/__init__.py`` before TensorFlow, so it imports
nothing heavy itself.
"""

import ntpath
import os
import platform
import sys

#: The console script's names (``setup.cfg``; pip writes ``keras-vae.exe`` and
#: ``keras-vae-script.py`` on Windows).
COMMAND_NAMES = ("keras-vae", "keras-vae.exe", "keras-vae-script.py")

#: Environment defaults of the command's process.
COMMAND_ENVIRONMENT = {"TF_ENABLE_ONEDNN_OPTS": "1"}

#: Machines where TensorFlow's oneDNN kernels are its x86 ones.
X86_MACHINES = ("x86_64", "amd64", "i386", "i686")


def is_command(argv=None, orig_argv=None):
    """Whether this process is the ``keras-vae`` command: its console script
    (``argv[0]``), or ``python -m keras_vae`` (read from ``sys.orig_argv``, the
    interpreter's own arguments, up to the script or module they run)."""
    argv = sys.argv if argv is None else argv
    orig_argv = getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv
    if argv and ntpath.basename(argv[0]) in COMMAND_NAMES:  # either separator
        return True
    options = iter(orig_argv[1:])
    for option in options:
        if option == "-m":
            return next(options, None) == "keras_vae"
        if option.startswith("-m"):
            return option[2:] == "keras_vae"
        if option in ("-W", "-X", "--check-hash-based-pycs"):  # they take a separate value
            next(options, None)
        elif option == "-" or option.startswith("-c") or not option.startswith("-"):
            return False  # a program from stdin or -c, or a script: not the command
    return False


def prepare_command_process(environ=None, modules=None, argv=None, orig_argv=None,
                            machine=None):
    """Sets :data:`COMMAND_ENVIRONMENT`'s unset variables when this process is the command,
    runs on x86 and has not imported TensorFlow yet. Returns the names it set."""
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    machine = (platform.machine() if machine is None else machine).lower()
    if "tensorflow" in modules or machine not in X86_MACHINES or not is_command(argv,
                                                                             orig_argv):
        return []
    added = [name for name in COMMAND_ENVIRONMENT if name not in environ]
    for name in added:
        environ[name] = COMMAND_ENVIRONMENT[name]
    return added
