"""Test-set ELBO, per-dimension KL, active units and the IWAE bound (DESIGN §2)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vae import checkpoints
from vae.background import write_atomic
from vae.checkpoints import Checkpoint
from vae.data import Dataset, Split, load_dataset
from vae.losses import LOG_2PI, kl_divergence, log_likelihood, model_log_sigma
from vae.models import VAE
from vae.training import model_inputs

ACTIVE_THRESHOLD = 0.01
# Images a decoder call gets in evaluation: a conv decoder ran 2x slower per image on batches
# of 2,560 than of 256 on this machine's CPU (its activations leave the cache).
DECODE_BATCH = 256


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _log_px(model: VAE, x: torch.Tensor, c: torch.Tensor | None,
            z: torch.Tensor) -> torch.Tensor:
    """log p(x|z_k) for K codes per example, z of shape (K, B, D)."""
    k, b, d = z.shape
    flat_z, example = z.reshape(k * b, d), torch.arange(k * b) % b
    log_px = []
    for part in _chunks(k * b, DECODE_BATCH):
        rows = example[part]
        logits = model.decode(flat_z[part], None if c is None else c[rows])
        log_px.append(log_likelihood(x[rows], logits, model.config.likelihood,
                                     model_log_sigma(model)))
    return torch.cat(log_px).view(k, b)


@torch.no_grad()
def log_weights(model: VAE, x: torch.Tensor, c: torch.Tensor | None, eps: torch.Tensor,
                posterior: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """log p(x|z_k) + log p(z_k) - log q(z_k|x) for z_k = mu + sigma * eps_k; shape (K, B).
    `posterior` is (mu, logvar) where the caller has encoded x already."""
    mu, logvar = posterior if posterior is not None else model.encode(x, c)
    z = model.reparameterize(mu, logvar, eps)  # broadcasts over K
    log_px = _log_px(model, x, c, z)
    log_pz = (-0.5 * z.pow(2) - 0.5 * LOG_2PI).sum(-1)
    log_qz = (-0.5 * eps.pow(2) - 0.5 * logvar - 0.5 * LOG_2PI).sum(-1)
    return log_px + log_pz - log_qz


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """Importance-weighted bound per example: log (1/K) sum_k w_k (DESIGN §2; K = 1 is the ELBO)."""
    return torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])


def active_units(mu: np.ndarray, threshold: float = ACTIVE_THRESHOLD) -> np.ndarray:
    """Indices of dimensions with Cov_x(E_q[z_j|x]) > threshold (DESIGN §2, Burda et al.)."""
    return np.flatnonzero(mu.var(0) > threshold)


@torch.no_grad()
def evaluate(model: VAE, x: np.ndarray, y: np.ndarray | None = None, *,
             iwae_samples: int = 100, passes: int = 10, seed: int = 0,
             binarized: bool = False, batch_size: int = 256) -> dict:
    """Beta = 1 terms in nats per example; elbo, recon and log_likelihood: higher is better."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    xt = torch.as_tensor(x, dtype=torch.float32)
    ct = torch.as_tensor(y, dtype=torch.long) if model.config.num_classes else None
    d = model.config.latent_dim
    elbo, recon, log_px, kl_dims, mus = [], [], [], [], []
    for part in _chunks(len(xt), batch_size):
        xb, cb = xt[part], None if ct is None else ct[part]
        n = len(xb)
        # Encoded once for every pass and the bound: the encoder costs as much as the decoder.
        mu, logvar = model.encode(xb, cb)
        eps = torch.stack([torch.randn(n, d, generator=generator) for _ in range(passes)])
        recon.append(_log_px(model, xb, cb, model.reparameterize(mu, logvar, eps)).mean(0))
        kl_dims.append(kl_divergence(mu, logvar))
        # DESIGN §2 ELBO: E_q[log p(x|z)] - KL(q(z|x) || p(z))
        elbo.append(recon[-1] - kl_dims[-1].sum(1))
        mus.append(mu)
        eps = torch.randn(iwae_samples, n, d, generator=generator)
        log_px.append(iwae_bound(log_weights(model, xb, cb, eps, (mu, logvar))))
    kl_per_dim = torch.cat(kl_dims).mean(0)
    mu = torch.cat(mus).numpy()
    likelihood = model.config.likelihood
    return {
        "elbo": torch.cat(elbo).mean().item(),
        "recon": torch.cat(recon).mean().item(),
        "kl": kl_per_dim.sum().item(),
        "kl_per_dim": kl_per_dim.tolist(),
        "active_units": int(len(active_units(mu))),
        "active_dims": active_units(mu).tolist(),
        "log_likelihood": torch.cat(log_px).mean().item(),
        "iwae_samples": iwae_samples,
        "passes": passes,
        "likelihood": likelihood,
        "binarized": binarized,
        # Bernoulli on grey levels is not a density: name the unit honestly (DESIGN §2).
        "units": "BCE + KL nats per example" if likelihood == "bernoulli" and not binarized
        else "nats per example",
        "n_examples": len(xt),
    }


def checkpoint_data(ckpt: Checkpoint, split: str = "test") -> tuple[np.ndarray, Split, Dataset]:
    """The split a checkpoint was trained for, as its model sees it (binarized or not)."""
    cfg = ckpt.config
    data = load_dataset(cfg["data"]["dataset"], image_size=cfg["data"].get("image_size"),
                        rgb=cfg["data"].get("rgb", False))
    part = getattr(data, split)
    return model_inputs(part, split, cfg["train"].get("binarize", False)), part, data


ELBO_ONLY = 1  # K = 1: the ELBO terms alone, no importance-sampled bound


