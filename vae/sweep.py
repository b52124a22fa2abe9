"""Beta sweeps (studies): one training per beta and seed with the same data and budget. Each
member is a normal checkpoint whose spec carries the sweep's name, so the sweep is found again
by that tag; members queue as jobs (docs/design.md §2), and a sweep run again resumes what is
unfinished."""

from __future__ import annotations

import csv
import io
import itertools
import math
import statistics
from dataclasses import replace
from pathlib import Path

from vae import checkpoints
from vae.cached_figures import cached_evaluation
from vae.derived import ELBO_ONLY, cached_metrics, evaluate_checkpoint
from vae.disentanglement import METRICS
from vae.jobs import Job, JobManager
from vae.runner import RunSpec, is_complete

# A study from the command line may be large (Locatello et al. trained thousands); one queued
# from the app takes one place in the server's queue however many members it has, and stays
# small enough for the server's one training core.
MAX_MEMBERS, MAX_PAGE_MEMBERS = 400, 24


def _listed(text: str, kind: type, what: str, example: str) -> list:
    """'1,2,4' -> [kind('1'), ...]; refuses anything else with a sentence."""
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = None
    if not values:
        numbers = "numbers" if kind is float else "whole numbers"
        raise ValueError(f"{what} '{text}' must be {numbers} separated by commas, such as "
                         f"{example}.")
    return values


def parse_betas(text: str) -> list[float]:
    """'0.5,1,2,4,8' -> [0.5, 1.0, 2.0, 4.0, 8.0]; refuses anything else with a sentence."""
    betas = _listed(text, float, "Betas", "0.5,1,2,4,8")
    if any(not (math.isfinite(b) and b >= 0) for b in betas) or len(set(betas)) < len(betas):
        raise ValueError(f"Betas '{text}' must be distinct finite numbers >= 0.")
    return sorted(betas)


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' -> [0, 1, 2]; refuses anything else with a sentence."""
    seeds = _listed(text, int, "Seeds", "0,1,2")
    if any(s < 0 for s in seeds) or len(set(seeds)) < len(seeds):
        raise ValueError(f"Seeds '{text}' must be distinct whole numbers >= 0, such as 0,1,2.")
    return sorted(seeds)


def check_size(betas: list[float], seeds: list[int] | None, limit: int = MAX_MEMBERS) -> None:
    """Refuse, with a sentence, a study of more than `limit` members."""
    size = len(betas) * len(seeds or [None])
    if size > limit:
        raise ValueError(f"A sweep takes at most {limit} members (betas x seeds) at a time; "
                         f"this one has {size}.")


def member_name(name: str, beta: float, objective: str = "betavae", seed: int = 0) -> str:
    """NAME-bBETA, or NAME-tcBETA for beta-TCVAE (one sweep can hold both at one beta), with
    -sSEED for any seed but 0, so that a one-seed sweep keeps the names it always had."""
    return f"{name}-{'tc' if objective == 'betatcvae' else 'b'}{beta:g}" + (
        f"-s{seed}" if seed else "")


def members(spec: RunSpec, betas: list[float], name: str,
            seeds: list[int] | None = None) -> list[tuple[str, RunSpec]]:
    """(checkpoint name, spec) per beta and seed: the given spec with only those changed
    (without seeds, every member keeps the spec's seed and its name has none). Running a sweep
    again under the same name with other betas, seeds (or objective) extends it."""
    objective = spec.train.get("objective", "betavae")
    study = []
    for beta in betas:
        for seed in seeds or [None]:
            train = {**spec.train, "beta": beta, **({} if seed is None else {"seed": seed})}
            study.append((member_name(name, beta, objective, seed or 0),
                          replace(spec, train=train, sweep=name)))
    return study


def beta_label(beta: float, objective: str = "betavae") -> str:
    """'4', or '12 (β-TCVAE)': how the page and the readings name a beta of a sweep."""
    return f"{beta:g}" + (" (β-TCVAE)" if objective == "betatcvae" else "")


def member_label(ckpt: checkpoints.Checkpoint) -> str:
    """The beta slider's name for a member (and its seeds)."""
    train = ckpt.config["train"]
    return beta_label(train["beta"], train.get("objective", "betavae"))


def seed_of(ckpt: checkpoints.Checkpoint) -> int:
    return ckpt.config["train"].get("seed", 0)


def by_beta(found: list[checkpoints.Checkpoint]) -> list[list[checkpoints.Checkpoint]]:
    """A sweep's members (find_sweeps' order) grouped by beta and objective: the seeds of one
    recipe together, in seed order."""
    groups: dict[tuple, list[checkpoints.Checkpoint]] = {}
    for ckpt in found:
        train = ckpt.config["train"]
        groups.setdefault((train["beta"], train.get("objective", "betavae")), []).append(ckpt)
    return list(groups.values())


