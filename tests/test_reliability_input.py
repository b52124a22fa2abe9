"""Reliability, bad input: data files (issue 13), through the app's upload and the CLI.

Every case is uploaded on the Train page as a user uploads it (AppTest running the real page)
and trained from on the command line (`python -m vae train --dataset ...`, in a working
directory of its own). Both must answer with one sentence naming the file, the problem and
what to do: an error under the uploader, and `error: ...` with status 2 on the terminal. No
traceback, nothing written anywhere (the upload cache keeps accepted uploads only, the CLI's
--out is made only for data it accepts), and the existing checkpoints, the test tree's and the
repository's shipped ones, byte-identical afterwards. Each case lands in the reliability record.
"""

from __future__ import annotations

import functools
import gzip
import io
import os
import pickle
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import reliability
from bad_input import (
    assert_sentence,
    changes,
    cut,
    declare_size,
    file_hashes,
    idx_bytes,
    npz_bytes,
    patch_zip,
    png_bytes,
    run_cli,
    run_cli_once,
    shipped_hashes,
    symlink_info,
    unescape,
    untrained,
    zip_bytes,
)
from streamlit.testing.v1 import AppTest
from tiny_models import REPO, FakeJobManager

from ui import state
from vae import checkpoints

SUITE = "Bad input: data files"
pytestmark = pytest.mark.reliability

N = 40
IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
# Where an object array's pickle would leave its mark, were it ever unpickled.
UNPICKLED = Path(tempfile.gettempdir()) / f"latent-lab-unpickled-{os.getpid()}"


def pixels(n: int = N, side: int = 10) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, side, side)).astype(np.uint8)


def with_value(x: np.ndarray, index: tuple, value: float) -> np.ndarray:
    x = x.astype(np.float64) / 255
    x[index] = value
    return x


class _Mkdir:
    """A pickle that makes a folder when loaded: what a hostile object array would carry."""

    def __reduce__(self):
        return (os.mkdir, (str(UNPICKLED),))


def object_array_npz() -> bytes:
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        npy, {"descr": "|O", "fortran_order": False, "shape": (N,)})
    npy.write(pickle.dumps(_Mkdir(), protocol=3))
    return zip_bytes({"x.npy": npy.getvalue()})


def idx_pair(images: bytes | None = None, labels: bytes | None = None) -> dict[str, bytes]:
    """The two IDX files a user uploads (gzipped names when the content is gzipped)."""
    images = idx_bytes(pixels()) if images is None else images
    labels = idx_bytes(np.arange(N) % 10) if labels is None else labels
    return {IMAGES + (".gz" if images[:2] == b"\x1f\x8b" else ""): images,
            LABELS + (".gz" if labels[:2] == b"\x1f\x8b" else ""): labels}


def gzip_bomb(header: bytes = b"") -> bytes:
    """A gzip that inflates to more than the 1 GiB limit: 17 members of 64 MiB of zeros each
    (a gzip may hold several), after one holding `header`."""
    zeros = gzip.compress(bytes(2**26), 9)
    return (gzip.compress(header) if header else b"") + zeros * 17


def pets(extra: dict | None = None, prefix: str = "pets/") -> dict:
    """A folder of two classes whose images vary in size and colour mode, as zip members."""
    variants = [((12, 10), "L", 200), ((20, 20), "RGB", (255, 0, 0)), ((12, 10), "P", (0, 0, 255)),
                ((9, 30), "RGBA", (0, 255, 0, 128)), ((12, 10), "LA", (50, 255)),
                ((16, 8), "1", 1)]
    members = {f"{prefix}{label}/{i:02d}.png": png_bytes(size, mode, color)
               for label in ("cats", "dogs") for i, (size, mode, color) in enumerate(variants)}
    return {**members, **(extra or {})}


def pets_zip(extra: dict | None = None) -> dict[str, bytes]:
    return {"pets.zip": zip_bytes(pets(extra))}


def lying_zip() -> dict[str, bytes]:
    """A member that declares 1,000 bytes and inflates to 2 MiB."""
    archive = zip_bytes(pets({"pets/cats/big.png": bytes(2**21)}))
    return {"pets.zip": declare_size(archive, "pets/cats/big.png", 1000)}


