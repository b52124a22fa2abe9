"""Data files parsed once: the arrays made from a file are kept under CACHE_DIR/datasets as
plain .npy files named by the SHA-256 of the file's bytes, and mapped from disk on the next
open instead of decompressed again (docs/design.md §4). An index from path, inode, size and
mtime to the digest spares a hit the hashing; a changed file is hashed again, and parsed
again only if its content is new."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from vae.files import write_atomic

INDEX = "index.json"
RACY_NS = 2_000_000_000


def cache_dir() -> Path:
    from vae import checkpoints  # at call time: checkpoints imports torch, and tests move it

    return checkpoints.CACHE_DIR / "datasets"


# Writes held back by `held()`: (index entries by path, arrays by file).
_HELD: contextvars.ContextVar[tuple[dict, dict] | None] = contextvars.ContextVar(
    "held", default=None)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Cache writes made inside the block wait for its end, and are dropped if it raises: a
    dataset that is refused leaves nothing in the cache."""
    token = _HELD.set(({}, {}))
    try:
        yield
        entries, arrays = _HELD.get()
    finally:
        _HELD.reset(token)
    with contextlib.suppress(OSError):  # a read-only cache only costs the next open again
        for file, array in arrays.items():
            write_atomic(file, lambda f, a=array: np.save(f, a, allow_pickle=False))
        if entries:
            _remember(entries)


def _index() -> dict[str, dict]:
    try:
        index = json.loads((cache_dir() / INDEX).read_text())
    except (OSError, ValueError):
        return {}
    return index if isinstance(index, dict) else {}


def _remember(entries: dict[str, tuple[str, dict]]) -> None:
    """Index entries by path (each path's only one): (key, entry)."""
    index = {k: v for k, v in _index().items() if k.rsplit("|", 3)[0] not in entries}
    index.update(dict(entries.values()))
    write_atomic(cache_dir() / INDEX, json.dumps(index, indent=0).encode())


def file_digest(path: Path, read: Callable[[Path], bytes]) -> tuple[str, bytes | None]:
    """(SHA-256 of the file's bytes, the bytes if they had to be read for it, else None)."""
    stat, where = path.stat(), str(path.resolve())
    key = f"{where}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}"
    entry = _index().get(key)
    # As git does with its index: a file changed within RACY_NS of being hashed could have
    # changed again with the same size and timestamp, so only an older file is taken on trust.
    if isinstance(entry, dict) and stat.st_mtime_ns < entry.get("hashed_ns", 0) - RACY_NS:
        return entry["sha256"], None
    data = read(path)
    digest = hashlib.sha256(data).hexdigest()
    remembered = {where: (key, {"sha256": digest, "hashed_ns": time.time_ns()})}
    if (held_now := _HELD.get()) is not None:
        held_now[0].update(remembered)
    else:
        with contextlib.suppress(OSError):  # a read-only cache only costs the next open a hash
            _remember(remembered)
    return digest, data


def cached_array(name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
    """The array stored as `name` (read-only, mapped from disk), made and stored first if it
    is missing or unreadable. A cache that cannot be written still returns the array."""
    file = cache_dir() / f"{name}.npy"
    try:
        return np.load(file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        pass
    array = make()
    if (held_now := _HELD.get()) is not None:
        held_now[1][file] = array
        return array
    try:
        write_atomic(file, lambda f: np.save(f, array, allow_pickle=False))
    except OSError:
        return array
    return np.load(file, mmap_mode="r", allow_pickle=False)
