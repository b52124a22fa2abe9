"""Test-set ELBO, per-dimension KL, active units and the IWAE bound (docs/design.md §3)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from vae.losses import gaussian_log_density, kl_divergence, log_likelihood, model_log_sigma
from vae.models import VAE, as_input

# Bump vae/cached_figures.EVALUATION_VERSION when what `evaluate` returns changes.
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
    log_pz = gaussian_log_density(z).sum(-1)
    log_qz = gaussian_log_density(z, mu, logvar).sum(-1)
    return log_px + log_pz - log_qz


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """Importance-weighted bound per example: log (1/K) sum_k w_k (docs/design.md §3; K = 1
    is the ELBO)."""
    return torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])


def active_units(mu: np.ndarray, threshold: float = ACTIVE_THRESHOLD) -> np.ndarray:
    """Dimensions with Cov_x(E_q[z_j|x]) > threshold (docs/design.md §3, Burda et al.)."""
    return np.flatnonzero(mu.var(0) > threshold)


def streams(seed: int) -> tuple[torch.Generator, torch.Generator]:
    """The random streams of the ELBO's passes and of the bound's samples: one each, so a
    checkpoint's ELBO is the same whatever K is asked for, and spawned from the seed, so no
    seed's stream is another seed's."""
    first, second = (torch.Generator().manual_seed(int(child.generate_state(1)[0]))
                     for child in np.random.SeedSequence(seed).spawn(2))
    return first, second


@torch.no_grad()
def evaluate(model: VAE, x: np.ndarray, y: np.ndarray | None = None, *,
             iwae_samples: int = 100, passes: int = 10, seed: int = 0,
             binarized: bool = False, batch_size: int = 256,
             report: Callable[[float], None] | None = None) -> dict:
    """Beta = 1 terms in nats per example; elbo, recon and log_likelihood: higher is better.
    `report` hears the fraction of examples done after each batch."""
    model.eval()
    elbo_rng, iwae_rng = streams(seed)
    xt = torch.as_tensor(x)
    ct = torch.as_tensor(y, dtype=torch.long) if model.config.num_classes else None
    d = model.config.latent_dim
    elbo, recon, log_px, kl_dims, mus = [], [], [], [], []
    for part in _chunks(len(xt), batch_size):
        xb, cb = as_input(xt[part]), None if ct is None else ct[part]
        n = len(xb)
        # Encoded once for every pass and the bound: the encoder costs as much as the decoder.
        mu, logvar = model.encode(xb, cb)
        eps = torch.stack([torch.randn(n, d, generator=elbo_rng) for _ in range(passes)])
        recon.append(_log_px(model, xb, cb, model.reparameterize(mu, logvar, eps)).mean(0))
        kl_dims.append(kl_divergence(mu, logvar))
        # docs/design.md §3 ELBO: E_q[log p(x|z)] - KL(q(z|x) || p(z))
        elbo.append(recon[-1] - kl_dims[-1].sum(1))
        mus.append(mu)
        eps = torch.randn(iwae_samples, n, d, generator=iwae_rng)
        log_px.append(iwae_bound(log_weights(model, xb, cb, eps, (mu, logvar))))
        if report:
            report(part.stop / len(xt))
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
        # Bernoulli on grey levels is not a density: name the unit honestly (docs/design.md §3).
        "units": "BCE + KL nats per example" if likelihood == "bernoulli" and not binarized
        else "nats per example",
        "n_examples": len(xt),
    }


def latent_health(kl_per_dim: list[float], active_dims: list[int]) -> dict:
    """Per-dimension usage and the collapse alarm of docs/design.md §3: the alarm fires only
    when the posterior carries almost nothing (total KL < 0.5 nats or at most one active dimension);
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
