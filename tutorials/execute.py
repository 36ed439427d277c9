"""Runs the tutorial notebooks top to bottom and prints how long each took.

Usage: python tutorials/execute.py [--quick] [--in-place] [--stored] [NOTEBOOK ...]

--quick sets KERAS_VAE_TUTORIAL_QUICK=1 (the tiny budget CI runs); --in-place stores the
outputs in the notebooks (how the committed outputs were made, on the full budget). Either way
the notebooks run in a temporary folder, so the pictures they write stay out of tutorials/.
--stored runs nothing: it prints how long the stored outputs took to compute, from the
execution times nbclient records in each cell, and when. Needs the [test] extra (nbclient,
nbformat, ipykernel).
"""

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MNIST = os.path.abspath(os.path.join(HERE, "..", "..", "shared", "data", "mnist.npz"))


def notebooks():
    return sorted(os.path.join(HERE, f) for f in os.listdir(HERE) if f.endswith(".ipynb"))


#: Lines TensorFlow writes whatever TF_CPP_MIN_LOG_LEVEL says: start-up notices, and the
#: INFO log of distribution strategies.
NOISE = ("WARNING: All log messages before absl::InitializeLog()", "oneDNN custom operations",
         "cpu_feature_guard", "To enable the following instructions", "Kernel is running over TCP",
         "INFO:tensorflow:")


def strip_startup_noise(notebook):
    """Drops lines of :data:`NOISE` from stored stream outputs (other warnings stay)."""
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                lines = [line for line in output["text"].splitlines(keepends=True)
                         if not any(marker in line for marker in NOISE)]
                if not "".join(lines).strip():
                    continue
                output["text"] = "".join(lines)
            kept.append(output)
        if cell.cell_type == "code":
            cell["outputs"] = kept
    return notebook


def stored_run(path):
    """``(seconds, date)`` of the run whose outputs ``path`` stores: from the first cell's
    start to the last cell's reply, as nbclient recorded them; ``(None, None)`` when the
    notebook stores no timed run."""
    import datetime
    import json

    with open(path) as f:
        cells = json.load(f)["cells"]
    stamps = [cell["metadata"]["execution"][key]
              for cell in cells if "execution" in cell.get("metadata", {})
              for key in ("iopub.execute_input", "shell.execute_reply")
              if key in cell["metadata"]["execution"]]
    times = [datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")) for stamp in stamps]
    if not times:
        return None, None
    return (max(times) - min(times)).total_seconds(), min(times).date().isoformat()


def execute(path, quick, in_place=False, workdir=None, timeout=3600):
    """Executes one notebook (``workdir``, or a temporary folder, as the working directory); returns
    the executed notebook. Raises ``nbclient.exceptions.CellExecutionError`` on any error."""
    import nbclient
    import nbformat

    saved = dict(os.environ)
    os.environ["KERAS_VAE_TUTORIAL_QUICK"] = "1" if quick else "0"
    os.environ.setdefault("KERAS_VAE_MNIST", MNIST)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    notebook = nbformat.read(path, as_version=4)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            folder = workdir or scratch   # pictures a notebook writes stay out of tutorials/
            client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                             resources={"metadata": {"path": folder}})
            client.execute()  # the kernel inherits the environment set above
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if in_place:
        nbformat.write(strip_startup_noise(notebook), path)
    return notebook


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--in-place", action="store_true")
    parser.add_argument("--stored", action="store_true")
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args()
    paths = [os.path.abspath(p) for p in args.notebooks] or notebooks()
    if args.stored:
        print("| notebook | stored run (seconds) | run on |\n| --- | --- | --- |")
        for path in paths:
            seconds, day = stored_run(path)
            print(f"| {os.path.basename(path)} | "
                  f"{'none stored' if seconds is None else f'{seconds:.0f}'} | {day or ''} |")
        return 0
    print("| notebook | mode | seconds |\n| --- | --- | --- |", flush=True)
    for path in paths:
        start = time.perf_counter()
        execute(path, args.quick, args.in_place)
        print(f"| {os.path.basename(path)} | {'quick' if args.quick else 'full'} | "
              f"{time.perf_counter() - start:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
