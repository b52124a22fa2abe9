"""One training run from a spec to a saved checkpoint: used in-process by the CLI and inside
a job's worker process. Saves what is done on stop, divergence and at intervals."""

from __future__ import annotations

import contextlib
import errno
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from vae import checkpoints
from vae.data import Dataset, load_dataset
from vae.model_config import ModelConfig
from vae.models import VAE
from vae.presets import PRESETS
from vae.training import Callback, TrainConfig, Trainer, TrainingDiverged, pick_device

SAVE_INTERVAL_ENV = "LATENT_LAB_SAVE_INTERVAL_S"


def save_interval_s() -> float:
    """How often a run saves what it has at an epoch's end (30 s); a throwaway server may ask
    for less through SAVE_INTERVAL_ENV."""
    return float(os.environ.get(SAVE_INTERVAL_ENV) or 30.0)


@dataclass
class RunSpec:
    """What to train: everything that lands in config.json besides what the data decides."""

    dataset: str = "digits"
    model: dict = field(default_factory=dict)  # ModelConfig fields but image_shape/num_classes
    train: dict = field(default_factory=dict)  # TrainConfig fields
    kind: str = "vae"
    image_size: int | None = None
    rgb: bool = False
    preset: str | None = None
    sweep: str | None = None  # the beta sweep this run belongs to, if any
    class_names: list[str] | None = None  # in label order, for data that has only numbers

    def model_config(self, data: Dataset) -> ModelConfig:
        if self.kind not in ("vae", "cvae"):
            raise ValueError(f"Unknown model kind '{self.kind}'; use vae or cvae.")
        if self.kind == "cvae" and data.num_classes < 2:
            raise ValueError(f"Dataset '{data.name}' has no labels, so a CVAE cannot be trained "
                             "on it; train a VAE or add labels.")
        preset = PRESETS[self.preset]["model"] if self.preset else {}
        fields_ = {**preset, **self.model, "image_shape": data.image_shape,
                   "num_classes": data.num_classes if self.kind == "cvae" else 0}
        return ModelConfig.from_dict(fields_)

    def train_config(self) -> TrainConfig:
        preset = PRESETS[self.preset]["train"] if self.preset else {}
        return TrainConfig.from_dict({**preset, **self.train})

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "model": self.model, "train": self.train,
                "kind": self.kind, "image_size": self.image_size, "rgb": self.rgb,
                "preset": self.preset, "sweep": self.sweep, "class_names": self.class_names}

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        return cls(**data)


def is_complete(ckpt: checkpoints.Checkpoint) -> bool:
    """Whether a saved run trained all its epochs (or stopped early by design): resuming it
    would add nothing."""
    done = ckpt.history.get("resume", {}).get("epoch", len(ckpt.history.get("epochs", [])))
    stopped = ckpt.history.get("stopped") or ""
    return done >= ckpt.config["train"]["epochs"] or stopped.startswith("early stopping")


def checkpoint_config(spec: RunSpec, data: Dataset, model: ModelConfig,
                      train: TrainConfig) -> dict:
    """config.json for a run of `spec` on `data` (checkpoints.make_config)."""
    return checkpoints.make_config(
        model=model.to_dict(), train=train.to_dict(), spec=spec.to_dict(),
        data={"dataset": data.name, "image_size": spec.image_size, "rgb": spec.rgb,
              "class_names": list(data.class_names), "factor_names": data.factor_names,
              "factor_sizes": data.factor_sizes})


def save_files(config: dict, trainer: Trainer) -> dict:
    """checkpoints.save's keyword arguments for the trainer as it is now."""
    state = trainer.state()
    return {"config": config, "weights": trainer.weights(),
            "history": checkpoints.resume_record(trainer.history, trainer.step, trainer.epoch),
            "optimizer": (state["tensors"], state["meta"]),
            "snapshots": checkpoints.snapshot_tensors(trainer.snapshots) or None}


def save_trainer(out: Path, config: dict, trainer: Trainer) -> checkpoints.Checkpoint:
    return checkpoints.save(out, **save_files(config, trainer))


