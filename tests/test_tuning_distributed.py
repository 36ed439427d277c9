"""Distributed search through keras-tuner's chief/worker mechanism: a chief and one worker,
two processes on 127.0.0.1, running `keras-vae tune` on a shared output folder."""

import os
import socket
import subprocess
import sys

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_chief_and_a_worker_finish_a_search(tiny_npz, tmp_path):
    out = tmp_path / "search"
    port = str(free_port())
    command = [sys.executable, "-m", "keras_vae", "tune", "--dataset", tiny_npz,
               "--max-trials", "2", "--epochs", "1", "--batch-size", "16", "--quiet",
               "--fix", "hidden_units=128", "--fix", "latent_dim=2", "--no-export",
               "--output", str(out)]
    processes = {}
    for tuner_id in ("chief", "tuner0"):
        env = {**os.environ, "KERASTUNER_TUNER_ID": tuner_id,
               "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": port,
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        processes[tuner_id] = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, text=True)
    outputs = {}
    try:
        for tuner_id, process in processes.items():
            outputs[tuner_id] = process.communicate(timeout=240)
    finally:
        for process in processes.values():
            process.kill()
    for tuner_id, process in processes.items():
        assert process.returncode == 0, (tuner_id, outputs[tuner_id][1][-2000:])
    chief = outputs["chief"][0]
    rows = [line for line in chief.splitlines() if "| COMPLETED |" in line]
    assert len(rows) == 2, chief
    assert "Worker tuner0 finished its trials" in outputs["tuner0"][0]
    assert (out / "best.keras").is_file()
