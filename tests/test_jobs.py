"""Jobs on real worker processes (spawned, so each test pays a worker start-up)."""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import reliability

from vae import checkpoints
from vae.jobs import JobError, JobManager
from vae.processes import pid_alive
from vae.runner import RunSpec

pytestmark = pytest.mark.slow
SPEC = RunSpec(model={"hidden": [32], "latent_dim": 4}, train={"epochs": 500})


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def manager(tmp_path):
    threads_before = threading.active_count()
    m = JobManager(tmp_path / "runs")
    yield m
    m.shutdown()
    assert multiprocessing.active_children() == []
    assert threading.active_count() <= threads_before


def test_pause_beta_pace_and_stop_on_a_real_worker(manager):
    job = manager.submit(SPEC, "live")
    wait_for(lambda: job.step > 0)
    manager.pause(job.id)
    time.sleep(0.3)
    paused_at = job.step
    time.sleep(0.6)
    assert job.step == paused_at and job.status == "paused"

    manager.set_beta(job.id, 3.5)
    manager.set_pace(job.id, 40)
    manager.resume(job.id)
    time.sleep(1.5)
    start = job.step
    time.sleep(1.0)
    assert 20 <= job.step - start <= 60  # ~40 steps in a second
    assert job.beta == 3.5 and job.beta_changes[0]["beta"] == 3.5

    wait_for(lambda: job.snapshots and job.weights is not None)  # live copies arrive
    manager.stop(job.id)
    stopped_at = time.monotonic()
    manager.wait(job.id, timeout=20)
    assert job.status == "stopped" and "stopped by the user" in job.message
    assert job.step < 500 * 11
    assert time.monotonic() - stopped_at < 10
    # Saved, the run is read from its checkpoint: the server lets its live copies go.
    assert not job.snapshots and job.weights is None and not job.steps
    history = checkpoints.load(manager.root / "live").history
    assert history["beta_changes"][0]["beta"] == 3.5


@pytest.mark.reliability
def test_queue_order_limit_and_refusal(tmp_path):
    m = JobManager(tmp_path / "runs", max_running=1, max_queued=1)
    try:
        first = m.submit(RunSpec(model={"hidden": [16]}, train={"epochs": 3}), "first")
        second = m.submit(RunSpec(model={"hidden": [16]}, train={"epochs": 3}), "second")
        assert (first.status, second.status) == ("running", "queued")
        with pytest.raises(JobError, match="queue is full") as refused:
            m.submit(SPEC, "third")
        with pytest.raises(JobError, match="already queued or running"):
            m.submit(SPEC, "second")
        m.wait(second.id, timeout=60)
        assert (first.status, second.status) == ("finished", "finished")
        reliability.record(
            "Load", "more jobs than the queue holds",
            "one job running and the queue full (one waiting), a third job submitted",
            f"refused: \"{refused.value}\"; the running and the queued job both finished",
            running=1, queued=1, refused=1)
        with pytest.raises(JobError, match="exists already"):
            m.submit(SPEC, "first")
    finally:
        m.shutdown()


def test_a_studys_queued_members_take_one_place_in_the_queue(tmp_path):
    from vae import sweep

    m = JobManager(tmp_path / "runs", max_running=1, max_queued=1)
    tiny = RunSpec(model={"hidden": [16], "latent_dim": 2}, train={"epochs": 2})
    try:
        # Six members: one runs, five wait, and the queue of one place still takes them all.
        members = sweep.submit(m, tiny, [1.0, 4.0], "study", seeds=[0, 1, 2],
                               root=tmp_path / "runs")
        assert len(members) == 6 and all(j.study == "study" for j in members)
        assert sorted(j.status for j in members) == ["queued"] * 5 + ["running"]
        with pytest.raises(JobError, match="queue is full"):  # anything else: no place left
            m.submit(SPEC, "other")
        for job in members:
            m.wait(job.id, timeout=120)
        assert {j.status for j in members} == {"finished"}
        assert m.submit(SPEC, "other").status == "running"  # the place is free again
    finally:
        m.shutdown()


def test_a_job_with_bad_data_fails_with_a_sentence(manager, tmp_path):
    job = manager.submit(RunSpec(dataset=f"npz:{tmp_path / 'missing.npz'}"), "bad")
    manager.wait(job.id, timeout=60)
    assert job.status == "failed"
    assert "missing.npz" in job.message and "Traceback" not in job.message


