"""Reading the files users supply: IDX (MNIST-style, gzipped or not), .npz, folders and zips of
images. Each reader returns arrays or entries to decode, bounded by the size limits below; every
refusal is a `DataError` naming the file, the problem and what to do. Nothing is unpickled and
nothing is extracted to disk. vae.data turns what they return into checked, split datasets.
"""

from __future__ import annotations

import gzip
import io
import math
import tokenize
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np

from vae.zips import unsafe_member

# Limits (docs/design.md §4). Read at call time, so tests can monkeypatch them.
MAX_UPLOAD_BYTES = 200 * 2**20
MAX_DECOMPRESSED_BYTES = 2**30


class DataError(ValueError):
    """One sentence naming the file/problem and what to do."""

    def __init__(self, message: str) -> None:
        # File names may hold newlines or tabs; the message must stay one line.
        super().__init__(" ".join(message.split()))


# --------------------------------------------------------------------------- file access


def size_text(n: int) -> str:
    # Rounded up: a size just over a limit must not print as the limit itself.
    return f"{math.ceil(n / 2**20 * 10) / 10:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


def check_upload_size(name: str, size: int) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise DataError(
            f"{name}: the file is {size_text(size)}, more than the limit of "
            f"{size_text(MAX_UPLOAD_BYTES)}; use a smaller dataset."
        )


def read_file(path: Path) -> bytes:
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; check the path.")
    if not path.is_file():
        raise DataError(f"{path}: this is not a regular file; give the path of a file.")
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: the file is empty; supply the complete file.")
    check_upload_size(str(path), size)  # before reading, so a huge file is never loaded
    return path.read_bytes()


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def _gzip_reader(data: bytes, name: str) -> Callable[[int], bytes]:
    """read(n): the next n bytes of the file, inflated if it is gzipped. A gzip is inflated
    only as far as the caller reads, so a gzip bomb costs what the caller's bound allows."""
    if not is_gzip(data):
        stream = io.BytesIO(data)
        return stream.read
    gz = gzip.GzipFile(fileobj=io.BytesIO(data))

    def read(n: int) -> bytes:
        try:
            return gz.read(n)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{name}: the gzip data is damaged; download the file again.") from e

    return read


# --------------------------------------------------------------------------- IDX (MNIST)

MNIST_NAMES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


def mnist_file(folder: Path, canonical: str) -> Path:
    stem, _, idx = canonical.rpartition("-idx")
    # "train-images.idx3-ubyte" is how many mirrors and extractors name the same file.
    for name in (canonical, f"{stem}.idx{idx}"):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DataError(
        f"{folder}: {canonical} (or .gz) is missing; put the four MNIST or Fashion-MNIST "
        "IDX files in that folder."
    )


def read_idx(data: bytes, name: str, ndim: int | None = None) -> np.ndarray:
    """Parse an unsigned-byte IDX file (gzipped or not) as a uint8 array.

    The header says how much data follows, so no more than that (plus one byte, to tell a
    longer file) is ever inflated: a gzip bomb is refused without expanding it.
    """
    read = _gzip_reader(data, name)
    dims = _idx_magic(read, name)
    if ndim is not None and dims != ndim:
        raise DataError(
            f"{name}: holds {dims}-D data where {ndim}-D {'images' if ndim == 3 else 'labels'} "
            "were expected; check which file is which."
        )
    sizes = read(4 * dims)
    if len(sizes) < 4 * dims:
        raise DataError(f"{name}: the IDX header is truncated; download the file again.")
    shape = tuple(int(d) for d in np.frombuffer(sizes, ">u4"))
    expected = math.prod(shape)
    if expected > MAX_DECOMPRESSED_BYTES:
        raise DataError(
            f"{name}: its header describes {size_text(expected)} of data, more than the limit of "
            f"{size_text(MAX_DECOMPRESSED_BYTES)}; use a smaller dataset."
        )
    body = read(expected + 1)  # reading past the end also makes gzip check its CRC
    if len(body) < expected:
        raise DataError(
            f"{name}: the header describes {expected:,} bytes of data but the file holds "
            f"{len(body):,}; the file is truncated, so download it again."
        )
    if len(body) > expected:
        raise DataError(
            f"{name}: the file holds more data than the {expected:,} bytes its header "
            "describes; it is damaged or not one IDX file, so download it again."
        )
    # A copy, because arrays over the bytes object would be read-only.
    return np.frombuffer(body, np.uint8).reshape(shape).copy()


