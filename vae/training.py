"""The Trainer: minibatch steps, callbacks, stop / beta control, NaN guard, exact resume."""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn

from vae import checkpoints
from vae.data import Split, model_inputs
from vae.losses import BetaSchedule, Capacity, elbo_terms, total_correlation, training_objective
from vae.models import VAE, as_input

MAX_SNAPSHOTS = 50
# Per run, besides the count: a 28x28 MLP's 50 snapshots would take 115 MB.
MAX_SNAPSHOT_BYTES = 20 * 2**20
MAX_STEP_RECORDS = 2000
VAL_BATCH = 1024  # validation images evaluated at once
# What a divergence rolls back to is kept at the first validated epoch end this many steps
# after the last one kept (a shapes epoch is longer: every one). Keeping every 15-ms epoch of
# a digits MLP cost 1-2.5 % of its training, in copies and in the cache they evict.
MARK_EVERY_STEPS = 100


class TrainingDiverged(RuntimeError):
    """The loss became non-finite; the trainer went back to the validated state it kept."""


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "constant"
    optimizer: str = "adam"
    # torch's meaning: decoupled decay for adamw, an L2 penalty for adam and adagrad
    weight_decay: float = 0.0
    # Decay of an exponential moving average of the weights, which are then the ones
    # validated, snapshotted and saved; 0 keeps the raw weights.
    ema: float = 0.0
    beta: float = 1.0
    beta_schedule: str = "constant"
    # betavae: recon + beta * KL; betatcvae: beta weights only the KL's total correlation.
    objective: str = "betavae"
    # "CMAX:STEPS:GAMMA": gamma * |KL - C(t)| in place of beta * KL; empty for none.
    capacity: str = ""
    free_bits: float = 0.0
    binarize: bool = False
    early_stopping: int = 0
    # Train on train + validation: the final refit with chosen settings (docs/design.md §4).
    refit: bool = False
    seed: int = 0
    threads: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.batch_size >= 1, "batch size must be at least 1"),
            (self.lr > 0 and math.isfinite(self.lr), "learning rate must be positive"),
            (self.lr_schedule in ("constant", "cosine"), "lr schedule: constant or cosine"),
            (self.optimizer in ("adam", "adamw", "adagrad"), "optimizer: adam, adamw or adagrad"),
            (0 <= self.weight_decay < math.inf, "weight decay must be >= 0"),
            (0 <= self.ema < 1, "ema decay must be in [0, 1)"),
            (self.free_bits >= 0, "free bits must be >= 0"),
            (self.objective in ("betavae", "betatcvae"), "objective: betavae or betatcvae"),
            (not (self.capacity and self.objective == "betatcvae"),
             "a capacity schedule replaces the beta-VAE's KL term; use it with --objective "
             "betavae"),
            (self.early_stopping >= 0, "early-stopping patience must be >= 0"),
            (not (self.refit and self.early_stopping),
             "early stopping watches the validation split, which a refit trains on; "
             "choose the epochs on validation first, then refit without early stopping"),
            (self.threads >= 0, "threads must be >= 0"),
            (self.device in ("cpu", "cuda", "auto"), "device: cpu, cuda or auto"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"Invalid training config: {message}.")
        BetaSchedule(self.beta, self.beta_schedule)  # validates
        if self.capacity:
            Capacity(self.capacity)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Invalid training config: unknown keys {unknown}.")
        return cls(**data)


def gpu_available() -> bool:
    return torch.cuda.is_available()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if gpu_available() else "cpu"
    if name == "cuda" and not gpu_available():
        raise ValueError("The run asks for a CUDA device (--device cuda) and this machine has "
                         "none; pass --device cpu or auto.")
    return torch.device(name)


def snapshot_steps(total_steps: int, count: int = MAX_SNAPSHOTS) -> set[int]:
    """Log-spaced steps: early training changes fastest, so the timeline samples it densest."""
    return {int(s) for s in np.unique(np.round(np.geomspace(1, max(total_steps, 1), count)))}


