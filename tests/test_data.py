"""vae/data.py: built-in datasets, user files of every kind, and every refusal."""

from __future__ import annotations

import gzip
import io
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from bad_input import idx_bytes, png_bytes
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from vae import checkpoints, data, dataset_cache, file_readers, shapes
from vae.data import DataError

# --------------------------------------------------------------------------- helpers


def refused(call: Callable[[], object], *needles: str) -> str:
    """Assert `call` raises DataError with one sentence containing every needle."""
    with pytest.raises(DataError) as info:
        call()
    msg = str(info.value)
    for needle in needles:
        assert needle in msg, msg
    assert msg.endswith(".") and "\n" not in msg and ". " not in msg, msg
    return msg


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def balanced_labels(n: int, k: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.arange(n) % k)


def make_mnist(
    folder: Path,
    gz: bool = True,
    dotted: bool = False,
    n_train: int = 100,
    n_test: int = 20,
    side: int = 12,
) -> Path:
    rng = np.random.default_rng(1)
    for part, n in (("train", n_train), ("t10k", n_test)):
        arrays = {
            "images": ("idx3", rng.integers(0, 256, (n, side, side))),
            "labels": ("idx1", balanced_labels(n, 10)),
        }
        for kind, (idx, a) in arrays.items():
            name = f"{part}-{kind}.{idx}-ubyte" if dotted else f"{part}-{kind}-{idx}-ubyte"
            content = idx_bytes(a)
            if gz:
                name, content = name + ".gz", gzip.compress(content)
            write(folder / name, content)
    return folder


def assert_disjoint_cover(dataset: data.Dataset, n: int) -> None:
    """Images carry their own index in pixel (0, 0): splits must partition 0..n-1."""
    ids = [
        np.rint(s.images()[:, 0, 0, 0] * 255).astype(int)
        for s in (dataset.train, dataset.val, dataset.test)
    ]
    assert sorted(np.concatenate(ids)) == list(range(n))


# --------------------------------------------------------------------------- digits


def test_digits_matches_the_documented_split():
    d = data.load_dataset("digits")
    assert (len(d.train), len(d.val), len(d.test)) == (1293, 144, 360)
    assert d.image_shape == (1, 8, 8) and d.num_classes == 10
    assert d.class_names == [str(i) for i in range(10)]
    assert d.train.x.dtype == np.float32 and d.train.y.dtype == np.int64
    x, y = load_digits(return_X_y=True)
    rest, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=0)
    train, val = train_test_split(rest, test_size=0.1, stratify=y[rest], random_state=0)
    # vae/digits_split.npz holds these indices, in this order, so that no app or job start
    # imports scikit-learn; were they to differ, write that file again from these three.
    for split, index in ((d.train, train), (d.val, val), (d.test, test)):
        np.testing.assert_array_equal(split.x.reshape(-1, 64), (x[index] / 16).astype(np.float32))
        np.testing.assert_array_equal(split.y, y[index])
    assert set(np.bincount(d.test.y)) <= {35, 36, 37}  # stratified
    images = d.val.images()
    assert images.dtype == np.float32 and images.min() == 0 and images.max() == 1


def test_digits_is_deterministic_and_resizable():
    a, b = data.load_dataset("digits"), data.load_dataset("digits")
    np.testing.assert_array_equal(a.train.x, b.train.x)
    big = data.load_dataset("digits", image_size=16)
    assert big.image_shape == (1, 16, 16) and 0 <= big.test.x.min() <= big.test.x.max() <= 1


def test_split_images_accepts_none_slice_int_and_array():
    d = data.load_dataset("digits")
    assert d.test.images().shape == (360, 1, 8, 8)
    assert d.test.images(slice(0, 5)).shape == (5, 1, 8, 8)
    assert d.test.images(3).shape == (1, 1, 8, 8)
    assert d.test.images(np.array([0, 2, 4])).shape == (3, 1, 8, 8)
    d.test.images(slice(0, 5))[:] = 7  # a fresh array: the dataset is untouched
    assert d.test.x.max() <= 1


