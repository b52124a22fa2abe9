"""Reliability, bad input: checkpoints and zips (issue 13), through the Models page and the CLI.

Damaged checkpoint files are tried twice on the command line, as a folder (`python -m vae
evaluate FOLDER`) and as a zip (`python -m vae import FILE.zip`), and once in the app, as a zip
imported on the Models page. Names are tried with rename (the Models page, `python -m vae
rename`) and with `import --name`; hostile zips with import, in the app and on the command
line. Every refusal is one sentence naming the checkpoint or zip, the problem and what to do,
with no traceback; nothing is written outside the runs folder (and nothing in it, for a
refusal); every existing checkpoint, the test tree's and the repository's shipped ones, is
byte-identical afterwards. Each case lands in the reliability record.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import reliability
from bad_input import (
    assert_sentence,
    changes,
    cut,
    declare_size,
    file_hashes,
    patch_zip,
    run_cli,
    shipped_hashes,
    symlink_info,
    unescape,
    untrained,
    zip_bytes,
)
from streamlit.testing.v1 import AppTest
from tiny_models import REPO, FakeJobManager

from ui import state
from vae import checkpoint_zips, checkpoints

SUITE = "Bad input: checkpoints and zips"
pytestmark = pytest.mark.reliability

# Where a pickle posing as weights would leave its mark, were it ever unpickled.
UNPICKLED = Path(tempfile.gettempdir()) / f"latent-lab-unpickled-ckpt-{os.getpid()}"
LIMIT = checkpoint_zips.MAX_IMPORT_BYTES


class _Mkdir:
    def __reduce__(self):
        return (os.mkdir, (str(UNPICKLED),))


# --------------------------------------------------------------------------- the cases

Files = dict[str, bytes]  # a checkpoint's files: config.json, model.safetensors, history.json


def edit_config(change: Callable[[dict], None]) -> Callable[[Files], Files]:
    def corrupt(files: Files) -> Files:
        config = json.loads(files["config.json"])
        change(config)
        return {**files, "config.json": json.dumps(config).encode()}

    return corrupt


def replace(name: str, content: Callable[[bytes], bytes]) -> Callable[[Files], Files]:
    return lambda files: {**files, name: content(files[name])}


@dataclass(frozen=True)
class Damaged:
    """A checkpoint whose files were damaged so: tried as a folder and as a zip."""

    tried: str
    corrupt: Callable[[Files], Files]
    needles: tuple[str, ...]


DAMAGED = {
    "pickle posing as model.safetensors": Damaged(
        "model.safetensors replaced by a pickle that would create a folder when loaded",
        replace("model.safetensors", lambda _: pickle.dumps(_Mkdir())),
        ("model.safetensors is not a valid safetensors file",)),
    "truncated safetensors": Damaged(
        "model.safetensors cut to half its length",
        replace("model.safetensors", lambda b: b[:len(b) // 2]),
        ("model.safetensors is not a valid safetensors file",)),
    "config.json not JSON": Damaged(
        "config.json holding {'model': oops",
        replace("config.json", lambda _: b"{'model': oops"), ("config.json is not valid JSON",)),
    "config.json with unknown keys": Damaged(
        "config.json with an extra top-level key 'colour'",
        edit_config(lambda c: c.update(colour="red")), ("unknown keys ['colour']",)),
    "config.json with unknown model keys": Damaged(
        "config.json whose model section has an extra key 'depth'",
        edit_config(lambda c: c["model"].update(depth=3)), ("unknown keys ['depth']",)),
    "config.json with wrong types": Damaged(
        "config.json with latent_dim \"3\", a string",
        edit_config(lambda c: c["model"].update(latent_dim="3")), ("'latent_dim'", "type")),
    "config.json with a wrong top-level type": Damaged(
        "config.json with seed \"0\", a string",
        edit_config(lambda c: c.update(seed="0")), ("'seed' should be of type int",)),
    "config.json shapes not matching the weights": Damaged(
        "config.json saying latent_dim 5 over the weights of a 3-D model",
        edit_config(lambda c: c["model"].update(latent_dim=5)),
        ("has shape", "but the config needs")),
    "history.json not an object": Damaged(
        "history.json holding [1, 2]",
        replace("history.json", lambda _: b"[1, 2]"), ("history.json is not a JSON object",)),
}


@dataclass(frozen=True)
class Name:
    """A name given to rename (app and CLI) and to `import --name` (CLI)."""

    tried: str
    name: str
    needles: tuple[str, ...] = ()
    accepted: bool = False
    cli: bool = True  # a command line cannot carry a NUL byte
    app: bool = True  # Streamlit cuts a text box's value to its max_chars, even a forged one


NAMES = {
    "name with ../": Name("the name ../escape", "../escape", ("'../escape' is refused",)),
    "name that is an absolute path": Name("the name /tmp/escape", "/tmp/escape",
                                          ("contains '/'",)),
    "name with a NUL byte": Name("the name a<NUL>b (the app only: no command line can carry "
                                 "a NUL byte)", "a\x00b", ("control or invisible",), cli=False),
    "very long name": Name("a name of 300 letters", "x" * 300, ("longer than 64 characters",),
                           app=False),
    "name with a right-to-left override": Name("the name 'model\\u202egnp.exe'",
                                               "model\u202egnp.exe", ("control or invisible",)),
    "name that is a dot": Name("the name '..'", "..", ("starts with a dot",)),
    "unicode name": Name("the name 'modèle-β ✓' (letters beyond ASCII are fine)", "modèle-β ✓",
                         accepted=True),
}


@dataclass(frozen=True)
class BadZip:
    """A zip imported in the app and with `python -m vae import`."""

    tried: str
    make: Callable[[Files], bytes]  # from the good files
    needles: tuple[str, ...]
    sparse: bool = False  # on the command line, a file of the same size that takes no disk


def members(files: Files, top: str = "run", **extra) -> dict:
    return {**{f"{top}/{name}": data for name, data in files.items()}, **extra}


ZIPS = {
    "zip with ../ entries": BadZip(
        "a checkpoint zip with a member run/../../evil/config.json",
        lambda f: zip_bytes({**members(f), "run/../../evil/config.json": b"{}"}),
        ("'run/../../evil/config.json' leaves its folder with '..'",)),
    "zip whose folder is ..": BadZip(
        "a checkpoint zip whose top folder is '..'",
        lambda f: zip_bytes(members(f, "..")), ("leaves its folder with '..'",)),
    "zip with an absolute path": BadZip(
        "a checkpoint zip with a member /etc/config.json",
        lambda f: zip_bytes({**members(f), "/etc/config.json": b"{}"}),
        ("'/etc/config.json' is an absolute path",)),
    "zip with a symlink": BadZip(
        "a checkpoint zip whose history.json is a symbolic link to /etc/passwd",
        lambda f: zip_bytes({**{k: v for k, v in members(f).items() if "history" not in k},
                             symlink_info("run/history.json"): "/etc/passwd"}),
        ("symbolic link",)),
    "zip with a stray file": BadZip(
        "a checkpoint zip that also holds run/evil.py",
        lambda f: zip_bytes(members(f, **{"run/evil.py": b"print('hi')"})),
        ("'run/evil.py' is not a checkpoint file",)),
    "zip member expanding past the limit": BadZip(
        "a checkpoint zip whose model.safetensors declares 200 MiB + 1 byte",
        lambda f: declare_size(zip_bytes(members(f)), "run/model.safetensors", LIMIT + 1),
        (f"model.safetensors is larger than the import limit of {LIMIT:,} bytes",)),
    "zip member larger than it declares": BadZip(
        "a checkpoint zip whose history.json declares 10 bytes and inflates to 1 MiB",
        lambda f: declare_size(zip_bytes(members(f, **{"run/history.json": b" " * 2**20})),
                               "run/history.json", 10),
        ("not a readable zip file",)),
    "zip above the size limit": BadZip(
        "a 200 MiB + 1 byte upload (in a browser, Streamlit's uploader refuses it first)",
        lambda f: bytes(LIMIT + 1), (f"larger than the import limit of {LIMIT:,} bytes",),
        sparse=True),
    "zip whose folder name is too long": BadZip(
        "a checkpoint zip whose folder is named with 300 letters",
        lambda f: zip_bytes(members(f, "x" * 300)), ("folder name", "longer than 64 characters",
                                                      "rename the folder inside the zip")),
    "zip whose folder name hides a control character": BadZip(
        "a checkpoint zip whose folder is 'model\\u202egnp.exe' (a right-to-left override)",
        lambda f: zip_bytes(members(f, "model\u202egnp.exe")),
        ("folder name", "control or invisible", "rename the folder inside the zip")),
    "zip with damaged offsets": BadZip(
        "a checkpoint zip with 20 bytes taken out near its start (every offset off by 20)",
        lambda f: cut(zip_bytes(members(f)), 10, 20), ("not a readable zip file",)),
    "zip needing a newer zip version": BadZip(
        "a checkpoint zip whose config.json says it needs zip version 9.9",
        lambda f: patch_zip(zip_bytes(members(f)), "run/config.json", version=99),
        ("not a readable zip file",)),
    "not a zip": BadZip("4 KiB of random bytes named .zip", lambda f: os.urandom(4096),
                        ("not a readable zip file",)),
    "empty zip file": BadZip("a .zip of 0 bytes", lambda f: b"", ("not a readable zip file",)),
}


# --------------------------------------------------------------------------- the tree


@dataclass
class Tree:
    root: Path
    good: Files  # the files of a good checkpoint
    built: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """An app tree (shipped, runs, cache) and a CLI tree (runs, cache), each run folder holding
    'existing' and 'spare' (the one an accepted rename may rename), the shipped one
    'shipped-one'."""
    root = tmp_path_factory.mktemp("bad-checkpoints")
    untrained(root / "app" / "shipped" / "shipped-one")
    for side in ("app", "cli"):
        for name in ("existing", "spare"):
            shutil.copytree(root / "app" / "shipped" / "shipped-one", root / side / "runs" / name)
    exported = checkpoint_zips.export_zip(root / "app" / "runs" / "existing", root)
    with zipfile.ZipFile(exported) as archive:
        good = {n.split("/", 1)[1]: archive.read(n) for n in archive.namelist()}
    manager = FakeJobManager()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(checkpoints, "SHIPPED_DIR", root / "app" / "shipped")
        mp.setattr(checkpoints, "RUNS_DIR", root / "app" / "runs")
        mp.setattr(checkpoints, "CACHE_DIR", root / "app" / "cache")
        mp.setattr(state, "job_manager", lambda: manager)
        yield Tree(root, good)


def write_checkpoint(folder: Path, files: Files) -> None:
    """A checkpoint folder as save() lays it out, holding these files as they are."""
    (folder / "v000001").mkdir(parents=True)
    for name, data in files.items():
        (folder / "v000001" / name).write_bytes(data)
    (folder / "CURRENT").write_text("v000001\n")


@pytest.fixture(scope="module")
def cli(tree):
    """Every case on the command line, in one batch: {(kind, case): [results]}."""
    root, runs = tree.root / "cli", tree.root / "cli" / "runs"
    argvs, keys = [], []

    def add(key, argv, folder):
        argvs.append((argv, folder))
        keys.append(key)

    for i, (name, case) in enumerate(DAMAGED.items()):
        folder = root / f"damaged{i:02d}"
        files = case.corrupt(tree.good)
        write_checkpoint(folder / "ckpt", files)
        (folder / "ckpt.zip").write_bytes(zip_bytes(members(files, "ckpt")))
        add(("damaged", name), ["evaluate", "ckpt", "--iwae-samples", "1"], folder)
        add(("damaged", name), ["import", "ckpt.zip"], folder)
    good_zip = root / "good.zip"
    good_zip.write_bytes(zip_bytes(members(tree.good)))
    for i, (name, case) in enumerate(NAMES.items()):
        if not case.cli:
            continue
        folder = root / f"name{i:02d}"
        folder.mkdir()
        # An accepted rename renames 'spare'; a refused one must leave 'existing' alone.
        target = runs / ("spare" if case.accepted else "existing")
        add(("name", name), ["rename", str(target), case.name], folder)
        add(("name", name), ["import", str(good_zip), "--name", case.name], folder)
    for i, (name, case) in enumerate(ZIPS.items()):
        folder = root / f"zip{i:02d}"
        folder.mkdir()
        content = tree.built.setdefault(name, case.make(tree.good))
        with open(folder / "bad.zip", "wb") as f:
            if case.sparse:
                f.truncate(len(content))
            else:
                f.write(content)
        add(("zip", name), ["import", "bad.zip"], folder)

    before, shipped = file_hashes(tree.root), shipped_hashes()
    results = run_cli(argvs, runs, root / "cache")
    after = file_hashes(tree.root)
    assert shipped_hashes() == shipped, "the repository's shipped checkpoints changed"
    out: dict = {}
    for key, result in zip(keys, results, strict=True):
        out.setdefault(key, []).append(result)
    return out, changes(before, after), before, after


@pytest.fixture(scope="module")
def page(tree):
    """The Models page, 'existing' in the runs folder picked."""
    at = AppTest.from_file(str(REPO / "pages" / "models.py"), default_timeout=120)
    at.session_state["model_name"] = "existing"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def app_import(page: AppTest, name: str, content: bytes) -> tuple[list[str], float]:
    """Upload a zip on the Models page and press Import; returns the errors shown."""
    start = time.perf_counter()
    page.file_uploader(key="models_upload").set_value((name, content, "application/zip")).run()
    page.button(key="models_import").click().run()
    assert not page.exception, [e.value for e in page.exception]
    return [unescape(e.value) for e in page.error], time.perf_counter() - start


def app_rename(page: AppTest, pick: str, new_name: str) -> tuple[list[str], float]:
    start = time.perf_counter()
    page.selectbox(key="models_pick").set_value(pick).run()
    page.text_input(key="models_new_name").input(new_name)
    page.button(key="models_rename").click().run()
    assert not page.exception, [e.value for e in page.exception]
    return [unescape(e.value) for e in page.error], time.perf_counter() - start


def app_files(tree: Tree) -> dict[str, str]:
    return file_hashes(tree.root / "app")


def app_changes(tree: Tree, before: dict) -> list[str]:
    return [f"app/{p}" for p in changes(before, app_files(tree))]


def happened(app: str | None, cli: list[tuple[str, object]], root: Path | None = None) -> str:
    """What each path said, those that said the same thing together."""
    said = [("App", app)] if app else []
    said += [(f"CLI {what} (exit {r.status})", r.sentence if r.status else r.stdout.strip())
             for what, r in cli]
    by_text: dict[str, list[str]] = {}
    for who, text in said:
        by_text.setdefault(text, []).append(who)
    report = " ".join(f"{' and '.join(who)}: {text}" for text, who in by_text.items())
    # The report is the same from run to run: no temporary folder's name in it.
    return report.replace(f"{root}/", "") if root else report


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("name", list(DAMAGED))
def test_damaged_checkpoint(name, tree, cli, page):
    case = DAMAGED[name]
    results, cli_changed, _, _ = cli
    evaluate, imported = results[("damaged", name)]
    assert evaluate.status == 2 and imported.status == 2, (evaluate.stderr, imported.stderr)
    assert_sentence(evaluate.sentence, "Checkpoint 'ckpt'", *case.needles)
    assert_sentence(imported.sentence, "Zip 'ckpt.zip'", *case.needles)
    # The inputs as they were; the runs folder is checked once, after every case.
    assert not [p for p in cli_changed if p.startswith("cli/damaged")], cli_changed

    before = app_files(tree)
    files = case.corrupt(tree.good)
    errors, seconds = app_import(page, "ckpt.zip", zip_bytes(members(files, "ckpt")))
    assert len(errors) == 1, errors
    app = assert_sentence(errors[0], "Zip 'ckpt.zip'", *case.needles)
    assert app_changes(tree, before) == [], "a refused import wrote files"
    assert "ckpt" not in list(page.dataframe[0].value["Name"])
    assert not UNPICKLED.exists(), "a pickle was loaded"
    reliability.record(
        SUITE, name, f"{case.tried}: as a folder (CLI evaluate) and zipped (CLI and app import)",
        happened(app, [("evaluate", evaluate), ("import", imported)]),
        app_ms=round(1000 * seconds), cli_ms=f"{1000 * evaluate.seconds:.0f} / "
        f"{1000 * imported.seconds:.0f}", files_written="none")


@pytest.mark.parametrize("name", list(NAMES))
def test_checkpoint_name(name, tree, cli, page):
    case = NAMES[name]
    results, _, _, _ = cli
    before = app_files(tree)
    spare = file_hashes(tree.root / "app" / "runs" / "spare")
    terminal = []
    if case.cli:
        rename, imported = results[("name", name)]
        terminal = [("rename", rename), ("import --name", imported)]
    if not case.app:
        box = page.text_input(key="models_new_name")
        assert box.max_chars == checkpoints.MAX_NAME_CHARS
        # What the server does with a longer value, however it was sent.
        cut = box.set_value(case.name).value
        page.run()
        assert page.text_input(key="models_new_name").value == case.name[:box.max_chars]
        page.text_input(key="models_new_name").set_value("").run()
        for _, result in terminal:
            assert result.status == 2, result.stderr
            assert_sentence(result.sentence, "Checkpoint name", *case.needles)
        assert cut and app_changes(tree, before) == []
        app = (f"the name box holds at most {box.max_chars} characters; Streamlit cuts a "
               f"longer value, even one sent by hand, to that length, so the app never sees it.")
        reliability.record(SUITE, name, case.tried, happened(app, terminal), app_ms="-",
                           cli_ms=" / ".join(f"{1000 * r.seconds:.0f}" for _, r in terminal),
                           files_written="none")
        return
    errors, seconds = app_rename(page, "spare" if case.accepted else "existing", case.name)
    app_changed = app_changes(tree, before)
    if case.accepted:
        clean = checkpoints.resolve_name(case.name).name
        assert errors == [], errors
        app = unescape(page.success[0].value)
        assert app == f"Renamed spare to {clean}."
        # The same files under the new name, byte for byte; nothing else touched.
        assert file_hashes(tree.root / "app" / "runs" / clean) == spare
        assert {p.split("/")[2] for p in app_changed} == {"spare", clean}, app_changed
        assert all(r.status == 0 for _, r in terminal), [r.stderr for _, r in terminal]
        assert file_hashes(tree.root / "cli" / "runs" / clean) == spare
    else:
        assert len(errors) == 1, errors
        app = assert_sentence(errors[0], "Checkpoint name", *case.needles)
        assert app_changed == [], app_changed
        for _, result in terminal:
            assert result.status == 2, result.stderr
            assert_sentence(result.sentence, "Checkpoint name", *case.needles)
    reliability.record(SUITE, name, case.tried, happened(app, terminal, tree.root),
                       app_ms=round(1000 * seconds),
                       cli_ms=" / ".join(f"{1000 * r.seconds:.0f}" for _, r in terminal) or "-",
                       files_written="the folder renamed, its files unchanged" if case.accepted
                       else "none")


@pytest.mark.parametrize("name", list(ZIPS))
def test_hostile_zip(name, tree, cli, page):
    case = ZIPS[name]
    results, cli_changed, _, _ = cli
    (imported,) = results[("zip", name)]
    assert imported.status == 2, imported.stderr
    assert_sentence(imported.sentence, "Zip 'bad.zip'", *case.needles)

    before = app_files(tree)
    content = tree.built.setdefault(name, case.make(tree.good))
    errors, seconds = app_import(page, "bad.zip", content)
    assert len(errors) == 1, errors
    app = assert_sentence(errors[0], "Zip 'bad.zip'", *case.needles)
    assert app_changes(tree, before) == [], "a refused import wrote files"
    assert not [p for p in cli_changed if p.startswith("cli/zip")], cli_changed
    assert not (tree.root / "evil").exists() and not (tree.root / "cli" / "evil").exists()
    reliability.record(SUITE, name, case.tried, happened(app, [("import", imported)]),
                       zip_bytes=f"{len(content):,}", app_ms=round(1000 * seconds),
                       cli_ms=round(1000 * imported.seconds), files_written="none")


def test_existing_checkpoints_are_byte_identical(tree, cli, page):
    """After every case above, in the app's folders and the CLI's: the checkpoints that were
    there are there, byte for byte, and the runs folders hold nothing else but what the
    accepted unicode rename and import made."""
    _, _, before, after = cli
    now = file_hashes(tree.root)
    existing = {p: h for p, h in before.items()
                if p.startswith(("app/shipped/", "app/runs/existing/", "cli/runs/existing/"))}
    assert existing and {p: now.get(p) for p in existing} == existing
    accepted = {checkpoints.resolve_name(c.name).name for c in NAMES.values() if c.accepted}
    made = {p.split("/")[2] for p in changes(before, after) if p.startswith("cli/runs/")}
    assert made <= {"spare"} | accepted | {f"{n}-2" for n in accepted}, made
