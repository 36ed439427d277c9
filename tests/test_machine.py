"""The session header names the CPU and the kernel settings a run's numbers depend on."""

import shutil

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
    assert machine.cpu_model() == "unknown CPU"
