"""Fashion-MNIST, the built-in 28x28 dataset: found where Debian's package put it (or where
LATENT_LAB_FASHION_DIR says), split as docs/design.md §4 says, kept as uint8."""

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest
from bad_input import idx_bytes

from vae import checkpoints, fashion
from vae.data import DataError, load_dataset
from vae.file_readers import MNIST_NAMES


def fake_fashion(folder, n_train=100, n_test=20):
    rng = np.random.default_rng(0)
    for part, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.permutation(np.arange(n) % 10)
        for kind, array in (("images", images), ("labels", labels)):
            (folder / f"{MNIST_NAMES[part, kind]}.gz").write_bytes(gzip.compress(idx_bytes(array)))
    return folder


def test_the_folder_named_by_the_variable_is_fashion(tmp_path, monkeypatch):
    monkeypatch.setenv(fashion.ENV, str(fake_fashion(tmp_path)))
    d = load_dataset("fashion")
    assert d.name == "fashion" and d.class_names == list(fashion.CLASS_NAMES)
    assert (len(d.train), len(d.val), len(d.test)) == (90, 10, 20)
    assert d.image_shape == (1, 28, 28) and d.train.x.dtype == np.uint8


def test_without_the_files_one_sentence_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv(fashion.ENV, str(tmp_path))  # named, and empty: the package is not used
    assert fashion.folder() is None
    with pytest.raises(DataError) as info:
        load_dataset("fashion")
    assert fashion.PACKAGE in str(info.value) and fashion.ENV in str(info.value)


@pytest.fixture(scope="module")
def real_fashion():
    if fashion.folder() is None:
        pytest.skip(f"Fashion-MNIST is not installed (apt-get install {fashion.PACKAGE}).")
    return fashion.folder()


@pytest.mark.fashion
def test_the_real_files_split_54000_6000_and_t10k(real_fashion):
    d = load_dataset("fashion")
    assert (len(d.train), len(d.val), len(d.test)) == (54_000, 6_000, 10_000)
    assert np.bincount(d.val.y).tolist() == [600] * 10  # stratified, 10 % of each class
    raw = gzip.decompress((real_fashion / "t10k-labels-idx1-ubyte.gz").read_bytes())
    np.testing.assert_array_equal(d.test.y, np.frombuffer(raw, np.uint8, offset=8))
    assert {d.train.x.dtype, d.val.x.dtype, d.test.x.dtype} == {np.dtype(np.uint8)}
    again = load_dataset("fashion")  # from the cache now: the same split
    np.testing.assert_array_equal(again.val.y, d.val.y)


MEASURE = """
import json, resource, sys, torch
from vae import checkpoints
from vae.data import load_dataset
checkpoints.CACHE_DIR = checkpoints.Path(sys.argv[1])
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = peak()
data = load_dataset("fashion")
parts = (data.train, data.val, data.test)
print(json.dumps({"growth": peak() - before, "pixels": sum(p.x.nbytes for p in parts)}))
"""


@pytest.mark.fashion
def test_loading_60000_images_keeps_them_uint8(real_fashion, tmp_path):
    """Peak memory of a fresh process opening Fashion-MNIST once its files are parsed (every
    open but the first): the 70,000 images as float32 would take four times their pixels."""
    def measure() -> dict:
        out = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path)], check=True,
                             capture_output=True, text=True, cwd=checkpoints.SHIPPED_DIR.parent)
        return json.loads(out.stdout)

    measure()  # parses into the empty cache
    figures = measure()
    assert figures["pixels"] == 70_000 * 784
    assert figures["growth"] < 2.2 * figures["pixels"], figures
