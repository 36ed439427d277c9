import gzip
import struct

import numpy as np
import pytest

import keras_vae as kv
from keras_vae.data import arrays
from keras_vae.data import files
from keras_vae.data.shapes import Shapes


def batches(ds):
    return [b for b in ds.as_numpy_iterator()]


# ---------------------------------------------------------------------------- npz
def test_npz_scaling_batching_and_labels(tiny_npz):
    raw = np.load(tiny_npz)
    ds = kv.data.load(tiny_npz, split="test", batch_size=10, labels=True)
    got = batches(ds)
    assert [len(x) for x, _ in got] == [10, 10, 10, 2]
    x = np.concatenate([b[0] for b in got])
    y = np.concatenate([b[1] for b in got])
    assert x.dtype == np.float32 and x.shape == (32, 8, 8, 1)
    np.testing.assert_allclose(x[..., 0], raw["x_test"] / 255.0, rtol=1e-6)  # unshuffled test
    np.testing.assert_array_equal(y, raw["y_test"])


def test_data_from_memory_is_served_untuned_streams_are_tuned(tiny_npz):
    # tf.data's autotuner cost the MLP VAE a quarter of its epoch on in-memory batches.
    assert kv.data.load(tiny_npz, batch_size=8).options().autotune.enabled is False
    assert kv.data.load(tiny_npz, batch_size=8, binarize="dynamic", labels=True) \
        .options().autotune.enabled is False
    assert kv.data.load("shapes", batch_size=8).options().autotune.enabled is not False
    # Nor rewritten: the rewrites serialize the graph, a copy of the images gathered from.
    assert kv.data.load(tiny_npz, batch_size=8).options() \
        .experimental_optimization.apply_default_optimizations is False


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_images_are_read_once_into_memory_tensorflow_uses_as_it_is(tmp_path, compressed):
    rng = np.random.default_rng(0)
    path = str(tmp_path / "d.npz")
    x = rng.integers(0, 256, (40, 5, 7), dtype=np.uint8)
    (np.savez_compressed if compressed else np.savez)(
        path, x_train=x, y_train=np.arange(40), x_test=np.asfortranarray(x[:4]))
    images, labels = files.load_npz(path, "train")
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, np.arange(40))
    assert images.ctypes.data % arrays.TENSOR_ALIGNMENT == 0 and images.flags.c_contiguous
    # The tensor the pipeline gathers from is that memory (a write shows through), not a copy.
    tensor = arrays.host_tensor(images)
    images[0, 0, 0] = 255 - images[0, 0, 0]
    assert tensor[0, 0, 0].numpy() == images[0, 0, 0]
    # A Fortran-ordered array is read by NumPy, then copied once into such memory.
    test, _ = files.load_npz(path, "test")
    np.testing.assert_array_equal(test, x[:4])
    copied = arrays.host_tensor(test)
    np.testing.assert_array_equal(copied.numpy(), x[:4])
    test[0, 0, 0] = 255 - test[0, 0, 0]
    assert copied[0, 0, 0].numpy() != test[0, 0, 0]  # copied: the write does not show
    read_only = np.frombuffer(x.tobytes(), np.uint8).reshape(x.shape)
    np.testing.assert_array_equal(arrays.host_tensor(read_only).numpy(), x)
    # A member named without ".npy" (written by hand, not by np.savez) is read by NumPy.
    import io
    import zipfile

    member = io.BytesIO()
    np.save(member, x)
    with zipfile.ZipFile(tmp_path / "bare.npz", "w") as z:
        z.writestr("x_train", member.getvalue())
    np.testing.assert_array_equal(files.load_npz(str(tmp_path / "bare.npz"), "train")[0], x)


def test_a_truncated_npz_array_is_named(tmp_path):
    path = str(tmp_path / "d.npz")
    np.savez(path, x_train=np.zeros((50, 8, 8), np.uint8))
    import zipfile

    with zipfile.ZipFile(path) as z:
        data = z.read("x_train.npy")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x_train.npy", data[:-100])  # the header promises 100 bytes more
    with pytest.raises(ValueError, match="array 'x_train' is truncated"):
        files.load_npz(path, "train")


