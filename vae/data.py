"""Datasets for Latent Lab: built-ins (digits, shapes) and user files, validated and split.

Specs for `load_dataset`: "digits", "shapes", "fashion", "mnist:DIR", "npz:FILE",
"images:DIR" or "images:FILE.zip". The app's upload goes through `load_upload`. Everything a
user supplies is checked before use; every refusal is a `DataError` whose message is one
sentence naming the file, the problem and what to do. Nothing is ever unpickled and no
archive is ever extracted to disk.

Images are kept compact: uint8 stays uint8 until `Split.images` converts the batch asked for.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import itertools
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vae import dataset_cache, fashion, file_readers, shapes
from vae.file_readers import (
    MNIST_NAMES,
    DataError,
    Entry,
    check_upload_size,
    folder_entries,
    idx_pair,
    idx_roles,
    mnist_file,
    read_file,
    read_idx,
    read_npz,
    size_text,
    zip_entries,
)

# Limits (docs/design.md §4), besides the file sizes of vae.file_readers. Read at call time,
# so tests can monkeypatch them.
MAX_CLASSES = 100
MIN_SIDE = 8
MAX_SIDE = 128
# Fewer images than this cannot give non-empty train, validation and test splits worth having.
MIN_IMAGES = 10

SEED = 0
# Beside IDX files: one class name per line, in label order.
NAMES_FILE = "class_names.txt"


@dataclass
class Split:
    """x: (N, C, H, W), uint8 0..255 or float32 in [0, 1]; y: (N,) int64 labels 0..K-1;
    factors: (N, K) int64 factor indices."""

    x: np.ndarray
    y: np.ndarray | None = None
    factors: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)

    def images(self, index: slice | np.ndarray | int | None = None) -> np.ndarray:
        """A fresh float32 array in [0, 1], (n, C, H, W); an int index gives n = 1."""
        if isinstance(index, int | np.integer):
            index = [index]
        x = self.x if index is None else self.x[index]
        if x.dtype == np.uint8:
            out = x.astype(np.float32)
            out /= 255
            return out
        return np.array(x, dtype=np.float32)


@dataclass
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    class_names: list[str]
    factor_names: list[str] | None = None
    factor_sizes: list[int] | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.train.x.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


# --------------------------------------------------------------------------- entry points


def load_dataset(spec: str, *, image_size: int | None = None, rgb: bool = False,
                 class_names: list[str] | None = None) -> Dataset:
    """Load a dataset by spec. `image_size` resizes every image to a square of that side;
    `rgb` decodes image files (folders, zips) in colour instead of grayscale, while arrays
    (npz, IDX) keep the channels they have; `class_names` name the classes in label order."""
    _check_image_size(image_size)
    names = None if class_names is None else list(class_names)
    dataset = _load(spec, image_size, rgb, names)
    if names is not None:  # IDX folders took them already, instead of their names file
        dataset.class_names = _checked_names(spec, names, dataset.num_classes)
    return dataset


def _load(spec: str, image_size: int | None, rgb: bool,
          class_names: list[str] | None) -> Dataset:
    kind, _, arg = spec.partition(":")
    if kind == "digits" and not arg:
        return _resized(_digits(spec), image_size)
    if kind == "shapes" and not arg:
        return _resized(_shapes(spec), image_size)
    if kind == "fashion" and not arg:
        folder = fashion.folder()
        if folder is None:
            raise DataError(fashion.MISSING)
        with dataset_cache.held():
            return _mnist_dir(spec, folder, image_size, list(fashion.CLASS_NAMES))
    if kind == "upload" and re.fullmatch(r"[0-9a-f]{64}", arg):
        return _upload(spec, arg, image_size, rgb)
    if kind in ("mnist", "npz", "images") and arg:
        path = Path(arg).expanduser()
        if kind == "mnist":
            with dataset_cache.held():  # a refused folder leaves nothing in the cache
                return _mnist_dir(spec, path, image_size, class_names)
        if kind == "npz":
            x, y = read_npz(read_file(path), str(path))
            return _from_arrays(spec, x, y, str(path), image_size)
        if path.is_dir():
            return _from_images(spec, folder_entries(path), str(path), image_size, rgb)
        return _from_images(
            spec, zip_entries(read_file(path), str(path)), str(path), image_size, rgb
        )
    raise DataError(
        f"{spec!r} is not a dataset spec; use digits, shapes, fashion, mnist:DIR, npz:FILE, "
        "images:DIR or images:FILE.zip."
    )


UPLOAD_GONE = ("The uploaded data of this model is no longer on this server (its cache was "
               "cleared, or the model was trained elsewhere); upload the same files again on "
               "the Train page.")


def _upload(spec: str, digest: str, image_size: int | None, rgb: bool) -> Dataset:
    """An upload the app stored (vae.uploads), named by its content hash: a model trained on
    it names it so, whatever folder the cache lives in."""
    from vae.uploads import uploads_dir  # it imports this module

    folder = uploads_dir() / digest
    stored = sorted(folder.glob("*")) if folder.is_dir() else []
    train_images = MNIST_NAMES["train", "images"]
    if any(p.name in (train_images, f"{train_images}.gz") for p in stored):
        with dataset_cache.held():
            return _mnist_dir(spec, folder, image_size)
    for path in stored:
        if path.suffix == ".npz":
            x, y = read_npz(read_file(path), path.name)
            return _from_arrays(spec, x, y, path.name, image_size)
        if path.suffix == ".zip":
            return _from_images(spec, zip_entries(read_file(path), path.name), path.name,
                                image_size, rgb)
    raise DataError(UPLOAD_GONE)


def _checked_names(name: str, names: list[str], k: int) -> list[str]:
    """Class names as given, once they are one distinct, non-empty name per class."""
    names = [str(n).strip() for n in names]
    if len(names) != k:
        raise DataError(f"{name}: {len(names)} class names were given for {k} classes; give "
                        "one name per class, in label order.")
    if not all(names) or len(set(names)) != k:
        raise DataError(f"{name}: class names must be distinct and not empty; check the "
                        "list for a blank or repeated name.")
    return names


def load_upload(
    files: dict[str, bytes], *, image_size: int | None = None, rgb: bool = False
) -> Dataset:
    """Load what the app's uploader received, keyed by file name: one .npz, one .zip of
    images, or IDX files (images alone, or images plus labels, gzipped or not)."""
    _check_image_size(image_size)
    if not files:
        raise DataError("No file was uploaded; choose an .npz, a .zip of images or IDX files.")
    for name, data in files.items():
        check_upload_size(name, len(data))
        if not data:
            raise DataError(f"{name}: the file is empty; upload the file again.")
    total = sum(len(data) for data in files.values())
    names = " + ".join(files)
    if total > file_readers.MAX_UPLOAD_BYTES:
        raise DataError(
            f"{names}: together {size_text(total)} exceed the upload limit of "
            f"{size_text(file_readers.MAX_UPLOAD_BYTES)}; upload a smaller dataset."
        )
    spec = f"upload:{names}"
    if len(files) == 1:
        ((name, data),) = files.items()
        suffix = name.lower().rsplit(".", 1)[-1]
        if suffix == "npz":
            x, y = read_npz(data, name)
            return _from_arrays(spec, x, y, name, image_size)
        if suffix == "zip":
            return _from_images(spec, zip_entries(data, name), name, image_size, rgb)
    if len(files) <= 2:
        x, y = idx_pair(files)
        return _from_arrays(spec, x, y, names, image_size)
    if len(files) == 4:  # MNIST's own train and t10k pairs: t10k stays the test split
        parts: dict = {"train": [None, None], "test": [None, None]}
        for name, (part, kind) in idx_roles(files).items():
            array = read_idx(files[name], name, ndim=3 if kind == "images" else 1)
            parts[part][kind == "labels"] = name, array
        return _idx_dataset(spec, names, parts, image_size, None, names)
    raise DataError(
        f"{names}: {len(files)} files were uploaded; upload one .npz, one .zip of images, "
        "an IDX images file with its labels file, or MNIST's four IDX files."
    )


# One fixed draw per split, whatever the model's seed, so every binarized model sees the same data.
BINARIZE_SEEDS = {"train": 0, "val": 1, "test": 2}
BINARIZE_ROWS = 4096


def model_inputs(split: Split, which: str, binarized: bool) -> np.ndarray:
    """A split's pixels as the model sees them, still compact: uint8 0..255 (float32 in
    [0, 1] for float data) until `models.as_input` makes a batch of them; with --binarize a
    fixed Bernoulli draw, uint8 0 or 255, so that log p(x) is a true log-likelihood
    (docs/design.md §3)."""
    if not binarized:
        return split.x
    rng = np.random.default_rng(BINARIZE_SEEDS[which])
    out = np.empty(split.x.shape, np.uint8)
    # In slices, so a float copy of the whole split never exists; the draws are the same.
    for start in range(0, len(split), BINARIZE_ROWS):
        x = split.images(slice(start, start + BINARIZE_ROWS))
        out[start:start + len(x)] = (rng.random(x.shape, dtype=np.float32) < x) * np.uint8(255)
    return out


# --------------------------------------------------------------------------- built-ins


# docs/design.md §4's digits splits (1,293 / 144 / 360), in the order scikit-learn's stratified
# train_test_split with seed 0 returns them (tests/test_data.py recomputes and compares):
# stored, because importing scikit-learn costs a second at every app start and job start.
DIGITS_SPLIT = Path(__file__).with_name("digits_split.npz")


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's load_digits, read from the CSV file it ships, without importing it."""
    package = Path(importlib.util.find_spec("sklearn").origin).parent
    data = np.loadtxt(package / "datasets" / "data" / "digits.csv.gz", delimiter=",")
    return data[:, :-1], data[:, -1].astype(np.int64)


