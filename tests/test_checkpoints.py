"""Checkpoints: round trips, crash safety under real SIGKILLs, validation, names, zips."""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from vae import checkpoint_zips, checkpoints
from vae.checkpoints import CheckpointError
from vae.model_config import ModelConfig, weight_shapes
from vae.models import VAE

REPO = Path(__file__).resolve().parent.parent
SMALL = {"hidden": (16,), "latent_dim": 4}


def make_config(seed: int = 0, **model) -> dict:
    return {
        "format": 1,
        "model": ModelConfig(**{**SMALL, **model}).to_dict(),
        "data": {"name": "digits", "binarize": False},
        "train": {"epochs": 3, "beta": 1.0},
        "versions": {"torch": torch.__version__},
        "seed": seed,
    }


def save_model(folder: Path, seed: int = 0, **model) -> VAE:
    torch.manual_seed(seed)
    net = VAE(ModelConfig(**{**SMALL, **model}))
    history = {"step": [1, 2], "loss": [3.5, 2.25], "rng": {"torch": "abc"}, "note": None}
    checkpoints.save(folder, config=make_config(seed, **model), weights=net.state_dict(),
                     history=history)
    return net


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    shipped = tmp_path / "checkpoints"
    runs = shipped / "runs"
    runs.mkdir(parents=True)
    monkeypatch.setattr(checkpoints, "SHIPPED_DIR", shipped)
    monkeypatch.setattr(checkpoints, "RUNS_DIR", runs)
    return shipped, runs


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [
    {},
    {"arch": "conv", "image_shape": (1, 28, 28), "conv_channels": (4, 4)},
    {"num_classes": 3, "likelihood": "gaussian", "learn_sigma": True},
])
def test_reloaded_model_decodes_identically(tmp_path: Path, model: dict) -> None:
    net = save_model(tmp_path / "run", **model)
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    c = torch.arange(5) % 3 if model.get("num_classes") else None
    loaded, checkpoint = checkpoints.load_model(tmp_path / "run")
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(net.decode(z, c), loaded.decode(z, c))
    assert checkpoint.config == json.loads(json.dumps(make_config(**model)))
    assert checkpoint.history["loss"] == [3.5, 2.25]
    assert checkpoint.optimizer() is None and checkpoint.snapshots() is None


def test_optimizer_and_snapshots_round_trip_with_metadata(tmp_path: Path) -> None:
    weights = VAE(ModelConfig(**SMALL)).state_dict()
    base = torch.arange(12.0).reshape(3, 4)
    # Views of one buffer and a transposed (non-contiguous) tensor: safetensors alone refuses these.
    state = {"state.0.exp_avg": base, "state.0.row": base[1], "state.0.t": base.t()}
    metadata = {"kind": "adam", "step": "120", "param_groups": json.dumps([{"lr": 1e-3}])}
    snapshots = {f"step_{s:06d}/{k}": v * s for s in (1, 10) for k, v in weights.items()}
    saved = checkpoints.save(tmp_path / "run", config=make_config(), weights=weights,
                             history={}, optimizer=(state, metadata), snapshots=snapshots)
    checkpoint = checkpoints.load(tmp_path / "run")
    assert checkpoint == saved
    tensors, meta = checkpoint.optimizer()
    assert meta == metadata
    assert tensors.keys() == state.keys()
    assert all(torch.equal(tensors[k], v) for k, v in state.items())
    loaded = checkpoint.snapshots()
    assert loaded.keys() == snapshots.keys()
    assert all(torch.equal(loaded[k], v) for k, v in snapshots.items())