def test_train_split_is_shuffled_reproducibly_and_completely(tiny_npz):
    first = np.concatenate(batches(kv.data.load(tiny_npz, batch_size=16, seed=3)))
    again = np.concatenate(batches(kv.data.load(tiny_npz, batch_size=16, seed=3)))
    raw = np.load(tiny_npz)["x_train"] / 255.0
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first[..., 0], raw)
    np.testing.assert_allclose(np.sort(first.ravel()), np.sort(raw.ravel()), rtol=1e-6)


def test_a_repeated_stream_is_a_new_permutation_every_pass(tiny_npz):
    raw = np.sort((np.load(tiny_npz)["x_train"] / 255.0).ravel())
    ds = kv.data.load(tiny_npz, batch_size=10, seed=3)
    steps = int(ds.cardinality())
    assert steps == -(-len(np.load(tiny_npz)["x_train"]) // 10)
    stream = batches(ds.repeat().take(2 * steps))
    passes = [np.concatenate(stream[:steps]), np.concatenate(stream[steps:])]
    for images in passes:
        np.testing.assert_allclose(np.sort(images.ravel()), raw, rtol=1e-6)
    assert not np.array_equal(*passes)
    dropped = kv.data.load(tiny_npz, batch_size=10, seed=3, drop_remainder=True)
    assert int(dropped.cardinality()) == len(np.load(tiny_npz)["x_train"]) // 10
    assert all(len(x) == 10 for x in batches(dropped))


@pytest.mark.parametrize("source", ["npz", "shapes"])
def test_shuffle_once_keeps_one_seeded_order_every_epoch(tiny_npz, source):
    path = tiny_npz if source == "npz" else "shapes"
    once = kv.data.load(path, split="test", batch_size=16, shuffle="once", seed=5)
    every = kv.data.load(path, split="test", batch_size=16, shuffle=True, seed=5)
    plain = kv.data.load(path, split="test", batch_size=16, shuffle=False)
    first, second = (np.concatenate(batches(once.take(4))) for _ in range(2))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, np.concatenate(batches(plain.take(4))))
    a, b = (np.concatenate(batches(every.take(4))) for _ in range(2))
    assert not np.array_equal(a, b)
    with pytest.raises(ValueError, match="`shuffle` must be True, False or 'once'"):
        kv.data.load(path, shuffle="twice")


def test_dynamic_binarization_redraws_each_epoch_static_does_not(tiny_npz):
    dyn = kv.data.load(tiny_npz, split="test", batch_size=32, binarize="dynamic")
    a, b = batches(dyn)[0], batches(dyn)[0]
    assert set(np.unique(a)) <= {0.0, 1.0} and not np.array_equal(a, b)
    raw = np.load(tiny_npz)["x_test"][..., None] / 255.0
    assert abs(a.mean() - raw.mean()) < 0.03
    static = kv.data.load(tiny_npz, split="test", batch_size=32, binarize="static")
    c, d = batches(static)[0], batches(static)[0]
    assert set(np.unique(c)) <= {0.0, 1.0}
    np.testing.assert_array_equal(c, d)
    thr = batches(kv.data.load(tiny_npz, split="test", batch_size=32, binarize="threshold"))[0]
    np.testing.assert_array_equal(thr, (raw > 0.5).astype("float32"))


def test_drop_remainder_and_no_scaling(tiny_npz):
    ds = kv.data.load(tiny_npz, split="test", batch_size=10, drop_remainder=True, scale=False)
    got = batches(ds)
    assert len(got) == 3 and got[0].max() > 1.0