def snapshot_count(model: nn.Module) -> int:
    """How many timeline snapshots a run of `model` keeps: at most MAX_SNAPSHOTS and as many
    as MAX_SNAPSHOT_BYTES holds, each the whole model (the timeline's maps and
    reconstructions need the encoder too), and at least the first and the last."""
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return max(2, min(MAX_SNAPSHOTS, MAX_SNAPSHOT_BYTES // max(size, 1)))


Callback = Callable[["Trainer", dict], None]


@dataclass
class GoodState:
    """The trainer at a validated epoch's end: what a divergence rolls back to."""

    tensors: dict[str, torch.Tensor]  # weights and optimizer state (Trainer._state_tensors)
    groups: list[dict]  # the optimizer's param groups without their params
    lr_scheduler: dict | None
    generator: torch.Tensor
    rng: dict
    step: int
    epoch: int
    batch_in_epoch: int
    epoch_rng_state: dict | None
    beta_override: float | None
    where: str  # for the message: "end of epoch 12"


class Trainer:
    """Trains a VAE on a Split. Knows the model only through encode/decode (via elbo_terms).

    Callbacks get (trainer, record) after every step ("kind": "step") and every epoch
    ("kind": "epoch"); they may call stop() or set_beta(). History records hold both the
    training objective and the beta = 1 terms (docs/design.md §3).
    """

    def __init__(self, model: VAE, train: Split, val: Split, config: TrainConfig,
                 callbacks: tuple[Callback, ...] = (), resume: dict | None = None):
        self.config = config
        self.device = pick_device(config.device)
        self.model = model.to(self.device)
        self.callbacks = list(callbacks)
        self.schedule = BetaSchedule(config.beta, config.beta_schedule)
        self.capacity = Capacity(config.capacity) if config.capacity else None
        self.train_x, self.train_y = self._prepare(train, "train")
        self.val_x, self.val_y = self._prepare(val, "val")
        # validation_terms()'s one fixed draw of z per example, drawn on the CPU so that a run that
        # moves between devices keeps its scores
        self.val_eps = torch.randn(len(self.val_x), model.config.latent_dim,
                                   generator=torch.Generator().manual_seed(1)).to(self.device)
        if config.refit:  # docs/design.md §4: val_* then measure seen data, no longer held out
            self.train_x = torch.cat([self.train_x, self.val_x])
            if self.train_y is not None and self.val_y is not None:
                self.train_y = torch.cat([self.train_y, self.val_y])
        self.steps_per_epoch = math.ceil(len(self.train_x) / config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.parameters = list(self.model.parameters())  # walking the modules costs every step
        self.optimizer = self._make_optimizer()
        # The averaged weights live in a copy of the model, so validation can run it as is.
        self.ema_model: VAE | None = (copy.deepcopy(self.model).requires_grad_(False)
                                      if config.ema else None)
        self.lr_scheduler = (
            torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, self.total_steps)
            if config.lr_schedule == "cosine" else None
        )
        self.rng = np.random.default_rng(config.seed)
        self.generator = torch.Generator(self.device).manual_seed(config.seed)
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.epoch_rng_state = self.rng.bit_generator.state
        self.beta_override: float | None = None
        self.history: dict = {"steps": [], "epochs": [], "beta_changes": [], "stopped": None}
        self.snapshots: dict[int, dict[str, torch.Tensor]] = {}
        self.snapshot_at = snapshot_steps(self.total_steps, snapshot_count(model))
        self.best_val = -math.inf
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.stale_epochs = 0
        self._stop_requested = False
        self._good: GoodState | None = None  # what a divergence rolls back to
        self._live: dict[str, torch.Tensor] | None = None  # _state_tensors(), once it is fixed
        if resume:
            self._restore(resume)

    def _prepare(self, split: Split, which: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = torch.as_tensor(model_inputs(split, which, self.config.binarize)).to(self.device)
        y = None if split.y is None else torch.as_tensor(split.y, dtype=torch.long)
        return x, None if y is None else y.to(self.device)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        params, cfg = self.parameters, self.config
        optimizer = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                     "adagrad": torch.optim.Adagrad}[cfg.optimizer]
        # Fused kernels: the optimizer step is a third of a small model's step time on a CPU.
        # torch has no fused Adagrad for CUDA: there it keeps its default (multi-tensor).
        fused = True if cfg.optimizer != "adagrad" or self.device.type == "cpu" else None
        return optimizer(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)

    @property
    def eval_model(self) -> VAE:
        """The weights that are validated, snapshotted and saved: the EMA's when there is one."""
        return self.ema_model if self.ema_model is not None else self.model

    def weights(self) -> dict[str, torch.Tensor]:
        """A copy of the current weights, for snapshots, the live view and saves. Weights a
        non-finite gradient ruined (the step's loss was still finite) never leave the trainer:
        run() rolls back instead."""
        weights = {k: v.detach().cpu().clone() for k, v in self.eval_model.state_dict().items()}
        # The largest magnitude is NaN or infinite exactly when some weight is; isfinite() on
        # each tensor cost 8x the copy, and the timeline's snapshots made 3 % of a digits run.
        largest = torch.cat([v.flatten() for v in weights.values()]).abs().amax()
        if not largest.isfinite():
            raise TrainingDiverged(f"The weights became non-finite at step {self.step}")
        return weights

    @torch.no_grad()
    def _update_ema(self) -> None:
        # The decay warms up as (1 + t) / (10 + t): early on a fixed 0.999 would average
        # mostly the random initialization, and the live view and timeline would lag.
        decay = min(self.config.ema, (1 + self.step) / (10 + self.step))
        for average, param in zip(self.ema_model.parameters(), self.parameters,
                                  strict=True):
            average.lerp_(param, 1 - decay)

    @property
    def beta(self) -> float:
        return self.beta_override if self.beta_override is not None else self.schedule(self.step)

    def set_beta(self, beta: float, *, continued: bool = False) -> None:
        """A hand-set beta replaces the schedule from the next step on (docs/design.md §3);
        `continued` marks the change a resumed run starts with, where it was continued."""
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError("beta must be a finite number >= 0.")
        self.beta_override = float(beta)
        self.history["beta_changes"].append({"step": self.step, "beta": float(beta),
                                             **({"continued": True} if continued else {})})

    def stop(self, reason: str = "stopped") -> None:
        self._stop_requested = True
        self.history["stopped"] = reason

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs or self._stop_requested

    def _labels(self, y: torch.Tensor | None,
                index: torch.Tensor | slice) -> torch.Tensor | None:
        return y[index] if (y is not None and self.model.config.num_classes) else None

    def train_step(self, index: torch.Tensor) -> dict:
        x, c = as_input(self.train_x[index]), self._labels(self.train_y, index)
        eps = torch.randn(len(index), self.model.config.latent_dim, generator=self.generator,
                          device=self.device)
        terms = elbo_terms(self.model, x, c, eps)
        beta = self.beta
        tc = (total_correlation(terms["z"], terms["mu"], terms["logvar"], len(self.train_x))
              if self.config.objective == "betatcvae" else None)
        objective = training_objective(
            terms["recon"], terms["kl_per_dim"], beta, self.config.free_bits, tc=tc,
            capacity=self.capacity(self.step) if self.capacity else None)
        # What optimizer.zero_grad(set_to_none=True) does, without its wrappers (a dynamo guard
        # and a profiler range): they cost ~70 us, 2 % of a digits step.
        for param in self.parameters:
            param.grad = None
        objective.loss.backward()
        # Reading the logged terms: on a CPU three reads cost less than stacking them, on a
        # GPU each read waits for it, so they come back in one. A non-finite gradient needs
        # no check of its own: the weights it makes give a non-finite loss at the next step,
        # or a non-finite validation score after the last one, and run() rolls back.
        loss_value, recon, kl = ([v.item() for v in objective] if self.device.type == "cpu"
                                 else torch.stack(objective).tolist())
        if not math.isfinite(loss_value):
            raise TrainingDiverged(f"The loss became non-finite at step {self.step + 1}")
        self.optimizer.step()
        if self.ema_model is not None:
            self._update_ema()
        if self.lr_scheduler:
            self.lr_scheduler.step()
        self.step += 1
        return {"kind": "step", "step": self.step, "epoch": self.epoch, "loss": loss_value,
                "recon": recon, "kl": kl, "elbo": recon - kl, "beta": beta}

    @torch.no_grad()
    def validation_terms(self) -> dict:
        """Beta = 1 terms on the validation split, one fixed draw of z per example."""
        model = self.eval_model.eval()
        n = len(self.val_x)
        sums = torch.zeros(2 + model.config.latent_dim, dtype=torch.float64, device=self.device)
        # In slices: 6,000 Fashion images at once made a worker's memory peak ~70 MB higher.
        for start in range(0, n, VAL_BATCH):
            part = slice(start, start + VAL_BATCH)
            terms = elbo_terms(model, as_input(self.val_x[part]),
                               self._labels(self.val_y, part), self.val_eps[part])
            # One sum for every term: a digits epoch is 15 ms, and each small op counts.
            sums += torch.cat([terms["elbo"][:, None], terms["recon"][:, None],
                               terms["kl_per_dim"]], 1).double().sum(0)
        elbo, recon, *kl_per_dim = (sums / n).tolist()
        return {"val_elbo": elbo, "val_recon": recon, "val_kl": math.fsum(kl_per_dim),
                "val_kl_per_dim": kl_per_dim}

    def _record_step(self, record: dict) -> None:
        steps = self.history["steps"]
        steps.append(record)
        if len(steps) > MAX_STEP_RECORDS:  # keep long runs' history small: thin out evenly
            self.history["steps"] = steps[::2]

    def run(self) -> dict:
        torch.set_num_threads(self.config.threads or torch.get_num_threads())
        # Denormal floats appear as weights and Adam's moments decay and slow a CPU step by up
        # to 2x; flushing them to zero changes no result beyond float32 noise.
        torch.set_flush_denormal(True)
        self._mark_good()
        try:
            stopped = self._epochs()
        except TrainingDiverged as err:
            raise self._roll_back(str(err)) from None
        if stopped:  # mid-run: the model keeps its raw weights, for an exact resume
            return self.history
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        elif self.ema_model is not None:
            self.model.load_state_dict(self.ema_model.state_dict())
        return self.history

    def _epochs(self) -> bool:
        """Train until the last epoch, early stopping or a stop request (then True)."""
        bs = self.config.batch_size
        # An epoch's seconds run from the previous epoch's record to its own: everything a
        # run does per epoch (steps, validation, callbacks, the roll-back copy) is in them.
        last = time.perf_counter()
        while not self.finished:
            if self.batch_in_epoch == 0:
                self.epoch_rng_state = self.rng.bit_generator.state
            else:  # resumed mid-epoch: redraw this epoch's order, then skip what was done
                self.rng.bit_generator.state = self.epoch_rng_state
            order = torch.as_tensor(self.rng.permutation(len(self.train_x)), device=self.device)
            self.model.train()  # once an epoch: validation_terms() left it in eval mode
            for b in range(self.batch_in_epoch, self.steps_per_epoch):
                record = self.train_step(order[b * bs:(b + 1) * bs])
                self.batch_in_epoch = b + 1
                if self.step in self.snapshot_at:
                    self.snapshots[self.step] = self.weights()
                self._record_step(record)
                for callback in self.callbacks:
                    callback(self, record)
                if self._stop_requested:
                    self.weights()  # raises if a non-finite gradient ruined the last step
                    return True
            self.epoch += 1
            self.batch_in_epoch = 0
            metrics = self.validation_terms()
            if not all(map(math.isfinite, [metrics["val_elbo"], *metrics["val_kl_per_dim"]])):
                # Finite training losses, yet weights that validate to NaN or infinity.
                raise TrainingDiverged(f"The validation ELBO became non-finite after step "
                                       f"{self.step}")
            now = time.perf_counter()
            record = {"kind": "epoch", "epoch": self.epoch, "step": self.step,
                      "seconds": now - last, **metrics}
            last = now
            self.history["epochs"].append(record)
            for callback in self.callbacks:
                callback(self, record)
            if self._early_stop(record["val_elbo"]):
                break
            if self.step - self._good.step >= MARK_EVERY_STEPS:
                self._mark_good()
        return self._stop_requested

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        """The tensors a divergence must restore, sharing storage with the live ones. Every
        step updates them in place, so once the optimizer holds state for every parameter
        (from the first step on) the same dict serves every epoch's mark."""
        if self._live is not None:
            return self._live
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        if self.ema_model is not None:
            tensors.update({f"ema.{k}": v for k, v in self.ema_model.state_dict().items()})
        for i, param in enumerate(self.parameters):
            for key, value in self.optimizer.state.get(param, {}).items():
                if torch.is_tensor(value):
                    tensors[f"optimizer.{i}.{key}"] = value
        if len(self.optimizer.state) == len(self.parameters):
            self._live = tensors
        return tensors

    @torch.no_grad()
    def _mark_good(self) -> None:
        """Remember the state at a validated epoch's end (or the run's start): the weights that
        produce a non-finite loss are already ruined, and often the few steps before them too,
        so a divergence goes back here. Every MARK_EVERY_STEPS steps or more, at an epoch's
        end, copied into buffers kept from the last time (a deep copy cost a tenth of a
        digits epoch)."""
        live = self._state_tensors()
        kept = self._good.tensors if self._good else {}
        if list(kept) == list(live) and all(kept[k].shape == v.shape for k, v in live.items()):
            for k, v in live.items():
                kept[k].copy_(v)
        else:
            kept = {k: v.detach().clone() for k, v in live.items()}
        self._good = GoodState(
            tensors=kept,
            groups=[{k: v for k, v in g.items() if k != "params"}
                    for g in self.optimizer.param_groups],
            lr_scheduler=self.lr_scheduler.state_dict() if self.lr_scheduler else None,
            generator=self.generator.get_state(),
            # numpy builds a new state dict on every read and nothing here mutates one
            rng=self.rng.bit_generator.state,
            step=self.step, epoch=self.epoch, batch_in_epoch=self.batch_in_epoch,
            epoch_rng_state=self.epoch_rng_state, beta_override=self.beta_override,
            where=(f"end of epoch {self.epoch}" if self.epoch and not self.batch_in_epoch
                   else "where this run started"))

    @torch.no_grad()
    def _roll_back(self, what: str) -> TrainingDiverged:
        """Return to the last validated state (history, snapshots and counters included, so
        the run saved now resumes from there exactly) and say so in one message."""
        good = self._good
        bad_lr = self.optimizer.param_groups[0]["lr"]
        kept = good.tensors
        for i, param in enumerate(self.parameters):  # state the optimizer made since: gone
            state = self.optimizer.state.get(param)
            if state and any(f"optimizer.{i}.{key}" not in kept for key in state):
                del self.optimizer.state[param]
        self._live = None
        live = self._state_tensors()
        for k, v in kept.items():
            live[k].copy_(v)
        for group, saved in zip(self.optimizer.param_groups, good.groups, strict=True):
            group.update(saved)
        if self.lr_scheduler:
            self.lr_scheduler.load_state_dict(good.lr_scheduler)
        self.generator.set_state(good.generator)
        self.rng.bit_generator.state = good.rng
        self.step, self.epoch, self.batch_in_epoch = good.step, good.epoch, good.batch_in_epoch
        self.epoch_rng_state, self.beta_override = good.epoch_rng_state, good.beta_override
        history = self.history
        history["steps"] = [r for r in history["steps"] if r["step"] <= self.step]
        history["epochs"] = [r for r in history["epochs"] if r["epoch"] <= self.epoch]
        history["beta_changes"] = [c for c in history["beta_changes"] if c["step"] <= self.step]
        self.snapshots = {s: w for s, w in self.snapshots.items() if s <= self.step}
        kept = f"the weights of step {self.step} ({good.where}) were kept"
        return TrainingDiverged(
            f"{what}; {kept}. Likely cause: a learning rate too high for this model (now "
            f"{bad_lr:g}) or data with extreme values; lower the learning rate and retry.")

    def _early_stop(self, val_elbo: float) -> bool:
        patience = self.config.early_stopping
        if not patience:
            return False
        if val_elbo > self.best_val:
            self.best_val, self.best_weights, self.stale_epochs = val_elbo, self.weights(), 0
            return False
        self.stale_epochs += 1
        if self.stale_epochs >= patience:
            self.history["stopped"] = f"early stopping after epoch {self.epoch}"
            return True
        return False

    def state(self) -> dict:
        """What resuming needs besides the weights (docs/design.md §5): JSON part + tensors."""
        tensors, meta = checkpoints.flatten_optimizer(self.optimizer)
        tensors["rng.torch"] = self.generator.get_state()
        if self.ema_model is not None:  # the checkpoint's weights are the EMA: keep the raw ones
            tensors.update({f"raw.{k}": v.detach().cpu().clone()
                            for k, v in self.model.state_dict().items()})
        meta["trainer"] = json.dumps({
            "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "device": self.device.type,
            "epoch_rng_state": self.epoch_rng_state, "rng_state": self.rng.bit_generator.state,
            "beta_override": self.beta_override,
            "lr_scheduler": self.lr_scheduler.state_dict() if self.lr_scheduler else None,
            "best_val": self.best_val if math.isfinite(self.best_val) else None,
            "stale_epochs": self.stale_epochs,
        })
        return {"tensors": tensors, "meta": meta}

    def _restore(self, resume: dict) -> None:
        """Continue exactly where a saved run stopped: weights, optimizer, RNGs, counters."""
        tensors = dict(resume["optimizer"][0])
        meta = resume["optimizer"][1]
        raw = {k.removeprefix("raw."): tensors.pop(k) for k in list(tensors)
               if k.startswith("raw.")}
        if self.ema_model is not None:
            self.ema_model.load_state_dict(resume["weights"])
        # A run saved without an EMA has no raw copy: its weights are the raw ones.
        self.model.load_state_dict(raw or resume["weights"])
        rng_state = tensors.pop("rng.torch")
        self.optimizer.load_state_dict(checkpoints.unflatten_optimizer(tensors, meta))
        t = json.loads(meta["trainer"])
        self.step, self.epoch, self.batch_in_epoch = t["step"], t["epoch"], t["batch_in_epoch"]
        if t.get("device", "cpu") == self.device.type:
            self.generator.set_state(rng_state)
        else:  # another device's kind of generator saved it: exact only on the same device
            self.generator.manual_seed(self.config.seed + self.step)
        self.epoch_rng_state = t["epoch_rng_state"]
        self.rng.bit_generator.state = t["rng_state"]
        self.beta_override = t["beta_override"]
        if self.lr_scheduler and t["lr_scheduler"]:
            self.lr_scheduler.load_state_dict(t["lr_scheduler"])
        self.best_val = t["best_val"] if t["best_val"] is not None else -math.inf
        self.stale_epochs = t["stale_epochs"]
        self.history = copy.deepcopy(resume["history"])
        self.history["stopped"] = None
        self.snapshots = dict(resume.get("snapshots", {}))
