"""Uploaded datasets: validated once in the server, then kept on disk for the worker process.

Training runs in another process that loads its data from a spec string, so an accepted
upload is stored under CACHE_DIR/uploads/<sha256>/ and named by the spec upload:<sha256>,
which a model's config keeps: not a path, so moving the cache or the model loses nothing but
the files themselves. Identical uploads share one folder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from vae import checkpoints
from vae.data import DataError, Dataset, load_upload
from vae.file_readers import MNIST_NAMES, idx_roles, is_gzip
from vae.files import write_atomic

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class UploadedFile(Protocol):
    name: str

    def getvalue(self) -> bytes: ...


@dataclass
class Upload:
    """An accepted upload: the spec the worker loads, and what the page says about it."""

    spec: str
    images: int
    image_shape: tuple[int, int, int]
    class_names: list[str]


def uploads_dir() -> Path:
    return checkpoints.CACHE_DIR / "uploads"


def read(files: Iterable[UploadedFile] | None) -> dict[str, bytes]:
    """Streamlit's UploadedFile objects as {file name: bytes}."""
    return {f.name: f.getvalue() for f in files or []}


def identity(files: Iterable[UploadedFile]) -> tuple:
    """What tells one upload from another without reading it (Streamlit gives each a file_id)."""
    return tuple((f.name, getattr(f, "file_id", None) or id(f)) for f in files)


def digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + len(files[name]).to_bytes(8, "little"))
        h.update(files[name])
    return h.hexdigest()


def _safe(name: str, suffix: str) -> str:
    stem = SAFE_NAME.sub("_", Path(name).name).strip("._")[:48] or "upload"
    return stem if stem.lower().endswith(suffix) else f"{stem}{suffix}"


def _write_once(path: Path, write) -> None:
    """Write it whole or not at all (a half-written file is never seen), and only once."""
    if path.exists():
        return
    write_atomic(path, write)


def _all_arrays(data: Dataset) -> tuple[np.ndarray, np.ndarray | None]:
    """Every image of a dataset (train, validation, test) with its original labels."""
    parts = (data.train, data.val, data.test)
    x = np.concatenate([p.x for p in parts])
    if data.train.y is None:
        return x, None
    labels = np.asarray([int(c) for c in data.class_names])  # IDX labels are integers
    return x, labels[np.concatenate([p.y for p in parts])]


def save_upload(files: dict[str, bytes], *, image_size: int | None = None,
                rgb: bool = False) -> Upload:
    """Validate an upload (vae.data.load_upload) and store it where a worker can load it.

    Raises DataError with one sentence when the files are refused. A .npz or a .zip is kept
    as it came, and so are MNIST's four IDX files (under MNIST's names); an IDX images +
    labels pair becomes an .npz of the same arrays, as it has no t10k pair to split by.
    """
    data = load_upload(files, image_size=image_size, rgb=rgb)
    name = digest(files)
    folder = uploads_dir() / name
    if len(files) == 1 and (first := next(iter(files))).lower().endswith((".npz", ".zip")):
        _write_once(folder / _safe(first, first.lower()[-4:]), lambda f: f.write(files[first]))
    elif len(files) == 4:  # MNIST's layout, so t10k stays the test split
        for file, role in idx_roles(files).items():
            gz = ".gz" if is_gzip(files[file]) else ""
            _write_once(folder / f"{MNIST_NAMES[role]}{gz}",
                        lambda f, data=files[file]: f.write(data))
    else:
        x, y = _all_arrays(data)
        arrays = {"x": x} if y is None else {"x": x, "y": y}
        _write_once(folder / "idx-upload.npz", lambda f: np.savez(f, **arrays))
    spec = f"upload:{name}"
    images = len(data.train) + len(data.val) + len(data.test)
    return Upload(spec, images, data.image_shape, list(data.class_names))


def accept(files: dict[str, bytes], *, image_size: int | None = None,
           rgb: bool = False) -> tuple[Upload | None, str | None]:
    """(upload, None) when accepted, (None, the sentence saying why not) when refused."""
    try:
        return save_upload(files, image_size=image_size, rgb=rgb), None
    except DataError as err:
        return None, str(err)
    except OSError as err:
        return None, (f"The upload could not be stored on the server ({err.strerror or err}); "
                      "free some disk space and upload again.")
