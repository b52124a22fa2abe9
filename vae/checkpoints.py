"""Checkpoints on disk: save, load, list, rename, delete, import (docs/design.md §5).

A checkpoint folder NAME/ holds complete version folders v000001/, v000002/, ... and a pointer
file CURRENT naming the live one. A save writes the new version under a hidden temporary name,
renames it into place, then switches CURRENT with os.replace, so a kill at any moment leaves the
name resolving to exactly one complete version. Only safetensors and json are read: nothing is
ever unpickled, and every file is validated before a Checkpoint is handed out.

One writer per checkpoint at a time (a training job, the CLI or an import): a save removes the
temporary leftovers it finds, which would include a concurrent writer's work in progress.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import struct
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import safetensors
from safetensors import SafetensorError, safe_open

from vae.files import write_atomic
from vae.model_config import ConfigError, ModelConfig, weight_shapes

# torch is imported where tensors are made or read: listing checkpoints and reading their
# configs (`python -m vae list`) start without its 2 s import.
if TYPE_CHECKING:
    import torch

    from vae.models import VAE

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
# Tests and throwaway servers point these elsewhere, so they never touch a user's models.
RUNS_DIR = Path(os.environ.get("LATENT_LAB_RUNS_DIR") or SHIPPED_DIR / "runs")
CACHE_DIR = Path(os.environ.get("LATENT_LAB_CACHE_DIR") or SHIPPED_DIR / ".cache")

FORMAT = 1
MAX_NAME_CHARS = 64

CONFIG = "config.json"
MODEL = "model.safetensors"
HISTORY = "history.json"
OPTIMIZER = "optimizer.safetensors"
SNAPSHOTS = "snapshots.safetensors"
REQUIRED_FILES = (CONFIG, MODEL, HISTORY)
OPTIONAL_FILES = (OPTIMIZER, SNAPSHOTS)
CONFIG_KEYS = {"format": int, "model": dict, "data": dict, "train": dict, "versions": dict,
               "seed": int}
# The run's recipe, needed only to resume: shipped and hand-made checkpoints may leave it out.
OPTIONAL_CONFIG_KEYS = {"spec": dict}

# Derived data (figures, metrics, encodings, maps) of every version, named by content key.
DERIVED = "derived"
# A data licence notice a shipped model's bundled sample carries (vae/bundled_sample.py).
DATA_NOTICE = "DATA-NOTICE.txt"
# Set by `make checkpoints`: shipped models then get their derived data as tracked files.
WRITE_SHIPPED_ENV = "LATENT_LAB_WRITE_SHIPPED_DERIVED"
# Caches of earlier releases, keyed by path and mtime: removed by remove_legacy_caches.
_LEGACY_CACHES = ("eval", "metrics", "projection")

_POINTER = "CURRENT"
_TMP = ".tmp-"
_VERSION = re.compile(r"v\d{6,}")
_TRASH = re.compile(r"\.latentlab-trash-[0-9a-f]{32}")
_RETRY = "re-export or retrain it"
# safetensors raises its own error for bad headers, but KeyError and the like for dtypes it can
# parse and torch lacks.
_UNREADABLE = (SafetensorError, OSError, KeyError, TypeError, ValueError)


class CheckpointError(ValueError):
    """One sentence naming the checkpoint and the problem, and what to do."""


@dataclass
class Checkpoint:
    path: Path  # the checkpoint folder (NAME/, not the version folder)
    version: Path  # the complete version folder CURRENT pointed at when this was loaded
    config: dict = field(repr=False)  # histories run to megabytes: keep reprs and logs short
    history: dict = field(repr=False)
    # The version's identity: a hash of its weights' bytes, the same after a copy, a clone or
    # a rename, and new whenever the weights change (docs/design.md §5).
    key: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def shipped(self) -> bool:
        return _is_shipped(self.path)

    @property
    def resumable(self) -> bool:
        """Whether it holds what continuing its training needs: optimizer state and the recipe."""
        return "spec" in self.config and (self.version / OPTIMIZER).is_file()

    def derived_file(self, kind: str, code_version: int, params: str = "",
                     suffix: str = ".json") -> Path:
        """Where data of `kind` derived from this version lives; `code_version` is the deriving
        code's, so changing a definition orphans its old results and keeps the others.

        A file inside the checkpoint's folder goes with it (rename, delete). Shipped models
        carry theirs in git; what the app derives for them goes to CACHE_DIR instead.
        """
        name = f"{kind}-c{code_version}-{self.key}{f'-{params}' if params else ''}{suffix}"
        inside = self.path / DERIVED / name
        if self.shipped and not inside.exists() and not os.environ.get(WRITE_SHIPPED_ENV):
            return CACHE_DIR / DERIVED / name
        return inside

    def derived_files(self, kind: str, code_version: int) -> list[Path]:
        """Every file of `kind` derived from this version by that code, whatever its
        parameters, wherever `derived_file` put it."""
        stem = f"{kind}-c{code_version}-{self.key}"
        return sorted(p for folder in (self.path / DERIVED, CACHE_DIR / DERIVED)
                      for p in folder.glob(f"{stem}*"))

    def class_index(self, text: str) -> int:
        """The label of the class `text` names, by name or by number; a sentence for a model
        trained without classes or a class it does not have."""
        k = self.config["model"]["num_classes"]
        if not k:
            raise CheckpointError(f"'{self.name}' was trained without classes, so no class can "
                                  "be chosen; leave the label out or pick a CVAE.")
        names = [str(n) for n in self.config["data"].get("class_names") or []][:k]
        text = text.strip()
        if text in names:
            return names.index(text)
        if text.isdigit() and int(text) < k:
            return int(text)
        shown = ", ".join(names) if names else f"0 to {k - 1}"
        raise CheckpointError(f"'{self.name}' has no class '{text}'; choose one of {shown}.")

    def weights(self) -> dict[str, torch.Tensor]:
        return _read_tensors(self.version / MODEL, _where(self.path))[0]

    def optimizer(self) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
        file = self.version / OPTIMIZER
        return _read_tensors(file, _where(self.path)) if file.exists() else None

    def slim_files(self) -> dict[str, bytes]:
        """The version's files without its training state (how models ship and travel)."""
        return {name: (self.version / name).read_bytes() for name in (*REQUIRED_FILES, SNAPSHOTS)
                if (self.version / name).exists()}

    def snapshots(self) -> dict[str, torch.Tensor] | None:
        file = self.version / SNAPSHOTS
        return _read_tensors(file, _where(self.path))[0] if file.exists() else None


