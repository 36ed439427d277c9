"""benchmarks/runstore.py: the store of the long benchmarks' runs (the train clock and the
training a later call reuses, trains on or refuses)."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import runstore  # noqa: E402


def clocked(path, first, last, machine="here"):
    """One ``fit`` call's epochs ``first``..``last - 1`` through the clock; its file after."""
    clock = runstore.TrainClock(path, machine)
    for epoch in range(first, last):
        clock.on_epoch_begin(epoch)
        clock.on_epoch_end(epoch)
    clock.on_train_end()
    return runstore.read_json(path)


def test_the_clock_counts_the_epochs_a_resumed_run_keeps(tmp_path):
    path = str(tmp_path / "clock.json")
    three = clocked(path, 0, 3)
    assert len(three["seconds"]) == 3 and three["seconds"] == sorted(three["seconds"])
    assert three["untimed"] == 0
    # CPU seconds beside: counted the same way, never more than one core's worth here.
    assert len(three["cpu_seconds"]) == 3 and three["cpu_seconds"] == sorted(three["cpu_seconds"])
    assert all(cpu >= 0 for cpu in three["cpu_seconds"])
    # Stopped after the clock recorded epoch 3 and before the backup did: epoch 3 again.
    again = clocked(path, 2, 3)
    assert again["seconds"][:2] == three["seconds"][:2] and len(again["seconds"]) == 3
    assert again["untimed"] == 0
    # The backup holds an epoch the clock missed: it counts 0 seconds, and is counted.
    missed = clocked(path, 4, 5)
    assert len(missed["seconds"]) == 5 and missed["seconds"][3] == missed["seconds"][2]
    assert missed["cpu_seconds"][3] == missed["cpu_seconds"][2]
    assert missed["untimed"] == 1


def test_the_clock_names_the_machine_of_each_stretch_of_epochs(tmp_path):
    path = str(tmp_path / "clock.json")
    # An older clock file: seconds only, so its two epochs' machine is unknown.
    with open(path, "w") as f:
        json.dump({"seconds": [1.0, 2.0], "untimed": 0}, f)
    clocked(path, 2, 4, "A")
    # Resumed elsewhere, and the backup held an epoch (the fifth) that the clock missed.
    clock = clocked(path, 5, 6, "B")
    assert clock["machines"] == [None, None, "A", "A", None, "B"]
    # The older file did not count CPU time, so no later total can be known.
    assert clock["cpu_seconds"] == [None] * 6
    assert runstore.stretches(clock["machines"]) == [
        {"epochs": [1, 2], "machine": None}, {"epochs": [3, 4], "machine": "A"},
        {"epochs": [5, 5], "machine": None}, {"epochs": [6, 6], "machine": "B"}]
    result = {"untimed_epochs": 1, "train_machines": runstore.stretches(clock["machines"])}
    assert runstore.timing_notes(result) == (
        " (+ 1 untimed epochs; on 2 machines; some epochs' machine unrecorded)")
    one = {"train_machines": runstore.stretches(["A", "A"])}
    assert runstore.timing_notes(one) == ""
    assert runstore.timing_notes({}) == ""  # a result stored before machines were kept


def test_a_stored_result_is_reused_only_with_the_same_settings(tmp_path):
    path = str(tmp_path / "result.json")
    assert runstore.recorded(path, {"a": 1}) is None  # nothing stored
    with open(path, "w") as f:
        json.dump({"settings": {"a": 1}, "figure": 2.5}, f)
    assert runstore.recorded(path, {"a": 1}) == {"settings": {"a": 1}, "figure": 2.5}
    assert runstore.recorded(path, {"a": 2}) is None
    assert runstore.recorded(path, {"a": 1}, overwrite=True) is None


def test_a_run_trained_otherwise_is_refused_before_anything_is_trained(tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(runstore.training, "train", lambda **kwargs: trained.append(kwargs))
    output = str(tmp_path)

    def train_run(epochs, steps_per_epoch=None, **flags):
        flags = {"resume": False, "overwrite": False, **flags}
        return runstore.train_run(output, epochs, threads=None, steps_per_epoch=steps_per_epoch,
                                  model="vae", **flags)

    assert train_run(2) and trained[-1]["epochs"] == 2 and not trained[-1]["resume"]
    with open(tmp_path / "metrics.json", "w") as f:  # what a finished run of 2 x 5 steps writes
        json.dump({"epochs": 2, "steps": 10}, f)
    del trained[:]
    assert not train_run(2) and not train_run(2, steps_per_epoch=5)  # done: nothing to train
    with pytest.raises(SystemExit, match="10 steps in 2 epochs, not 3 steps per epoch"):
        train_run(2, steps_per_epoch=3)
    with pytest.raises(SystemExit, match="trained for 2 epochs, not 3: pass --resume"):
        train_run(3)
    with pytest.raises(SystemExit, match="trained for 2 epochs, not 1"):
        train_run(1, resume=True)  # resuming goes on to more epochs, never fewer
    assert trained == []
    assert train_run(3, resume=True) and trained[-1]["resume"]
    assert train_run(1, overwrite=True) and trained[-1]["overwrite"]
    assert train_run(2, steps_per_epoch=3, overwrite=True)
    assert trained[-1]["steps_per_epoch"] == 3 and trained[-1]["model"] == "vae"


def test_a_run_records_the_commit_its_script_started_from(monkeypatch):
    """A checkout moved on while a run trains (a new commit checked out in its worktree)
    does not give the run that commit: the script reads it once, as it starts."""
    heads = iter(["a" * 40, "b" * 40])

    class Done:
        returncode = 0

        def __init__(self):
            self.stdout = next(heads) + "\n"

    runstore.git_commit.cache_clear()
    monkeypatch.setattr(runstore.subprocess, "run", lambda *args, **kwargs: Done())
    recorded = []
    runstore.run_script(lambda: recorded.append(runstore.git_commit()))
    runstore.run_script(lambda: recorded.append(runstore.git_commit()))
    runstore.git_commit.cache_clear()
    assert recorded == ["a" * 40, "a" * 40]
