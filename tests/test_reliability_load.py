"""Load: 30 Chromium sessions explore one server while a job it started trains. Every move
gets its picture with no error on any page, and the job ends with the weights it gets alone."""

import json
import statistics
import time
from pathlib import Path

import pytest
import reliability
import torch
from conftest import page_errors
from safetensors.torch import load_file

from benchmarks.harness import start_app, start_job, stop_app
from benchmarks.ui_latency import load_session, percentile, release_rounds
from vae import checkpoints
from vae.runner import RunSpec, train_run

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.reliability]

SESSIONS = 30
ROUNDS = 4
# Long enough to outlast the load: a worker now starts in 0.1 s and at 300 epochs (7.5 s
# alone) the job once finished before the load's last round.
EPOCHS = 1000


def job_record(runs: Path, name: str) -> dict:
    for file in (runs / ".jobs").glob("*.json"):
        record = json.loads(file.read_text())
        if record["name"] == name:
            return record
    raise AssertionError(f"no job record for {name}")


def test_thirty_sessions_explore_while_a_job_trains(browser, tmp_path):
    proc, url = start_app(tmp_path)
    pages = []
    try:
        pages = [load_session(browser, url) for _ in range(SESSIONS)]
        trainer = start_job(browser, url, "under-load", EPOCHS)
        pages.append(trainer)
        record = job_record(tmp_path / "runs", "under-load")
        times, missed = release_rounds(pages[:SESSIONS], ROUNDS)
        still_training = job_record(tmp_path / "runs", "under-load")["status"] == "running"
        errors = [e for page in pages for e in page_errors(page)]

        deadline = time.monotonic() + 600
        while (record := job_record(tmp_path / "runs", "under-load"))["status"] in (
                "queued", "running"):
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(1)
    finally:
        for page in pages:
            page.close()
        stop_app(proc)

    alone = tmp_path / "alone"
    started = time.perf_counter()
    train_run(RunSpec.from_dict(record["spec"]), alone)
    alone_s = time.perf_counter() - started
    loaded = load_file(checkpoints.load(record["out"]).version / checkpoints.MODEL)
    reference = load_file(checkpoints.load(alone).version / checkpoints.MODEL)
    same = loaded.keys() == reference.keys() and all(
        torch.equal(loaded[k], reference[k]) for k in loaded)
    p50, p95 = statistics.median(times), percentile(times, 95)
    reliability.record(
        "Load", "30 sessions explore while a job trains",
        f"{SESSIONS} headless Chromium sessions on Explore (native sliders) each move a slider "
        f"{ROUNDS} times, all sessions together each round, while a {EPOCHS}-epoch digits job "
        "started from the Train page trains in the same server; then the same spec trained "
        "alone with the same seed",
        f"{len(times)} of {SESSIONS * ROUNDS} moves got their new picture, {missed} lost; "
        f"{len(errors)} error elements; job {record['status']} "
        f"({'still training when the load ended' if still_training else 'done before the end'}); "
        f"weights {'identical' if same else 'DIFFERENT'} to the run alone",
        **{"round trip p50 ms": round(p50), "round trip p95 ms": round(p95),
           "job alone s": round(alone_s, 1)})
    assert missed == 0 and len(times) == SESSIONS * ROUNDS
    assert errors == []
    assert still_training, "the job finished before the load ended: raise EPOCHS"
    assert record["status"] == "finished"
    assert same