def save(
    path: str | Path,
    *,
    config: dict,
    weights: dict[str, torch.Tensor],
    history: dict,
    optimizer: tuple[dict[str, torch.Tensor], dict[str, str]] | None = None,
    snapshots: dict[str, torch.Tensor] | None = None,
) -> Checkpoint:
    """Write a new version of the checkpoint at `path` and make it current, crash-safely.

    Refuses (CheckpointError) anything load() would refuse: config and history must survive a
    strict JSON round trip (no NaN, no tensors or numpy scalars) and the weights must match the
    model the config describes.
    """
    folder = _folder(path)
    where = _where(folder)
    files = {CONFIG: _dump_json(config, where, CONFIG),
             HISTORY: _dump_json(history, where, HISTORY)}
    stored_config, stored_history = json.loads(files[CONFIG]), json.loads(files[HISTORY])
    files[MODEL] = _serialize(weights, None, where, "weights")
    _check_contents(where, stored_config, stored_history, _shapes(weights))
    if optimizer is not None:
        files[OPTIMIZER] = _serialize(*optimizer, where, "optimizer state")
    if snapshots is not None:
        files[SNAPSHOTS] = _serialize(snapshots, None, where, "snapshots")

    folder.mkdir(parents=True, exist_ok=True)
    _check_layout(folder, where)
    previous = _pointer(folder)
    staging = folder / f"{_TMP}{uuid.uuid4().hex}"
    version = staging
    staging.mkdir()
    try:
        for name, data in files.items():
            _write_synced(staging / name, data)
        _fsync_dir(staging)
        target = folder / f"v{_last_version(folder) + 1:06d}"
        os.rename(staging, target)
        version = target
        # Synced before the pointer moves, so a power cut cannot persist CURRENT without its
        # target.
        _fsync_dir(folder)
        write_atomic(folder / _POINTER, f"{version.name}\n".encode(), durable=True)
    except OSError:
        # A failed write (a full disk): the files of a version never made current would hold
        # the very space a retry needs. The previous version is untouched.
        shutil.rmtree(version, ignore_errors=True)
        raise
    _fsync_dir(folder)
    # The previous version stays: a reader that resolved CURRENT just before may still read it.
    # Its weights are all such a reader needs; its training state is the new version's now.
    _collect_garbage(folder, keep={version.name, previous})
    if previous:
        for name in (OPTIMIZER, SNAPSHOTS):
            with contextlib.suppress(OSError):
                (folder / previous / name).unlink(missing_ok=True)
    checkpoint = Checkpoint(folder, version, stored_config, stored_history,
                            _remember_key(version / MODEL, files[MODEL]))
    kept = {checkpoint.key}
    with contextlib.suppress(OSError):  # a damaged previous version has nothing worth keeping
        if previous:
            kept.add(_weights_key(folder / previous / MODEL))
    _prune_derived(folder, kept)
    return checkpoint


