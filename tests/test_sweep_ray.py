"""Sweeps through Ray (`sweep --backend ray`): a real head node on 127.0.0.1 and the driver,
each run inside a network namespace of the test's own that has only loopback (Ray binds the
machine's interface address otherwise), then `ray stop`."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_data import make_mnist

from vae import checkpoints, sweep

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TINY = "--dataset digits --hidden 32 --latent-dim 4 --quiet --threads 1"
# What any Ray process of a cluster runs as: none may be left once a test ends.
RAY_PROCESSES = ("raylet", "gcs_server", "ray::", "default_worker.py")


def ray_processes() -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(mark in command for mark in RAY_PROCESSES):
            found.append(command[:120])
    return found


def ray_processes_after(seconds: float) -> list[str]:
    """Ray processes still running once they had `seconds` to go (a node stops in steps)."""
    deadline = time.monotonic() + seconds
    while (left := ray_processes()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def in_loopback_namespace(script: str, timeout: float = 600) -> str:
    """Run a bash script in a new network namespace with only loopback up; its stdout."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install -r requirements-ray.txt")
    if not shutil.which("unshare") or subprocess.run(
            ["unshare", "-n", "true"], capture_output=True).returncode:
        pytest.skip("creating a network namespace (unshare -n) is not permitted here")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "RAY_AUTH_MODE": "disabled",
           "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(["unshare", "-n", "bash", "-c", "set -e\nip link set lo up\n" + script],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def head(port: int) -> str:
    return (f"ray start --head --node-ip-address=127.0.0.1 --port={port} --num-cpus=2 "
            "--include-dashboard=false --disable-usage-stats >/dev/null\n"
            "trap 'ray stop --force >/dev/null 2>&1' EXIT\n")


def test_a_study_on_a_ray_head_node_is_imported_resumed_and_matches_the_local_backend(
        tmp_path):
    out, local = tmp_path / "study", tmp_path / "local" / "study"
    command = (f"python -m vae sweep --backend ray --address 127.0.0.1:6391 --betas 1,4 "
               f"--seeds 0,1 --epochs 3 {TINY} --out {out}")
    output = in_loopback_namespace(
        head(6391) + f"{command}\necho RERUN\n{command}\necho LOCAL\n"
        f"python -m vae sweep --betas 4 --seeds 1 --epochs 3 {TINY} --out {local}\n")
    first, rerun = output.split("LOCAL")[0].split("RERUN")
    names = ["study-b1", "study-b1-s1", "study-b4", "study-b4-s1"]
    assert sorted(line.split(":")[0] for line in first.splitlines()
                  if line.endswith("Training finished.")) == names
    found = checkpoints.list_checkpoints([out])
    assert [c.name for c in sweep.find_sweeps(found)["study"]] == names
    # Slim copies travelled back: weights, config, history, no optimizer state.
    assert all(c.config["spec"]["sweep"] == "study" and not c.resumable for c in found)
    assert "4 of 4 members are trained already" in rerun and "Training finished" not in rerun
    # The same member through the local backend: the same weights, bit for bit.
    ray_weights = checkpoints.load(out / "study-b4-s1").weights()
    local_weights = checkpoints.load(local / "study-b4-s1").weights()
    assert all(torch.equal(ray_weights[k], local_weights[k]) for k in local_weights)
    assert ray_processes() == []


def test_a_member_whose_worker_is_killed_is_retried_and_a_killed_sweep_leaves_no_ray(tmp_path):
    out, killed = tmp_path / "study", tmp_path / "killed"
    wait_for_member = ("for i in $(seq 600); do\n"
                       "  victim=$(pgrep -f '^ray::train_member' | head -n 1 || true)\n"
                       "  if [ -n \"$victim\" ]; then break; fi\n"
                       "  sleep 0.1\n"
                       "done\n")
    # No --address: the sweep starts its own Ray. The first member's worker process is killed
    # (SIGKILL) once it trains; Ray tries it again in the same run. Then a second sweep's
    # driver is killed while its members train.
    output = in_loopback_namespace(
        f"python -m vae sweep --backend ray --betas 1,4 --epochs 40 {TINY} --out {out} &\n"
        f"{wait_for_member}sleep 1; kill -9 $victim; echo KILLED\n"
        "wait $!\n"
        f"python -m vae sweep --backend ray --betas 1,4 --epochs 4000 {TINY} --out {killed} &\n"
        f"{wait_for_member}kill -9 $!; echo DRIVER KILLED\n")
    assert "KILLED" in output and "DRIVER KILLED" in output
    assert "Sweep 'study' complete" in output, output
    assert sorted(c.name for c in checkpoints.list_checkpoints([out])) == ["study-b1",
                                                                          "study-b4"]
    assert ray_processes_after(60) == []
    # Nothing half-written is listed.
    assert checkpoints.list_checkpoints([killed]) == []


def test_a_member_that_fails_is_reported_and_trained_by_the_next_run(tmp_path):
    data, out = tmp_path / "idx", tmp_path / "study"
    tiny = TINY.replace("digits", f"mnist:{data}")
    command = f"python -m vae sweep --backend ray --betas 2 --epochs 2 {tiny} --out {out}"
    # The files are not there yet: on its node the member fails (no retry: it is the
    # training's own error, not a dead worker), and the driver says which and why.
    output = in_loopback_namespace(f"{command} || echo EXIT=$?\n")
    assert f"study-b2: failed: {data}: no such folder" in output
    assert "EXIT=1" in output and "run the same command again" in output
    assert checkpoints.list_checkpoints([out]) == []
    make_mnist(data)
    output = in_loopback_namespace(f"{command}\n")
    assert "study-b2: Training finished." in output
    assert [c.name for c in checkpoints.list_checkpoints([out])] == ["study-b2"]


def test_ctrl_c_cancels_what_is_out_and_keeps_the_finished_members(tmp_path):
    out, log = tmp_path / "study", tmp_path / "log"
    # Two members trained; a third (a long one) added to the study is interrupted by Ctrl-C.
    output = in_loopback_namespace(
        f"python -m vae sweep --backend ray --betas 1,2 --epochs 3 {TINY} --out {out}\n"
        # Job control on, so that the background driver gets SIGINT as from a terminal.
        "set -m\n"
        f"python -m vae sweep --backend ray --betas 1,2,4 --epochs 4000 {TINY} "
        f"--out {out} > {log} 2>&1 &\n"
        "for i in $(seq 600); do\n"
        "  pgrep -f '^ray::train_member' >/dev/null && break; sleep 0.1\n"
        "done\n"
        "sleep 1; kill -INT $!; wait $! || echo EXIT=$?\n"
        f"cat {log}\n")
    assert "EXIT=1" in output and "finished members are kept" in output, output
    assert sorted(c.name for c in checkpoints.list_checkpoints([out])) == ["study-b1",
                                                                          "study-b2"]
    assert ray_processes_after(60) == []
