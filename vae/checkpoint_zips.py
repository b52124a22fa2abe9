"""A checkpoint as one zip: export the current version, import one back (docs/design.md §5).

The zip holds NAME/config.json, NAME/model.safetensors, ... and nothing else. An import reads it
within a size bound, then hands the files to checkpoints.import_files, which validates them as
a load does and saves them under a name of their own.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import IO

from vae.checkpoints import (
    OPTIONAL_FILES,
    REQUIRED_FILES,
    Checkpoint,
    CheckpointError,
    import_files,
    load,
    refusal,
)
from vae.files import replacing
from vae.zips import unsafe_member

# Per zip member and for all members together; read at call time so tests can lower it.
MAX_IMPORT_BYTES = 200 * 2**20

_FILES = REQUIRED_FILES + OPTIONAL_FILES
_MEMBER = re.compile(r"[^/.][^/]*/(?:{})?".format("|".join(re.escape(f) for f in _FILES)))


def export_zip(path: str | Path, out: str | Path) -> Path:
    """Zip the current version's files under a top folder named after the checkpoint.

    `out` is the zip's path, or an existing folder to put NAME.zip in; returns the zip's path.
    """
    checkpoint = load(path)
    _check_exportable(checkpoint)
    out = Path(out)
    if out.is_dir():
        out = out / f"{checkpoint.name}.zip"
    with replacing(out) as partial:
        _write_zip(checkpoint, partial)
    return out


def export_zip_bytes(path: str | Path) -> bytes:
    """The zip export_zip would write, in memory (a download)."""
    buffer = io.BytesIO()
    checkpoint = load(path)
    _check_exportable(checkpoint)
    _write_zip(checkpoint, buffer)
    return buffer.getvalue()


def import_zip(
    zip_path: str | Path | IO[bytes], root: Path | None = None, name: str | None = None
) -> Checkpoint:
    """Validate a checkpoint zip like load() and save it under `root` (default RUNS_DIR).

    `zip_path` may also be an open binary file (an upload). The name defaults to the zip's top
    folder; if taken, the first free "NAME-2", "NAME-3", ... is used (see the result's .name).
    """
    label = zip_path if isinstance(zip_path, str | Path) else getattr(zip_path, "name", "upload")
    where = f"Zip '{Path(str(label)).name}'"
    top, files = _read_zip(zip_path, where, MAX_IMPORT_BYTES)
    return import_files(files, where, top, root=root, name=name)


def export_refusal(checkpoint: Checkpoint) -> str | None:
    """Why export would refuse this checkpoint, or None. Whatever export writes, import reads
    back: a zip over the import limit is refused before it is written. Its files are stored
    as they are, so their sizes bound it."""
    size = sum(f.stat().st_size for name in _FILES if (f := checkpoint.version / name).exists())
    if size <= MAX_IMPORT_BYTES:
        return None
    return str(refusal(f"Checkpoint '{checkpoint.name}'",
                       f"its zip would hold {size / 2**20:.0f} MB, more than the "
                       f"{MAX_IMPORT_BYTES / 2**20:.0f} MB that import accepts",
                       "export a slim copy instead (python -m vae slim, without the training "
                       "state)"))


def _check_exportable(checkpoint: Checkpoint) -> None:
    if (reason := export_refusal(checkpoint)) is not None:
        raise CheckpointError(reason)


def _write_zip(checkpoint: Checkpoint, target: Path | IO[bytes]) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        for name in _FILES:
            file = checkpoint.version / name
            if file.exists():
                # Float weights barely compress; storing them keeps a big export quick.
                method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
                archive.write(file, f"{checkpoint.name}/{name}", compress_type=method)


def _read_zip(source: str | Path | IO[bytes], where: str,
              limit: int) -> tuple[str, dict[str, bytes]]:
    try:
        if isinstance(source, str | Path):
            size = Path(source).stat().st_size
        else:
            size = source.seek(0, os.SEEK_END)
    except OSError as err:
        raise refusal(where, f"it cannot be read ({err.strerror or err})",
                      "check the path") from None
    # ZipFile reads the whole central directory, so bound the archive before opening it.
    if size > limit:
        raise refusal(where, f"the zip is larger than the import limit of {limit:,} bytes",
                      "import a smaller checkpoint")
    try:
        with zipfile.ZipFile(source) as archive:
            top, members = _check_members(archive.infolist(), where, limit)
            files, budget = {}, limit
            for name, info in members.items():
                # Bounded: a member's declared size is the archive's word, not a fact.
                with archive.open(info) as f:
                    files[name] = f.read(budget + 1)
                if len(files[name]) > budget:
                    raise _too_big(where, name, limit)
                budget -= len(files[name])
    except CheckpointError:
        raise
    except (PermissionError, IsADirectoryError) as err:
        raise refusal(where, f"it cannot be read ({err.strerror})", "check the path") from None
    # zipfile's own words ("negative seek value -20", "Bad CRC-32 for ...") tell a user
    # nothing more: a damaged zip raises any of these, ValueError and OSError included.
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
            ValueError):
        raise refusal(where, "it is not a readable zip file (damaged, cut short or not a zip)",
                      "export the checkpoint again") from None
    return top, files


def _check_members(infos: list[zipfile.ZipInfo], where: str,
                   limit: int) -> tuple[str, dict[str, zipfile.ZipInfo]]:
    top, members = None, {}
    for info in infos:
        problem = _member_problem(info)
        if problem:
            raise refusal(where, f"member {info.filename!r} {problem}",
                          "import only zips exported by Latent Lab")
        folder, _, name = info.filename.partition("/")
        if top not in (None, folder):
            raise _one_folder(where)
        top = folder
        if not name:
            continue  # the top folder's own entry
        if name in members:
            raise refusal(where, f"it holds {name} twice", "export the checkpoint again")
        if info.file_size > limit:
            raise _too_big(where, name, limit)
        members[name] = info
    if top is None:
        raise _one_folder(where)
    missing = [name for name in REQUIRED_FILES if name not in members]
    if missing:
        raise refusal(where, f"it lacks {missing[0]}", "export the checkpoint again")
    if sum(info.file_size for info in members.values()) > limit:
        raise refusal(where, f"its files add up to more than the import limit of {limit:,} "
                      "bytes", "import a smaller checkpoint")
    return top, members


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    problem = unsafe_member(info)
    if problem:
        return problem
    if not _MEMBER.fullmatch(info.filename):
        return f"is not a checkpoint file ({', '.join(_FILES)} inside one top folder)"
    return None


def _too_big(where: str, name: str, limit: int) -> CheckpointError:
    return refusal(where, f"{name} is larger than the import limit of {limit:,} bytes",
                   "import a smaller checkpoint")


def _one_folder(where: str) -> CheckpointError:
    return refusal(where, "it must hold exactly one checkpoint folder",
                   "import only zips exported by Latent Lab")