def load(path: str | Path) -> Checkpoint:
    """The checkpoint's current version, fully validated; weights are read on demand."""
    folder = _folder(path)
    where = _where(folder)
    version = _current_version(folder)
    config = _parse_json(_read_bytes(version / CONFIG, where), where, CONFIG)
    history = _parse_json(_read_bytes(version / HISTORY, where), where, HISTORY)
    # Headers only: every safetensors file is checked without reading its tensors.
    for name in OPTIONAL_FILES:
        if (version / name).exists():
            _header_shapes(version / name, where)
    _check_contents(where, config, history, _header_shapes(version / MODEL, where))
    try:
        key = _weights_key(version / MODEL)
    except OSError as err:
        raise _unreadable(err, where, MODEL) from None
    return Checkpoint(folder, version, config, history, key)


def load_model(path: str | Path) -> tuple[VAE, Checkpoint]:
    """The model in eval mode; load() has checked that every weight name and shape matches."""
    from vae.models import VAE

    checkpoint = load(path)
    return VAE.with_weights(ModelConfig.from_dict(checkpoint.config["model"]),
                            checkpoint.weights()), checkpoint


def current_key(path: str | Path) -> str:
    """The key of the checkpoint's current version, without parsing it: a few stat calls once
    its weights have been hashed."""
    return _weights_key(_current_version(_folder(path)) / MODEL)


def remove_legacy_caches() -> None:
    """Remove the caches of earlier releases, which named a version by path and mtime and so
    could serve one model's map to another of the same name."""
    for kind in _LEGACY_CACHES:
        shutil.rmtree(CACHE_DIR / kind, ignore_errors=True)


def is_checkpoint(path: str | Path) -> bool:
    """Whether CURRENT points at a version with all its files (a cheap check; load validates)."""
    try:
        _current_version(_folder(path))
    except CheckpointError:
        return False
    return True


def list_checkpoints(roots: list[Path] | None = None) -> list[Checkpoint]:
    """Valid checkpoints directly under each root (default: shipped, then runs), by name.

    Broken or half-made folders are skipped: listing never raises.
    """
    found = []
    for root in [SHIPPED_DIR, RUNS_DIR] if roots is None else roots:
        try:
            entries = sorted(Path(root).iterdir(), key=lambda p: p.name.casefold())
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                found.append(load(entry))
            except (CheckpointError, OSError):
                continue
    return found


