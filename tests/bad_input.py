"""Shared by the bad-input reliability suites (issue 13): what a user must see, what must not
change on disk, and the command line run as a user runs it.

A refusal is one sentence: one line, no traceback, the problem, then "; " and what to do.
`Tree` hashes every file under a folder, so a suite can show that nothing outside the runs and
cache folders was written and every existing checkpoint is byte-identical afterwards.
`run_cli` runs many `python -m vae ...` command lines in one interpreter (tests/cli_batch.py),
as importing torch once per case would cost a second and a half each.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "checkpoints"


# --------------------------------------------------------------------------- what a user sees


def assert_sentence(message: str, *needles: str) -> str:
    """One sentence naming the problem and what to do, holding every needle; returns it."""
    assert message, "no message at all"
    assert "Traceback" not in message and "\n" not in message.strip(), message
    assert message.endswith("."), message
    assert "; " in message, f"no advice after the problem: {message}"
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()<>#+\-.!|~$:])")


def unescape(markdown: str) -> str:
    """The text a user reads in an element whose body went through ui.render.escape."""
    return _ESCAPED.sub(r"\1", markdown)


def code(text: str) -> str:
    """Text quoted as a markdown code span for the report, so it is read literally there too."""
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


# --------------------------------------------------------------------------- what is on disk


BIG = 16 * 2**20


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path (symlinks by their target, folders as
    such). Files over 16 MiB, the suites' own oversized inputs, are told by size and mtime:
    hashing them again and again would cost more than the cases themselves."""
    out = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            info = path.stat()
            out[rel] = (f"size:{info.st_size} mtime:{info.st_mtime_ns}" if info.st_size > BIG
                        else hashlib.sha256(path.read_bytes()).hexdigest())
        elif path.is_dir():
            out[rel + "/"] = "dir"
    return out


def shipped_hashes() -> dict[str, str]:
    """The repository's shipped checkpoints (not runs/ or .cache/, which are a user's own)."""
    hashes = {}
    for folder in sorted(SHIPPED.iterdir()):
        if folder.is_dir() and folder.name not in ("runs", ".cache"):
            hashes.update({f"{folder.name}/{k}": v for k, v in file_hashes(folder).items()})
    return hashes


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Paths added, removed or changed between two file_hashes."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


# --------------------------------------------------------------------------- the command line


@dataclass
class CliResult:
    status: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def sentence(self) -> str:
        """The refusal as printed: the one line after 'error: '."""
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), self.stderr
        return lines[0].removeprefix("error: ")


def cli_env(runs: Path, cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "LATENT_LAB_RUNS_DIR": str(runs),
            "LATENT_LAB_CACHE_DIR": str(cache), "PYTHONWARNINGS": ""}


def run_cli(cases: list[tuple[list[str], Path]], runs: Path, cache: Path) -> list[CliResult]:
    """Each (argv, cwd) run as `python -m vae *argv` in cwd, all in one fresh interpreter
    whose runs and cache folders are `runs` and `cache`. Whatever the interpreter itself
    writes to stderr (a warning from C code, a crash) fails the batch."""
    batch = [{"argv": argv, "cwd": str(cwd)} for argv, cwd in cases]
    done = subprocess.run([sys.executable, str(REPO / "tests" / "cli_batch.py")],
                          input=json.dumps(batch), capture_output=True, text=True,
                          env=cli_env(runs, cache), timeout=600, check=False)
    assert done.returncode == 0 and not done.stderr, done.stderr
    return [CliResult(**r) for r in json.loads(done.stdout)]


def run_cli_once(argv: list[str], cwd: Path, runs: Path, cache: Path) -> CliResult:
    """One real `python -m vae *argv` process, for cases where the process itself matters."""
    import time

    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "vae", *argv], cwd=cwd, capture_output=True,
                          text=True, env=cli_env(runs, cache), timeout=600, check=False)
    return CliResult(done.returncode, done.stdout, done.stderr, time.perf_counter() - start)


# --------------------------------------------------------------------------- files


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def idx_bytes(a: np.ndarray) -> bytes:
    header = b"\0\0\x08" + bytes([a.ndim]) + np.array(a.shape, ">u4").tobytes()
    return header + a.astype(np.uint8).tobytes()


def png_bytes(size=(12, 10), mode="L", color=128) -> bytes:
    buf = io.BytesIO()
    if mode == "P":  # a palette image, as GIF-converted PNGs are
        Image.new("RGB", size, color).convert("P").save(buf, format="PNG")
    else:
        Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def zip_bytes(members: dict, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of {name or ZipInfo: content}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buf.getvalue()


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix, whose mode bits say "symbolic link"
    info.external_attr = (0o120777) << 16
    return info


# Fields of a central directory entry: (offset, struct format); the local header repeats some.
_CENTRAL = {"version": (6, "<H"), "flags": (8, "<H"), "method": (10, "<H"),
            "size": (24, "<I")}
_LOCAL = {"size": (22, "<I")}


def patch_zip(archive: bytes, member: str, **fields: int) -> bytes:
    """The zip with `member`'s central directory entry (and local header, for the size)
    rewritten: what a damaged or hostile archive declares. Fields: version (needed to
    extract), flags, method (compression), size (uncompressed)."""
    data = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        info = zf.getinfo(member)
        offset, infos = zf.start_dir, zf.infolist()
    for field, value in fields.items():
        if field in _LOCAL:
            struct.pack_into(_LOCAL[field][1], data, info.header_offset + _LOCAL[field][0], value)
    for entry in infos:
        assert data[offset:offset + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, offset + 28)
        if entry.filename == member:
            for field, value in fields.items():
                struct.pack_into(_CENTRAL[field][1], data, offset + _CENTRAL[field][0], value)
        offset += 46 + name_len + extra_len + comment_len
    return bytes(data)


def declare_size(archive: bytes, member: str, size: int) -> bytes:
    """The zip with `member` declaring `size` bytes uncompressed: what an archive that expands
    past a limit (or lies about it) says."""
    return patch_zip(archive, member, size=size)


def cut(data: bytes, start: int, length: int) -> bytes:
    """`length` bytes taken out at `start`: a zip so damaged has every offset off by that."""
    return data[:start] + data[start + length:]


# --------------------------------------------------------------------------- checkpoints


def untrained(folder: Path, dataset: str = "digits", kind: str = "vae", *,
              train: dict | None = None, sweep: str | None = None, **model) -> Path:
    """An untrained MLP checkpoint on `dataset` (a valid one, made in a blink): what a suite's
    refusals must leave byte-identical, what carries its user text, or what a page draws."""
    import torch

    from vae import checkpoints
    from vae.data import load_dataset
    from vae.models import VAE
    from vae.runner import RunSpec, checkpoint_config

    data = load_dataset(dataset)
    spec = RunSpec(dataset=dataset, model={"hidden": [16], "latent_dim": 3, **model}, kind=kind,
                   train=train or {}, sweep=sweep)
    model_config = spec.model_config(data)
    config = checkpoint_config(spec, data, model_config, spec.train_config())
    torch.manual_seed(0)
    checkpoints.save(folder, config=config, weights=VAE(model_config).state_dict(),
                     history={"epochs": []})
    return folder
