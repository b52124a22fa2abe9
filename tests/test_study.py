"""A β × seed study's summary: seeds grouped by β, mean and spread, the median member, and the
reading that says when seeds spread wider than the β values differ."""

import statistics
from pathlib import Path

import pytest

from vae import checkpoints, sweep


def row(beta: float, seed: int, mig: float | None, rate: float = 1.0,
        objective: str = "betavae") -> dict:
    return {"name": f"s-b{beta:g}-s{seed}", "beta": beta, "objective": objective, "seed": seed,
            "rate": rate, "distortion": 10.0 - rate, "mig": mig}


def ckpt(beta: float, seed: int, objective: str = "betavae") -> checkpoints.Checkpoint:
    return checkpoints.Checkpoint(
        path=Path(sweep.member_name("s", beta, objective, seed)), version=Path("v"),
        config={"train": {"beta": beta, "seed": seed, "objective": objective}},
        history={}, key="k")


def test_spread_gives_each_betas_mean_and_sample_sd_over_its_seeds():
    rows = [row(1, 0, 0.1, rate=3.0), row(1, 1, 0.3, rate=5.0), row(1, 2, None, rate=4.0),
            row(4, 0, 0.5, rate=1.0)]
    low, high = sweep.spread(rows, ("rate", "mig"))
    assert low["seeds"] == [0, 1, 2] and high["seeds"] == [0]
    assert low["rate"]["mean"] == pytest.approx(4.0)
    assert low["rate"]["sd"] == pytest.approx(1.0)  # sample sd of 3, 4, 5
    assert low["mig"]["values"] == [0.1, 0.3]  # a score not computed yet is left out
    assert low["mig"]["mean"] == pytest.approx(0.2)
    assert low["mig"]["sd"] == pytest.approx(statistics.stdev([0.1, 0.3]))
    assert high["mig"] == {"values": [0.5], "mean": 0.5, "sd": 0.0}


def test_the_reading_speaks_only_where_seeds_spread_wider_than_the_betas_differ():
    titles = {"mig": "MIG"}
    # beta 1: 0.10-0.40 (mean 0.25), beta 2: 0.28-0.32 (mean 0.30): a 0.05 gap, a 0.30 spread.
    close = sweep.spread([row(1, 0, 0.1), row(1, 1, 0.4), row(2, 0, 0.28), row(2, 1, 0.32)],
                         ("mig",))
    [line] = sweep.seed_spread_readings(close, titles)
    assert line.endswith(": β = 1 against 2: seeds spread over 0.30, means 0.05 apart.")
    # beta 8 far above both: its gap to beta 2 (0.5) exceeds either spread.
    apart = sweep.spread([row(2, 0, 0.28), row(2, 1, 0.32), row(8, 0, 0.8), row(8, 1, 0.84)],
                         ("mig",))
    assert sweep.seed_spread_readings(apart, titles) == []
    # One seed a beta: no spread to compare with.
    assert sweep.seed_spread_readings(sweep.spread([row(1, 0, 0.1), row(2, 0, 0.9)], ("mig",)),
                                      titles) == []


def test_members_group_by_beta_and_objective_and_the_median_seed_is_chosen():
    members = [ckpt(1, 0), ckpt(1, 1), ckpt(1, 2), ckpt(4, 0), ckpt(4, 0, "betatcvae")]
    groups = sweep.by_beta(members)
    assert [[c.name for c in g] for g in groups] == [["s-b1", "s-b1-s1", "s-b1-s2"], ["s-b4"],
                                                     ["s-tc4"]]
    first = groups[0]
    mig = {"s-b1": 0.9, "s-b1-s1": 0.1, "s-b1-s2": 0.5}
    assert sweep.median_member(first, mig).name == "s-b1-s2"
    # Two scored: the lower middle one; none scored yet: the first seed.
    assert sweep.median_member(first, {"s-b1": 0.9, "s-b1-s1": 0.1}).name == "s-b1-s1"
    assert sweep.median_member(first, {}).name == "s-b1"


def test_the_queue_shows_a_study_as_one_entry_with_its_progress():
    from ui.live import by_study, study_progress
    from vae.jobs import Job

    def job(name: str, status: str, step: int = 0, study: str = "s") -> Job:
        return Job(name, name, f"/runs/{name}", {}, study=study, status=status, step=step,
                   total_steps=100)

    alone = job("alone", "running", 10, study="")
    members = [job("s-b1", "finished", 100), job("s-b1-s1", "finished", 100),
               job("s-b4", "running", 50), job("s-b4-s1", "queued")]
    entries = by_study([members[0], alone, *members[1:]])
    assert entries == [members, alone]  # the study where its first member stood
    share, words = study_progress(members)
    assert share == pytest.approx((2 + 0.5) / 4)
    assert words == "2 of 4 trained · training b4"
    share, words = study_progress([job("s-b1", "queued"), job("s-b2", "queued")])
    assert (share, words) == (0.0, "0 of 2 trained · queued")
