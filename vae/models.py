"""VAE and CVAE with MLP or convolutional encoder/decoder, built from one JSON-able config."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}
LIKELIHOODS = ("bernoulli", "gaussian")
MAX_HIDDEN = 4096  # units a hidden layer may have, as the CLI and the Train form take them
CONV_SIDES = (28, 64)  # the fewest and the most pixels a side the conv architecture takes


class ConfigError(ValueError):
    """A config that cannot describe a model; the message says which field and why."""


def parse_hidden(text: str) -> tuple[int, ...]:
    """Units per hidden layer from '512,256' (spaces and ';' allowed), each 1 to MAX_HIDDEN;
    anything else is a ValueError whose message says what to write."""
    try:
        sizes = tuple(int(part) for part in text.replace(";", ",").split(",") if part.strip())
    except ValueError:
        sizes = ()
    if not sizes or not all(0 < s <= MAX_HIDDEN for s in sizes):
        raise ValueError(f"Hidden layers {text!r} is not a list of sizes; write numbers "
                         f"between 1 and {MAX_HIDDEN} separated by commas, such as 512, 256.")
    return sizes


def conv_accepts(height: int, width: int) -> bool:
    """Whether the conv architecture takes images of height x width pixels (CONV_SIDES)."""
    return min(height, width) >= CONV_SIDES[0] and max(height, width) <= CONV_SIDES[1]


def kind_label(num_classes: int) -> str:
    """A model's name for people: 'CVAE' when it is class-conditional (num_classes > 0)."""
    return "CVAE" if num_classes else "VAE"


@dataclass
class ModelConfig:
    image_shape: tuple[int, int, int] = (1, 8, 8)
    latent_dim: int = 20
    arch: str = "mlp"
    hidden: tuple[int, ...] = (400,)
    activation: str = "relu"
    likelihood: str = "bernoulli"
    # Gaussian p(x|z): a fixed sigma, or one learned sigma per image when learn_sigma is set.
    sigma: float = 0.1
    learn_sigma: bool = False
    # > 0 makes a CVAE: the one-hot label is concatenated to encoder and decoder inputs.
    num_classes: int = 0
    conv_channels: tuple[int, ...] = (32, 32, 32, 32)

    def __post_init__(self) -> None:
        self.image_shape = tuple(int(v) for v in self.image_shape)
        self.hidden = tuple(int(v) for v in self.hidden)
        self.conv_channels = tuple(int(v) for v in self.conv_channels)
        self._refuse_impossible()

    @property
    def num_pixels(self) -> int:
        return math.prod(self.image_shape)

    def _refuse_impossible(self) -> None:
        c, h, w = self.image_shape if len(self.image_shape) == 3 else (0, 0, 0)
        checks = [
            (len(self.image_shape) == 3 and c in (1, 3), "image_shape must be (1 or 3, H, W)"),
            (2 <= self.latent_dim <= 64, "latent_dim must be between 2 and 64"),
            (self.arch in ("mlp", "conv"), "arch must be 'mlp' or 'conv'"),
            (all(n > 0 for n in self.hidden), "hidden sizes must be positive"),
            (self.activation in ACTIVATIONS, f"activation must be one of {sorted(ACTIVATIONS)}"),
            (self.likelihood in LIKELIHOODS, f"likelihood must be one of {list(LIKELIHOODS)}"),
            (self.sigma > 0, "sigma must be positive"),
            (0 <= self.num_classes <= 100, "num_classes must be between 0 and 100"),
        ]
        if self.arch == "conv":
            lo, hi = CONV_SIDES
            checks.append((conv_accepts(h, w),
                           f"the conv architecture needs images of {lo} to {hi} pixels a side"))
            checks.append((len(self.conv_channels) > 0, "conv_channels must not be empty"))
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"Invalid model config: {message}.")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"Invalid model config: unknown keys {unknown}.")
        for key, value in data.items():
            if not _has_type(value, known[key].type):
                raise ConfigError(f"Invalid model config: '{key}' has the wrong type.")
        try:
            return cls(**data)
        except (TypeError, ValueError) as err:
            if isinstance(err, ConfigError):
                raise
            raise ConfigError(f"Invalid model config: {err}.") from None


