"""The Train page's live latent map in AppTest: drawn while a job trains, redrawn from each new
snapshot, and computed once per snapshot however often the panel refreshes."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from test_page_train import LONG, open_page, runs, wait_for  # noqa: F401 (runs: the fixture)

from ui import runs as run_views
from ui import state
from vae.jobs import Job

pytestmark = pytest.mark.slow  # a real training job


def live_map(at, job: Job) -> tuple[np.ndarray, str]:
    """The live map's points (every class's trace, in order) and its caption."""
    [chart] = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"live_map_{job.id}")]
    traces = json.loads(chart.proto.spec)["data"]
    points = np.array([xy for t in traces for xy in zip(t["x"], t["y"], strict=True)])
    caption = next(c.value for c in at.caption if "fixed validation images" in c.value)
    return points, caption


def pause_and_settle(job: Job) -> None:
    """Pause the job and wait until the records it sent before the pause have all arrived."""
    state.job_manager().pause(job.id)
    seen = (-1, -1)
    while seen != (job.step, len(job.snapshots)):
        seen = (job.step, len(job.snapshots))
        time.sleep(0.5)


@pytest.mark.usefixtures("runs")
def test_the_live_map_follows_each_new_snapshot_and_encodes_it_once(monkeypatch):
    encodings = []  # one per map computed: the validation sample encoded under a snapshot
    pictures = run_views.pictures

    def counted(model, config, points=run_views.MAP_POINTS):
        if points == run_views.MAP_POINTS:
            encodings.append(points)
        return pictures(model, config, points)

    monkeypatch.setattr(run_views, "pictures", counted)
    job = state.job_manager().submit(LONG, "live-map")
    wait_for(lambda: len(job.snapshots) >= 3)
    at = open_page()
    live_map(at, job)  # drawn while the job trains

    pause_and_settle(job)
    at.run()
    before, caption = live_map(at, job)
    assert caption.startswith(f"Step {max(job.snapshots)}, ") and "144 fixed" in caption
    assert "z1 across, z2 up, fixed at ±4" in caption  # a 2-D code: its own axes
    done = len(encodings)
    for _ in range(3):  # the panel refreshes; no new snapshot, nothing encoded again
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        np.testing.assert_array_equal(live_map(at, job)[0], before)
    assert len(encodings) == done

    last = max(job.snapshots)
    state.job_manager().resume(job.id)
    wait_for(lambda: max(job.snapshots) > last)
    pause_and_settle(job)
    at.run()
    after, caption = live_map(at, job)
    assert caption.startswith(f"Step {max(job.snapshots)}, ")
    assert after.shape == before.shape and not np.allclose(after, before, atol=1e-3)
    assert len(encodings) == done + 1  # the newest snapshot, once for the map and timeline
    state.job_manager().stop(job.id)


def test_a_snapshots_pca_map_keeps_the_axes_of_the_map_before():
    def pics(codes, titles):
        blank = np.zeros((1, 1, 2, 2))
        return run_views.Pictures(blank, blank, blank, codes, None, [], titles, None, [0, 1])

    maps = run_views._SnapshotMaps()
    rng = np.random.default_rng(0)
    first = rng.standard_normal((50, 2)) * [3.0, 1.0]
    assert maps.orient("run", 100, pics(first, ("PC 1", "PC 2"))).codes is first
    # The next snapshot's PCA found the same cloud with its axes the other way round.
    swapped = np.stack([-first[:, 1], first[:, 0]], 1)
    refit = maps.orient("run", 200, pics(swapped, ("PC 1", "PC 2")))
    np.testing.assert_array_equal(refit.codes, first)
    assert refit.axis_titles == ("PC 2", "PC 1")  # each axis keeps its own title
    # A snapshot drawn later but nearer step 100 (the timeline scrubbed back) follows its map.
    assert maps.orient("run", 110, pics(-first, ("PC 1", "PC 2"))).codes.tolist() == \
        first.tolist()
    # Another run's map is its own.
    other = maps.orient("other", 100, pics(-first, ("PC 1", "PC 2")))
    np.testing.assert_array_equal(other.codes, -first)
