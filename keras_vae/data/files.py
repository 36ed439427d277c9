"""Local files: Keras-style ``.npz`` archives and IDX files (the MNIST format, gzipped or raw)."""

import gzip
import os

import numpy as np

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: IDX file stems per split, as MNIST and Fashion-MNIST name them.
_IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


#: Bytes per read of an array from an ``.npz`` archive.
_READ_BYTES = 1 << 22


def load_npz(path, split):
    """Reads ``x_<split>`` and, if present, ``y_<split>`` from a Keras-style ``.npz``.

    Returns:
        ``(images, labels_or_None)`` as NumPy arrays, unchecked.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split for an .npz file must be 'train' or 'test'. Received: {split!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such .npz file: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:  # zip or format errors: say which file
        raise ValueError(f"Could not read {path} as an .npz archive: {err}") from err
    with archive:
        keys = set(archive.files)
        x_key, y_key = f"x_{split}", f"y_{split}"
        if x_key not in keys:
            raise ValueError(
                f"{path} has no array {x_key!r} (it has {sorted(keys)}); a Keras-style .npz holds "
                "x_train, y_train, x_test, y_test."
            )
        images = _read_aligned(archive, x_key)
        labels = archive[y_key] if y_key in keys else None
    return images, labels


def _read_aligned(archive, key):
    """``archive[key]``, read straight into an array that TensorFlow can use without a copy
    (:func:`keras_vae.data.arrays.host_tensor`), so the images are in memory once, not
    twice. Arrays in a layout that needs more than that (Fortran order, object or structured
    dtypes, newer format versions) are read by NumPy."""
    from keras_vae.data.arrays import aligned_empty

    if f"{key}.npy" not in archive.zip.namelist():  # a member not written by np.savez
        return archive[key]
    with archive.zip.open(f"{key}.npy") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            return archive[key]
        if fortran_order or dtype.hasobject or dtype.fields is not None:
            return archive[key]
        out = aligned_empty(shape, dtype)
        view, filled = memoryview(out.reshape(-1).view(np.uint8)), 0
        while filled < out.nbytes:  # in pieces: one read of it all would hold a second copy
            piece = f.read(min(_READ_BYTES, out.nbytes - filled))
            if not piece:
                raise ValueError(f"{archive.zip.filename}: array {key!r} is truncated "
                                 f"({filled} of {out.nbytes} bytes).")
            view[filled : filled + len(piece)] = piece
            filled += len(piece)
    return out


def read_idx(path):
    """Reads one IDX file (optionally gzipped) into a NumPy array.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the header or the size of the file is not valid IDX.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such IDX file: {path}")
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()}).")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header.")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX header announces shape {dims} ({expected} bytes of data) but the file "
            f"holds {len(raw) - header}."
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=False)


def _find(folder, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx",
                                                                                ".idx") + ".gz"):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def load_idx(path, split):
    """Images (and labels when found) from an IDX folder or an images file.

    A folder must hold the MNIST file names (``train-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``..., optionally ``.gz``). A path to an images file is read as
    the requested data whatever the split; its labels are the file with ``images-idx3``
    replaced by ``labels-idx1``, when it exists.
    """
    if os.path.isdir(path):
        if split not in _IDX_STEMS:
            raise ValueError("split for an IDX folder must be 'train' or 'test'. "
                             f"Received: {split!r}")
        image_stem, label_stem = _IDX_STEMS[split]
        image_file = _find(path, image_stem)
        if image_file is None:
            raise FileNotFoundError(
                f"No {image_stem}[.gz] in {path}: an IDX folder holds the MNIST file names "
                "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-...)."
            )
        label_file = _find(path, label_stem)
    else:
        image_file = path
        label_file = path.replace("images-idx3", "labels-idx1")
        label_file = label_file if label_file != path and os.path.isfile(label_file) else None
    images = read_idx(image_file)
    labels = read_idx(label_file) if label_file else None
    return images, labels


def looks_like_idx(path):
    """True for a folder or a file that can only be IDX data (by name or magic number)."""
    if os.path.isdir(path):
        return True
    if not os.path.isfile(path):
        return "idx" in os.path.basename(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        return "idx" in os.path.basename(path)
    return len(head) == 4 and head[0] == 0 and head[1] == 0 and head[2] in _IDX_DTYPES