def resolve_name(name: str, root: Path | None = None) -> Path:
    """The folder for an app-side checkpoint name under `root` (default RUNS_DIR).

    The name is NFC-normalized and stripped; anything that could leave `root`, hide the folder
    or confuse a file system is refused with a CheckpointError.
    """
    root = (RUNS_DIR if root is None else Path(root)).resolve()
    clean = unicodedata.normalize("NFC", name).strip()
    problem = _name_problem(clean)
    if problem:
        raise CheckpointError(f"Checkpoint name {_shown(name)} is refused: {problem}; choose a "
                              f"name of at most {MAX_NAME_CHARS} letters, digits, '-' or '_'.")
    target = root / clean
    if target.resolve().parent != root:
        raise CheckpointError(f"Checkpoint name {_shown(name)} is refused: it leads outside "
                              f"{root}; choose another name.")
    return target


def rename(path: str | Path, new_name: str) -> Path:
    """Rename the checkpoint folder in place (one os.rename); returns the new folder."""
    folder = _folder(path)
    where = _where(folder)
    _refuse_shipped(folder, "renamed")
    _current_version(folder)
    target = resolve_name(new_name, folder.parent)
    if os.path.lexists(target):
        raise refusal(where, f"a checkpoint named '{target.name}' already exists",
                      "choose another name")
    os.rename(folder, target)
    _fsync_dir(folder.parent)
    return target


def delete(path: str | Path) -> None:
    """Delete the checkpoint: one rename takes the name away at once, then the files go."""
    folder = _folder(path)
    where = _where(folder)
    _refuse_shipped(folder, "deleted")
    if folder.is_symlink() or not folder.is_dir():
        raise refusal(where, "there is no such checkpoint folder", "check the name")
    # Only ever remove what a save could have made, whatever path the user gave.
    _check_layout(folder, where)
    parent = folder.parent
    for leftover in parent.iterdir():
        if _TRASH.fullmatch(leftover.name):  # a delete killed during its rmtree
            shutil.rmtree(leftover, ignore_errors=True)
    trash = parent / f".latentlab-trash-{uuid.uuid4().hex}"
    os.rename(folder, trash)
    _fsync_dir(parent)
    shutil.rmtree(trash, ignore_errors=True)


def import_files(files: dict[str, bytes], where: str, folder_name: str,
                 root: Path | None = None, name: str | None = None) -> Checkpoint:
    """Validate one version's files like load() and save them as a new checkpoint.

    `files` maps file names (REQUIRED_FILES, maybe OPTIONAL_FILES) to their bytes; `where` names
    their source in messages. The checkpoint is named `name`, or else `folder_name`, the name the
    files came under; if taken, the first free "NAME-2", "NAME-3", ... is used (see .name).
    """
    missing = [file for file in REQUIRED_FILES if file not in files]
    if missing:
        raise refusal(where, f"it lacks {missing[0]}", "export the checkpoint again")
    config = _parse_json(files[CONFIG], where, CONFIG)
    history = _parse_json(files[HISTORY], where, HISTORY)
    tensors = {file: _parse_tensors(data, where, file)
               for file, data in files.items() if file.endswith(".safetensors")}
    weights = tensors[MODEL][0]
    snapshots = tensors[SNAPSHOTS][0] if SNAPSHOTS in tensors else None
    _check_contents(where, config, history, _shapes(weights))
    if name is None:
        # The name comes with the files, not from the user: say so, and what to change there
        # (the app's import has no name box; resolve_name's advice would point nowhere).
        problem = _name_problem(unicodedata.normalize("NFC", folder_name).strip())
        if problem:
            raise refusal(where, f"its folder name {_shown(folder_name)} cannot name a "
                          f"checkpoint: {problem}", "rename the folder inside the zip and "
                          "import it again")
    folder = _claim_name(folder_name if name is None else name, root)
    try:
        return save(folder, config=config, weights=weights, history=history,
                    optimizer=tensors.get(OPTIMIZER), snapshots=snapshots)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # give the claimed name back
        raise


# --- what the files hold (docs/design.md §5) ------------------------------------------------