def test_saves_make_versions_and_keep_only_the_previous(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    loaded = []
    for seed in range(4):
        save_model(folder, seed=seed)
        loaded.append(checkpoints.load(folder))
    assert sorted(p.name for p in folder.iterdir()) == ["CURRENT", "v000003", "v000004"]
    assert checkpoints.load(folder).config["seed"] == 3
    # A reader still holding the previous version can finish; an older one is told to reload.
    assert loaded[2].weights().keys() == loaded[3].weights().keys()
    with pytest.raises(CheckpointError, match="model.safetensors cannot be read .*load the "):
        loaded[1].weights()


def test_an_interrupted_cleanup_never_leaves_a_version_with_files_missing(tmp_path: Path,
                                                                          monkeypatch) -> None:
    folder = tmp_path / "run"
    for seed in range(2):
        save_model(folder, seed=seed)

    def killed_halfway(path, ignore_errors=False):
        next(Path(path).iterdir()).unlink()  # the first file goes, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.shutil, "rmtree", killed_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_model(folder, seed=2)  # its cleanup removes v000001
    versions = [p for p in folder.iterdir() if p.name.startswith("v")]
    assert sorted(p.name for p in versions) == ["v000002", "v000003"]
    assert all(all((v / name).is_file() for name in checkpoints.REQUIRED_FILES) for v in versions)
    monkeypatch.undo()
    save_model(folder, seed=3)  # the next save finishes the removal
    assert sorted(p.name for p in folder.iterdir()) == ["CURRENT", "v000003", "v000004"]


# --- crash safety -----------------------------------------------------------------------------

# A forking parent that never runs torch ops (so its children start with sane OpenMP state and
# without re-importing torch): each round a child saves in a loop and is SIGKILLed at random.
SAVE_AND_KILL = """
import json, os, random, signal, sys, time
import torch
from vae import checkpoints
from vae.model_config import ModelConfig
from vae.models import VAE

folder, rounds, config = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
for r in range(rounds):
    pid = os.fork()
    if pid == 0:
        try:
            with torch.device("meta"):
                model = VAE(ModelConfig.from_dict(config["model"]))
            shapes = {k: v.shape for k, v in model.state_dict().items()}
            i = 1000 * (r + 1)
            while True:
                i += 1
                w = {k: torch.full(s, float(i)) for k, s in shapes.items()}
                checkpoints.save(folder, config={**config, "seed": i}, weights=w,
                                 history={"i": i}, optimizer=(w, {"i": str(i)}))
        finally:
            os._exit(1)
    time.sleep(random.uniform(0.0, 0.4))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    print("killed" if killed else "crashed", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")
def test_sigkill_during_save_leaves_one_complete_version(tmp_path: Path) -> None:
    model = {"image_shape": (1, 28, 28), "hidden": (512,), "latent_dim": 20}
    config = make_config(**model)
    folder = tmp_path / "run"
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in VAE(ModelConfig(**model)).state_dict().items()}
    first = {k: torch.zeros(s) for k, s in shapes.items()}
    checkpoints.save(folder, config=config, weights=first, history={"i": 0},
                     optimizer=(first, {"i": "0"}))
    rounds, last = 10, 0
    proc = subprocess.Popen(
        [sys.executable, "-c", SAVE_AND_KILL, str(folder), str(rounds), json.dumps(config)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(rounds):
            assert proc.stdout.readline() == "killed\n"
            checkpoint = checkpoints.load(folder)
            i = checkpoint.history["i"]
            # Every file of the version comes from the same save.
            assert checkpoint.config["seed"] == i and i >= last
            assert all(torch.all(w == i) for w in checkpoint.weights().values())
            tensors, meta = checkpoint.optimizer()
            assert meta == {"i": str(i)} and all(torch.all(t == i) for t in tensors.values())
            listed = checkpoints.list_checkpoints([tmp_path])
            assert [(c.name, c.version) for c in listed] == [("run", checkpoint.version)]
            last = i
            proc.stdin.write("next\n")
            proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    # The next save cleans whatever the killed ones left behind.
    checkpoints.save(folder, config=config, weights=first, history={"i": 0})
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 3 and names[0] == "CURRENT" and names[1].startswith("v")


def test_leftovers_of_a_killed_save_are_ignored_then_cleaned(tmp_path: Path) -> None:
    save_model(tmp_path / "run")
    folder = tmp_path / "run"
    (folder / ".tmp-0123").mkdir()
    (folder / ".tmp-0123" / "model.safetensors").write_bytes(b"half")
    (folder / "CURRENT.tmp-0123").write_text("v0000")
    orphan = folder / "v000002"  # renamed into place, but CURRENT never switched to it
    orphan.mkdir()
    assert checkpoints.load(folder).version.name == "v000001"
    assert [c.version.name for c in checkpoints.list_checkpoints([tmp_path])] == ["v000001"]
    save_model(folder, seed=1)
    assert sorted(p.name for p in folder.iterdir()) == ["CURRENT", "v000001", "v000003"]


# --- validation -------------------------------------------------------------------------------


class Trap:
    """Unpickling this creates `marker`: proof that a loader executed pickle code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def _edit_config(version: Path, edit) -> None:
    config = json.loads((version / "config.json").read_text())
    edit(config)
    (version / "config.json").write_text(json.dumps(config))


def _pickle_as_model(version: Path) -> None:
    trap = Trap(str(version.parent.parent / "unpickled"))
    payload = {"encoder.0.weight": torch.zeros(16, 64), "trap": trap}
    (version / "model.safetensors").write_bytes(pickle.dumps(payload))


def _truncate_model(version: Path) -> None:
    data = (version / "model.safetensors").read_bytes()
    (version / "model.safetensors").write_bytes(data[: len(data) // 2])


def _other_shapes(version: Path) -> None:
    save_file(VAE(ModelConfig(hidden=(32,), latent_dim=4)).state_dict(),
              version / "model.safetensors")


def _extra_weight(version: Path) -> None:
    weights = {**VAE(ModelConfig(**SMALL)).state_dict(), "extra.bias": torch.zeros(2)}
    save_file(weights, version / "model.safetensors")


CORRUPTIONS = {
    "pickle posing as safetensors": (_pickle_as_model,
                                     "model.safetensors is not a valid safetensors file"),
    "truncated safetensors": (_truncate_model, "model.safetensors is not a valid safetensors"),
    "config not JSON": (lambda v: (v / "config.json").write_text("{'model': oops"),
                        "config.json is not valid JSON"),
    "config with NaN": (lambda v: (v / "config.json").write_text('{"seed": NaN}'),
                        "config.json is not valid JSON"),
    "config unknown key": (lambda v: _edit_config(v, lambda c: c.update(colour=1)),
                           r"config.json has unknown keys \['colour'\]"),
    "model unknown key": (lambda v: _edit_config(v, lambda c: c["model"].update(depth=3)),
                          r"unknown keys \['depth'\]"),
    "model wrong type": (lambda v: _edit_config(v, lambda c: c["model"].update(latent_dim="4")),
                         "'latent_dim' has the wrong type"),
    "model float size": (lambda v: _edit_config(v, lambda c: c["model"].update(latent_dim=4.5)),
                         "config.json does not describe a buildable model"),
    "seed wrong type": (lambda v: _edit_config(v, lambda c: c.update(seed="0")),
                        "'seed' should be of type int"),
    "spec wrong type": (lambda v: _edit_config(v, lambda c: c.update(spec=["digits"])),
                        "'spec' should be of type dict"),
    "missing config key": (lambda v: _edit_config(v, lambda c: c.pop("data")),
                           r"missing keys \['data'\]"),
    "newer format": (lambda v: _edit_config(v, lambda c: c.update(format=2)),
                     "format 2 but this Latent Lab reads format 1; update Latent Lab"),
    "history not an object": (lambda v: (v / "history.json").write_text("[1, 2]"),
                              "history.json is not a JSON object"),
    "weight shape mismatch": (_other_shapes, r"model.safetensors weight 'encoder.0.weight' has "
                              r"shape \(32, 64\) but the config needs \(16, 64\)"),
    "unexpected weight": (_extra_weight, "unexpected weight 'extra.bias'"),
    "missing history": (lambda v: (v / "history.json").unlink(),
                        "history.json is missing from v000001"),
    "missing CURRENT": (lambda v: (v.parent / "CURRENT").unlink(), "CURRENT is missing"),
    "damaged CURRENT": (lambda v: (v.parent / "CURRENT").write_text("../../etc"),
                        "CURRENT is missing or damaged"),
    "bad optimizer file": (lambda v: (v / "optimizer.safetensors").write_bytes(b"\0" * 7),
                           "optimizer.safetensors is not a valid safetensors file"),
}


@pytest.mark.parametrize("corrupt, message", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_bad_files_raise_a_sentence(tmp_path: Path, corrupt, message: str) -> None:
    root = tmp_path / "root"
    save_model(root / "run")
    corrupt(root / "run" / "v000001")
    with pytest.raises(CheckpointError, match=message) as caught:
        checkpoints.load_model(root / "run")
    text = str(caught.value)
    assert text.startswith("Checkpoint 'run': ") and text.endswith(".") and "\n" not in text
    assert checkpoints.list_checkpoints([root]) == []
    assert not (tmp_path / "unpickled").exists()


def test_spec_is_optional_but_kept(tmp_path: Path) -> None:
    weights = VAE(ModelConfig(**SMALL)).state_dict()
    spec = {"dataset": "digits", "model": {"hidden": [16]}, "preset": None}
    checkpoints.save(tmp_path / "a", config=make_config(), weights=weights, history={})
    checkpoints.save(tmp_path / "b", config={**make_config(), "spec": spec}, weights=weights,
                     history={})
    assert "spec" not in checkpoints.load(tmp_path / "a").config
    assert checkpoints.load(tmp_path / "b").config["spec"] == spec


def test_save_refuses_what_load_would_refuse(tmp_path: Path) -> None:
    weights = VAE(ModelConfig(**SMALL)).state_dict()
    config = make_config()
    cases = [
        ({"history": {"loss": [float("nan")]}}, "cannot write history.json"),
        ({"history": {"loss": torch.tensor(1.0)}}, "not JSON serializable"),
        ({"config": {**config, "colour": 1}}, "unknown keys"),
        ({"weights": VAE(ModelConfig(hidden=(8,), latent_dim=4)).state_dict()}, "has shape"),
        ({"weights": {"w": [1.0]}}, "must map names to tensors"),
        ({"optimizer": (weights, {"step": 3})}, "metadata must map strings to strings"),
    ]
    for change, message in cases:
        kwargs = {"config": config, "weights": weights, "history": {}, **change}
        with pytest.raises(CheckpointError, match=message):
            checkpoints.save(tmp_path / "run", **kwargs)
        assert not (tmp_path / "run").exists()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.tex").write_text("precious")
    with pytest.raises(CheckpointError, match=r"not part of a checkpoint \(thesis.tex\)"):
        checkpoints.save(tmp_path / "notes", config=config, weights=weights, history={})


def test_list_checkpoints_skips_broken_hidden_and_missing(roots: tuple[Path, Path]) -> None:
    shipped, runs = roots
    for folder in (shipped / "digits", runs / "b-run", runs / "A-run", runs / ".hidden"):
        save_model(folder)
    (runs / "half").mkdir()
    (runs / "half" / ".tmp-1").mkdir()
    (runs / "file.txt").write_text("x")
    names = [(c.name, c.shipped) for c in checkpoints.list_checkpoints()]
    assert names == [("digits", True), ("A-run", False), ("b-run", False)]
    assert checkpoints.list_checkpoints([runs / "absent"]) == []
    assert checkpoints.is_checkpoint(runs / "A-run") and not checkpoints.is_checkpoint(runs)


# --- names, rename, delete --------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "../x", "/abs", "a/b", "a\\b", "a\x00b", "tab\tname", "bidi\u202eexe", "x" * 300, "x" * 65,
    "", "   ", ".", "..", ".hidden",
])
def test_resolve_name_refuses(roots: tuple[Path, Path], name: str) -> None:
    with pytest.raises(CheckpointError, match="is refused: it "):
        checkpoints.resolve_name(name)


def test_resolve_name_accepts_unicode_and_stays_inside(roots: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    _, runs = roots
    assert checkpoints.resolve_name("modèle-β") == runs.resolve() / "modèle-β"
    # NFC: a decomposed "è" and surrounding spaces name the same folder.
    assert checkpoints.resolve_name(" mode\u0300le-β ").name == "modèle-β"
    assert checkpoints.resolve_name("x" * 64, tmp_path) == tmp_path.resolve() / ("x" * 64)
    (runs / "link").symlink_to(tmp_path)
    with pytest.raises(CheckpointError, match="leads outside"):
        checkpoints.resolve_name("link")


def test_shipped_checkpoints_cannot_be_renamed_or_deleted(roots: tuple[Path, Path]) -> None:
    shipped, _ = roots
    save_model(shipped / "digits")
    with pytest.raises(CheckpointError, match="ships with Latent Lab and cannot be renamed"):
        checkpoints.rename(shipped / "digits", "mine")
    with pytest.raises(CheckpointError, match="ships with Latent Lab and cannot be deleted"):
        checkpoints.delete(shipped / "digits")
    assert checkpoints.load(shipped / "digits").shipped


def test_rename_run(roots: tuple[Path, Path]) -> None:
    _, runs = roots
    net = save_model(runs / "old")
    save_model(runs / "taken")
    with pytest.raises(CheckpointError, match="'taken' already exists"):
        checkpoints.rename(runs / "old", "taken")
    with pytest.raises(CheckpointError, match="is refused"):
        checkpoints.rename(runs / "old", "../escape")
    new = checkpoints.rename(runs / "old", "modèle-β")
    assert new == runs.resolve() / "modèle-β" and not (runs / "old").exists()
    weights = checkpoints.load(new).weights()
    assert all(torch.equal(weights[k], v) for k, v in net.state_dict().items())


def test_delete_run_and_refuse_foreign_folders(roots: tuple[Path, Path], tmp_path: Path) -> None:
    _, runs = roots
    save_model(runs / "gone")
    checkpoints.delete(runs / "gone")
    assert list(runs.iterdir()) == []
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.tex").write_text("precious")
    with pytest.raises(CheckpointError, match="not part of a checkpoint"):
        checkpoints.delete(tmp_path / "home")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        checkpoints.delete(runs / "never")
    assert (tmp_path / "home" / "thesis.tex").exists()


def test_delete_is_atomic(roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, runs = roots
    save_model(runs / "doomed")
    save_model(runs / "keep")
    rmtree = checkpoints.shutil.rmtree

    def killed_midway(path, ignore_errors=False):
        next(Path(path).glob("v*/model.safetensors")).unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.shutil, "rmtree", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.delete(runs / "doomed")
    # The name vanished in one step; the half-deleted files hide under a trash name.
    assert not (runs / "doomed").exists()
    assert [c.name for c in checkpoints.list_checkpoints()] == ["keep"]
    monkeypatch.setattr(checkpoints.shutil, "rmtree", rmtree)
    checkpoints.delete(runs / "keep")  # a later delete sweeps the trash
    assert list(runs.iterdir()) == []


def test_the_previous_version_keeps_its_weights_only(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    first = _saved_with_extras(folder)
    saved_first = first.weights()
    second = _saved_with_extras(folder)
    assert sorted(p.name for p in first.version.iterdir()) == [
        "config.json", "history.json", "model.safetensors"]
    assert (second.version / "snapshots.safetensors").exists()
    # A reader that resolved the first version still reads its weights, not the second's.
    assert all(torch.equal(first.weights()[k], v) for k, v in saved_first.items())


# --- zips -------------------------------------------------------------------------------------


def _saved_with_extras(folder: Path) -> checkpoints.Checkpoint:
    weights = VAE(ModelConfig(**SMALL)).state_dict()
    return checkpoints.save(folder, config=make_config(), weights=weights, history={"step": [1]},
                            optimizer=({"m": torch.ones(3)}, {"step": "1"}),
                            snapshots={"step_1/encoder.0.bias": torch.zeros(16)})


def test_export_import_round_trip(roots: tuple[Path, Path], tmp_path: Path) -> None:
    _, runs = roots
    original = _saved_with_extras(tmp_path / "elsewhere" / "run")
    (tmp_path / "out").mkdir()
    zip_path = checkpoint_zips.export_zip(original.path, tmp_path / "out")
    assert zip_path == tmp_path / "out" / "run.zip"
    # The app's download is the same zip, made in memory.
    in_memory = zipfile.ZipFile(io.BytesIO(checkpoint_zips.export_zip_bytes(original.path)))
    assert in_memory.namelist() == zipfile.ZipFile(zip_path).namelist()
    assert all(in_memory.read(n) == zipfile.ZipFile(zip_path).read(n) for n in in_memory.namelist())
    assert sorted(zipfile.ZipFile(zip_path).namelist()) == [
        "run/config.json", "run/history.json", "run/model.safetensors",
        "run/optimizer.safetensors", "run/snapshots.safetensors"]
    imported = checkpoint_zips.import_zip(zip_path)
    assert imported.path == runs.resolve() / "run"
    assert (imported.config, imported.history) == (original.config, original.history)
    for mine, theirs in [(imported.weights(), original.weights()),
                         (imported.snapshots(), original.snapshots()),
                         (imported.optimizer()[0], original.optimizer()[0])]:
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert imported.optimizer()[1] == {"step": "1"}
    # A taken name gets the first free suffix; an upload arrives as an open file.
    assert checkpoint_zips.import_zip(zip_path).name == "run-2"
    upload = io.BytesIO(zip_path.read_bytes())
    assert checkpoint_zips.import_zip(upload, name="mine").name == "mine"
    assert checkpoint_zips.import_zip(upload, name="x" * 64).name == "x" * 64
    assert checkpoint_zips.import_zip(upload, name="x" * 64).name == "x" * 62 + "-2"


def _zip(path: Path, members: dict, compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of duplicate names: one of the attacks
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _symlink_member() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("run/history.json")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


BAD_ZIPS = {
    "dot-dot member": ({"run/../../evil/config.json": b"{}"}, "leaves its folder with '..'"),
    "dot-dot top": ({"../run/config.json": b"{}"}, "leaves its folder"),
    "absolute member": ({"/run/config.json": b"{}"}, "is an absolute path"),
    "drive letter": ({"C:/run/config.json": b"{}"}, "is an absolute path"),
    "backslash": ({"run\\..\\config.json": b"{}"}, "leaves its folder with '..'"),
    "symlink member": ({_symlink_member(): b"/etc/passwd"}, "symbolic link"),
    "unknown member": ({"run/evil.py": b"print()"}, "is not a checkpoint file"),
    "nested member": ({"run/sub/config.json": b"{}"}, "is not a checkpoint file"),
    "two folders": ({"a/config.json": b"{}", "b/config.json": b"{}"}, "exactly one"),
    "duplicate": ({"run/history.json": b"{}", zipfile.ZipInfo("run/history.json"): b"{}"},
                  "holds history.json twice"),
    "no model": ({"run/config.json": b"{}", "run/history.json": b"{}"},
                 "lacks model.safetensors"),
}


@pytest.mark.parametrize("members, message", BAD_ZIPS.values(), ids=BAD_ZIPS.keys())
def test_import_refuses_bad_members(roots: tuple[Path, Path], tmp_path: Path,
                                   members: dict, message: str) -> None:
    _, runs = roots
    path = _zip(tmp_path / "bad.zip", members)
    with pytest.raises(CheckpointError, match=message) as caught:
        checkpoint_zips.import_zip(path)
    assert str(caught.value).startswith("Zip 'bad.zip': ")
    assert list(runs.iterdir()) == []


def test_import_refuses_bad_content(roots: tuple[Path, Path], tmp_path: Path) -> None:
    _, runs = roots
    good = checkpoint_zips.export_zip(_saved_with_extras(tmp_path / "run").path,
                                      tmp_path / "run.zip")
    with zipfile.ZipFile(good) as archive:
        files = {n.split("/")[1]: archive.read(n) for n in archive.namelist()}
    other = VAE(ModelConfig(hidden=(8,), latent_dim=4)).state_dict()
    save_file(other, tmp_path / "other.safetensors")
    cases = {
        "pickle": ({"model.safetensors": pickle.dumps(other)},
                   "model.safetensors is not a valid safetensors file"),
        "shapes": ({"model.safetensors": (tmp_path / "other.safetensors").read_bytes()},
                   "has shape"),
        "config": ({"config.json": b'{"format": 1}'}, "missing keys"),
        "history": ({"history.json": b"[]"}, "history.json is not a JSON object"),
    }
    for case, (change, message) in cases.items():
        members = {f"run/{name}": data for name, data in {**files, **change}.items()}
        with pytest.raises(CheckpointError, match=message):
            checkpoint_zips.import_zip(_zip(tmp_path / f"{case}.zip", members))
    (tmp_path / "text.zip").write_bytes(b"PK\x03\x04 surely not a zip")
    with pytest.raises(CheckpointError, match="not a readable zip file"):
        checkpoint_zips.import_zip(tmp_path / "text.zip")
    assert list(runs.iterdir()) == []


def test_export_refuses_what_import_would_refuse(roots: tuple[Path, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    original = _saved_with_extras(tmp_path / "elsewhere" / "run")
    size = sum(f.stat().st_size for f in original.version.iterdir())
    monkeypatch.setattr(checkpoint_zips, "MAX_IMPORT_BYTES", size - 1)
    for export in (lambda: checkpoint_zips.export_zip(original.path, tmp_path / "big.zip"),
                   lambda: checkpoint_zips.export_zip_bytes(original.path)):
        with pytest.raises(CheckpointError, match="more than the .* import accepts; export a "
                           "slim copy"):
            export()
    assert not (tmp_path / "big.zip").exists()
    monkeypatch.setattr(checkpoint_zips, "MAX_IMPORT_BYTES", size + 2000)  # + the zip's own
    checkpoint_zips.import_zip(checkpoint_zips.export_zip(original.path, tmp_path / "ok.zip"))


def test_import_limits_sizes(roots: tuple[Path, Path], tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    _, runs = roots
    weights = {k: torch.zeros_like(v) for k, v in VAE(ModelConfig(**SMALL)).state_dict().items()}
    checkpoints.save(tmp_path / "run", config=make_config(), weights=weights,
                     history={"pad": " " * 3000})
    stored = checkpoint_zips.export_zip(tmp_path / "run", tmp_path / "stored.zip")
    with zipfile.ZipFile(stored) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    # Zeros deflate to almost nothing: a small archive that declares big members.
    small = _zip(tmp_path / "deflated.zip", files, zipfile.ZIP_DEFLATED)
    sizes = sorted(len(data) for data in files.values())
    assert small.stat().st_size < 4000 < sizes[-1]
    monkeypatch.setattr(checkpoint_zips, "MAX_IMPORT_BYTES", 4000)
    with pytest.raises(CheckpointError, match="zip is larger than the import limit of 4,000 "):
        checkpoint_zips.import_zip(stored)
    with pytest.raises(CheckpointError, match="model.safetensors is larger than the import limit"):
        checkpoint_zips.import_zip(small)
    monkeypatch.setattr(checkpoint_zips, "MAX_IMPORT_BYTES", sizes[-1])
    with pytest.raises(CheckpointError, match="add up to more than the import limit"):
        checkpoint_zips.import_zip(small)
    monkeypatch.setattr(checkpoint_zips, "MAX_IMPORT_BYTES", sum(sizes))
    assert checkpoint_zips.import_zip(small).name == "run"
    assert [p.name for p in runs.iterdir()] == ["run"]


@pytest.mark.parametrize("config", [
    ModelConfig(),
    ModelConfig(image_shape=(1, 28, 28), hidden=(400, 200), latent_dim=16, num_classes=10),
    ModelConfig(image_shape=(3, 32, 32), arch="conv", hidden=(256,), learn_sigma=True,
                likelihood="gaussian"),
    ModelConfig(image_shape=(1, 28, 28), arch="conv", conv_channels=(8, 16), num_classes=3,
                activation="elu"),
])
def test_the_shapes_a_checkpoint_is_checked_against_are_the_networks(config):
    # Checked without building the network (listing never imports torch): the two agree.
    with torch.device("meta"):
        built = [(k, tuple(v.shape)) for k, v in VAE(config).state_dict().items()]
    assert list(weight_shapes(config).items()) == built  # the order names the first mismatch


def test_a_model_with_given_weights_decodes_as_the_model_they_came_from():
    # Built on the meta device, then given float32 copies: a checkpoint's tensors map its file.
    torch.manual_seed(0)
    source = VAE(ModelConfig(image_shape=(1, 8, 8), latent_dim=3, hidden=(16,))).eval()
    z = torch.randn(5, 3)
    for weights in (source.state_dict(), {k: v.double() for k, v in source.state_dict().items()}):
        model = VAE.with_weights(source.config, weights)
        with torch.no_grad():
            assert torch.allclose(model.decode(z), source.decode(z))
        assert not model.training
        assert all(p.dtype == torch.float32 and p.device.type == "cpu"
                   for p in model.parameters())
    with torch.no_grad():
        next(iter(weights.values())).add_(1.0)  # the caller's tensors change: the model not
        assert torch.allclose(model.decode(z), source.decode(z))