def _digits(spec: str) -> Dataset:
    x, y = _digits_arrays()
    x = (x / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    with np.load(DIGITS_SPLIT) as split:
        train, val, test = (split[part].astype(np.int64) for part in ("train", "val", "test"))
    return Dataset(
        name=spec,
        train=Split(x[train], y[train]),
        val=Split(x[val], y[val]),
        test=Split(x[test], y[test]),
        class_names=[str(d) for d in range(10)],
    )


def _shapes(spec: str) -> Dataset:
    images, factors = shapes.grid()
    order = np.random.default_rng(SEED).permutation(len(images))
    n_held = len(images) // 10
    held = np.split(order, [n_held, 2 * n_held])
    test, val, train = (Split(images[i], factors[i, 0], factors[i]) for i in map(np.sort, held))
    return Dataset(
        name=spec,
        train=train,
        val=val,
        test=test,
        class_names=list(shapes.SHAPE_NAMES),
        factor_names=list(shapes.FACTOR_NAMES),
        factor_sizes=list(shapes.FACTOR_SIZES),
    )


def _mnist_dir(spec: str, folder: Path, image_size: int | None,
               class_names: list[str] | None = None) -> Dataset:
    """The four IDX files of a folder: t10k is the test split, a stratified 10 % of the
    training files (seed 0) the validation split. Class names: `class_names`, else the
    folder's NAMES_FILE, else the label values."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder; give the folder holding the MNIST IDX files.")
    parts = {}
    for part in ("train", "test"):
        images = mnist_file(folder, MNIST_NAMES[part, "images"])
        labels = mnist_file(folder, MNIST_NAMES[part, "labels"])
        parts[part] = (str(images), _idx(images, ndim=3)), (str(labels), _idx(labels, ndim=1))
    if class_names is None and (folder / NAMES_FILE).is_file():
        names_file = folder / NAMES_FILE
        lines = names_file.read_text(errors="replace").splitlines()
        class_names = [n for n in lines if n.strip()]
        names_where = str(names_file)
    else:
        names_where = str(folder)
    return _idx_dataset(spec, str(folder), parts, image_size, class_names, names_where)


def _idx_dataset(spec: str, where: str, parts: dict, image_size: int | None,
                 class_names: list[str] | None, names_where: str) -> Dataset:
    """A dataset from MNIST's train and t10k pairs, each ((name, images), (name, labels))."""
    checked = {}
    for part, ((images, x), (labels, y)) in parts.items():
        x = _to_nchw(x, images)
        _check_count(images, len(x))
        _check_label_count(labels, y, len(x))
        _check_sides(images, x.shape, resizable=image_size is not None)
        checked[part] = x, y
    (x_train, y_train), (x_test, y_test) = checked["train"], checked["test"]
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"{where}: train images are {x_train.shape[2]}x{x_train.shape[3]} but t10k images "
            f"are {x_test.shape[2]}x{x_test.shape[3]}; use files from the same dataset."
        )
    classes = np.unique(np.concatenate([y_train, y_test]))
    _check_class_count(where, len(classes))
    y_train, y_test = np.searchsorted(classes, y_train), np.searchsorted(classes, y_test)
    train, val = _held_out(y_train, math.ceil(0.1 * len(x_train)))
    if class_names is not None:
        class_names = _checked_names(names_where, class_names, len(classes))
    dataset = Dataset(
        name=spec,
        train=Split(x_train[train], y_train[train]),
        val=Split(x_train[val], y_train[val]),
        test=Split(np.array(x_test), y_test),  # a copy: the cache's own is read-only
        class_names=class_names or [str(c) for c in classes],
    )
    return _resized(dataset, image_size)