def make_config(*, model: dict, data: dict, train: dict, spec: dict | None = None) -> dict:
    """The content of config.json: model, data and training config, the seed, the library
    versions of this run, and the recipe (`spec`) that resuming needs."""
    import torch

    config = {
        "format": FORMAT,
        "model": model,
        "data": data,
        "train": train,
        "seed": train["seed"],
        "versions": {"torch": torch.__version__, "numpy": np.__version__,
                     "safetensors": safetensors.__version__, "python": platform.python_version()},
    }
    return config if spec is None else {**config, "spec": spec}


def resume_record(history: dict, step: int, epoch: int) -> dict:
    """The history as saved: rounded, with where training stopped, for resuming."""
    return rounded_history({**history, "resume": {"step": step, "epoch": epoch}})


def rounded_history(history: dict) -> dict:
    """The history with six significant digits, as it is saved: far below the noise of any
    logged term, and it keeps the history of a 1,000-epoch run (it ships with the model) a few
    hundred kB. Rounded here, once a save, not once a step: that costs 1 % of a small step."""
    def r(v):
        return float(f"{v:.6g}") if isinstance(v, float) else v

    def rounded(record: dict) -> dict:
        return {k: [r(x) for x in v] if isinstance(v, list) else r(v) for k, v in record.items()}

    return {**history, "steps": [rounded(s) for s in history["steps"]],
            "epochs": [rounded(e) for e in history["epochs"]]}


def flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict, dict[str, str]]:
    """Optimizer state as flat tensors + JSON metadata, the form safetensors can hold."""
    import torch

    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"state.{index}.{key}"] = value.detach().clone().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    meta = {"param_groups": json.dumps(state["param_groups"]), "scalars": json.dumps(scalars)}
    return tensors, meta


def unflatten_optimizer(tensors: dict, meta: dict[str, str]) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    for name, value in json.loads(meta.get("scalars", "{}")).items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": json.loads(meta["param_groups"])}