def _idx_magic(read: Callable[[int], bytes], name: str) -> int:
    """The dimensions an IDX file of unsigned bytes declares in its magic number."""
    magic = read(4)
    if len(magic) < 4 or magic[:3] != b"\x00\x00\x08" or not 1 <= magic[3] <= 4:
        raise DataError(
            f"{name}: not an IDX file of unsigned bytes (wrong magic number); use MNIST-style "
            "IDX files, or an .npz or a .zip of images instead."
        )
    return magic[3]


def idx_dims(data: bytes, name: str) -> int:
    """How many dimensions an IDX file's header declares (3 for images, 1 for labels),
    reading no further than its magic number."""
    return _idx_magic(_gzip_reader(data, name), name)


def idx_roles(files: dict[str, bytes]) -> dict[str, tuple[str, str]]:
    """MNIST's four files uploaded together, each as (part, kind): "t10k" or "test" in a
    name marks the test pair, the header's dimensions tell images from labels."""
    roles = {}
    for name, data in files.items():
        part = "test" if any(w in name.lower() for w in ("t10k", "test")) else "train"
        roles[name] = part, {3: "images", 1: "labels"}.get(idx_dims(data, name), "other")
    if sorted(roles.values()) != sorted(MNIST_NAMES):
        raise DataError(
            f"{' + '.join(files)}: four files must be MNIST's train and t10k pairs of images "
            "and labels, named as MNIST names them (train-..., t10k-...); rename them, or "
            "upload one images file with its labels."
        )
    return roles


def idx_pair(files: dict[str, bytes]) -> tuple[np.ndarray, np.ndarray | None]:
    """Tell an uploaded IDX images file from its labels file by their dimensions."""
    arrays = {name: read_idx(data, name) for name, data in files.items()}
    images = [name for name, a in arrays.items() if a.ndim == 3]
    labels = [name for name, a in arrays.items() if a.ndim == 1]
    if len(images) != 1 or len(labels) != len(files) - 1:
        raise DataError(
            f"{' + '.join(files)}: expected one IDX images file (3-D) and at most one IDX "
            "labels file (1-D); upload a matching pair."
        )
    return arrays[images[0]], arrays[labels[0]] if labels else None


# --------------------------------------------------------------------------- npz

# What zipfile raises for damaged archives besides BadZipFile: ValueError (a negative seek where
# an offset is damaged), NotImplementedError (a version or compression it lacks), EOFError.
_UNREADABLE_ZIP = (zipfile.BadZipFile, ValueError, NotImplementedError, EOFError, OSError)


def read_npz(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _UNREADABLE_ZIP as e:
        raise DataError(
            f"{name}: not an .npz archive; save the arrays with numpy.savez and upload again."
        ) from e
    with archive:
        members = {info.filename: info for info in archive.infolist()}
    for info in members.values():
        if info.flag_bits & 0x1:  # zipfile would ask for a password (a RuntimeError)
            raise DataError(
                f"{name}: member {info.filename!r} is encrypted; save the arrays with "
                "numpy.savez, without a password."
            )
    # Declared sizes bound what zipfile will inflate, so checking them stops a zip bomb.
    if sum(info.file_size for info in members.values()) > MAX_DECOMPRESSED_BYTES:
        raise DataError(
            f"{name}: its arrays decompress to more than the limit of "
            f"{size_text(MAX_DECOMPRESSED_BYTES)}; use a smaller dataset."
        )
    keys = sorted(m.removesuffix(".npy") for m in members)
    if "x" not in keys:
        found = ", ".join(keys) or "nothing"
        raise DataError(
            f"{name}: has no array named 'x' (found {found}); save the images under that name "
            "with numpy.savez(file, x=images, y=labels)."
        )
    try:
        # allow_pickle=False: a user's file must never run code (docs/design.md §4).
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError(
            f"{name}: not an .npz archive; save the arrays with numpy.savez and upload again."
        ) from e
    with npz:
        return _npz_array(npz, "x", name), _npz_array(npz, "y", name) if "y" in keys else None


def _npz_array(npz: np.lib.npyio.NpzFile, key: str, name: str) -> np.ndarray:
    try:
        array = npz[key]
        if not isinstance(array, np.ndarray):  # NpzFile hands back a non-.npy member as bytes
            raise ValueError(f"member {key!r} is not an .npy array")
    # numpy parses a damaged .npy header with Python's tokenizer: its errors come through too.
    except (*_UNREADABLE_ZIP, MemoryError, zlib.error, SyntaxError, tokenize.TokenError) as e:
        what = "is an object array, which is refused" if "allow_pickle" in str(e) else "is damaged"
        raise DataError(
            f"{name}: array {key!r} {what}; save plain numeric arrays with numpy.savez."
        ) from e
    return array


# --------------------------------------------------------------------------- image files

# An entry is (name for messages, label folder or None, a function returning the bytes).
Entry = tuple[str, str | None, Callable[[], bytes]]


def _is_hidden(parts: tuple[str, ...]) -> bool:
    # Operating-system litter (.DS_Store, __MACOSX/, Thumbs.db) is skipped, not an error.
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1] == "Thumbs.db"


