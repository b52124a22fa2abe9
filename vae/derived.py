"""What is derived from a checkpoint: its test evaluation, encodings, disentanglement metrics
and t-SNE maps, each computed once and kept under the version's key (docs/design.md §5).

The formulas live in vae.evaluation, vae.disentanglement and vae.projection; this module reads
a checkpoint's data, calls them and caches what they return.
"""

from __future__ import annotations

import io
import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vae import bundled_sample, checkpoints, projection
from vae.cached_figures import evaluation_file, read_json
from vae.checkpoints import Checkpoint
from vae.data import DataError, Dataset, Split, load_dataset, model_inputs
from vae.evaluation import evaluate
from vae.files import write_atomic
from vae.models import VAE, as_input

# Bump when what encode_split stores changes.
ENCODINGS_VERSION = 1
ENCODE_BATCH = 1024
# Seconds each metric took on a shapes sweep member (benchmarks/metrics.py): how far along a
# metrics run is, as its progress bar says.
METRIC_SHARES = {"mig": 0.1, "sap": 0.3, "sap_continuous": 0.05, "dci": 41.0, "kl": 1.1,
                 "factor_vae": 3.1}
Report = Callable[[float], None]


# Data every machine has: drawn by vae/shapes.py, or shipped inside scikit-learn. Loading it
# only to find that out cost a page's first visit 60 ms a model.
ALWAYS_HERE = ("digits", "shapes")


def shown_split(ckpt: Checkpoint) -> str:
    """Which test images a checkpoint is shown on: "test", its data's whole test split, or
    where that data is not on this machine, bundled_sample.SPLIT, the sample it carries; the
    data's DataError where it has neither."""
    if ckpt.config["data"]["dataset"] in ALWAYS_HERE:
        return "test"
    try:
        _dataset(ckpt)
    except DataError:
        if not bundled_sample.sample_file(ckpt).is_file():
            raise
        return bundled_sample.SPLIT
    return "test"


def _dataset(ckpt: Checkpoint) -> Dataset:
    cfg = ckpt.config["data"]
    return load_dataset(cfg["dataset"], image_size=cfg.get("image_size"),
                        rgb=cfg.get("rgb", False))


def checkpoint_data(ckpt: Checkpoint, split: str = "test") -> tuple[np.ndarray, Split]:
    """A split of the checkpoint's data (or its bundled sample) as its model sees it
    (binarized or not), and the split itself."""
    binarized = ckpt.config["train"].get("binarize", False)
    if split == bundled_sample.SPLIT:
        part = bundled_sample.read_sample(ckpt)
        if part is None:
            raise DataError(f"'{ckpt.name}' carries no sample of its test images; train it "
                            "again or bring its data back.")
        return model_inputs(part, "test", binarized), part
    part = getattr(_dataset(ckpt), split)
    return model_inputs(part, split, binarized), part


ELBO_ONLY = 1  # K = 1: the ELBO terms alone, no importance-sampled bound


def evaluate_checkpoint(path: str | Path, *, iwae_samples: int = 100, use_cache: bool = True,
                        report: Report | None = None) -> dict:
    """`evaluate` on a checkpoint's test split (its bundled sample where the data is not
    here), cached per checkpoint version; `report` hears the fraction done."""
    model, ckpt = checkpoints.load_model(path)
    cache = evaluation_file(ckpt, iwae_samples)
    if use_cache and (cached := read_json(cache)) is not None:
        return cached
    if (split := shown_split(ckpt)) != "test":
        cache = evaluation_file(ckpt, iwae_samples, split)
        if use_cache and (cached := read_json(cache)) is not None:
            return cached
    if model.config.arch == "conv":  # channels-last convolutions run 1.2-1.7x faster on a CPU
        model = model.to(memory_format=torch.channels_last)
    x, part = checkpoint_data(ckpt, split)
    result = evaluate(model, x, part.y, iwae_samples=iwae_samples,
                      binarized=ckpt.config["train"].get("binarize", False), report=report)
    if use_cache:
        write_atomic(cache, json.dumps(result).encode())
    return result


@torch.no_grad()
def encode_split(path: str | Path, split: str = "test", *, use_cache: bool = True,
                 report: Report | None = None) -> dict[str, np.ndarray]:
    """mu, logvar, y and (where the data has them) factors of a split, encoded a batch at a
    time (`report` hears the fraction done)."""
    model, ckpt = checkpoints.load_model(path)
    cache = encodings_file(ckpt, split)
    if use_cache and (cached := _read_arrays(cache)) is not None:
        return cached
    x, part = checkpoint_data(ckpt, split)
    c = torch.as_tensor(part.y) if model.config.num_classes else None
    codes = []
    for start in range(0, len(x), ENCODE_BATCH):
        batch = slice(start, start + ENCODE_BATCH)
        codes.append(model.encode(as_input(torch.as_tensor(x[batch])),
                                  None if c is None else c[batch]))
        if report:
            report(min(1.0, (start + ENCODE_BATCH) / len(x)))
    mu, logvar = (torch.cat(parts) for parts in zip(*codes, strict=True))
    out = {"mu": mu.numpy(), "logvar": logvar.numpy()}
    if part.y is not None:
        out["y"] = part.y
    if part.factors is not None:
        out["factors"] = part.factors
    if use_cache:
        buffer = io.BytesIO()
        np.savez(buffer, **out)
        write_atomic(cache, buffer.getvalue())
    return out