def snapshot_tensors(snapshots: dict[int, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {f"step{step:08d}.{name}": t for step, weights in snapshots.items()
            for name, t in weights.items()}


def split_snapshots(tensors: dict[str, torch.Tensor]) -> dict[int, dict[str, torch.Tensor]]:
    out: dict[int, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        step, name = key.split(".", 1)
        out.setdefault(int(step.removeprefix("step")), {})[name] = t
    return dict(sorted(out.items()))


# --- validation shared by save, load and import ---------------------------------------------


def refusal(where: str, problem: str, advice: str) -> CheckpointError:
    """The one sentence of a CheckpointError: what `where` names, what is wrong, what to do."""
    return CheckpointError(f"{where}: {problem}; {advice}.")


def _where(folder: Path) -> str:
    return f"Checkpoint '{folder.name}'"


def _folder(path: str | Path) -> Path:
    return Path(os.path.abspath(path))


def _check_contents(where: str, config: Any, history: Any, stored: dict[str, tuple]) -> None:
    if not isinstance(config, dict):
        raise refusal(where, f"{CONFIG} is not a JSON object", _RETRY)
    known = CONFIG_KEYS | OPTIONAL_CONFIG_KEYS
    unknown = sorted(set(config) - set(known))
    missing = sorted(set(CONFIG_KEYS) - set(config))
    if unknown or missing:
        problem = f"unknown keys {unknown}" if unknown else f"missing keys {missing}"
        raise refusal(where, f"{CONFIG} has {problem}", _RETRY)
    for key, kind in known.items():
        if key in config and (not isinstance(config[key], kind) or isinstance(config[key], bool)):
            raise refusal(where, f"{CONFIG} '{key}' should be of type {kind.__name__}", _RETRY)
    if config["format"] != FORMAT:
        raise refusal(where, f"{CONFIG} has format {config['format']} but this Latent Lab reads "
                      f"format {FORMAT}", "update Latent Lab")
    try:
        expected = weight_shapes(ModelConfig.from_dict(config["model"]))
    except (ConfigError, TypeError, ValueError) as err:
        raise refusal(where, f"{CONFIG} does not describe a buildable model "
                      f"({str(err).rstrip('.')})", _RETRY) from None
    if not isinstance(history, dict):
        raise refusal(where, f"{HISTORY} is not a JSON object", _RETRY)
    for name, shape in expected.items():
        if name not in stored:
            raise refusal(where, f"{MODEL} lacks the weight '{name}'", _RETRY)
        if stored[name] != shape:
            raise refusal(where, f"{MODEL} weight '{name}' has shape {stored[name]} but the "
                          f"config needs {shape}", _RETRY)
    extra = sorted(set(stored) - set(expected))
    if extra:
        raise refusal(where, f"{MODEL} has the unexpected weight '{extra[0]}'", _RETRY)


def _shapes(tensors: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {name: tuple(tensor.shape) for name, tensor in tensors.items()}


def _dump_json(value: Any, where: str, filename: str) -> bytes:
    try:
        text = json.dumps(value, indent=1, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as err:
        raise refusal(where, f"cannot write {filename} ({err})",
                      "store only JSON values: None for NaN, float() or .tolist() for tensors and "
                      "numpy numbers") from None
    return text.encode("utf-8")


def _parse_json(data: bytes, where: str, filename: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    try:
        return json.loads(data.decode("utf-8"), parse_constant=refuse)
    except (ValueError, RecursionError):
        raise refusal(where, f"{filename} is not valid JSON", _RETRY) from None


def _serialize(tensors: Any, metadata: Any, where: str, what: str) -> bytes:
    import torch
    from safetensors.torch import save as serialize

    if not isinstance(tensors, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()
    ):
        raise refusal(where, f"the {what} must map names to tensors", "pass a state_dict")
    if metadata is not None and not (isinstance(metadata, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    )):
        raise refusal(where, f"the {what} metadata must map strings to strings",
                      "encode numbers with str() or json.dumps()")
    # safetensors refuses tensors that share storage (tied weights, views of one buffer).
    own = {k: v.detach().cpu().clone(memory_format=torch.contiguous_format)
           for k, v in tensors.items()}
    return serialize(own, metadata=metadata)


def _unreadable(err: Exception, where: str, filename: str) -> CheckpointError:
    if isinstance(err, OSError):
        # Typically a version that two later saves have replaced since it was loaded.
        return refusal(where, f"{filename} cannot be read ({err.strerror or err})",
                       "load the checkpoint again")
    return refusal(where, f"{filename} is not a valid safetensors file (truncated or another "
                   "format)", _RETRY)


def _header_shapes(file: Path, where: str) -> dict[str, tuple[int, ...]]:
    try:
        with safe_open(file, framework="numpy") as f:  # the header alone: no tensor is read
            names = f.keys()
            return {name: tuple(f.get_slice(name).get_shape()) for name in names}
    except _UNREADABLE as err:
        raise _unreadable(err, where, file.name) from None


def _read_tensors(file: Path, where: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        with safe_open(file, framework="pt") as f:
            names = f.keys()
            return {name: f.get_tensor(name) for name in names}, f.metadata() or {}
    except _UNREADABLE as err:
        raise _unreadable(err, where, file.name) from None


def _parse_tensors(data: bytes, where: str, filename: str) -> tuple[dict[str, torch.Tensor],
                                                                    dict[str, str]]:
    from safetensors.torch import load as deserialize

    try:
        tensors = deserialize(data)
    except _UNREADABLE as err:
        raise _unreadable(err, where, filename) from None
    # Loading from bytes drops the metadata; the header was validated just above.
    (size,) = struct.unpack_from("<Q", data)
    return tensors, json.loads(data[8:8 + size]).get("__metadata__") or {}


def _read_bytes(file: Path, where: str) -> bytes:
    try:
        return file.read_bytes()
    except OSError as err:
        raise _unreadable(err, where, file.name) from None


# --- the on-disk layout -----------------------------------------------------------------------


def _pointer(folder: Path) -> str | None:
    try:
        text = (folder / _POINTER).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if _VERSION.fullmatch(text) else None


def _current_version(folder: Path) -> Path:
    where = _where(folder)
    if not folder.is_dir():
        raise refusal(where, "there is no such checkpoint folder", "check the name or path")
    pointer = _pointer(folder)
    if pointer is None:
        raise refusal(where, f"{_POINTER} is missing or damaged (not a checkpoint, or its "
                      "first save never finished)", "save or import it again")
    version = folder / pointer
    for name in REQUIRED_FILES:
        if not (version / name).is_file():
            raise refusal(where, f"{name} is missing from {pointer}", "save or import it again")
    return version


def _last_version(folder: Path) -> int:
    return max((int(e.name[1:]) for e in folder.iterdir() if _VERSION.fullmatch(e.name)),
               default=0)


def _is_layout_entry(name: str) -> bool:
    # A pointer's temporary file is write_atomic's; earlier code named it CURRENT.tmp-.
    temporary = (_TMP, f".{_POINTER}.tmp-", _POINTER + _TMP)
    return name == _POINTER or name.startswith(temporary) or bool(_VERSION.fullmatch(name))


def _check_layout(folder: Path, where: str) -> None:
    strangers = sorted(e.name for e in folder.iterdir()
                       if not _is_layout_entry(e.name) and e.name not in (DERIVED, DATA_NOTICE))
    if strangers:
        raise refusal(where, f"the folder holds files that are not part of a checkpoint "
                      f"({', '.join(strangers[:3])})", "choose a new or empty folder")


def _collect_garbage(folder: Path, keep: set[str | None]) -> None:
    # The new version is already live: whatever cannot be removed now is retried next save.
    for entry in folder.iterdir():
        if entry.name == _POINTER or entry.name in keep or not _is_layout_entry(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            if _VERSION.fullmatch(entry.name):
                # Renamed away first, as delete() does, so a kill halfway through the removal
                # never leaves a version under its name with some of its files gone.
                doomed = folder / f"{_TMP}{uuid.uuid4().hex}"
                with contextlib.suppress(OSError):
                    entry = entry.rename(doomed)
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _prune_derived(folder: Path, keep: set[str]) -> None:
    # Derived data of versions no longer kept can never be asked for again.
    for file in (folder / DERIVED).glob("*"):
        if not any(key in file.name for key in keep):
            file.unlink(missing_ok=True)


# Hashing is the identity; the stat signature only spares re-reading unchanged weights.
_KEYS: dict[tuple, str] = {}


def _signature(file: Path) -> tuple:
    st = file.stat()
    return (str(file.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)


def _remember_key(file: Path, data: bytes) -> str:
    key = _KEYS[_signature(file)] = hashlib.sha256(data).hexdigest()[:20]
    return key


def _weights_key(file: Path) -> str:
    signature = _signature(file)
    return _KEYS.get(signature) or _remember_key(file, file.read_bytes())


def _write_synced(file: Path, data: bytes) -> None:
    with open(file, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync elsewhere
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_shipped(folder: Path) -> bool:
    return folder.resolve().parent == SHIPPED_DIR.resolve()


def _refuse_shipped(folder: Path, done: str) -> None:
    if _is_shipped(folder):
        raise refusal(_where(folder), f"it ships with Latent Lab and cannot be {done}",
                      "export and import it to get a copy of your own")


# --- names ------------------------------------------------------------------------------------


def _name_problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if "/" in name or "\\" in name:
        return "it contains '/' or '\\'"
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return "it contains control or invisible characters"
    if name.startswith("."):
        return "it starts with a dot"
    if len(name) > MAX_NAME_CHARS:
        return f"it is longer than {MAX_NAME_CHARS} characters"
    return None


def _shown(name: Any) -> str:
    text = repr(name)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _claim_name(base: str, root: Path | None) -> Path:
    first = resolve_name(base, root)
    first.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        suffix = "" if n == 1 else f"-{n}"
        candidate = resolve_name(first.name[:MAX_NAME_CHARS - len(suffix)] + suffix, root)
        try:
            candidate.mkdir()  # atomic: two imports can never claim the same name
        except FileExistsError:
            continue
        return candidate
    raise CheckpointError(f"Checkpoint name '{first.name}' is taken, and so are its numbered "
                          "variants; choose another name.")
