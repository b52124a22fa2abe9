"""Likelihoods, analytic KL, beta schedules, free bits and the ELBO (docs/design.md §3)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from vae.models import VAE

LOG_2PI = math.log(2 * math.pi)
Array = TypeVar("Array", torch.Tensor, np.ndarray)


def gaussian_log_density(x: Array, mu: Array | float = 0.0,
                         logvar: Array | float = 0.0) -> Array:
    """log N(x; mu, exp(logvar)) per element, in nats; the defaults give the prior N(0, 1).
    Torch tensors or numpy arrays alike (the disentanglement metrics work on numpy arrays);
    mu and logvar broadcast against x."""
    var = logvar.exp() if isinstance(logvar, torch.Tensor) else np.exp(logvar)
    return -0.5 * (LOG_2PI + logvar + (x - mu) ** 2 / var)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per example and dimension, shape (batch, latent_dim)."""
    # docs/design.md §3 analytic KL: -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())


def log_likelihood(
    x: torch.Tensor, logits: torch.Tensor, likelihood: str, log_sigma: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """log p(x|z) per example in nats, summed over pixels (docs/design.md §3 likelihoods)."""
    if likelihood == "bernoulli":
        # On grey-level x this is the "BCE" objective, not a normalized density (docs/design.md §3).
        per_pixel = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    else:
        log_sigma = torch.as_tensor(log_sigma, dtype=x.dtype)
        per_pixel = gaussian_log_density(x, torch.sigmoid(logits), 2 * log_sigma)
    return per_pixel.flatten(1).sum(1)


def model_log_sigma(model: VAE) -> torch.Tensor | float:
    cfg = model.config
    return model.log_sigma if cfg.learn_sigma else math.log(cfg.sigma)


def elbo_terms(
    model: VAE, x: torch.Tensor, c: torch.Tensor | None = None, eps: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """One-sample estimates per example: recon = E_q[log p(x|z)], kl_per_dim, and their ELBO."""
    mu, logvar = model.encode(x, c)
    z = model.reparameterize(mu, logvar, eps)
    recon = log_likelihood(x, model.decode(z, c), model.config.likelihood, model_log_sigma(model))
    kl_per_dim = kl_divergence(mu, logvar)
    # docs/design.md §3 ELBO: E_q[log p(x|z)] - KL(q(z|x) || p(z))
    return {"recon": recon, "kl_per_dim": kl_per_dim, "elbo": recon - kl_per_dim.sum(1),
            "mu": mu, "logvar": logvar, "z": z}


def total_correlation(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                      dataset_size: int) -> torch.Tensor:
    """TC = KL(q(z) || prod_j q(z_j)) by minibatch-weighted sampling (Chen et al. 2018):
    q(z_i) ~ sum_m q(z_i | x_m) / (N M) over the batch, z_i ~ q(z|x_i); batch mean."""
    m = len(z)
    # log q(z_i,j | x_m, j) for every sample i, example m and dimension j: (M, M, D)
    log_q = gaussian_log_density(z[:, None], mu[None], logvar[None])
    log_nm = math.log(dataset_size * m)
    log_qz = torch.logsumexp(log_q.sum(2), dim=1) - log_nm
    log_prod_qzj = (torch.logsumexp(log_q, dim=1) - log_nm).sum(1)
    return (log_qz - log_prod_qzj).mean()


class Objective(NamedTuple):
    """The minimized loss and the batch means of the beta = 1 terms it was built from."""

    loss: torch.Tensor
    recon: torch.Tensor  # E_q[log p(x|z)]
    kl: torch.Tensor  # KL(q(z|x) || p(z)), unclamped


def training_objective(
    recon: torch.Tensor, kl_per_dim: torch.Tensor, beta: float, free_bits: float = 0.0, *,
    tc: torch.Tensor | None = None, capacity: tuple[float, float] | None = None,
) -> Objective:
    """The minimized objective, mean over the batch (docs/design.md §3 β-VAE): -recon + beta * KL.
    With `tc` (β-TCVAE) the KL counts once and beta weights only its total-correlation part;
    with `capacity = (C, gamma)` (Burgess et al. 2018) the KL term is gamma * |KL - C|.
    The terms come back too: the trainer logs them with no reductions of its own."""
    recon_mean, kl_dims = recon.mean(), kl_per_dim.mean(0)
    kl = kl_dims.sum()
    # docs/design.md §3 free bits: sum_j max(kappa, KL_j), KL_j averaged over the batch
    fitted = kl_dims.clamp(min=free_bits).sum() if free_bits > 0 else kl
    if capacity is not None:
        target, gamma = capacity
        loss = -recon_mean + gamma * (fitted - target).abs()
    elif tc is not None:
        # KL = MI + TC + dimension-wise KL; Chen et al. weight MI and dimension-wise KL by 1
        # and TC by beta. The analytic KL for the sum has less variance than three estimates.
        loss = -recon_mean + fitted + (beta - 1) * tc
    else:
        loss = -recon_mean + beta * fitted
    return Objective(loss, recon_mean, kl)


@dataclass(frozen=True)
class Capacity:
    """The controlled-capacity target C(t), rising linearly to CMAX nats over STEPS, and the
    weight gamma of |KL - C(t)| (Burgess et al. 2018); `spec` is the CLI form CMAX:STEPS:GAMMA."""

    spec: str

    def __post_init__(self) -> None:
        try:
            c_max, steps, gamma = (float(v) for v in self.spec.split(":"))
        except ValueError:
            raise ValueError(f"Capacity '{self.spec}' must be CMAX:STEPS:GAMMA, three numbers "
                             "such as 25:5000:100.") from None
        if not (c_max >= 0 and steps > 0 and gamma > 0 and math.isfinite(c_max + steps + gamma)):
            raise ValueError(f"Capacity '{self.spec}': CMAX must be >= 0, STEPS and GAMMA > 0.")

    def __call__(self, step: int) -> tuple[float, float]:
        c_max, steps, gamma = (float(v) for v in self.spec.split(":"))
        return c_max * min(1.0, step / steps), gamma


@dataclass(frozen=True)
class BetaSchedule:
    """beta as a function of the training step; `spec` is the CLI form."""

    beta: float = 1.0
    spec: str = "constant"

    def __post_init__(self) -> None:
        kind, *args = self.spec.split(":")
        arity = {"constant": 0, "linear": 1, "sigmoid": 2, "cyclical": 1}
        if kind not in arity or len(args) != arity[kind]:
            raise ValueError(
                f"Unknown beta schedule '{self.spec}'; use constant, linear:STEPS, "
                "sigmoid:T0:RATE or cyclical:PERIOD."
            )
        try:
            values = [float(a) for a in args]
        except ValueError:
            raise ValueError(f"Beta schedule '{self.spec}' needs numbers after the colons.") \
                from None
        if any(v <= 0 for v in values[-1:]):
            raise ValueError(f"Beta schedule '{self.spec}': the last number must be positive.")
        if self.beta < 0 or not math.isfinite(self.beta):
            raise ValueError("beta must be a finite number >= 0.")

    def __call__(self, step: int) -> float:
        kind, *args = self.spec.split(":")
        a = [float(v) for v in args]
        if kind == "linear":  # linear warm-up over STEPS
            return self.beta * min(1.0, step / a[0])
        if kind == "sigmoid":  # docs/design.md §3 annealing: beta_final * sigmoid((t - t0) / rate)
            return self.beta / (1 + math.exp(-(step - a[0]) / a[1]))
        if kind == "cyclical":  # rise linearly over half a period, hold for the other half
            return self.beta * min(1.0, 2 * (step % a[0]) / a[0])
        return self.beta
