"""What a test run's numbers depend on: the CPU (its model and widest vector ISA) and the
kernel settings in the environment. The test session prints it as its header and the
numerics benchmark beside its table, so every log says which machine it came from."""

import os
import re
import subprocess

#: The environment variables that choose which kernels run (and so the round-off).
KERNEL_VARIABLES = ("TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTRAOP_THREADS", "ONEDNN_MAX_CPU_ISA")


def isa(flags):
    """The widest x86 vector ISA among ``lscpu``'s flags."""
    if "avx512f" in flags:
        return "AVX-512"
    return "AVX2" if "avx2" in flags else "no AVX2"


def cpu_model():
    """``"<model name> (<widest ISA>)"`` from ``lscpu``, or ``"unknown CPU"`` without it."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    name = re.search(r"Model name:\s*(.+)", text)
    flags = re.search(r"Flags:\s*(.+)", text)
    return (f"{name.group(1).strip() if name else 'unknown CPU'} "
            f"({isa(flags.group(1).split() if flags else [])})")


def describe():
    """One line: the CPU, its cores and each kernel variable's value (or ``unset``)."""
    settings = ", ".join(f"{name}={os.environ.get(name, 'unset')}" for name in KERNEL_VARIABLES)
    return f"CPU: {cpu_model()}, {os.cpu_count()} cores; {settings}"