def _idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file's array, parsed once and then read from the dataset cache."""
    digest, data = dataset_cache.file_digest(path, read_file)

    def parse() -> np.ndarray:
        return read_idx(read_file(path) if data is None else data, str(path), ndim=ndim)

    x = dataset_cache.cached_array(f"idx-{digest}", parse)
    return x if x.ndim == ndim else parse()  # parse() says what the file holds instead


def _held_out(y: np.ndarray, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """_split_off for a labelled IDX training file, cached by its labels: the split is the
    same every time, and recomputing it would import scikit-learn (a second)."""
    digest = hashlib.sha256(np.ascontiguousarray(y, dtype=np.int64).tobytes()).hexdigest()
    order = dataset_cache.cached_array(
        f"split-{SEED}-{n_out}-{digest}",
        lambda: np.concatenate(_split_off(np.arange(len(y)), y, n_out)))
    return np.asarray(order[:-n_out]), np.asarray(order[-n_out:])


# --------------------------------------------------------------------------- arrays


def _to_nchw(x: np.ndarray, name: str) -> np.ndarray:
    """Validate pixel values and layout; return uint8 or float32 (N, C, H, W)."""
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{name}: array 'x' has dtype {x.dtype}, not numbers; "
            "store pixels as uint8 0..255 or floats in [0, 1]."
        )
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DataError(
            f"{name}: array 'x' has shape {x.shape}; images must be (N, H, W), "
            "(N, H, W, C) or (N, C, H, W) with C = 1 or 3."
        )
    if len(x) == 0:
        raise DataError(f"{name}: array 'x' holds 0 images; supply at least {MIN_IMAGES}.")
    if x.dtype == np.uint8:  # in range by its type: no pass over the pixels to check
        return np.ascontiguousarray(x)
    if x.dtype.kind == "b":
        return np.ascontiguousarray(x, dtype=np.uint8) * np.uint8(255)
    if x.dtype.kind == "f":
        if np.isnan(x).any():
            raise DataError(
                f"{name}: array 'x' contains NaN values; replace them and upload again."
            )
        if np.isinf(x).any():
            raise DataError(
                f"{name}: array 'x' contains infinite values; replace them and upload again."
            )
        return _within(x, np.float32, 1, name, "float pixel values", "[0, 1]",
                       "scale them into [0, 1] or store uint8")
    return _within(x, np.uint8, 255, name, "integer pixel values", "0..255",
                   "rescale them to 0..255 or store floats in [0, 1]")