# --------------------------------------------------------------------------- shapes


def test_shapes_dataset_splits_the_whole_grid():
    d = data.load_dataset("shapes")
    assert (len(d.train), len(d.val), len(d.test)) == (36864, 4608, 4608)
    assert d.image_shape == (1, 32, 32) and d.train.x.dtype == np.uint8
    assert d.class_names == ["square", "ellipse", "heart"]
    assert d.factor_names == list(shapes.FACTOR_NAMES)
    assert d.factor_sizes == [3, 6, 10, 16, 16]
    splits = (d.train, d.val, d.test)
    for s in splits:
        np.testing.assert_array_equal(s.y, s.factors[:, 0])
        np.testing.assert_array_equal(s.x, shapes.render(s.factors))
    codes = np.concatenate([np.ravel_multi_index(s.factors.T, (3, 6, 10, 16, 16)) for s in splits])
    assert sorted(codes) == list(range(46080))
    again = data.load_dataset("shapes")
    np.testing.assert_array_equal(again.test.factors, d.test.factors)


# --------------------------------------------------------------------------- MNIST IDX


@pytest.mark.parametrize("gz, dotted", [(True, False), (False, False), (True, True)])
def test_mnist_folder(tmp_path, gz, dotted):
    d = data.load_dataset(f"mnist:{make_mnist(tmp_path, gz=gz, dotted=dotted)}")
    assert (len(d.train), len(d.val), len(d.test)) == (90, 10, 20)
    assert d.image_shape == (1, 12, 12) and d.train.x.dtype == np.uint8
    assert d.class_names == [str(i) for i in range(10)]
    assert sorted(d.val.y) == list(range(10))  # stratified: one of each digit
    assert d.train.images().max() <= 1


def test_mnist_test_split_is_t10k_in_order(tmp_path):
    make_mnist(tmp_path, gz=False)
    raw = (tmp_path / "t10k-images-idx3-ubyte").read_bytes()
    d = data.load_dataset(f"mnist:{tmp_path}")
    np.testing.assert_array_equal(d.test.x.ravel(), np.frombuffer(raw, np.uint8, offset=16))


def test_an_idx_folder_is_parsed_once_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")
    folder = make_mnist(tmp_path / "m")
    first = data.load_dataset(f"mnist:{folder}")
    with monkeypatch.context() as broken:  # a second open neither parses nor splits again
        broken.setattr(data, "read_idx", lambda *a, **k: pytest.fail("parsed again"))
        broken.setattr(data, "_split_off", lambda *a, **k: pytest.fail("split again"))
        again = data.load_dataset(f"mnist:{folder}")
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(again, part).x, getattr(first, part).x)
        np.testing.assert_array_equal(getattr(again, part).y, getattr(first, part).y)
    pixels = sum(f.stat().st_size for f in dataset_cache.cache_dir().glob("idx-*.npy")
                 if np.load(f, mmap_mode="r").ndim == 3)
    assert pixels <= 1.2 * (100 + 20) * 12 * 12  # uint8, no more than 1.2x the raw pixels

    # New content of the same size, written at once: read as new, never the cached array.
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    write(labels, gzip.compress(idx_bytes(balanced_labels(20, 10, seed=5))))
    np.testing.assert_array_equal(data.load_dataset(f"mnist:{folder}").test.y,
                                  balanced_labels(20, 10, seed=5))

    # A file older than its hashing is known by its size and time: not even read.
    for file in folder.iterdir():
        os.utime(file, (1e9, 1e9))
    data.load_dataset(f"mnist:{folder}")
    monkeypatch.setattr(data, "read_file", lambda path: pytest.fail(f"{path} read again"))
    assert len(data.load_dataset(f"mnist:{folder}").test) == 20