def test_worker_dies_with_its_server_and_the_job_shows_interrupted(tmp_path):
    root = tmp_path / "runs"
    server = textwrap.dedent(f"""
        import sys, time
        from vae.jobs import JobManager
        from vae.runner import RunSpec
        if __name__ == "__main__":
            m = JobManager({str(root)!r})
            job = m.submit(RunSpec(model={{"hidden": [32]}}, train={{"epochs": 100000}}), "j")
            while job.step == 0:
                time.sleep(0.05)
            print(job.pid, flush=True)
            time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", server], stdout=subprocess.PIPE, text=True,
                            cwd=os.getcwd())
    worker_pid = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    wait_for(lambda: not pid_alive(worker_pid), timeout=5)
    assert time.monotonic() - killed < 2.0
    restarted = JobManager(root)
    try:
        (job,) = restarted.jobs()
        # It never reached a periodic save: the message does not offer a resume.
        assert job.status == "interrupted" and "before it saved anything" in job.message
    finally:
        restarted.shutdown()


def test_a_pace_given_with_the_job_holds_from_its_first_step_and_when_it_continues(manager):
    job = manager.submit(SPEC, "paced", pace=10)  # no page asks for it: the lesson's case
    wait_for(lambda: job.step > 0)
    start, at = time.monotonic(), job.step
    time.sleep(1.5)
    assert job.step - at <= 10 * (time.monotonic() - start) + 3  # unpaced: hundreds a second
    manager.stop(job.id)
    manager.wait(job.id, timeout=20)

    short = RunSpec(model={"hidden": [32], "latent_dim": 2}, train={"epochs": 1})
    first = manager.wait(manager.submit(short, "lesson", pace=500).id, timeout=60)
    assert first.status == "finished", first.message
    assert manager.continue_run(first.id, 4.0, 1).pace == 500


def test_each_beta_sent_is_one_change_and_one_sent_just_before_stop_counts(manager):
    job = manager.submit(SPEC, "keys")
    wait_for(lambda: job.step > 0)
    manager.set_pace(job.id, 40)  # slow enough that the run outlasts the changes
    manager.set_beta(job.id, 3.0)  # the page's slider sends a change once the hand has rested
    wait_for(lambda: job.beta_changes)
    wait_for(lambda: job.beta == 3.0)
    assert [c["beta"] for c in job.beta_changes] == [3.0]
    manager.set_beta(job.id, 0.5)
    manager.stop(job.id)
    manager.wait(job.id, timeout=20)
    changes = checkpoints.load(manager.root / "keys").history["beta_changes"]
    assert [c["beta"] for c in changes] == [3.0, 0.5]


def test_an_ended_run_continues_from_its_weights_at_another_beta(manager):
    spec = RunSpec(model={"hidden": [32], "latent_dim": 2}, train={"epochs": 4})
    first = manager.wait(manager.submit(spec, "lesson").id, timeout=60)
    assert first.status == "finished"
    before = checkpoints.load(manager.root / "lesson").history
    ended_at = before["resume"]["step"]
    with pytest.raises(JobError, match="at least one more epoch"):
        manager.continue_run(first.id, 4.0, 0)

    job = manager.continue_run(first.id, 4.0, 2)
    manager.set_pace(job.id, 20)  # as the page does: slow enough to watch it start
    wait_for(lambda: job.config is not None)
    # While it trains, the live page has the whole run: the curves so far and the marker.
    assert job.steps[:10] == before["steps"][:10]
    assert job.beta_changes == [{"step": ended_at, "beta": 4.0, "continued": True}]
    with pytest.raises(JobError, match="once it has ended"):
        manager.continue_run(job.id, 1.0, 1)
    manager.set_pace(job.id, 0)  # full speed, asked while the worker waits for its pace
    assert manager.wait(job.id, timeout=60).status == "finished", job.message

    after = checkpoints.load(manager.root / "lesson").history
    assert len(after["epochs"]) == 6 and after["resume"]["step"] == ended_at * 6 // 4
    assert after["steps"][:len(before["steps"])] == before["steps"]  # the run so far is kept
    assert after["beta_changes"] == [{"step": ended_at, "beta": 4.0, "continued": True}]
    continued = [r for r in after["steps"] if r["step"] > ended_at]
    assert continued and {r["beta"] for r in continued} == {4.0}
    # From the ended run's weights, not a fresh start: its first steps score as the ended run's
    # last did, far above what the untrained model scored on the first steps of the run.
    fresh = np.mean([r["elbo"] for r in before["steps"][:5]])
    ended = np.mean([r["elbo"] for r in before["steps"][-5:]])
    resumed = np.mean([r["elbo"] for r in continued[:5]])
    assert abs(resumed - ended) < abs(resumed - fresh) / 3


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_the_apps_workers_train_only_on_cores_nothing_else_wants(tmp_path, monkeypatch):
    """The app's manager (the one its pages use) starts workers under SCHED_IDLE, so a slider's
    rerun never waits behind a training step; the command line's keep the ordinary policy."""
    from ui import state

    monkeypatch.setattr(checkpoints, "RUNS_DIR", tmp_path / "app")
    state.job_manager.clear()
    policies = {}
    try:
        for where, m in (("app", state.job_manager()), ("cli", JobManager(tmp_path / "cli"))):
            try:
                job = m.submit(SPEC, "policy")
                wait_for(lambda job=job: job.step > 0)
                policies[where] = os.sched_getscheduler(job.pid)
            finally:
                m.shutdown()
    finally:  # later tests must not get this test's shut-down manager
        state.job_manager.clear()
    assert policies == {"app": os.SCHED_IDLE, "cli": os.SCHED_OTHER}
    assert multiprocessing.active_children() == []
