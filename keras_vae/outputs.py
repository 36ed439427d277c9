"""Writing results without damaging earlier ones: every file is written under a temporary
name beside its target and renamed when complete, JSON is always valid, and a run into a
folder that holds an earlier run's results keeps them until it succeeds.
"""

import contextlib
import csv
import functools
import inspect
import json
import math
import os
import shutil
import threading

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: folders are not claimed (see `claimed`)
    fcntl = None

#: The folder inside an output folder where :func:`replacing_folder` keeps the earlier run's
#: files while a new one runs over them.
PREVIOUS = ".previous"

#: The file of a run's figures, written by ``keras-vae train`` when training finishes and by
#: ``keras-vae evaluate``: its presence marks a finished run.
METRICS_FILE = "metrics.json"


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary path beside ``path`` with the same extension; when the block ends
    without an error the file there replaces ``path`` (atomically), otherwise it is deleted
    and ``path`` is left as it was."""
    path = os.fspath(path)
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    tmp = os.path.join(folder, f".{stem}.partial-{os.getpid()}{ext}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def finite_or_none(value):
    """``value`` with every non-finite float (NaN, ±inf) replaced by ``None`` and NumPy scalars
    and arrays made plain Python, so that it is valid JSON."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, np.ndarray):
        return finite_or_none(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path, value):
    """Writes ``value`` as JSON (non-finite numbers as ``null``), replacing ``path`` only when
    complete. Returns ``path``."""
    with replacing(path) as tmp, open(tmp, "w") as f:
        json.dump(finite_or_none(value), f, indent=2, allow_nan=False)
        f.write("\n")
    return os.fspath(path)


def write_csv(path, rows, fieldnames):
    """Writes ``rows`` (dicts) as CSV with ``fieldnames`` as its header, replacing ``path``
    only when complete. Returns ``path``."""
    with replacing(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return os.fspath(path)


def holds_results(folder):
    """Whether ``folder`` exists and has anything in it."""
    return os.path.isdir(folder) and bool(os.listdir(folder))


class replacing_folder:
    """Context manager for a run that writes into ``folder`` over an earlier run's results.

    On entry the earlier files move into ``folder/.previous/``; when the block ends without
    an error they are deleted, and when it fails (an exception, ``KeyboardInterrupt``
    included) the new files are deleted and the earlier ones moved back, as they were. A run
    killed outright leaves ``.previous/`` in place: the next entry keeps it (the complete
    earlier run) and clears what the killed run wrote, except the names in ``keep`` (its
    backup, which the new run resumes from).
    """

    def __init__(self, folder, keep=()):
        self.folder = os.fspath(folder)
        self.previous = os.path.join(self.folder, PREVIOUS)
        self.keep = set(keep)

    def _entries(self):
        return [n for n in os.listdir(self.folder) if n != PREVIOUS]

    def __enter__(self):
        os.makedirs(self.folder, exist_ok=True)
        if os.path.isdir(self.previous):
            for name in self._entries():
                if name not in self.keep:
                    _remove(os.path.join(self.folder, name))
        else:
            os.makedirs(self.previous)
            for name in self._entries():
                if name not in self.keep:
                    os.replace(os.path.join(self.folder, name),
                               os.path.join(self.previous, name))
        return self

    def __exit__(self, kind, error, trace):
        if kind is None:
            shutil.rmtree(self.previous, ignore_errors=True)
            return False
        for name in self._entries():
            _remove(os.path.join(self.folder, name))
        for name in os.listdir(self.previous):
            os.replace(os.path.join(self.previous, name), os.path.join(self.folder, name))
        os.rmdir(self.previous)
        return False


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


class FolderInUse(OSError):
    """Raised when a run's folder is claimed by another process."""


#: The folders this process has claimed: real path -> [descriptor, depth].
_claims = {}
_claims_lock = threading.Lock()


@contextlib.contextmanager
def claimed(folder):
    """Claims ``folder`` (created if missing) for this process while the block runs: another
    process entering ``claimed`` on it meanwhile gets :class:`FolderInUse` at once, so two
    runs cannot write into one folder. The claim is an advisory lock on the folder itself
    (``flock``, no file is written); the system drops it when the process ends, killed
    included, so a dead run never leaves the folder claimed. Nested claims of one folder in
    one process are allowed; a folder the claim created is removed if it is still empty at
    the end. Where ``fcntl`` is missing (Windows) nothing is claimed."""
    created = not os.path.isdir(folder)
    os.makedirs(folder, exist_ok=True)
    key = os.path.realpath(folder)
    with _claims_lock:
        held = _claims.get(key)
        if held is None and fcntl is not None:
            descriptor = os.open(key, os.O_RDONLY)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise FolderInUse(
                    f"{folder} is in use by another process (a run or scoring writing into "
                    "it): wait for it to end, or choose another output folder") from None
            held = _claims[key] = [descriptor, 0]
        if held is not None:
            held[1] += 1
    try:
        yield folder
    finally:
        with _claims_lock:
            if created and not os.listdir(folder):  # only the outermost claim created it
                os.rmdir(folder)  # a run refused before writing leaves no folder behind
            if held is not None:
                held[1] -= 1
                if held[1] == 0:
                    del _claims[key]
                    os.close(held[0])  # closing the descriptor releases the lock


def claims_folder(parameter):
    """Decorator: each call of the function runs with the folder passed as its argument
    ``parameter`` :func:`claimed`."""
    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with claimed(signature.bind(*args, **kwargs).arguments[parameter]):
                return function(*args, **kwargs)
        return wrapper
    return decorate