def median_member(group: list[checkpoints.Checkpoint], scores: dict[str, float | None]
                  ) -> checkpoints.Checkpoint:
    """The seed whose score (`scores`: name -> value, None where not computed) is the median
    of its group's (the lower middle one of an even count); the first seed while none is."""
    known = sorted((v, seed_of(c), c.name) for c in group
                   if (v := scores.get(c.name)) is not None)
    if not known:
        return group[0]
    name = known[(len(known) - 1) // 2][2]
    return next(c for c in group if c.name == name)


def unfinished(study: list[tuple[str, RunSpec]], root: Path | None = None
               ) -> list[tuple[str, RunSpec, Path, bool]]:
    """(name, spec, folder, resume) of each member not trained to its end under `root`; an
    interrupted one resumes where it stopped."""
    root = Path(root) if root is not None else checkpoints.RUNS_DIR
    left = []
    for member, member_spec in study:
        out = checkpoints.resolve_name(member, root)
        resume = checkpoints.is_checkpoint(out)
        if not (resume and is_complete(checkpoints.load(out))):
            left.append((member, member_spec, out, resume))
    return left


def submit(manager: JobManager, spec: RunSpec, betas: list[float], name: str, *,
           seeds: list[int] | None = None, root: Path | None = None,
           owner: str = "") -> list[Job]:
    """Queue every member not yet trained, as one study."""
    return queue(manager, unfinished(members(spec, betas, name, seeds), root), name, owner)


def queue(manager: JobManager, left: list[tuple[str, RunSpec, Path, bool]], study: str,
          owner: str = "") -> list[Job]:
    """Queue the members `left` (unfinished's) as the study `study`."""
    return [manager.submit(member_spec, member, owner=owner, resume=resume, out=out,
                           study=study) for member, member_spec, out, resume in left]


def sweep_of(ckpt: checkpoints.Checkpoint) -> str | None:
    return ckpt.config.get("spec", {}).get("sweep")


def find_sweeps(found: list[checkpoints.Checkpoint]) -> dict[str, list[checkpoints.Checkpoint]]:
    """Sweep name -> its members present, ordered by beta (beta-VAE before beta-TCVAE)."""
    sweeps: dict[str, list[checkpoints.Checkpoint]] = {}
    for ckpt in found:
        if name := sweep_of(ckpt):
            sweeps.setdefault(name, []).append(ckpt)
    return {name: sorted(group, key=lambda c: (c.config["train"]["beta"],
                                               c.config["train"].get("objective", ""),
                                               c.config["train"].get("seed", 0)))
            for name, group in sorted(sweeps.items())}


def rate_distortion(found: list[checkpoints.Checkpoint], *, compute: bool = True) -> list[dict]:
    """One row per model: beta, rate = KL and distortion = -recon (the beta = 1 terms of
    docs/design.md §3, test split, nats), the ELBO, and the disentanglement metrics where computed.
    With compute=False, models not evaluated yet are left out instead of evaluated."""
    rows = []
    for ckpt in found:
        result = (evaluate_checkpoint(ckpt.path, iwae_samples=ELBO_ONLY) if compute
                  else cached_evaluation(ckpt, iwae_samples=ELBO_ONLY))
        if result is None:
            continue
        metrics = cached_metrics(ckpt) or {}
        train = ckpt.config["train"]
        rows.append({"name": ckpt.name, "beta": train["beta"],
                     "objective": train.get("objective", "betavae"), "seed": seed_of(ckpt),
                     "rate": result["kl"], "distortion": -result["recon"],
                     "elbo": result["elbo"], "active_units": result["active_units"],
                     **{key: metrics.get(key) for key in METRICS}})
    return rows


def spread(rows: list[dict], keys: tuple[str, ...] = ("rate", "distortion", "elbo", *METRICS)
           ) -> list[dict]:
    """Per beta and objective (in the rows' order): its seeds and, for each of `keys`, the
    mean, the standard deviation over seeds (0 for one seed) and the values, over the rows
    where it was computed."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["beta"], row["objective"]), []).append(row)
    summary = []
    for (beta, objective), members in groups.items():
        entry = {"beta": beta, "objective": objective, "seeds": [r["seed"] for r in members]}
        for key in keys:
            values = [r[key] for r in members if r.get(key) is not None]
            entry[key] = {"values": values,
                          "mean": statistics.fmean(values) if values else None,
                          "sd": statistics.stdev(values) if len(values) > 1 else 0.0}
        summary.append(entry)
    return summary


def seed_spread_readings(summary: list[dict], keys: dict[str, str]) -> list[str]:
    """A sentence for each score (`keys`: key -> name) whose seeds spread wider, at one of two
    neighbouring betas, than the two betas' means differ: which of those betas scores higher
    cannot be told from these seeds."""
    lines = []
    for key, title in keys.items():
        pairs = []
        for a, b in itertools.pairwise(summary):
            if len(a[key]["values"]) < 2 or len(b[key]["values"]) < 2:
                continue
            gap = abs(a[key]["mean"] - b[key]["mean"])
            width = max(max(e[key]["values"]) - min(e[key]["values"]) for e in (a, b))
            if width > gap:
                pairs.append(f"β = {beta_label(a['beta'], a['objective'])} against "
                             f"{beta_label(b['beta'], b['objective'])}: seeds spread over "
                             f"{width:.2f}, means {gap:.2f} apart")
        if pairs:
            lines.append(f"{title} cannot rank two β values whose seeds spread wider than "
                         f"their means differ: {'; '.join(pairs)}.")
    return lines


def table_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["name"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()
