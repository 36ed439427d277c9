"""What a test run's numbers depend on: the CPU (its model and widest vector ISA) and the
kernel settings in the environment. The test session prints it as its header and the
numerics benchmark beside its table, so every log says which machine it came from."""

import functools
import os
import re
import subprocess

import pytest

#: The environment variables that choose which kernels run (and so the round-off).
KERNEL_VARIABLES = ("TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTRAOP_THREADS", "ONEDNN_MAX_CPU_ISA")


def isa(flags):
    """The widest x86 vector ISA among ``lscpu``'s flags."""
    if "avx512f" in flags:
        return "AVX-512"
    return "AVX2" if "avx2" in flags else "no AVX2"


@functools.lru_cache(maxsize=None)
def lscpu():
    """``lscpu``'s output, read once per process (``None`` without ``lscpu``)."""
    try:
        return subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def cpu_flags():
    """``lscpu``'s flags, a set (empty without ``lscpu``)."""
    flags = re.search(r"Flags:\s*(.+)", lscpu() or "")
    return set(flags.group(1).split()) if flags else set()


#: oneDNN ISA caps (``ONEDNN_MAX_CPU_ISA``) that keep its bfloat16 kernels.
BF16_ISAS = ("ALL", "AVX512_CORE_BF16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16",
             "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16")


def bfloat16_crashes():
    """Whether bfloat16 matmuls segfault here: TensorFlow 2.21 sends them to oneDNN because
    the CPU has AVX512_BF16, while ``ONEDNN_MAX_CPU_ISA`` has capped oneDNN below the ISA
    those kernels need (the numerics benchmark's ``avx2`` setting on an AVX-512 machine). A
    CPU that really lacks AVX512_BF16 takes another path and is not affected;
    ``test_machine`` checks that the crash still happens where this says it does."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    return (bool(cap) and cap not in BF16_ISAS and os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0"
            and "avx512_bf16" in cpu_flags())


#: Marks a test that trains in bfloat16: skipped where :func:`bfloat16_crashes`.
skip_bfloat16_crash = pytest.mark.skipif(
    bfloat16_crashes(), reason="TensorFlow segfaults in bfloat16 matmul when "
    "ONEDNN_MAX_CPU_ISA caps oneDNN below this CPU's AVX512_BF16 (see tests/machine.py)")


def cpu_model():
    """``"<model name> (<widest ISA>)"`` from ``lscpu``, or ``"unknown CPU"`` without it."""
    text = lscpu()
    if text is None:
        return "unknown CPU"
    name = re.search(r"Model name:\s*(.+)", text)
    return f"{name.group(1).strip() if name else 'unknown CPU'} ({isa(cpu_flags())})"


def cpu_and_cores():
    """``"<cpu_model()>, <N> cores"``."""
    return f"{cpu_model()}, {os.cpu_count()} cores"


def describe():
    """One line: the CPU, its cores and each kernel variable's value (or ``unset``)."""
    settings = ", ".join(f"{name}={os.environ.get(name, 'unset')}" for name in KERNEL_VARIABLES)
    return f"CPU: {cpu_and_cores()}; {settings}"