def _within(x: np.ndarray, dtype: type, top: int, name: str, what: str, span: str,
            advice: str) -> np.ndarray:
    """x as `dtype` where its values lie in 0..top, else the sentence saying they do not."""
    lo, hi = x.min().item(), x.max().item()  # Python floats or ints, printed as they are
    if lo < 0 or hi > top:
        shown = "{:g}" if isinstance(lo, float) else "{}"
        raise DataError(f"{name}: {what} run from {shown.format(lo)} to {shown.format(hi)}, "
                        f"outside {span}; {advice}.")
    return np.ascontiguousarray(x, dtype=dtype)


def _labels(y: np.ndarray, n: int, name: str) -> tuple[np.ndarray, list[str]]:
    """Remap labels to 0..K-1; class names are the sorted unique labels as strings."""
    if y.dtype.kind not in "biuUS":
        raise DataError(
            f"{name}: labels 'y' have dtype {y.dtype}; store integer or string class labels."
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(
            f"{name}: labels 'y' have shape {y.shape}; store one label per image, shape (N,)."
        )
    _check_label_count(name, y, n)
    classes, index = np.unique(y, return_inverse=True)
    _check_class_count(name, len(classes))
    names = [c.decode(errors="replace") if isinstance(c, bytes) else str(c) for c in classes]
    return index.astype(np.int64), names


def _check_label_count(name: str, y: np.ndarray, n: int) -> None:
    if len(y) != n:
        raise DataError(
            f"{name}: there are {len(y)} labels for {n} images; supply one label per image."
        )


def _check_class_count(name: str, k: int) -> None:
    if k > MAX_CLASSES:
        raise DataError(
            f"{name}: the labels name {k} classes, more than the limit of {MAX_CLASSES}; "
            "merge or drop classes."
        )


def _check_image_size(image_size: int | None) -> None:
    if image_size is not None and not MIN_SIDE <= image_size <= MAX_SIDE:
        raise DataError(
            f"Image size {image_size} is outside {MIN_SIDE}..{MAX_SIDE} pixels; "
            "choose a size in that range."
        )


def _check_sides(name: str, shape: tuple[int, ...], resizable: bool) -> None:
    """Tiny images carry too little to learn from; big ones are fine only if resized."""
    h, w = shape[-2:]
    if min(h, w) < MIN_SIDE:
        raise DataError(
            f"{name}: images are {h}x{w} pixels, smaller than the minimum of {MIN_SIDE} a side; "
            "use larger images."
        )
    if max(h, w) > MAX_SIDE and not resizable:
        raise DataError(
            f"{name}: images are {h}x{w} pixels, larger than the maximum of {MAX_SIDE} a side; "
            "choose an image size to shrink them to."
        )


def _check_memory(name: str, n: int, c: int, h: int, w: int) -> None:
    if n * c * h * w > file_readers.MAX_DECOMPRESSED_BYTES:
        raise DataError(
            f"{name}: {n} images of {c}x{h}x{w} need more than the limit of "
            f"{size_text(file_readers.MAX_DECOMPRESSED_BYTES)}; use fewer or smaller images."
        )


def _check_count(name: str, n: int) -> None:
    if n < MIN_IMAGES:
        raise DataError(
            f"{name}: holds {n} image{'' if n == 1 else 's'}, fewer than the {MIN_IMAGES} "
            "needed for train, validation and test splits; add more images."
        )


def _from_arrays(
    spec: str, x: np.ndarray, y: np.ndarray | None, name: str, image_size: int | None
) -> Dataset:
    x = _to_nchw(x, name)
    _check_count(name, len(x))
    _check_sides(name, x.shape, resizable=image_size is not None)
    y, class_names = _labels(y, len(x), name) if y is not None else (None, [])
    if image_size is not None:
        x = _resize(x, image_size)
    return _split(spec, x, y, class_names)


def _decode(entry_name: str, data: bytes, rgb: bool) -> Image.Image:
    image = None
    try:
        with warnings.catch_warnings():
            # Pillow warns (on the user's terminal) above its decompression-bomb size and
            # refuses at twice that: both become the one sentence below, before decoding.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise DataError(
            f"{entry_name}: the image has more than {Image.MAX_IMAGE_PIXELS:,} pixels, too many "
            f"to decode safely; shrink it (images are used at {MAX_SIDE} pixels a side or less)."
        ) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        problem = (
            "not an image this app can read; remove it or convert it to PNG"
            if image is None
            else "the image is damaged or truncated; remove it or save it again"
        )
        raise DataError(f"{entry_name}: {problem}.") from e
    return image.convert("RGB" if rgb else "L")


