"""The session header names the CPU and the kernel settings a run's numbers depend on."""

import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests import conftest
from tests import machine


@pytest.mark.parametrize("flags, expected", [
    (["fma", "avx2", "avx512f", "avx512bw"], "AVX-512"),
    (["fma", "avx", "avx2"], "AVX2"),  # the AMD EPYC (Zen 3) on which issue 24's test failed
    (["sse4_2", "avx"], "no AVX2"),
    ([], "no AVX2"),
])
def test_isa_is_the_widest_vector_extension_among_the_flags(flags, expected):
    assert machine.isa(flags) == expected


def test_header_gives_the_cpu_and_every_kernel_variable(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    header = conftest.pytest_report_header(config=None)
    assert header.startswith("CPU: ")
    assert ("TF_ENABLE_ONEDNN_OPTS=0, TF_NUM_INTRAOP_THREADS=unset, ONEDNN_MAX_CPU_ISA=AVX2"
            in header)
    if shutil.which("lscpu"):
        assert "unknown CPU" not in header
        assert header.split(" (", 1)[1].split(")")[0] in ("AVX-512", "AVX2", "no AVX2")


def test_without_lscpu_the_cpu_is_unknown(monkeypatch):
    monkeypatch.setenv("PATH", "")
    machine.lscpu.cache_clear()
    try:
        assert machine.cpu_model() == "unknown CPU"
    finally:
        machine.lscpu.cache_clear()


BF16_MATMUL = (
    "import tensorflow as tf\n"
    "a = tf.cast(tf.ones((64, 64)), tf.bfloat16)\n"
    "print(float(tf.reduce_sum(tf.cast(tf.matmul(a, a), tf.float32))))\n"
)


@pytest.mark.skipif("avx512_bf16" not in machine.cpu_flags(),
                    reason="the crash needs a CPU with AVX512_BF16")
def test_bfloat16_crash_that_the_mixed_precision_skips_name_still_happens(monkeypatch):
    # The bfloat16 tests are skipped where machine.bfloat16_crashes() says so; this fails the
    # day TensorFlow stops crashing there, and the skips should go.
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert machine.bfloat16_crashes()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", BF16_MATMUL], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -signal.SIGSEGV, (proc.returncode, proc.stdout, proc.stderr[-500:])
    # Without the cap the same matmul runs (64 ones summed over 64 x 64 entries).
    env.pop("ONEDNN_MAX_CPU_ISA")
    proc = subprocess.run([sys.executable, "-c", BF16_MATMUL], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and float(proc.stdout) == 64.0 ** 3, proc.stderr[-500:]


def test_bfloat16_crashes_only_with_onednn_capped_below_bf16(monkeypatch):
    monkeypatch.setattr(machine, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert not machine.bfloat16_crashes()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert machine.bfloat16_crashes()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert not machine.bfloat16_crashes()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert not machine.bfloat16_crashes()
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    monkeypatch.setattr(machine, "cpu_flags", lambda: {"avx2", "fma"})  # a real AVX2 CPU
    assert not machine.bfloat16_crashes()