def evaluate_checkpoint(path: str | Path, *, iwae_samples: int = 100,
                        use_cache: bool = True) -> dict:
    """`evaluate` on a checkpoint's test split, cached per checkpoint version."""
    model, ckpt = checkpoints.load_model(path)
    cache = cache_file(ckpt.version, "eval", iwae_samples)
    if use_cache and (cached := _read_json(cache)) is not None:
        return cached
    if model.config.arch == "conv":  # channels-last convolutions run 1.2-1.7x faster on a CPU
        model = model.to(memory_format=torch.channels_last)
    x, split, _ = checkpoint_data(ckpt)
    result = evaluate(model, x, split.y, iwae_samples=iwae_samples,
                      binarized=ckpt.config["train"].get("binarize", False))
    if use_cache:
        write_atomic(cache, json.dumps(result).encode())
    return result


def cache_file(version: Path, kind: str, key: object = "") -> Path:
    """Where derived data of a checkpoint version is cached: CACHE_DIR/kind/HASH.json."""
    # A deleted and retrained model can reuse a version folder's name: key on its weights too.
    weights = (version / checkpoints.MODEL).stat()
    digest = hashlib.sha1(f"{version.resolve()}:{weights.st_mtime_ns}:{weights.st_size}:"
                          f"{key}".encode()).hexdigest()[:16]
    return checkpoints.CACHE_DIR / kind / f"{digest}.json"


def _read_json(file: Path) -> dict | None:
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError):
        return None


def cached_evaluation(ckpt: Checkpoint, *, iwae_samples: int = 100) -> dict | None:
    """What `evaluate_checkpoint` would return if it is cached already; never computes (a big
    model's evaluation takes minutes)."""
    return _read_json(cache_file(ckpt.version, "eval", iwae_samples))


@torch.no_grad()
def encode_split(path: str | Path, split: str = "test") -> dict[str, np.ndarray]:
    """mu, logvar, y and (where the data has them) factors of a split."""
    model, ckpt = checkpoints.load_model(path)
    x, part, _ = checkpoint_data(ckpt, split)
    c = torch.as_tensor(part.y) if model.config.num_classes else None
    mu, logvar = model.encode(torch.as_tensor(x), c)
    out = {"mu": mu.numpy(), "logvar": logvar.numpy()}
    if part.y is not None:
        out["y"] = part.y
    if part.factors is not None:
        out["factors"] = part.factors
    return out


def latent_health(kl_per_dim: list[float], active_dims: list[int]) -> dict:
    """Per-dimension usage and the collapse alarm of DESIGN §2: the alarm fires only when the
    posterior carries almost nothing (total KL < 0.5 nats or at most one active dimension);
    unused dimensions alone are normal."""
    kl = float(sum(kl_per_dim))
    active = set(active_dims)
    return {
        "kl": kl,
        "active": len(active),
        "unused": [j for j in range(len(kl_per_dim)) if j not in active],
        "order": sorted(range(len(kl_per_dim)), key=lambda j: -kl_per_dim[j]),
        "collapse": kl < 0.5 or len(active) <= 1,
    }


def disentanglement_metrics(path: str | Path, *, seed: int = 0, use_cache: bool = True) -> dict:
    """Every metric of vae.disentanglement on a checkpoint's test encodings (posterior means),
    cached per checkpoint version. Data with labels but no factors has the label as its one
    factor."""
    from vae import disentanglement as dis
    from vae import shapes

    model, ckpt = checkpoints.load_model(path)
    cache = metrics_file(ckpt, seed=seed)
    if use_cache and (cached := _read_json(cache)) is not None:
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
    result = {"factor_names": names, **dis.compute_mig(mu, factors), **dis.compute_sap(mu, factors),
              **dis.compute_dci(mu, factors, seed=seed),
              "kl_decomposition": dis.kl_decomposition(mu, logvar, seed=seed)}
    if data["dataset"] == "shapes" and not model.config.num_classes:
        result.update(dis.compute_factor_vae(factor_encoder(model), shapes.fixed_factors,
                                             shapes.sample_factors, len(names), seed=seed))
    else:
        result.update(factor_vae=None, factor_vae_reason=(
            "undefined for a single factor" if len(names) < 2 else
            "needs a generator that can hold one factor fixed (the shapes dataset has one)"))
    result["roles"] = dis.dimension_roles(result["mi_matrix"])
    text = json.dumps(result)
    if use_cache:
        write_atomic(cache, text.encode())
    return json.loads(text)  # as a cached result reads (JSON keys are strings)


def factor_encoder(model: VAE) -> Callable[[np.ndarray], np.ndarray]:
    """Shapes factor rows -> posterior means: the encode function of the FactorVAE metric.
    A conv model is switched to channels-last memory in place."""
    from vae import shapes

    if model.config.arch == "conv":  # channels-last convolutions encode 1.5x faster on a CPU
        model = model.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def encode(factors: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(shapes.render(factors), dtype=torch.float32) / 255
        return model.encode(x.contiguous(memory_format=torch.channels_last))[0].numpy()

    return encode


def cached_metrics(ckpt: Checkpoint, *, seed: int = 0) -> dict | None:
    """What `disentanglement_metrics` would return if it is cached already; never computes."""
    return _read_json(metrics_file(ckpt, seed=seed))


def metrics_file(ckpt: Checkpoint, *, seed: int = 0) -> Path:
    return cache_file(ckpt.version, "metrics", seed)


def metrics_target(path: str, *, file: Path, report) -> None:
    """A background worker's job (vae.background), one thread: cache the test ELBO terms
    (a sweep's rate and distortion), then the metrics, whose file marks the job done."""
    torch.set_num_threads(1)
    evaluate_checkpoint(path, iwae_samples=ELBO_ONLY)
    report(0.3)
    disentanglement_metrics(path)