def test_a_refused_idx_folder_leaves_nothing_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")
    folder = make_mnist(tmp_path / "m")
    write(folder / "t10k-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(np.arange(19) % 10)))
    refused(lambda: data.load_dataset(f"mnist:{folder}"), "19 labels for 20")
    assert not (tmp_path / "cache").exists()  # the three good files were parsed, not kept
    write(folder / "t10k-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(np.arange(20) % 10)))
    data.load_dataset(f"mnist:{folder}")
    assert len(list(dataset_cache.cache_dir().glob("idx-*.npy"))) == 4  # accepted: kept


def test_class_names_from_a_file_beside_the_idx_files_or_given(tmp_path):
    folder = make_mnist(tmp_path / "m")
    names = [f"kind {i}" for i in range(10)]
    write(folder / data.NAMES_FILE, ("\n".join(names) + "\n").encode())
    assert data.load_dataset(f"mnist:{folder}").class_names == names
    given = list("abcdefghij")
    assert data.load_dataset(f"mnist:{folder}", class_names=given).class_names == given
    refused(lambda: data.load_dataset(f"mnist:{folder}", class_names=["a", "b"]),
            "2 class names", "10 classes")
    refused(lambda: data.load_dataset(f"mnist:{folder}", class_names=list("abcdefghia")),
            "distinct")
    write(folder / data.NAMES_FILE, b"one\ntwo\n")
    refused(lambda: data.load_dataset(f"mnist:{folder}"), data.NAMES_FILE, "2 class names")
    # Names given replace a names file, even a broken one.
    assert data.load_dataset(f"mnist:{folder}", class_names=given).class_names == given


def test_mnist_refusals(tmp_path, monkeypatch):
    refused(lambda: data.load_dataset(f"mnist:{tmp_path / 'nope'}"), "nope", "no such folder")
    folder = make_mnist(tmp_path / "m", gz=False)
    labels = folder / "t10k-labels-idx1-ubyte"
    images = folder / "t10k-images-idx3-ubyte"
    spec = f"mnist:{folder}"
    # First, with a cache of its own: a file once parsed is read from the cache, not inflated.
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")
    with monkeypatch.context() as limited:
        limited.setattr(file_readers, "MAX_DECOMPRESSED_BYTES", 10_000)
        refused(lambda: data.load_dataset(spec), "train-images-idx3-ubyte", "14,400 bytes",
                "limit")

    labels.unlink()
    refused(lambda: data.load_dataset(spec), "t10k-labels-idx1-ubyte", "missing")
    write(labels, idx_bytes(np.arange(19) % 10))
    refused(lambda: data.load_dataset(spec), "t10k-labels-idx1-ubyte", "19 labels for 20")
    write(labels, b"")
    refused(lambda: data.load_dataset(spec), "t10k-labels-idx1-ubyte", "empty")
    write(labels, b"\0\0\x0d\x01" + bytes(24))
    refused(lambda: data.load_dataset(spec), "t10k-labels-idx1-ubyte", "wrong magic")
    write(labels, idx_bytes(np.arange(20) % 10))

    good = images.read_bytes()
    write(images, good[:10])
    refused(lambda: data.load_dataset(spec), "t10k-images-idx3-ubyte", "header is truncated")
    write(images, good[:-5])
    refused(lambda: data.load_dataset(spec), "t10k-images-idx3-ubyte", "truncated")
    write(images, good[:4] + np.array([1000, 12, 12], ">u4").tobytes() + good[16:])
    refused(lambda: data.load_dataset(spec), "t10k-images-idx3-ubyte", "header describes")
    write(images, idx_bytes(np.zeros((20, 12), np.uint8)))
    refused(lambda: data.load_dataset(spec), "t10k-images-idx3-ubyte", "2-D")
    write(images, idx_bytes(np.zeros((20, 4, 4), np.uint8)))
    refused(lambda: data.load_dataset(spec), "t10k-images-idx3-ubyte", "smaller than")
    write(images, gzip.compress(good)[:-20])
    refused(lambda: data.load_dataset(spec), "t10k-images-idx3-ubyte", "gzip")
    write(images, gzip.compress(good))
    assert len(data.load_dataset(spec).test) == 20


def test_a_gzip_is_inflated_no_further_than_its_header_says(monkeypatch):
    reads = []
    real_read = gzip.GzipFile.read

    def spy(self, size=-1):
        reads.append(size)
        return real_read(self, size)

    monkeypatch.setattr(gzip.GzipFile, "read", spy)
    zeros = gzip.compress(bytes(10**7))
    refused(lambda: data.load_upload({"zeros.gz": zeros}), "zeros.gz", "wrong magic")
    assert reads == [4]
    reads.clear()
    bomb = gzip.compress(idx_bytes(np.zeros((10, 10, 10))) + bytes(10**7))
    refused(lambda: data.load_upload({"bomb.gz": bomb}), "bomb.gz", "more data than the 1,000")
    assert reads == [4, 12, 1001]


def test_file_size_is_checked_before_reading(tmp_path, monkeypatch):
    folder = make_mnist(tmp_path, gz=False)
    monkeypatch.setattr(file_readers, "MAX_UPLOAD_BYTES", 1000)

    def no_read(self):
        raise AssertionError(f"read {self} despite the size limit")

    monkeypatch.setattr(Path, "read_bytes", no_read)
    refused(lambda: data.load_dataset(f"mnist:{folder}"), "train-images-idx3-ubyte", "limit")


# --------------------------------------------------------------------------- npz

N = 40


def ids_images(shape=(N, 10, 10)) -> np.ndarray:
    x = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    x.reshape(N, -1)[:, 0] = np.arange(N)  # pixel (0, 0) of the first channel holds the id
    return x


@pytest.mark.parametrize(
    "make, dtype, shape",
    [
        (lambda: ids_images(), np.uint8, (1, 10, 10)),
        (lambda: ids_images()[..., None], np.uint8, (1, 10, 10)),
        (lambda: ids_images()[:, None], np.uint8, (1, 10, 10)),
        (lambda: ids_images((N, 3, 10, 12)), np.uint8, (3, 10, 12)),
        (lambda: ids_images((N, 10, 12, 3)), np.uint8, (3, 10, 12)),
        (lambda: ids_images().astype(np.int64), np.uint8, (1, 10, 10)),
        (lambda: ids_images().astype(np.float64) / 255, np.float32, (1, 10, 10)),
        (lambda: ids_images() > 127, np.uint8, (1, 10, 10)),
    ],
    ids=["NHW", "NHW1", "N1HW", "NCHW-rgb", "NHWC-rgb", "int64", "float64", "bool"],
)
def test_npz_layouts_and_dtypes(tmp_path, make, dtype, shape):
    x = make()
    path = write(tmp_path / "d.npz", npz_bytes(x=x))
    d = data.load_dataset(f"npz:{path}")
    assert d.name == f"npz:{path}" and d.image_shape == shape and d.train.x.dtype == dtype
    assert (len(d.train), len(d.val), len(d.test)) == (32, 4, 4)
    assert d.train.y is None and d.class_names == [] and d.num_classes == 0
    if x.dtype != bool:
        assert_disjoint_cover(d, N)
    images = d.train.images()
    assert images.dtype == np.float32 and images.min() >= 0 and images.max() <= 1


def test_npz_nhwc_keeps_pixels_in_place(tmp_path):
    x = ids_images((N, 10, 12, 3))
    d = data.load_dataset(f"npz:{write(tmp_path / 'c.npz', npz_bytes(x=x))}")
    everything = np.concatenate([d.train.x, d.val.x, d.test.x])
    by_id = everything[np.argsort(everything[:, 0, 0, 0])]
    np.testing.assert_array_equal(by_id, x.transpose(0, 3, 1, 2))


def test_npz_labels_are_remapped_and_splits_stratified(tmp_path):
    y = np.where(balanced_labels(100, 2) == 0, "dog", "cat")
    x = np.zeros((100, 8, 8), np.uint8)
    x[:, 0, 0] = np.arange(100)
    d = data.load_dataset(f"npz:{write(tmp_path / 'l.npz', npz_bytes(x=x, y=y))}")
    assert d.class_names == ["cat", "dog"] and d.train.y.dtype == np.int64
    assert (len(d.train), len(d.val), len(d.test)) == (80, 10, 10)
    assert list(np.bincount(d.test.y)) == [5, 5] and list(np.bincount(d.val.y)) == [5, 5]
    assert_disjoint_cover(d, 100)
    for split in (d.train, d.val, d.test):  # labels travel with their images
        ids = split.x[:, 0, 0, 0]
        np.testing.assert_array_equal(np.array(d.class_names)[split.y], y[ids])
    again = data.load_dataset(f"npz:{tmp_path / 'l.npz'}")
    np.testing.assert_array_equal(again.val.x, d.val.x)


def test_npz_integer_labels_with_a_singleton_class_fall_back_to_random_split(tmp_path):
    y = np.array([7] * 29 + [3])
    d = data.load_dataset(f"npz:{write(tmp_path / 's.npz', npz_bytes(x=ids_images()[:30], y=y))}")
    assert d.class_names == ["3", "7"]
    assert (len(d.train), len(d.val), len(d.test)) == (24, 3, 3)


def test_big_npz_images_are_fine_when_resized(tmp_path):
    path = write(tmp_path / "big.npz", npz_bytes(x=np.full((12, 200, 150), 0.5, np.float32)))
    refused(lambda: data.load_dataset(f"npz:{path}"), "big.npz", "200x150", "larger than")
    d = data.load_dataset(f"npz:{path}", image_size=32)
    assert d.image_shape == (1, 32, 32) and np.allclose(d.train.x, 0.5)
    refused(lambda: data.load_dataset(f"npz:{path}", image_size=4), "Image size 4", "8..128")


def _bad_npz_cases() -> dict[str, tuple[Callable[[], bytes], str]]:
    x = ids_images()
    nan = x / 255.0
    nan[3, 2, 2] = np.nan
    inf, minus_inf = x / 255.0, x / 255.0
    inf[0, 0, 0], minus_inf[1, 1, 1] = np.inf, -np.inf
    labels = balanced_labels(N, 4)
    return {
        "random bytes": (lambda: np.random.default_rng(0).bytes(500), "not an .npz"),
        "png renamed": (lambda: png_bytes(), "not an .npz"),
        "no x": (lambda: npz_bytes(images=x), "no array named 'x' (found images)"),
        "zip with a prefix": (lambda: b"junk" + npz_bytes(x=x), "not an .npz"),
        "x garbage": (lambda: zip_of({"x.npy": b"hello"}), "array 'x' is damaged"),
        "1-D": (lambda: npz_bytes(x=np.arange(5, dtype=np.uint8)), "shape (5,)"),
        "5-D": (lambda: npz_bytes(x=np.zeros((2, 1, 8, 8, 1), np.uint8)), "shape (2, 1, 8, 8, 1)"),
        "2 channels": (lambda: npz_bytes(x=np.zeros((N, 2, 8, 8), np.uint8)), "C = 1 or 3"),
        "object": (lambda: npz_bytes(x=np.array([[1, None]], object)), "object array"),
        "string": (lambda: npz_bytes(x=np.array(["a", "b"])), "dtype <U1"),
        "complex": (lambda: npz_bytes(x=np.zeros((N, 8, 8), complex)), "dtype complex128"),
        "NaN": (lambda: npz_bytes(x=nan), "contains NaN"),
        "+inf": (lambda: npz_bytes(x=inf), "infinite"),
        "-inf": (lambda: npz_bytes(x=minus_inf), "infinite"),
        "float range": (lambda: npz_bytes(x=x.astype(np.float32)), "0 to 255, outside [0, 1]"),
        "negative": (lambda: npz_bytes(x=x.astype(np.int16) - 1), "-1 to 254, outside 0..255"),
        "above 255": (lambda: npz_bytes(x=x.astype(np.int16) + 45), "outside 0..255"),
        "0 images": (lambda: npz_bytes(x=np.zeros((0, 8, 8), np.uint8)), "0 images"),
        "too few": (lambda: npz_bytes(x=x[:9]), "9 images, fewer than"),
        "1x1": (lambda: npz_bytes(x=np.zeros((N, 1, 1), np.uint8)), "1x1 pixels, smaller"),
        "7x8": (lambda: npz_bytes(x=np.zeros((N, 7, 8), np.uint8)), "7x8 pixels, smaller"),
        "129x129": (lambda: npz_bytes(x=np.zeros((N, 129, 129), np.uint8)), "larger than"),
        "label count": (lambda: npz_bytes(x=x, y=labels[:-1]), "39 labels for 40 images"),
        "label shape": (lambda: npz_bytes(x=x, y=np.zeros((N, 2), int)), "one label per image"),
        "float labels": (lambda: npz_bytes(x=x, y=labels / 2), "dtype float64"),
        "object labels": (lambda: npz_bytes(x=x, y=np.array([None] * N)), "'y' is an object"),
        "101 classes": (
            lambda: npz_bytes(x=np.zeros((101, 8, 8), np.uint8), y=np.arange(101)),
            "101 classes, more than the limit of 100",
        ),
        "empty file": (lambda: b"", "empty"),
    }


@pytest.mark.parametrize("case", list(_bad_npz_cases()))
def test_bad_npz_is_refused_with_a_sentence(tmp_path, case):
    make, needle = _bad_npz_cases()[case]
    path = write(tmp_path / "broken.npz", make())
    refused(lambda: data.load_dataset(f"npz:{path}"), str(path), needle)


def test_npz_missing_and_bombs(tmp_path, monkeypatch):
    refused(lambda: data.load_dataset(f"npz:{tmp_path / 'gone.npz'}"), "gone.npz", "no such")
    refused(lambda: data.load_dataset(f"npz:{tmp_path}"), str(tmp_path), "not a regular file")
    path = write(tmp_path / "zeros.npz", npz_bytes(x=np.zeros((N, 100, 100), np.uint8)))
    monkeypatch.setattr(file_readers, "MAX_DECOMPRESSED_BYTES", 100_000)
    refused(lambda: data.load_dataset(f"npz:{path}"), "zeros.npz", "decompress to more")


# --------------------------------------------------------------------------- image folders


def make_folder(root: Path) -> Path:
    """Two classes of 6; the first image (sorted) is 12x10; sizes and colour modes vary."""
    variants = [
        ((12, 10), "L", 200),
        ((20, 20), "RGB", (255, 0, 0)),
        ((12, 10), "P", (0, 0, 255)),
        ((9, 30), "RGBA", (0, 255, 0, 128)),
        ((12, 10), "LA", (50, 255)),
        ((16, 8), "1", 1),
    ]
    for label in ("dogs", "cats"):
        for i, (size, mode, color) in enumerate(variants):
            write(root / label / f"{i:02d}.png", png_bytes(size, mode, color))
    return root


def test_image_folder_with_classes(tmp_path):
    d = data.load_dataset(f"images:{make_folder(tmp_path / 'pets')}")
    assert d.class_names == ["cats", "dogs"]
    assert d.image_shape == (1, 10, 12) and d.train.x.dtype == np.uint8
    assert (len(d.train), len(d.val), len(d.test)) == (8, 2, 2)
    everything = np.concatenate([d.train.x, d.val.x, d.test.x])
    assert sorted(np.unique(everything[:, 0, 5, 5])) == [29, 50, 76, 150, 200, 255]


def test_image_folder_rgb_and_size(tmp_path):
    d = data.load_dataset(f"images:{make_folder(tmp_path)}", rgb=True, image_size=16)
    assert d.image_shape == (3, 16, 16)
    reds = [
        img
        for img in np.concatenate([d.train.x, d.val.x, d.test.x])
        if img[0].min() == 255 and img[1].max() == 0
    ]
    assert len(reds) == 2  # one red image per class kept its colour


def test_flat_folder_is_unlabelled_and_hidden_files_are_skipped(tmp_path):
    for i in range(10):
        write(tmp_path / f"{i}.png", png_bytes(color=i))
    write(tmp_path / ".DS_Store", b"\0junk")
    d = data.load_dataset(f"images:{tmp_path}")
    assert d.train.y is None and d.class_names == [] and len(d.train) == 8


def zip_of(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    return buf.getvalue()


def folder_as_zip(root: Path, prefix: str = "pets/") -> dict[str, bytes]:
    return {
        f"{prefix}{p.relative_to(root).as_posix()}": p.read_bytes()
        for p in sorted(root.rglob("*.png"))
    }


def test_zip_reads_like_the_folder(tmp_path):
    root = make_folder(tmp_path / "pets")
    members = folder_as_zip(root) | {"__MACOSX/pets/._00.png": b"junk", "pets/dogs/.hidden": b""}
    archive = write(tmp_path / "pets.zip", zip_of(members))
    from_zip = data.load_dataset(f"images:{archive}")
    from_dir = data.load_dataset(f"images:{root}")
    assert from_zip.class_names == from_dir.class_names == ["cats", "dogs"]
    for a, b in zip((from_zip.train, from_zip.test), (from_dir.train, from_dir.test), strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pets", "pets.zip"]  # nothing extracted


def test_image_folder_refusals(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "pets")
    spec = f"images:{root}"
    write(root / "dogs" / "readme.txt", b"hello")
    refused(lambda: data.load_dataset(spec), "readme.txt", "not an image")
    (root / "dogs" / "readme.txt").unlink()
    write(root / "stray.png", png_bytes())
    refused(lambda: data.load_dataset(spec), "pets", "some images sit in class folders")
    (root / "stray.png").unlink()
    write(root / "cats" / "50.png", png_bytes((1, 1)))
    refused(lambda: data.load_dataset(spec), "50.png", "1x1 pixels, smaller")
    (root / "cats" / "50.png").unlink()
    write(root / "cats" / "00.png", png_bytes((300, 200)))
    refused(lambda: data.load_dataset(spec), "00.png", "200x300 pixels, larger", "image size")
    assert data.load_dataset(spec, image_size=32).image_shape == (1, 32, 32)
    monkeypatch.setattr(data, "MAX_CLASSES", 1)
    refused(lambda: data.load_dataset(spec, image_size=32), "pets", "2 classes")
    refused(lambda: data.load_dataset(f"images:{tmp_path / 'none'}"), "none", "no such")
    few = tmp_path / "few"
    write(few / "a.png", png_bytes())
    refused(lambda: data.load_dataset(f"images:{few}"), "few", "1 image, fewer than the 10")


@pytest.mark.parametrize(
    "member, needle",
    [
        ("../evil.png", "leaves its folder with '..'"),
        ("/etc/evil.png", "is an absolute path"),
        ("pets\\..\\..\\evil.png", "leaves its folder with '..'"),
        ("C:/evil.png", "is an absolute path"),
        ("pets/cats/notes.txt", "not an image"),
    ],
)
def test_zip_refusals(tmp_path, member, needle):
    members = folder_as_zip(make_folder(tmp_path / "pets"))
    members[member] = b"not a png" if member.endswith(".txt") else png_bytes()
    archive = write(tmp_path / "bad.zip", zip_of(members))
    name = member.replace("\\", "/").rsplit("/", 1)[-1]
    refused(lambda: data.load_dataset(f"images:{archive}"), "bad.zip", name, needle)


def test_zip_symlinks_bombs_and_junk(tmp_path, monkeypatch):
    members = folder_as_zip(make_folder(tmp_path / "pets"))
    buf = io.BytesIO(zip_of(members))
    with zipfile.ZipFile(buf, "a") as zf:
        link = zipfile.ZipInfo("pets/cats/link.png")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    refused(lambda: data.load_upload({"l.zip": buf.getvalue()}), "l.zip", "symbolic link")

    refused(lambda: data.load_upload({"j.zip": b"PK\3\4 junk"}), "j.zip", "not a zip")
    refused(
        lambda: data.load_dataset(f"images:{write(tmp_path / 'p.zip', png_bytes())}"),
        "p.zip",
        "not a zip",
    )

    good = zip_of(members)
    biggest = max(len(c) for c in members.values())
    monkeypatch.setattr(file_readers, "MAX_DECOMPRESSED_BYTES", biggest - 1)
    refused(lambda: data.load_upload({"m.zip": good}), "m.zip", "decompresses to")
    monkeypatch.setattr(file_readers, "MAX_DECOMPRESSED_BYTES", biggest)
    refused(lambda: data.load_upload({"t.zip": good}), "t.zip", "its files decompress to")


# --------------------------------------------------------------------------- uploads


def test_upload_of_each_kind(tmp_path):
    x = ids_images()
    d = data.load_upload({"mine.npz": npz_bytes(x=x, y=balanced_labels(N, 2))})
    assert d.name == "upload:mine.npz" and d.num_classes == 2 and len(d.test) == 4
    pets = data.load_upload({"pets.zip": zip_of(folder_as_zip(make_folder(tmp_path)))}, rgb=True)
    assert pets.image_shape == (3, 10, 12) and pets.class_names == ["cats", "dogs"]
    labels = balanced_labels(N, 10)
    pair = data.load_upload({"lab": gzip.compress(idx_bytes(labels)), "img": idx_bytes(x)})
    assert pair.class_names == [str(i) for i in range(10)]
    assert_disjoint_cover(pair, N)
    for split in (pair.train, pair.val, pair.test):
        np.testing.assert_array_equal(split.y, labels[split.x[:, 0, 0, 0]])
    alone = data.load_upload({"img.gz": gzip.compress(idx_bytes(x))}, image_size=8)
    assert alone.train.y is None and alone.image_shape == (1, 8, 8)


def test_upload_refusals(monkeypatch):
    x = idx_bytes(ids_images())
    refused(lambda: data.load_upload({}), "No file was uploaded")
    refused(lambda: data.load_upload({"e.npz": b""}), "e.npz", "empty")
    refused(lambda: data.load_upload({"p.png": png_bytes()}), "p.png", "wrong magic")
    refused(lambda: data.load_upload({"a": x, "b": x}), "a + b", "one IDX images file")
    refused(lambda: data.load_upload({"a": x, "b": x, "c": x}), "3 files")
    monkeypatch.setattr(file_readers, "MAX_UPLOAD_BYTES", len(x) + 10)
    refused(lambda: data.load_upload({"big": x + bytes(11)}), "big", "more than the limit")
    labels = idx_bytes(np.arange(N) % 2)
    refused(lambda: data.load_upload({"i": x, "l": labels}), "i + l", "upload limit")


def test_messages_stay_on_one_line():
    msg = refused(lambda: data.load_upload({"two\nlines.npz": b"junk"}), "two lines.npz")
    assert "\n" not in msg


def test_unknown_spec():
    refused(lambda: data.load_dataset("cifar"), "'cifar'", "digits, shapes")
    refused(lambda: data.load_dataset("digits:extra"), "not a dataset spec")
