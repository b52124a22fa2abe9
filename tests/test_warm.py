"""`python -m vae warm`: a teacher prepares the models trained here the night before, and the
pages then read what it derived instead of computing it in class."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from tiny_models import FRESH, interrupt_when

from vae import checkpoints, derived, disentanglement, projection
from vae.cached_figures import cached_evaluation
from vae.cli import main
from vae.derived import (
    ELBO_ONLY,
    cached_metrics,
    disentanglement_metrics,
    encode_split,
    evaluate_checkpoint,
    is_derived,
    tsne_file,
)


@pytest.fixture
def tree(tiny_models, tmp_path, monkeypatch):
    """Copies of the tiny runs with nothing derived, an empty shipped folder and cache."""
    shutil.copytree(tiny_models, tmp_path / "runs", ignore=FRESH)
    (tmp_path / "shipped").mkdir()
    monkeypatch.setattr(checkpoints, "SHIPPED_DIR", tmp_path / "shipped")
    monkeypatch.setattr(checkpoints, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")
    return tmp_path


def nothing_computes(monkeypatch) -> None:
    """Every computation derive_all could start fails the test."""
    def computed(*args, **kwargs):
        pytest.fail("computed instead of reading what warm kept")

    monkeypatch.setattr(derived, "evaluate", computed)
    monkeypatch.setattr(disentanglement, "compute_dci", computed)
    monkeypatch.setattr(projection, "tsne", computed)
    monkeypatch.setattr(derived.VAE, "encode", computed)


def test_warm_derives_what_the_pages_read_and_a_second_warm_computes_nothing(
        tree, monkeypatch, capsys):
    listed = checkpoints.list_checkpoints()
    assert len(listed) == 3
    assert not any(map(is_derived, listed))
    assert all(cached_metrics(c) is None for c in listed)

    assert main(["warm", "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert "warming [" in captured.err and "100.0%" in captured.err and "left" in captured.err
    assert captured.out.strip() == "Warmed 3, ready already 0."
    for ckpt in listed:
        assert is_derived(ckpt), ckpt.name
        assert cached_metrics(ckpt)["mi_matrix"], ckpt.name
        assert cached_evaluation(ckpt, iwae_samples=ELBO_ONLY) is not None, ckpt.name
    # What warm kept is what the model gives, not a placeholder: the same evaluation as one
    # computed afresh.
    first = listed[0]
    assert (cached_evaluation(first, iwae_samples=ELBO_ONLY)
            == evaluate_checkpoint(first.path, iwae_samples=ELBO_ONLY, use_cache=False))

    nothing_computes(monkeypatch)
    for ckpt in listed:  # the loaders the pages call find everything kept
        evaluate_checkpoint(ckpt.path, iwae_samples=ELBO_ONLY)
        disentanglement_metrics(ckpt.path)
        codes = encode_split(ckpt.path)
        projection.cached_tsne(codes["mu"], tsne_file(ckpt))
    assert main(["warm"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "Warmed 0, ready already 3."
    assert "warming [" not in captured.err


def test_warm_writes_a_shipped_models_data_to_the_cache_and_never_into_its_folder(
        tree, tiny_models, monkeypatch, capsys):
    shipped = tree / "shipped" / "tiny-shipped"
    shutil.copytree(tiny_models / "tiny-vae-4d", shipped, ignore=FRESH)
    # Data of earlier weights, tracked by git beside the model: derive would prune it.
    (shipped / checkpoints.DERIVED).mkdir()
    (shipped / checkpoints.DERIVED / "evaluation-c3-0123456789abcdef0123-k1.json").write_text("{}")
    before = {p: p.read_bytes() for p in shipped.rglob("*") if p.is_file()}
    shutil.rmtree(tree / "runs")

    assert main(["warm", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == "Warmed 1, ready already 0."
    assert {p: p.read_bytes() for p in shipped.rglob("*") if p.is_file()} == before
    ckpt = checkpoints.load(shipped)
    assert is_derived(ckpt)
    assert tsne_file(ckpt).parent == tree / "cache" / checkpoints.DERIVED

    # Where the model's folder holds its data (as `make checkpoints` writes it), it is ready.
    shutil.rmtree(tree / "cache")
    monkeypatch.setenv(checkpoints.WRITE_SHIPPED_ENV, "1")
    derived.derive_all(shipped)
    monkeypatch.delenv(checkpoints.WRITE_SHIPPED_ENV)
    nothing_computes(monkeypatch)
    assert main(["warm", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == "Warmed 0, ready already 1."
    assert not (tree / "cache" / checkpoints.DERIVED).exists()


def test_a_model_that_cannot_be_warmed_is_named_and_the_others_are_warmed(tree, capsys):
    broken = tree / "runs" / "tiny-vae-2d"
    config = checkpoints.load(broken).config
    config["data"]["dataset"] = "npz:/nowhere/gone.npz"  # its data was moved away
    version = checkpoints.load(broken).version
    (version / checkpoints.CONFIG).write_text(json.dumps(config))

    assert main(["warm", "--quiet", "--threads", "1"]) == 1
    out = capsys.readouterr().out
    assert "tiny-vae-2d: not warmed: " in out and "Traceback" not in out
    assert out.strip().endswith("Warmed 2, ready already 0, not warmed 1 (said above).")
    listed = checkpoints.list_checkpoints()  # by name: tiny-cvae, tiny-vae-2d, tiny-vae-4d
    assert [is_derived(c) for c in listed] == [True, False, True]


@pytest.mark.slow
def test_ctrl_c_stops_warm_with_every_file_whole_and_the_next_warm_finishes(tree):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LATENT_LAB_RUNS_DIR": str(tree / "runs"),
           "LATENT_LAB_CACHE_DIR": str(tree / "cache")}
    # The repository's shipped models are left out: only the tiny runs are warmed.
    code = ("import sys; from pathlib import Path; from vae import checkpoints; "
            f"checkpoints.SHIPPED_DIR = Path({str(tree / 'shipped')!r}); "
            "from vae.cli import main; sys.exit(main(sys.argv[1:]))")
    warm = [sys.executable, "-c", code, "warm", "--threads", "1"]
    proc = subprocess.Popen(warm, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    interrupt_when(proc, b"% ")  # the bar: it is computing
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"stopped by Ctrl-C" in err and b"Traceback" not in err
    kept = list((tree / "runs").rglob(f"{checkpoints.DERIVED}/*"))
    assert not [p for p in kept if ".tmp-" in p.name], "a half-written file was left"
    again = subprocess.run(warm, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    ready = int(again.stdout.strip().rsplit(" ", 1)[1].rstrip("."))
    assert ready < 3 and again.stdout.strip() == f"Warmed {3 - ready}, ready already {ready}."
