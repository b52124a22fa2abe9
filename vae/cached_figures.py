"""A checkpoint version's test evaluation as derived and kept on disk (vae/derived.py writes it),
read without computing anything and without torch: `python -m vae list` shows it for every
checkpoint in a fraction of a second."""

from __future__ import annotations

import json
from pathlib import Path

from vae.checkpoints import Checkpoint

# vae/evaluation.py's definitions' version: bump it when what `evaluate` returns changes, so
# cached figures are recomputed.
# 2: the ELBO's passes draw from a stream of their own, no longer shared with the bound.
# 3: both streams spawned from the seed (seed + 1's ELBO stream was seed's bound stream).
EVALUATION_VERSION = 3


def evaluation_file(ckpt: Checkpoint, iwae_samples: int, split: str = "test") -> Path:
    suffix = "" if split == "test" else f"-{split}"
    return ckpt.derived_file("evaluation", EVALUATION_VERSION, f"k{iwae_samples}{suffix}")


def read_json(file: Path) -> dict | None:
    """A derived JSON file's content, or None where it is missing or unreadable."""
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError):
        return None


def cached_evaluation(ckpt: Checkpoint, *, iwae_samples: int | None = 100) -> dict | None:
    """What `vae.derived.evaluate_checkpoint` would return if it is cached already, for any K
    where `iwae_samples` is None (the ELBO is the same whatever K); never computes (a big
    model's evaluation takes minutes)."""
    if iwae_samples is not None:
        return read_json(evaluation_file(ckpt, iwae_samples))
    results = map(read_json, ckpt.derived_files("evaluation", EVALUATION_VERSION))
    return next((r for r in results if r is not None), None)
