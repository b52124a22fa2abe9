"""A stratified sample of a model's test split kept with the model, so that a laptop without
the full dataset can still run the lesson on its pictures (docs/design.md §5): Explore, Map,
Interpolate and Conditional then show these images, and say so."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from vae import fashion
from vae.checkpoints import DATA_NOTICE, Checkpoint
from vae.data import Split, load_dataset, stratified_subset
from vae.files import write_atomic

SAMPLE_SIZE = 2000
# Bump when what write_sample stores changes.
SAMPLE_VERSION = 1
# The split name derived data of the sample is kept under ("test" is the full test split's).
SPLIT = "sample"
# Written beside the sample (checkpoints.DATA_NOTICE), for data whose licence asks that its
# notice travel with copies.
NOTICES = {"fashion": fashion.NOTICE}


def sample_file(ckpt: Checkpoint) -> Path:
    return ckpt.derived_file("sample", SAMPLE_VERSION, f"test{SAMPLE_SIZE}", ".npz")


def write_sample(ckpt: Checkpoint) -> Path:
    """Keep a stratified SAMPLE_SIZE images of the checkpoint's test split (uint8, compressed,
    with their indices in the full split) and the data's licence notice, if it has one."""
    cfg = ckpt.config["data"]
    test = load_dataset(cfg["dataset"], image_size=cfg.get("image_size"),
                        rgb=cfg.get("rgb", False)).test
    index = stratified_subset(len(test), test.y, SAMPLE_SIZE)
    arrays = {"x": test.x[index], "index": index}
    if test.y is not None:
        arrays["y"] = test.y[index]
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    file = sample_file(ckpt)
    write_atomic(file, buffer.getvalue())
    if cfg["dataset"] in NOTICES:
        write_atomic(ckpt.path / DATA_NOTICE, NOTICES[cfg["dataset"]].encode())
    return file


def read_sample(ckpt: Checkpoint) -> Split | None:
    """The sample write_sample kept for this version, or None."""
    try:
        with np.load(sample_file(ckpt), allow_pickle=False) as arrays:
            return Split(arrays["x"], arrays["y"] if "y" in arrays.files else None)
    except (OSError, ValueError, EOFError, KeyError):
        return None