def test_npz_errors(tmp_path, tiny_npz):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        kv.data.load(str(tmp_path / "missing.npz"))
    np.savez(tmp_path / "nokeys.npz", images=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="x_train"):
        kv.data.load(str(tmp_path / "nokeys.npz"))
    np.savez(tmp_path / "rank.npz", x_train=np.zeros((2, 8), np.uint8))
    with pytest.raises(ValueError, match=r"received shape \(2, 8\)\. Rows of features .* "
                       r"input_shape=\(features,\) through model.fit"):
        kv.data.load(str(tmp_path / "rank.npz"))
    np.savez(tmp_path / "rank5.npz", x_train=np.zeros((2, 8, 8, 1, 1), np.uint8))
    with pytest.raises(ValueError, match=r"received shape \(2, 8, 8, 1, 1\)\.$"):
        kv.data.load(str(tmp_path / "rank5.npz"))
    np.savez(tmp_path / "range.npz", x_train=np.full((2, 8, 8), 3.0, np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        kv.data.load(str(tmp_path / "range.npz"))
    np.savez(tmp_path / "dtype.npz", x_train=np.zeros((2, 8, 8), np.int64))
    with pytest.raises(ValueError, match="dtype"):
        kv.data.load(str(tmp_path / "dtype.npz"))
    np.savez(tmp_path / "neg.npz", x_train=np.zeros((2, 8, 8), np.uint8), y_train=np.array([0, -1]))
    with pytest.raises(ValueError, match=">= 0"):
        kv.data.load(str(tmp_path / "neg.npz"), labels=True)
    with pytest.raises(ValueError, match="num_classes=3"):
        kv.data.load(tiny_npz, labels=True, num_classes=3)
    np.savez(tmp_path / "nolabels.npz", x_train=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="no labels"):
        kv.data.load(str(tmp_path / "nolabels.npz"), labels=True)


def test_bad_options_and_unknown_names(tiny_npz):
    with pytest.raises(ValueError, match="Unknown dataset 'mnits'"):
        kv.data.load("mnits")
    with pytest.raises(ValueError, match="binarize"):
        kv.data.load(tiny_npz, binarize="always")
    with pytest.raises(ValueError, match="batch_size"):
        kv.data.load(tiny_npz, batch_size=0)
    with pytest.raises(ValueError, match="split"):
        kv.data.load(tiny_npz, split="validation")
    with pytest.raises(FileNotFoundError):
        kv.data.load("no/such/folder")


# ---------------------------------------------------------------------------- IDX
def write_idx(path, array, compress):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I",
                                                                         *array.shape)
    payload = header + array.tobytes()
    with open(path, "wb") as f:
        f.write(gzip.compress(payload) if compress else payload)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_folder_round_trip(tmp_path, compress):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(20, 6, 5), dtype=np.uint8)
    labels = rng.integers(0, 10, size=20).astype(np.uint8)
    suffix = ".gz" if compress else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, compress)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, compress)
    read = files.read_idx(str(tmp_path / f"train-images-idx3-ubyte{suffix}"))
    np.testing.assert_array_equal(read, images)
    ds = kv.data.load(str(tmp_path), split="train", batch_size=32, labels=True, shuffle=False)
    x, y = batches(ds)[0]
    np.testing.assert_allclose(x[..., 0], images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)
    # A single images file works too, its labels found beside it.
    ds = kv.data.load(str(tmp_path / f"train-images-idx3-ubyte{suffix}"), batch_size=32,
                      labels=True, shuffle=False)
    np.testing.assert_array_equal(batches(ds)[0][1], labels)


def test_idx_errors(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">3I", 10, 6, 5) + b"\x00" * 7)
    with pytest.raises(ValueError, match="announces shape"):
        kv.data.load(str(bad))
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        kv.data.load(str(tmp_path))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"PK\x03\x04junk")
    with pytest.raises(ValueError, match="neither"):
        kv.data.load(str(junk))


# ---------------------------------------------------------------------------- TFDS (mocked)
@pytest.mark.parametrize(
    "name, shape, labels",
    [("mnist", (28, 28, 1), True), ("cifar10", (32, 32, 3), True),
     ("celeb_a", (64, 64, 3), False),
     ("dsprites", (64, 64, 1), True)],
)
def test_tfds_sources_through_mock_data(name, shape, labels):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        ds = kv.data.load(name, split="train", batch_size=5, labels=labels, binarize="dynamic")
        got = batches(ds)
    xs = [b[0] if labels else b for b in got]
    assert [len(x) for x in xs] == [5, 5, 2]
    assert xs[0].shape[1:] == shape and xs[0].dtype == np.float32
    assert set(np.unique(np.concatenate(xs))) <= {0.0, 1.0}
    if labels:
        assert got[0][1].dtype == np.int32


