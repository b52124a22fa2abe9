"""A model's configuration, without torch: what a checkpoint's config and weights are checked
against (so that `python -m vae list` starts without importing torch), and what vae/models.py
builds the network from: the layer sizes here are the network's."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

ACTIVATION_NAMES = ("relu", "tanh", "elu")
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
            (self.activation in ACTIVATION_NAMES,
             f"activation must be one of {sorted(ACTIVATION_NAMES)}"),
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


def _has_type(value: object, annotation: str) -> bool:
    """JSON-level type check for a field annotated int, float, str, bool or tuple[int, ...]."""
    if annotation.startswith("tuple"):
        return isinstance(value, list | tuple) and all(_has_type(v, "int") for v in value)
    if isinstance(value, bool):
        return annotation == "bool"
    return {"int": isinstance(value, int), "float": isinstance(value, int | float),
            "str": isinstance(value, str)}.get(annotation, False)


KERNEL, STRIDE, PADDING = 4, 2, 1  # every conv and transposed conv layer's


def feature_sizes(cfg: ModelConfig) -> list[tuple[int, int]]:
    """The conv architecture's feature map sizes, the image's first, each layer's after."""
    sizes = [tuple(cfg.image_shape[1:])]
    for _ in cfg.conv_channels:
        sizes.append(tuple((s + 2 * PADDING - KERNEL) // STRIDE + 1 for s in sizes[-1]))
    if min(sizes[-1]) < 1:
        raise ConfigError("Invalid model config: too many conv layers for the image size.")
    return sizes


def mlp_sizes(cfg: ModelConfig) -> tuple[list[int], list[int]]:
    """Widths of the encoder's and the decoder's fully connected layers, inputs first: the
    encoder ends in a mean and a log-variance a dimension; a CVAE's inputs carry the one-hot
    class; the conv decoder's MLP ends where its transposed convs begin."""
    if cfg.arch == "mlp":
        features = cfg.num_pixels
    else:
        features = cfg.conv_channels[-1] * math.prod(feature_sizes(cfg)[-1])
    decoded = cfg.num_pixels if cfg.arch == "mlp" else features
    return ([features + cfg.num_classes, *cfg.hidden, 2 * cfg.latent_dim],
            [cfg.latent_dim + cfg.num_classes, *cfg.hidden[::-1], decoded])


def weight_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every weight of VAE(cfg) by its state_dict name, with its shape, in state_dict order."""
    shapes: dict[str, tuple[int, ...]] = {}

    def layers(prefix: str, sizes: list[int], shape, every: int) -> None:
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            shapes[f"{prefix}.{every * i}.weight"] = shape(a, b)
            shapes[f"{prefix}.{every * i}.bias"] = (b,)

    encoder, decoder = mlp_sizes(cfg)
    linear = lambda a, b: (b, a)  # noqa: E731
    # In the network's own order (its own parameter first); an activation follows each layer
    # of a Sequential.
    if cfg.learn_sigma:
        shapes["log_sigma"] = ()
    if cfg.arch == "conv":
        layers("features", [cfg.image_shape[0], *cfg.conv_channels],
               lambda a, b: (b, a, KERNEL, KERNEL), 2)
    layers("encoder", encoder, linear, 2)
    if cfg.arch == "conv":
        layers("decoder.0", decoder, linear, 2)
        layers("deconvs", [*cfg.conv_channels[::-1], cfg.image_shape[0]],
               lambda a, b: (a, b, KERNEL, KERNEL), 1)
    else:
        layers("decoder", decoder, linear, 2)
    return shapes
