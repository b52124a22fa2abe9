"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def replacing(file: Path) -> Iterator[Path]:
    """A temporary path beside `file`: what is written there replaces `file` in one step when
    the block ends, and is removed if it raises."""
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.tmp-{uuid.uuid4().hex}")
    try:
        yield tmp
        os.replace(tmp, file)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(file: Path, data: bytes | Callable[[IO[bytes]], None], *,
                 durable: bool = False) -> None:
    """Write bytes (or let `data` write into the open file) and replace `file` with them;
    `durable` syncs them to disk first, so a power cut cannot keep the name without them."""
    with replacing(file) as tmp, open(tmp, "wb") as f:
        if callable(data):
            data(f)
        else:
            f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