def test_tfds_dataset_without_labels_says_so(monkeypatch):
    from keras_vae.data import tfds_source

    # Every dataset listed today has labels or attributes; one without says so up front.
    monkeypatch.setitem(tfds_source.TFDS_DATASETS, "mnist", ((28, 28, 1), 255, None, None, None))
    with pytest.raises(ValueError, match="no class label"):
        tfds_source.load_tfds("mnist", "train", labels=True)


def test_celeb_a_yields_its_40_attributes_as_float_conditions():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        x, c = next(iter(kv.data.load("celeb_a", labels=True, batch_size=6)))
    assert tuple(x.shape) == (6, 64, 64, 3) and tuple(c.shape) == (6, 40)
    assert c.dtype == "float32" and set(np.unique(c)) <= {0.0, 1.0}


def test_npz_condition_arrays_become_float_conditions(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "cond.npz"
    conditions = rng.standard_normal((10, 3)).astype("float32")
    np.savez(path, x_train=rng.integers(0, 256, (10, 4, 4), dtype=np.uint8), y_train=conditions)
    _, c = next(iter(kv.data.load(str(path), labels=True, batch_size=10, shuffle=False)))
    np.testing.assert_array_equal(np.asarray(c), conditions)
    conditions[2, 1] = np.nan
    np.savez(path, x_train=rng.integers(0, 256, (10, 4, 4), dtype=np.uint8), y_train=conditions)
    with pytest.raises(ValueError, match="must be finite"):
        kv.data.load(str(path), labels=True)


# ---------------------------------------------------------------------------- shapes
def test_shapes_grid_matches_dsprites():
    shapes = Shapes()
    assert shapes.num_images == 3 * 6 * 40 * 32 * 32 == 737_280
    idx = np.array([0, 1, 32, 1024, 40 * 1024, 6 * 40 * 1024, shapes.num_images - 1])
    factors = shapes.index_to_factors(idx)
    np.testing.assert_array_equal(factors[-1], [2, 5, 39, 31, 31])
    np.testing.assert_array_equal(factors[3], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(shapes.factors_to_index(factors), idx)
    values = shapes.factor_values_of(factors)
    np.testing.assert_allclose(values[-1], [2, 1.0, 2 * np.pi * 39 / 40, 1.0, 1.0], rtol=1e-6)


def centroid(image):
    rows, cols = np.nonzero(image[..., 0])
    return rows.mean(), cols.mean()


def test_shape_images_follow_their_factors():
    shapes = Shapes()
    f = lambda *row: shapes.images(shapes.factors_to_index([row]))[0]  # noqa: E731
    left, right = f(0, 3, 0, 0, 16), f(0, 3, 0, 31, 16)
    assert centroid(right)[1] - centroid(left)[1] > 30  # x moves columns
    top, bottom = f(1, 3, 0, 16, 0), f(1, 3, 0, 16, 31)
    assert centroid(bottom)[0] - centroid(top)[0] > 30  # y moves rows
    small, big = f(0, 0, 0, 16, 16).sum(), f(0, 5, 0, 16, 16).sum()
    assert 3.0 < big / small < 5.0  # area ~ scale^2 = 4
    # a square rotated by a quarter turn covers the same pixels (orientation 10 of 40)
    np.testing.assert_array_equal(f(0, 5, 0, 16, 16), f(0, 5, 10, 16, 16))
    assert not np.array_equal(f(0, 5, 0, 16, 16), f(0, 5, 5, 16, 16))
    # the three shapes differ
    assert len({f(s, 5, 3, 16, 16).tobytes() for s in range(3)}) == 3
    image = f(2, 5, 7, 16, 16)
    assert set(np.unique(image)) == {0.0, 1.0}


def test_shapes_dataset_streams_with_labels_and_fixed_test_split():
    shapes = Shapes()
    test_idx = shapes.split_indices("test")
    assert len(test_idx) == 10_000 and len(shapes.split_indices("train")) == 727_280
    assert not np.intersect1d(test_idx, shapes.split_indices("train")).size
    x, y = batches(kv.data.load("shapes", split="test", batch_size=8, labels=True).take(1))[0]
    np.testing.assert_array_equal(x, shapes.images(test_idx[:8]))
    np.testing.assert_array_equal(y, shapes.index_to_factors(test_idx[:8])[:, 0])