def write_error(out: Path, err: OSError) -> str:
    """A failed save in one sentence: where, and why in words a user acts on."""
    reasons = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
               errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.EROFS: "the file system is read-only"}
    reason = reasons.get(err.errno) or (err.strerror or str(err)).rstrip(".").lower()
    # A file inside the run's folder is a save's own temporary: only a path outside it helps.
    inside = err.filename and Path(os.path.abspath(err.filename)).is_relative_to(
        os.path.abspath(out))
    where = f" ({err.filename})" if err.filename and not inside else ""
    return f"Saving the run to {out} failed: {reason}{where}."


class SaveFailed(OSError):
    """Training ended but its checkpoint could not be written. The run is not lost: `files`
    holds what save would have written, so a caller can try again (jobs keep it for a retry)."""

    def __init__(self, message: str, out: Path, files: dict, status: str, result: str):
        super().__init__(message)
        self.out, self.files, self.status, self.result = out, files, status, result

    def __str__(self) -> str:
        return self.args[0]


@dataclass
class RunResult:
    checkpoint: checkpoints.Checkpoint
    status: str  # finished | stopped | failed
    message: str


def prepare(spec: RunSpec, out: Path, resume: bool) -> tuple[Trainer, dict, Dataset]:
    """Load data and build (or restore) the trainer for a run."""
    state = None
    # "Continue with β = …" (the Train page): the continued run trains at this β.
    beta = spec.train.get("beta") if resume else None
    if resume:
        previous = checkpoints.load(out)
        optimizer = previous.optimizer()
        if optimizer is None or "spec" not in previous.config:
            raise checkpoints.CheckpointError(
                f"Checkpoint '{previous.name}' holds no training state, so it cannot be "
                "resumed; train a new run instead.")
        # "Continue training" may change how long and where a run trains, and its β, nothing
        # else: a run trained on a GPU continues on a laptop.
        changes = {k: v for k, v in spec.train.items() if k in ("epochs", "device")}
        spec = RunSpec.from_dict(previous.config["spec"])
        model_config = ModelConfig.from_dict(previous.config["model"])
        train_config = TrainConfig.from_dict({**previous.config["train"], **changes})
        state = {"weights": previous.weights(), "optimizer": optimizer,
                 "history": previous.history,
                 "snapshots": checkpoints.split_snapshots(previous.snapshots() or {})}
    data = load_dataset(spec.dataset, image_size=spec.image_size, rgb=spec.rgb,
                        class_names=spec.class_names)
    if state is None:
        model_config, train_config = spec.model_config(data), spec.train_config()
    # "auto" becomes the device it picked, so config.json says where the run trained; the
    # spec keeps "auto", so a resumed run picks again on the machine it resumes on.
    train_config = replace(train_config, device=pick_device(train_config.device).type)
    torch.manual_seed(train_config.seed)
    trainer = Trainer(VAE(model_config), data.train, data.val, train_config, resume=state)
    if beta is not None:
        trainer.set_beta(float(beta), continued=True)
    return trainer, checkpoint_config(spec, data, model_config, train_config), data


def train_run(spec: RunSpec, out: str | Path, *, resume: bool = False,
              callbacks: tuple[Callback, ...] = (), save_interval: float | None = None,
              trainer: Trainer | None = None, config: dict | None = None) -> RunResult:
    """Train to the end (or a stop) and save; a diverged run saves its last good weights."""
    out = Path(out)
    if trainer is None:
        trainer, config, _ = prepare(spec, out, resume)
    last_save = [time.monotonic()]
    save_interval = save_interval_s() if save_interval is None else save_interval

    def periodic_save(t: Trainer, record: dict) -> None:
        if record["kind"] == "epoch" and time.monotonic() - last_save[0] > save_interval:
            # A failed write (disk full, permissions) must not end the training: the run is in
            # memory, the next interval tries again, and the final save says what went wrong.
            with contextlib.suppress(OSError):
                save_trainer(out, config, t)
            last_save[0] = time.monotonic()

    trainer.callbacks += [*callbacks, periodic_save]
    status, message = "finished", "Training finished."
    try:
        trainer.run()
        if trainer.history["stopped"]:
            status = "stopped" if "early stopping" not in trainer.history["stopped"] else status
            message = f"Training {trainer.history['stopped']} at step {trainer.step}."
    except TrainingDiverged as err:
        status, message = "failed", str(err)
        trainer.history["stopped"] = message
    files = save_files(config, trainer)
    try:
        saved = checkpoints.save(out, **files)
    except OSError as err:
        raise SaveFailed(write_error(out, err), out, files, status, message) from err
    return RunResult(saved, status, message)