def damaged_npy_header() -> dict[str, bytes]:
    """x.npy whose header dict lost its closing parenthesis and brace."""
    npy = io.BytesIO()
    np.save(npy, pixels())
    data = npy.getvalue()
    size = int.from_bytes(data[8:10], "little")
    header = data[10:10 + size].replace(b"10)", b"10 ").replace(b"}", b" ")
    return {"header.npz": zip_bytes({"x.npy": data[:10] + header + data[10 + size:]})}


def twice_zip() -> dict[str, bytes]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate: the point here
        return pets_zip({zipfile.ZipInfo("pets/cats/00.png"): png_bytes((12, 10), "L", 99)})


def big_png() -> bytes:
    buf = io.BytesIO()
    from PIL import Image

    Image.new("L", (10_000, 10_000)).save(buf, format="PNG")
    return buf.getvalue()


@dataclass(frozen=True)
class Case:
    tried: str
    files: Callable[[], dict[str, bytes]]  # what the app's uploader receives
    needles: tuple[str, ...]  # what the sentence must say
    # How a CLI user has the files: "file" (npz:FILE or images:FILE.zip), "mnist" (the pair as
    # the train files of mnist:DIR), "folder" (the zip's members as images:DIR), "sparse" (a
    # file of the same size that takes no disk)
    cli: str = "file"
    accepted: bool = False