def _labelled(name: str, rel: list[tuple[str, ...]]) -> list[str | None]:
    """Labels from the first folder level: all files in class folders, or all at the top."""
    nested = [len(p) > 1 for p in rel]
    if any(nested) and not all(nested):
        raise DataError(
            f"{name}: some images sit in class folders and some at the top level; "
            "put every image in a class folder, or none."
        )
    return [p[0] if len(p) > 1 else None for p in rel]


def folder_entries(folder: Path) -> list[Entry]:
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and not _is_hidden(p.relative_to(folder).parts)
    )
    rel = [p.relative_to(folder).parts for p in files]
    total = sum(p.stat().st_size for p in files)
    if total > MAX_DECOMPRESSED_BYTES:
        raise DataError(
            f"{folder}: its files total {size_text(total)}, more than the limit of "
            f"{size_text(MAX_DECOMPRESSED_BYTES)}; use fewer or smaller images."
        )
    return [
        (str(p), label, p.read_bytes)
        for p, label in zip(files, _labelled(str(folder), rel), strict=True)
    ]


def zip_entries(data: bytes, name: str) -> list[Entry]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _UNREADABLE_ZIP as e:
        raise DataError(
            f"{name}: not a zip archive this app can read; give a folder of images or a .zip "
            "of one."
        ) from e
    infos = []
    for info in archive.infolist():
        problem = unsafe_member(info)
        if problem:
            raise DataError(f"{name}: member {info.filename!r} {problem}; zip the folder again "
                            "with plain files only.")
        member = info.filename.replace("\\", "/")
        if info.file_size > MAX_DECOMPRESSED_BYTES:
            raise DataError(
                f"{name}: member {info.filename!r} decompresses to {size_text(info.file_size)}, "
                f"more than the limit of {size_text(MAX_DECOMPRESSED_BYTES)}; use smaller images."
            )
        parts = PurePosixPath(member).parts
        if parts and not info.is_dir() and not _is_hidden(parts):  # a member may be nameless
            infos.append((parts, info))
    total = sum(info.file_size for _, info in infos)
    if total > MAX_DECOMPRESSED_BYTES:
        raise DataError(
            f"{name}: its files decompress to {size_text(total)}, more than the limit of "
            f"{size_text(MAX_DECOMPRESSED_BYTES)}; use fewer or smaller images."
        )
    # By path alone: a zip may hold one name twice, and ZipInfo objects do not compare.
    infos.sort(key=lambda entry: entry[0])
    rel = [parts for parts, _ in infos]
    # A zip of a folder usually wraps everything in that folder's name: look inside it.
    if rel and all(len(p) > 1 for p in rel) and len({p[0] for p in rel}) == 1:
        rel = [p[1:] for p in rel]

    def reader(info: zipfile.ZipInfo) -> Callable[[], bytes]:
        def read() -> bytes:
            try:
                return archive.read(info)
            except (*_UNREADABLE_ZIP, zlib.error) as e:
                raise DataError(
                    f"{name}: member {info.filename!r} is damaged; zip the folder again."
                ) from e

        return read

    return [
        (f"{name}:{info.filename}", label, reader(info))
        for (_, info), label in zip(infos, _labelled(name, rel), strict=True)
    ]