def _from_images(
    spec: str, entries: list[Entry], name: str, image_size: int | None, rgb: bool
) -> Dataset:
    _check_count(name, len(entries))
    decoded = (_decode(entry_name, read(), rgb) for entry_name, _, read in entries)
    first = next(decoded)
    # The first image (or the caller's size) sets the size; all others are resized to it.
    size = (image_size, image_size) if image_size else first.size
    _check_sides(entries[0][0], size[::-1], resizable=False)
    channels = 3 if rgb else 1
    _check_memory(name, len(entries), channels, size[1], size[0])
    x = np.empty((len(entries), channels, size[1], size[0]), np.uint8)
    for i, image in enumerate(itertools.chain([first], decoded)):
        _check_sides(entries[i][0], image.size[::-1], resizable=True)
        if image.size != size:
            image = image.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(image)
        x[i] = pixels.transpose(2, 0, 1) if rgb else pixels
    labels = [label for _, label, _ in entries]
    y, class_names = None, []
    if labels[0] is not None:
        y, class_names = _labels(np.array(labels), len(labels), name)
    return _split(spec, x, y, class_names)


def _resize(x: np.ndarray, size: int) -> np.ndarray:
    """Resize (N, C, H, W) uint8 or float32 to size x size, channel by channel."""
    if x.shape[2:] == (size, size):
        return x
    out = np.empty((*x.shape[:2], size, size), x.dtype)
    for i in range(x.shape[0]):
        for c in range(x.shape[1]):
            image = Image.fromarray(x[i, c]).resize((size, size), Image.Resampling.BILINEAR)
            out[i, c] = np.asarray(image)
    if out.dtype == np.float32:
        np.clip(out, 0, 1, out=out)
    return out