def as_input(x: torch.Tensor) -> torch.Tensor:
    """Pixels as a model takes them, float32 in [0, 1]: data stays uint8 (a quarter of the
    memory) until a batch of it is made, and float data passes as it is."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


def _has_type(value: object, annotation: str) -> bool:
    """JSON-level type check for a field annotated int, float, str, bool or tuple[int, ...]."""
    if annotation.startswith("tuple"):
        return isinstance(value, list | tuple) and all(_has_type(v, "int") for v in value)
    if isinstance(value, bool):
        return annotation == "bool"
    return {"int": isinstance(value, int), "float": isinstance(value, int | float),
            "str": isinstance(value, str)}.get(annotation, False)


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """q(z|x[,c]) = N(mu, diag exp(logvar)), p(z) = N(0, I), p(x|z[,c]) Bernoulli or Gaussian.

    The decoder returns logits; the mean of p(x|z) is their sigmoid for both likelihoods, so
    pixel means always lie in [0, 1].
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        cfg = config
        act = cfg.activation
        n_cond = cfg.num_classes
        if cfg.arch == "mlp":
            self.features = nn.Flatten()
            feature_dim = cfg.num_pixels
        else:
            self.features, self.feature_sizes = self._conv_encoder()
            feature_dim = cfg.conv_channels[-1] * math.prod(self.feature_sizes[-1])
        self.encoder = _mlp([feature_dim + n_cond, *cfg.hidden, 2 * cfg.latent_dim], act)
        if cfg.arch == "mlp":
            self.decoder = _mlp([cfg.latent_dim + n_cond, *cfg.hidden[::-1], cfg.num_pixels], act)
        else:
            self.decoder = nn.Sequential(
                _mlp([cfg.latent_dim + n_cond, *cfg.hidden[::-1], feature_dim], act),
                ACTIVATIONS[act](),
            )
            self.deconvs = self._conv_decoder()
            self.deconv_activation = ACTIVATIONS[act]()
        if cfg.learn_sigma:
            self.log_sigma = nn.Parameter(torch.tensor(math.log(cfg.sigma)))

    def _conv_encoder(self) -> tuple[nn.Sequential, list[tuple[int, int]]]:
        cfg = self.config
        layers: list[nn.Module] = []
        sizes = [cfg.image_shape[1:]]
        channels = [cfg.image_shape[0], *cfg.conv_channels]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                       ACTIVATIONS[cfg.activation]()]
            sizes.append(tuple((s + 2 - 4) // 2 + 1 for s in sizes[-1]))
        if min(sizes[-1]) < 1:
            raise ConfigError("Invalid model config: too many conv layers for the image size.")
        return nn.Sequential(*layers, nn.Flatten()), sizes

    def _conv_decoder(self) -> nn.ModuleList:
        cfg = self.config
        channels = [*cfg.conv_channels[::-1], cfg.image_shape[0]]
        return nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )

    def _condition(self, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if not self.config.num_classes:
            return h
        if c is None:
            raise ValueError("A CVAE needs a class label for every example.")
        return torch.cat([h, F.one_hot(c.long(), self.config.num_classes).to(h.dtype)], dim=1)

    def encode(
        self, x: torch.Tensor, c: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(self._condition(self.features(x), c))
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        # docs/design.md §3 reparameterization: z = mu + sigma * eps, eps ~ N(0, I)
        if eps is None:
            eps = torch.randn_like(mu)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of p(x|z[,c]), shaped like the images."""
        h = self.decoder(self._condition(z, c))
        if self.config.arch == "mlp":
            return h.view(-1, *self.config.image_shape)
        cfg = self.config
        h = h.view(-1, cfg.conv_channels[-1], *self.feature_sizes[-1])
        out_sizes = self.feature_sizes[-2::-1]
        for i, (deconv, size) in enumerate(zip(self.deconvs, out_sizes, strict=True)):
            h = deconv(h, output_size=size)
            if i < len(self.deconvs) - 1:
                h = self.deconv_activation(h)
        return h

    def decode_mean(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """The mean of p(x|z[,c]), in [0, 1]."""
        return torch.sigmoid(self.decode(z, c))
