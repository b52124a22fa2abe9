"""The command line as a user drives it: real runs in subprocesses or in-process main()."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_models import interrupt_when

from vae import checkpoints
from vae.cli import main

TINY = ["--hidden", "32", "--latent-dim", "4", "--quiet", "--threads", "1"]


def vae_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "vae", *map(str, args)], capture_output=True,
                          text=True, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "tiny"
    assert main(["train", "--epochs", "3", *TINY, "--out", str(out)]) == 0
    return out


def test_evaluate_json_has_the_contract_keys_and_signs(trained, capsys):
    assert main(["evaluate", str(trained), "--iwae-samples", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("elbo", "recon", "kl", "kl_per_dim", "active_units", "log_likelihood",
                "likelihood", "binarized"):
        assert key in result
    assert result["elbo"] < 0 and result["kl"] >= 0 and result["recon"] < 0
    assert result["log_likelihood"] >= result["elbo"] - 0.1
    assert len(result["kl_per_dim"]) == 4 and result["likelihood"] == "bernoulli"
    assert result["binarized"] is False


def test_encode_writes_the_test_split(trained, tmp_path):
    assert main(["encode", str(trained), "--out", str(tmp_path / "codes.npz")]) == 0
    codes = np.load(tmp_path / "codes.npz")
    assert codes["mu"].shape == codes["logvar"].shape == (360, 4)
    assert codes["y"].shape == (360,) and "factors" not in codes


def test_sample_writes_npz_in_unit_range_and_a_png(trained, tmp_path):
    assert main(["sample", str(trained), "--n", "5", "--out", str(tmp_path / "s.npz")]) == 0
    x = np.load(tmp_path / "s.npz")["x"]
    assert x.shape == (5, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    assert main(["sample", str(trained), "--n", "9", "--out", str(tmp_path / "s.png")]) == 0
    assert Image.open(tmp_path / "s.png").size[0] > 24
    same = tmp_path / "again.npz"
    main(["sample", str(trained), "--n", "5", "--out", str(same)])
    assert np.array_equal(np.load(same)["x"], x)  # --seed defaults to 0: reproducible


NAMES = "zero,one,two,three,four,five,six,seven,eight,nine"


def test_cvae_sample_per_class_and_for_one_label_by_number_or_name(tmp_path, trained, capsys):
    out = tmp_path / "cvae"
    assert main(["train", "--model", "cvae", "--epochs", "2", *TINY, "--out", str(out),
                 "--class-names", NAMES]) == 0
    assert checkpoints.load(out).config["data"]["class_names"] == NAMES.split(",")
    assert main(["sample", str(out), "--n", "3", "--out", str(tmp_path / "all.npz")]) == 0
    assert np.load(tmp_path / "all.npz")["y"].tolist() == np.repeat(np.arange(10), 3).tolist()
    for label in ("7", "seven"):
        assert main(["sample", str(out), "--n", "4", "--label", label,
                     "--out", str(tmp_path / "sevens.npz")]) == 0
        assert np.load(tmp_path / "sevens.npz")["y"].tolist() == [7] * 4
    capsys.readouterr()
    assert main(["sample", str(out), "--label", "eleven", "--out", str(tmp_path / "x.npz")]) == 2
    assert "no class 'eleven'; choose one of zero, one," in capsys.readouterr().err
    # A VAE has no classes: the label is refused, not ignored.
    assert main(["sample", str(trained), "--label", "3", "--out", str(tmp_path / "x.npz")]) == 2
    assert "trained without classes" in capsys.readouterr().err
    assert main(["train", "--epochs", "1", *TINY, "--out", str(tmp_path / "bad"),
                 "--class-names", "a,b"]) == 2
    assert "2 class names were given for 10 classes" in capsys.readouterr().err


def test_manage_list_rename_export_import_delete(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checkpoints, "RUNS_DIR", tmp_path / "runs")
    assert main(["export", str(trained), "--out", str(tmp_path / "tiny.zip")]) == 0
    assert main(["import", str(tmp_path / "tiny.zip")]) == 0
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "tiny (run)" in listing and "digits" in listing
    assert main(["rename", str(tmp_path / "runs" / "tiny"), "renamed"]) == 0
    assert main(["delete", str(tmp_path / "runs" / "renamed")]) == 0
    assert not (tmp_path / "runs" / "renamed").exists()


@pytest.mark.parametrize("args, words", [
    (["train", "--dataset", "npz:/nonexistent/x.npz"], "x.npz"),
    (["train", "--beta-schedule", "warp"], "beta schedule"),
    (["train", "--latent-dim", "1"], "latent_dim"),
    (["train", "--model", "cvae", "--dataset", "npz:{unlabelled}"], "no labels"),
    (["evaluate", "/nonexistent/ckpt"], "ckpt"),
    (["sample", "{trained}", "--out", "{tmp}/s.txt"], ".npz or .png"),
])
def test_bad_input_gets_one_sentence_and_status_2(args, words, trained, tmp_path):
    np.savez(tmp_path / "unlabelled.npz", x=np.random.rand(50, 8, 8))
    args = [a.format(unlabelled=tmp_path / "unlabelled.npz", trained=trained, tmp=tmp_path)
            for a in args]
    if args[0] == "train":
        args += ["--out", str(tmp_path / "out"), "--quiet"]
    result = vae_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and words in line


def test_train_refuses_to_overwrite_without_resume(trained):
    result = vae_cli("train", "--epochs", "1", "--quiet", "--out", trained)
    assert result.returncode == 2 and "--resume" in result.stderr


@pytest.mark.slow
def test_ctrl_c_saves_and_resume_finishes(tmp_path):
    out = tmp_path / "run"
    tiny = [a for a in TINY if a != "--quiet"]  # the progress bar says when training runs
    proc = subprocess.Popen([sys.executable, "-m", "vae", "train", "--epochs", "3000", *tiny,
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    interrupt_when(proc, b"epoch 2/")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert b"interrupted (Ctrl-C)" in stdout and b"--resume" in stdout
    saved = checkpoints.load(out).history["resume"]["step"]
    assert 0 < saved < 3000 * 11
    result = vae_cli("train", "--resume", "--epochs", str(saved // 11 + 2), "--quiet",
                     "--out", out)
    assert result.returncode == 0, result.stderr
    assert checkpoints.load(out).history["resume"]["epoch"] == saved // 11 + 2


def test_objective_and_capacity_flags_land_in_the_config(tmp_path):
    for flags in (["--objective", "betatcvae", "--beta", "6"], ["--capacity", "5:100:20"]):
        out = tmp_path / flags[1].replace(":", "-")
        assert main(["train", "--epochs", "1", *TINY, *flags, "--out", str(out)]) == 0
        train = checkpoints.load(out).config["train"]
        assert train["objective"] == ("betatcvae" if "--objective" in flags else "betavae")
        assert train["capacity"] == ("5:100:20" if "--capacity" in flags else "")


def test_sweep_trains_each_beta_lands_in_the_rate_distortion_table_and_resumes(tmp_path,
                                                                              capsys):
    from vae import sweep

    out = tmp_path / "tiny-sweep"
    args = ["sweep", "--betas", "4,1", "--epochs", "4", *TINY, "--out", str(out)]
    assert main(args) == 0
    found = checkpoints.list_checkpoints([out])
    assert [c.name for c in found] == ["tiny-sweep-b1", "tiny-sweep-b4"]
    assert {c.config["train"]["seed"] for c in found} == {0}
    group = sweep.find_sweeps(found)["tiny-sweep"]
    rows = sweep.rate_distortion(group)
    assert [row["beta"] for row in rows] == [1.0, 4.0]
    assert rows[1]["rate"] < rows[0]["rate"]  # a higher beta buys less rate ...
    assert rows[1]["distortion"] > rows[0]["distortion"]  # ... for more distortion
    assert sweep.table_csv(rows).splitlines()[0].startswith("name,beta,objective,seed,rate")
    # Run again: every member is complete, so nothing is trained twice.
    capsys.readouterr()
    assert main(args) == 0
    assert "2 of 2 members are trained already" in capsys.readouterr().out


def test_a_study_trains_one_member_per_beta_and_seed_named_by_both(tmp_path, capsys):
    from vae import sweep

    out = tmp_path / "study"
    args = ["sweep", "--betas", "4,1", "--seeds", "1,0", "--epochs", "2", *TINY,
            "--out", str(out)]
    assert main(args) == 0
    found = checkpoints.list_checkpoints([out])
    # Seed 0 keeps the names a one-seed sweep always had.
    assert sorted(c.name for c in found) == ["study-b1", "study-b1-s1", "study-b4",
                                             "study-b4-s1"]
    trained = {c.name: (c.config["train"]["beta"], c.config["train"]["seed"]) for c in found}
    assert trained == {"study-b1": (1, 0), "study-b1-s1": (1, 1), "study-b4": (4, 0),
                       "study-b4-s1": (4, 1)}
    assert [c.name for c in sweep.find_sweeps(found)["study"]] == [
        "study-b1", "study-b1-s1", "study-b4", "study-b4-s1"]
    # Two seeds of one recipe are two different models.
    one, other = (checkpoints.load(out / n).weights() for n in ("study-b1", "study-b1-s1"))
    assert any(not torch.equal(one[k], other[k]) for k in one)
    capsys.readouterr()
    assert main(args) == 0
    assert "4 of 4 members are trained already" in capsys.readouterr().out


@pytest.mark.parametrize("flags", [["--betas", ""], ["--betas", "a,b"], ["--betas", "1,1"],
                                   ["--betas", "1,-2"], ["--betas", "1", "--seeds", "x"],
                                   ["--betas", "1", "--seeds", "1,1"],
                                   ["--betas", "1", "--seeds", "-1"],
                                   ["--betas", "1,2", "--seeds", ",".join(map(str, range(201)))]])
def test_sweep_refuses_bad_betas_seeds_or_size_with_a_sentence(flags, tmp_path, capsys):
    assert main(["sweep", *flags, *TINY, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and any(w in err for w in ("Betas", "beta", "Seeds",
                                                                 "at most 400 members"))
    assert err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_list_never_evaluates_and_says_which_are_not(trained, tmp_path, monkeypatch, capsys):
    from vae import derived, evaluation

    monkeypatch.setattr(checkpoints, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")
    assert main(["export", str(trained), "--out", str(tmp_path / "tiny.zip")]) == 0
    assert main(["import", str(tmp_path / "tiny.zip"), "--name", "fresh"]) == 0
    with monkeypatch.context() as m:
        m.setattr(evaluation, "evaluate", lambda *a, **k: pytest.fail("list evaluated"))
        m.setattr(derived, "evaluate", lambda *a, **k: pytest.fail("list evaluated"))
        capsys.readouterr()
        assert main(["list"]) == 0
    row = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("fresh"))
    assert row.endswith("not evaluated")
    assert main(["evaluate", str(tmp_path / "runs" / "fresh"), "--iwae-samples", "5",
                 "--json", "--quiet"]) == 0
    elbo = json.loads(capsys.readouterr().out)["elbo"]
    assert main(["list"]) == 0
    row = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("fresh"))
    assert row.endswith(f"{elbo:.3f}")


def test_evaluate_encode_and_metrics_show_progress_and_take_threads(trained, tmp_path, capsys):
    fresh = tmp_path / "fresh"  # nothing derived yet: each command computes, with its bar
    shutil.copytree(trained, fresh, ignore=shutil.ignore_patterns("derived"))
    trained = fresh
    assert main(["evaluate", str(trained), "--iwae-samples", "5", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "evaluating (K = 5) [" in err and "100.0%" in err and "left" in err
    assert main(["encode", str(trained), "--out", str(tmp_path / "c.npz"), "--threads", "1"]) == 0
    assert "encoding [" in capsys.readouterr().err
    assert main(["metrics", str(trained), "--threads", "1", "--quiet"]) == 0
    assert "[" not in capsys.readouterr().err
    assert main(["evaluate", str(trained), "--threads", "0"]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_stops_an_evaluation_cleanly_and_writes_nothing(trained):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vae", "evaluate", str(trained),
                             "--iwae-samples", "20000", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    interrupt_when(proc, b"% ")  # the bar: it is computing
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"stopped by Ctrl-C" in err and b"Traceback" not in err
    assert not list(trained.rglob("evaluation-*-k20000*")), "a half-done evaluation was written"


def test_durations_read_as_minutes_and_seconds():
    from vae.cli import _duration

    assert [_duration(s) for s in (5.2, 59.6, 100, 119.6, 3600)] == [
        "5 s", "1 min 00 s", "1 min 40 s", "2 min 00 s", "60 min 00 s"]


def test_sweep_on_ray_without_ray_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an import finds when it is absent
    args = ["sweep", "--backend", "ray", "--betas", "1", *TINY, "--out", str(tmp_path / "s")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "pip install -r requirements-ray.txt" in err and err.count("\n") == 1
    assert main(["sweep", "--address", "127.0.0.1:6379", "--betas", "1", *TINY,
                 "--out", str(tmp_path / "s")]) == 2
    assert "add --backend ray" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_the_device_is_auto_by_default_and_config_json_says_which_it_picked(tmp_path):
    out = tmp_path / "auto"
    assert main(["train", "--epochs", "1", *TINY, "--out", str(out)]) == 0
    config = checkpoints.load(out).config
    assert config["spec"]["train"]["device"] == "auto"  # a resume picks again
    assert config["train"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