def _resized(dataset: Dataset, image_size: int | None) -> Dataset:
    if image_size is not None:
        for split in (dataset.train, dataset.val, dataset.test):
            split.x = _resize(split.x, image_size)
    return dataset


# --------------------------------------------------------------------------- splitting


def _split_off(
    index: np.ndarray, y: np.ndarray | None, n_out: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split n_out items off `index`, stratified by y where every class allows it."""
    stratify = None
    if y is not None:
        counts = np.bincount(y)
        counts = counts[counts > 0]
        k = len(counts)
        if counts.min() >= 2 and n_out >= k and len(index) - n_out >= k:
            stratify = y
    from sklearn.model_selection import train_test_split  # a second to import: only here

    kept, out = train_test_split(index, test_size=n_out, stratify=stratify, random_state=SEED)
    return kept, out


def stratified_subset(total: int, y: np.ndarray | None, n: int) -> np.ndarray:
    """The indices of n of `total` items, stratified by their labels y where every class allows
    it (seed 0), in order."""
    if n >= total:
        return np.arange(total)
    return np.sort(_split_off(np.arange(total), y, n)[1])


def _split(spec: str, x: np.ndarray, y: np.ndarray | None, class_names: list[str]) -> Dataset:
    """User data: stratified 10 % test, then 10 % (of the whole) validation, seed 0."""
    n_held = math.ceil(0.1 * len(x))
    rest, test = _split_off(np.arange(len(x)), y, n_held)
    train, val = _split_off(rest, None if y is None else y[rest], n_held)

    def part(i: np.ndarray) -> Split:
        return Split(x[i], None if y is None else y[i])

    return Dataset(spec, part(train), part(val), part(test), class_names)