def encodings_file(ckpt: Checkpoint, split: str = "test") -> Path:
    return ckpt.derived_file("encodings", ENCODINGS_VERSION, split, ".npz")


def _read_arrays(file: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(file, allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError, EOFError):
        return None


def tsne_file(ckpt: Checkpoint, split: str = "test", seed: int = 0) -> Path:
    """Where the t-SNE map of a split's codes is kept (vae.projection computes it)."""
    return ckpt.derived_file("tsne", projection.TSNE_VERSION, f"{split}-seed{seed}", ".npy")


def disentanglement_metrics(path: str | Path, *, seed: int = 0, use_cache: bool = True,
                            report: Report | None = None) -> dict:
    """Every metric of vae.disentanglement on a checkpoint's test encodings (posterior means),
    cached per checkpoint version. Data with labels but no factors has the label as its one
    factor. `report` hears the fraction done, as the metrics' shares of a shapes member's
    time (METRIC_SHARES)."""
    # Imported here: scikit-learn would add a second to every app start.
    from vae import disentanglement as dis
    from vae import shapes

    model, ckpt = checkpoints.load_model(path)
    cache = metrics_file(ckpt, seed=seed)
    if use_cache and (cached := read_json(cache)) is not None:
        return cached
    codes = encode_split(path)
    mu, logvar = codes["mu"], codes["logvar"]
    data = ckpt.config["data"]
    if "factors" in codes:
        factors, names = codes["factors"], list(data["factor_names"])
    elif "y" in codes:
        factors, names = codes["y"][:, None], ["label"]
    else:
        raise ValueError(f"{ckpt.name}: its data has neither factors nor labels, so there is "
                         "nothing to measure disentanglement against.")
    steps = {"mig": lambda: dis.compute_mig(mu, factors),
             "sap": lambda: dis.compute_sap(mu, factors, seed=seed),
             "sap_continuous": lambda: dis.compute_sap_continuous(mu, factors, seed=seed),
             "dci": lambda: dis.compute_dci(mu, factors, seed=seed),
             "kl": lambda: {"kl_decomposition": dis.kl_decomposition(mu, logvar, seed=seed)}}
    reason = factor_vae_refusal(ckpt, len(names))
    if reason is None:
        steps["factor_vae"] = lambda: dis.compute_factor_vae(grid_codes(model),
                                                             shapes.FACTOR_SIZES, seed=seed)
    result, done, total = {"factor_names": names}, 0.0, sum(METRIC_SHARES[s] for s in steps)
    for step, compute in steps.items():
        result.update(compute())
        done += METRIC_SHARES[step]
        if report:
            report(done / total)
    if reason is not None:
        result.update(factor_vae=None, factor_vae_train=None, factor_vae_active_dims=0,
                      factor_vae_reason=reason)
    result["roles"] = dis.dimension_roles(result["mi_matrix"])
    text = json.dumps(result)
    if use_cache:
        write_atomic(cache, text.encode())
    return json.loads(text)  # as a cached result reads (JSON keys are strings)


def factor_vae_refusal(ckpt: Checkpoint, num_factors: int) -> str | None:
    """Why FactorVAE cannot score this checkpoint, or None: it encodes the raw shapes grid."""
    data, train = ckpt.config["data"], ckpt.config["train"]
    if num_factors < 2:
        return "undefined for a single factor"
    if data["dataset"] != "shapes":
        return "needs every combination of the factors (the shapes dataset has them)"
    if ckpt.config["model"]["num_classes"]:
        return "a conditional model's code is the style given the class: nothing to hold fixed"
    if data.get("image_size") not in (None, 32) or data.get("rgb") or train.get("binarize"):
        return "needs the shapes grid as drawn (32x32 grey levels); this model reads another form"
    return None


@torch.no_grad()
def grid_codes(model: VAE, batch: int = 2048) -> np.ndarray:
    """Posterior means of every image of the shapes grid, in its factor order (FactorVAE's
    batches are drawn from them). A conv model is switched to channels-last memory in place."""
    from vae import shapes

    if model.config.arch == "conv":  # channels-last convolutions encode 1.5x faster on a CPU
        model = model.to(memory_format=torch.channels_last)
    images, _ = shapes.grid()
    out = []
    for start in range(0, len(images), batch):
        x = as_input(torch.tensor(images[start:start + batch]))  # a copy: the grid is read-only
        out.append(model.encode(x.contiguous(memory_format=torch.channels_last))[0].numpy())
    return np.concatenate(out)


def cached_metrics(ckpt: Checkpoint, *, seed: int = 0) -> dict | None:
    """What `disentanglement_metrics` would return if it is cached already; never computes."""
    return read_json(metrics_file(ckpt, seed=seed))


def metrics_file(ckpt: Checkpoint, *, seed: int = 0) -> Path:
    from vae import disentanglement

    return ckpt.derived_file("metrics", disentanglement.VERSION, f"seed{seed}")


def metrics_target(path: str, *, file: Path, report) -> None:
    """A background worker's job (vae.background), one thread: cache the test ELBO terms
    (a sweep's rate and distortion), then the metrics, whose file marks the job done."""
    torch.set_num_threads(1)
    evaluate_checkpoint(path, iwae_samples=ELBO_ONLY)
    report(0.3)
    disentanglement_metrics(path)


# Seconds each step of derive_all took on a shapes sweep member, one thread: how far along it
# is, as `python -m vae warm`'s progress bar says.
DERIVE_SHARES = {"evaluation": 10.4, "encodings": 0.6, "metrics": sum(METRIC_SHARES.values()),
                 "tsne": 4.6}


def derive_all(path: str | Path, *, sample: bool = False,
               report: Report | None = None) -> list[Path]:
    """Compute and keep everything the app shows of a checkpoint: its test evaluation, test
    encodings, disentanglement metrics (where it has factors or labels) and t-SNE map. For a
    shipped model with `checkpoints.WRITE_SHIPPED_ENV` set they land in its folder, for git;
    without it in CACHE_DIR, and its folder is left as it is.
    With `sample`, also a bundled sample of the test split with its encodings and map; the
    whole split's encodings are then not kept (they are big, and quick to compute).
    `report` hears the fraction done (DERIVE_SHARES).
    Returns the files it holds afterwards; stale ones (older weights or definitions) are gone."""
    ckpt = checkpoints.load(path)
    starts = dict(zip(DERIVE_SHARES, itertools.accumulate(DERIVE_SHARES.values(), initial=0.0),
                      strict=False))
    total = sum(DERIVE_SHARES.values())

    def part(step: str) -> Report | None:  # a step's fraction done as the whole's
        if report is None:
            return None
        return lambda fraction: report((starts[step] + DERIVE_SHARES[step] * fraction) / total)

    evaluate_checkpoint(path, iwae_samples=ELBO_ONLY, report=part("evaluation"))
    codes = encode_split(path, report=part("encodings"))
    measured = "factors" in codes or "y" in codes
    if measured:
        disentanglement_metrics(path, report=part("metrics"))
    projection.cached_tsne(codes["mu"], tsne_file(ckpt), progress=part("tsne"))
    if sample:
        bundled_sample.write_sample(ckpt)
        split = bundled_sample.SPLIT
        projection.cached_tsne(encode_split(path, split)["mu"], tsne_file(ckpt, split))
    kept = derived_files(ckpt, measured=measured, sample=sample)
    # A shipped model's folder is git's: only `make checkpoints` changes what it holds.
    if not ckpt.shipped or os.environ.get(checkpoints.WRITE_SHIPPED_ENV):
        for file in (ckpt.path / checkpoints.DERIVED).glob("*"):
            if file not in kept:
                file.unlink()
    return sorted(kept)


def derived_files(ckpt: Checkpoint, *, measured: bool, sample: bool) -> set[Path]:
    """The files derive_all keeps of a checkpoint: with its metrics where `measured` (its data
    has factors or labels), with a bundled sample where `sample`."""
    kept = {evaluation_file(ckpt, ELBO_ONLY), tsne_file(ckpt)}
    if measured:
        kept.add(metrics_file(ckpt))
    if sample:
        split = bundled_sample.SPLIT
        kept |= {bundled_sample.sample_file(ckpt), encodings_file(ckpt, split),
                 tsne_file(ckpt, split)}
    else:
        kept.add(encodings_file(ckpt))
    return kept


def is_derived(ckpt: Checkpoint) -> bool:
    """Whether everything derive_all keeps of this version is on disk (with the bundled sample
    where the checkpoint carries one), so no page computes it; reads file names, never
    computes."""
    sample = bundled_sample.sample_file(ckpt).is_file()
    try:
        with np.load(encodings_file(ckpt, bundled_sample.SPLIT if sample else "test"),
                     allow_pickle=False) as arrays:
            measured = "factors" in arrays.files or "y" in arrays.files
    except (OSError, ValueError, EOFError):
        return False
    return all(file.is_file() for file in derived_files(ckpt, measured=measured, sample=sample))