CASES = {
    "empty file": Case("an .npz of 0 bytes", lambda: {"empty.npz": b""}, ("empty",)),
    "random bytes": Case("4 KiB of random bytes named .npz",
                         lambda: {"random.npz": np.random.default_rng(0).bytes(4096)},
                         ("not an .npz archive",)),
    "PNG renamed .npz": Case("a PNG image renamed photo.npz", lambda: {"photo.npz": png_bytes()},
                             ("not an .npz archive",)),
    "npz without x": Case("an .npz whose only array is named 'images'",
                          lambda: {"no-x.npz": npz_bytes(images=pixels())},
                          ("no array named 'x' (found images)",)),
    "1-D array": Case("x of shape (40,)", lambda: {"flat.npz": npz_bytes(x=np.arange(N))},
                      ("shape (40,)",)),
    "5-D array": Case("x of shape (40, 1, 10, 10, 1)",
                      lambda: {"5d.npz": npz_bytes(x=pixels()[:, None, :, :, None])},
                      ("shape (40, 1, 10, 10, 1)",)),
    "object array": Case("x an object array whose pickle would create a folder if loaded",
                         lambda: {"object.npz": object_array_npz()}, ("object array",)),
    "strings": Case("x of strings", lambda: {"strings.npz": npz_bytes(x=np.full((N, 10, 10), "a"))},
                    ("dtype <U1",)),
    "complex numbers": Case("x of complex128",
                            lambda: {"complex.npz": npz_bytes(x=pixels() + 1j)},
                            ("dtype complex128",)),
    "NaN": Case("float pixels in [0, 1] with one NaN",
                lambda: {"nan.npz": npz_bytes(x=with_value(pixels(), (3, 2, 2), np.nan))},
                ("contains NaN",)),
    "+inf": Case("float pixels with one +inf",
                 lambda: {"inf.npz": npz_bytes(x=with_value(pixels(), (0, 0, 0), np.inf))},
                 ("infinite",)),
    "-inf": Case("float pixels with one -inf",
                 lambda: {"minus-inf.npz": npz_bytes(x=with_value(pixels(), (1, 1, 1), -np.inf))},
                 ("infinite",)),
    "floats outside [0, 1]": Case("float32 pixels 0..255",
                                  lambda: {"float255.npz": npz_bytes(x=pixels().astype("f4"))},
                                  ("outside [0, 1]",)),
    "integers outside 0..255": Case("int32 pixels -1..299",
                                    lambda: {"int.npz": npz_bytes(
                                        x=pixels().astype("i4") * 300 // 255 - 1)},
                                    ("-1 to 299, outside 0..255",)),
    "0 images": Case("x of shape (0, 10, 10)",
                     lambda: {"none.npz": npz_bytes(x=np.zeros((0, 10, 10), np.uint8))},
                     ("0 images",)),
    "1x1 images": Case("40 images of 1x1 pixels",
                       lambda: {"dots.npz": npz_bytes(x=np.zeros((N, 1, 1), np.uint8))},
                       ("1x1 pixels, smaller than the minimum of 8",)),
    "label count differs (npz)": Case("40 images with 39 labels",
                                      lambda: {"labels.npz": npz_bytes(
                                          x=pixels(), y=np.arange(N - 1) % 4)},
                                      ("39 labels for 40 images",)),
    "label count differs (IDX)": Case("an IDX pair: 40 images, 39 labels",
                                      lambda: idx_pair(labels=idx_bytes(np.arange(N - 1) % 10)),
                                      ("39 labels for 40 images",), cli="mnist"),
    "more classes than the limit": Case(
        "101 images, each its own class",
        lambda: {"classes.npz": npz_bytes(x=pixels(101), y=np.arange(101))},
        ("101 classes, more than the limit of 100",)),
    "IDX wrong magic number": Case("an IDX images file starting 00 00 0D 03",
                                   lambda: idx_pair(b"\0\0\x0d\x03" + idx_bytes(pixels())[4:]),
                                   ("wrong magic number",), cli="mnist"),
    "IDX header truncated": Case("an IDX images file cut after 10 bytes",
                                 lambda: idx_pair(idx_bytes(pixels())[:10]),
                                 ("header is truncated",), cli="mnist"),
    "IDX data truncated": Case("an IDX images file missing its last 5 bytes",
                               lambda: idx_pair(idx_bytes(pixels())[:-5]),
                               ("3,995; the file is truncated",), cli="mnist"),
    "IDX header claims more data": Case(
        "an IDX header declaring 1,000 images over the data of 40",
        lambda: idx_pair(idx_bytes(np.zeros((1000, 10, 10)))[:16] + pixels().tobytes()),
        ("header describes 100,000 bytes of data but the file holds 4,000",), cli="mnist"),
    "IDX header claims more than the limit": Case(
        "an IDX header declaring 20,000,000 images of 10x10 (2 GB)",
        lambda: idx_pair(idx_bytes(np.zeros((1, 10, 10)))[:4]
                         + np.array([20_000_000, 10, 10], ">u4").tobytes() + bytes(100)),
        ("more than the limit of 1024.0 MB",), cli="mnist"),
    "damaged gzip": Case("a gzipped IDX images file missing its last 20 bytes",
                         lambda: idx_pair(gzip.compress(idx_bytes(pixels()))[:-20]),
                         ("gzip data is damaged",), cli="mnist"),
    "gzip expanding past the limit": Case(
        "a 1.1 MB gzip of 1.06 GiB of zeros as the IDX images file",
        lambda: idx_pair(gzip_bomb()), ("wrong magic number",), cli="mnist"),
    "gzip expanding past its IDX header": Case(
        "a gzipped IDX header for 40 images of 10x10, followed by 1.06 GiB of zeros",
        lambda: idx_pair(gzip_bomb(idx_bytes(pixels()))),
        ("more data than the 4,000 bytes its header describes",), cli="mnist"),
    "image folder with a non-image": Case(
        "a folder of 12 PNGs and a readme.txt (the app: the folder zipped)",
        lambda: pets_zip({"pets/cats/readme.txt": b"hello"}), ("readme.txt", "not an image"),
        cli="folder"),
    "image folder with a truncated image": Case(
        "a folder of 12 PNGs and one cut in half",
        lambda: pets_zip({"pets/cats/cut.png": png_bytes((50, 50))[:60]}),
        ("cut.png", "damaged or truncated"), cli="folder"),
    "image with more pixels than Pillow decodes safely": Case(
        "a folder holding a 97 KB PNG of 10,000 x 10,000 pixels",
        lambda: pets_zip({"pets/cats/huge.png": big_png()}), ("huge.png", "more than 89,478,485"),
        cli="folder"),
    "mixed sizes and colour modes": Case(
        "a folder of 12 PNGs: 12x10, 20x20, 9x30, 16x8; L, RGB, P, RGBA, LA, 1-bit",
        pets_zip, (), cli="folder", accepted=True),
    "zip with a ../ member": Case("a zip of images holding ../evil.png",
                                  lambda: pets_zip({"../evil.png": png_bytes()}),
                                  ("'../evil.png' leaves its folder with '..'",)),
    "zip with an absolute member": Case("a zip of images holding /etc/evil.png",
                                        lambda: pets_zip({"/etc/evil.png": png_bytes()}),
                                        ("is an absolute path",)),
    "zip with a symlink": Case(
        "a zip of images holding a symbolic link to /etc/passwd",
        lambda: pets_zip({symlink_info("pets/cats/link.png"): "/etc/passwd"}),
        ("symbolic link",)),
    "zip member expanding past the limit": Case(
        "a zip of images whose member declares 1 GiB + 1 byte",
        lambda: {"pets.zip": declare_size(zip_bytes(pets()), "pets/cats/00.png", 2**30 + 1)},
        ("decompresses to 1024.1 MB, more than the limit of 1024.0 MB",)),
    "zip member larger than it declares": Case(
        "a zip member declaring 1,000 bytes that inflates to 2 MiB", lying_zip,
        ("big.png", "is damaged")),
    "upload above the size limit": Case(
        "an .npz of 200 MiB + 1 byte (in a browser, Streamlit's uploader refuses it first, "
        "at maxUploadSize = 200; this is the server's own check)",
        lambda: {"big.npz": bytes(200 * 2**20 + 1)},
        ("200.1 MB, more than the limit of 200.0 MB",), cli="sparse"),
    "zip of images with damaged offsets": Case(
        "a zip of images with 20 bytes taken out near its start (every offset off by 20)",
        lambda: {"pets.zip": cut(zip_bytes(pets()), 10, 20)}, ("'pets/cats/00.png' is damaged",)),
    "zip needing a newer zip version": Case(
        "a zip of images whose member says it needs zip version 9.9",
        lambda: {"pets.zip": patch_zip(zip_bytes(pets()), "pets/cats/00.png", version=99)},
        ("not a zip archive this app can read",)),
    "zip of images holding one name twice": Case(
        "a zip of 12 images plus a second pets/cats/00.png", twice_zip, (), accepted=True),
    "zip of images with a nameless member": Case(
        "a zip of 12 images plus a member whose name is empty",
        lambda: pets_zip({zipfile.ZipInfo(""): b"nameless"}), (), accepted=True),
    "npz with damaged offsets": Case(
        "an .npz with 20 bytes taken out near its start",
        lambda: {"cut.npz": cut(npz_bytes(x=pixels()), 10, 20)}, ("array 'x' is damaged",)),
    "npz with an encrypted member": Case(
        "an .npz whose x.npy is flagged as encrypted",
        lambda: {"locked.npz": patch_zip(npz_bytes(x=pixels()), "x.npy", flags=1)},
        ("member 'x.npy' is encrypted",)),
    "npz with an unknown compression method": Case(
        "an .npz whose x.npy claims compression method 99",
        lambda: {"method.npz": patch_zip(npz_bytes(x=pixels()), "x.npy", method=99)},
        ("array 'x' is damaged",)),
    "npz whose .npy header is damaged": Case(
        "an .npz whose x.npy header lost its closing parenthesis and brace", damaged_npy_header,
        ("array 'x' is damaged",)),
    "npz member expanding past the limit": Case(
        "an .npz whose x.npy declares 1 GiB + 1 byte",
        lambda: {"bomb.npz": declare_size(npz_bytes(x=pixels()), "x.npy", 2**30 + 1)},
        ("decompress to more than the limit of 1024.0 MB",)),
}


@functools.cache
def built(name: str) -> dict[str, bytes]:
    """A case's files, made once for both paths (a gzip bomb takes a moment to make)."""
    return CASES[name].files()


# --------------------------------------------------------------------------- the two paths


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """The app's shipped, runs and cache folders under a tmp folder, each shipped and run
    folder holding one checkpoint; a fake job manager (nothing here trains in the app)."""
    root = tmp_path_factory.mktemp("bad-data")
    untrained(root / "shipped" / "existing")
    untrained(root / "runs" / "existing")
    manager = FakeJobManager()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(checkpoints, "SHIPPED_DIR", root / "shipped")
        mp.setattr(checkpoints, "RUNS_DIR", root / "runs")
        mp.setattr(checkpoints, "CACHE_DIR", root / "cache")
        mp.setattr(state, "job_manager", lambda: manager)
        yield root


@pytest.fixture(scope="module")
def page(tree):
    """The Train page with "Upload your own" chosen, as a user left it."""
    at = AppTest.from_file(str(REPO / "pages" / "train.py"), default_timeout=120)
    at.run()
    at.radio(key="train_form_dataset").set_value("upload").run()
    assert not at.exception
    return at


def write_input(name: str, folder: Path) -> tuple[str, str]:
    """The case's files as a CLI user has them; returns (--dataset spec, the name shown)."""
    case, files = CASES[name], built(name)
    if case.cli == "mnist":  # the case's pair as the train files, a good pair as t10k
        (folder / "mnist").mkdir()
        test = idx_pair(idx_bytes(pixels(20)), idx_bytes(np.arange(20) % 10))
        test = {name.replace("train-", "t10k-"): content for name, content in test.items()}
        for name, content in {**files, **test}.items():
            (folder / "mnist" / name).write_bytes(content)
        return "mnist:mnist", "mnist"
    if case.cli == "folder":
        ((_, archive),) = files.items()
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            for info in zf.infolist():
                (folder / info.filename).parent.mkdir(parents=True, exist_ok=True)
                (folder / info.filename).write_bytes(zf.read(info))
        return "images:pets", "pets"
    ((name, content),) = files.items()
    if case.cli == "sparse":
        with open(folder / name, "wb") as f:
            f.truncate(len(content))
    else:
        (folder / name).write_bytes(content)
    return f"{'images' if name.endswith('.zip') else 'npz'}:{name}", name


TRAIN = ["--out", "model", "--quiet", "--epochs", "1", "--hidden", "8", "--latent-dim", "2",
         "--threads", "1"]


@pytest.fixture(scope="module")
def cli(tree):
    """Every case trained from on the command line, in one batch: {case: (result, the name
    the sentence must hold, the paths it changed under the tmp tree)}."""
    root = tree / "cli"
    argvs, shown = [], {}
    for i, name in enumerate(CASES):
        folder = root / f"case{i:02d}"
        folder.mkdir(parents=True)
        spec, shown[name] = write_input(name, folder)
        argvs.append((["train", "--dataset", spec, *TRAIN], folder))
    before, shipped = file_hashes(tree), shipped_hashes()
    results = run_cli(argvs, tree / "runs", tree / "cache")
    changed = changes(before, file_hashes(tree))
    assert shipped_hashes() == shipped, "the repository's shipped checkpoints changed"
    return {name: (result, shown[name], [p for p in changed if not p.startswith("cli/case")
                                          or p.startswith(f"cli/case{i:02d}/")])
            for i, (name, result) in enumerate(zip(CASES, results, strict=True))}


def upload(page: AppTest, files: dict[str, bytes]) -> float:
    start = time.perf_counter()
    page.file_uploader(key="train_form_upload").set_value(
        [(name, content, "application/octet-stream") for name, content in files.items()]).run()
    return time.perf_counter() - start


@pytest.mark.parametrize("name", list(CASES))
def test_bad_data_file(name, tree, page, cli):
    case, files = CASES[name], built(name)
    size = sum(len(content) for content in files.values())

    # The app: the file uploaded on the Train page.
    before = file_hashes(tree)
    seconds = upload(page, files)
    assert not page.exception, [e.value for e in page.exception]
    changed = [p for p in changes(before, file_hashes(tree)) if not p.startswith("cli/")]
    errors = [unescape(e.value) for e in page.error]
    accepted = [c.value for c in page.caption if c.value.startswith("Accepted:")]

    # The command line: `python -m vae train --dataset ...` on the same bytes.
    result, shown, cli_changed = cli[name]
    if case.accepted:
        assert errors == [] and len(accepted) == 1, errors
        assert all(p.startswith("cache/") for p in changed), changed  # stored for the job
        assert result.status == 0 and not result.stderr, result.stderr
        assert all(p.split("/")[2] == "model" for p in cli_changed), cli_changed  # its --out
        app, terminal = accepted[0], result.stdout.strip()
    else:
        assert len(errors) == 1, errors
        app = assert_sentence(errors[0], *case.needles)
        assert any(f in app for f in files), f"no file named in {app!r}"
        assert changed == [], f"the refused upload wrote {changed}"
        assert result.status == 2, (result.status, result.stderr)
        terminal = assert_sentence(result.sentence, *case.needles, shown)
        assert cli_changed == [], f"the refused command wrote {cli_changed}"
    assert not UNPICKLED.exists(), "a user's pickle was loaded"

    if app == terminal:
        happened = f"App and CLI (exit {result.status}): {app}"
    else:
        happened = f"App: {app} CLI (exit {result.status}): {terminal}"
    reliability.record(SUITE, name, case.tried, happened, input_bytes=f"{size:,}",
                       app_ms=round(1000 * seconds), cli_ms=round(1000 * result.seconds),
                       files_written="none" if not (changed or cli_changed) else
                       "the accepted upload's cache copy; the CLI's --out model")


def test_a_real_process_answers_as_the_batch(tree, cli):
    """The batch runs vae/__main__.py as `python -m vae` does; a real process per case must
    give the same status and the same words, and this measures what the batch leaves out:
    the interpreter's start and imports."""
    names = ["NaN", "IDX wrong magic number"]
    seconds = []
    for i, name in enumerate(CASES):
        if name not in names:
            continue
        batch, _, _ = cli[name]
        folder = tree / "cli" / f"case{i:02d}"
        spec = next(a for a in batch_argv(folder) if ":" in a)
        real = run_cli_once(["train", "--dataset", spec, *TRAIN], folder, tree / "runs",
                            tree / "cache")
        assert (real.status, real.stderr, real.stdout) == (batch.status, batch.stderr,
                                                           batch.stdout)
        seconds.append(real.seconds)
    reliability.record(
        SUITE, "the CLI as a real process",
        f"`python -m vae train` run as its own process on two of the files above "
        f"({', '.join(names)})",
        "The same status (2) and the same sentence, word for word, as the cases above; their "
        "cli_ms figures leave out this start-up.",
        process_ms=" / ".join(str(round(1000 * s)) for s in seconds))


def batch_argv(folder: Path) -> list[str]:
    """The --dataset spec a case folder was given, read back from what write_input wrote."""
    if (folder / "mnist").is_dir():
        return ["mnist:mnist"]
    if (folder / "pets").is_dir():
        return ["images:pets"]
    (file,) = [p for p in folder.iterdir() if p.is_file()]
    return [f"{'images' if file.suffix == '.zip' else 'npz'}:{file.name}"]


# --------------------------------------------------------------------------- Explore's picture

PICTURES = {
    "picture: empty file": ("an empty photo.png", lambda: b"", "the file is empty"),
    "picture: random bytes": ("4 KiB of random bytes named photo.png",
                              lambda: np.random.default_rng(0).bytes(4096),
                              "not an image file this app can read"),
    "picture: truncated PNG": ("a 50x50 PNG cut after 60 bytes",
                               lambda: png_bytes((50, 50))[:60],
                               "not an image file this app can read"),
    "picture: more pixels than allowed": ("a 97 KB PNG of 10,000 x 10,000 pixels", big_png,
                                          "more than 16,777,216 pixels"),
    "picture: above the size limit": ("a 20 MiB + 1 byte file named photo.png",
                                      lambda: bytes(20 * 2**20 + 1), "larger than 20 MB"),
}


@pytest.fixture(scope="module")
def explore(tree):
    """The Explore page of the tree's run, on the server path (AppTest cannot drive the pad)."""
    from ui import latent_pad

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["model_name"] = "existing"
    at.session_state[latent_pad.PREFERENCE] = False
    at.run()
    at.switch_page("pages/explore.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# The 10,000 x 10,000 picture is refused with a sentence, not with Pillow's warning in the log.
@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("name", list(PICTURES))
def test_bad_picture_on_explore(name, tree, explore):
    """Explore's own upload: a picture to encode (the app only; the CLI has no such command)."""
    tried, make, needle = PICTURES[name]
    before = file_hashes(tree)
    start = time.perf_counter()
    explore.file_uploader(key="explore_upload").set_value(
        ("photo.png", make(), "image/png")).run()
    seconds = time.perf_counter() - start
    assert not explore.exception, [e.value for e in explore.exception]
    errors = [e.value for e in explore.error]
    assert len(errors) == 1, errors
    # One sentence: the problem, then what to do.
    assert errors[0].startswith("This picture could not be used: "), errors
    assert errors[0].endswith("; upload a PNG or JPEG image.") and needle in errors[0], errors
    assert "\n" not in errors[0] and "Traceback" not in errors[0]
    assert changes(before, file_hashes(tree)) == []
    reliability.record(SUITE, name, f"{tried}, uploaded on the Explore page to encode",
                       f"App: {errors[0]}", app_ms=round(1000 * seconds), files_written="none")
