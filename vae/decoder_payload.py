"""A model's decoder as a compact, JSON-able payload that a browser can run on its own.

The page's latent pad (ui/latent_pad.js) decodes on every pointer move from this payload, so
the image follows the hand without a server round trip (docs/design.md §6). The payload is a list of
layers (linear, activation, transposed convolution) over one float32 buffer, base64-encoded;
the mean of p(x|z[,c]) is the sigmoid of the last layer, as in `VAE.decode_mean`.
"""

from __future__ import annotations

import base64
import math

import numpy as np
from torch import nn

from vae.models import ACTIVATIONS, VAE

FORMAT = 1
# Beyond these the page would download and keep tens of MB, or decode slower than a frame
# (a shipped shapes decoder does 1.6 M multiply-adds in about 4 ms).
MAX_FLOATS = 4_000_000
MAX_MULTIPLY_ADDS = 16_000_000
_ACTIVATION_NAMES = {cls: name for name, cls in ACTIVATIONS.items()}


class Unsupported(ValueError):
    """A decoder the page cannot run; the message says why, for the page to show."""


def decoder_payload(model: VAE) -> dict:
    """The decoder of `model` for the page: shapes, layers and base64 float32 weights."""
    cfg = model.config
    arrays: list[np.ndarray] = []
    layers: list[dict] = []

    def add(tensor) -> int:
        arrays.append(tensor.detach().float().numpy().ravel())
        return sum(len(a) for a in arrays) - len(arrays[-1])

    def add_sequence(modules) -> None:
        for module in modules:
            if isinstance(module, nn.Linear):
                layers.append({"op": "linear", "in": module.in_features,
                               "out": module.out_features, "weight": add(module.weight),
                               "bias": add(module.bias)})
            elif isinstance(module, nn.Sequential):
                add_sequence(module)
            else:
                layers.append(_activation(module))

    add_sequence(model.decoder)
    if cfg.arch == "conv":
        sizes = model.feature_sizes[::-1]
        for i, deconv in enumerate(model.deconvs):
            if (deconv.kernel_size, deconv.stride, deconv.padding) != ((4, 4), (2, 2), (1, 1)):
                raise Unsupported("its transposed convolutions are not 4x4 with stride 2")
            layers.append({"op": "deconv", "in": deconv.in_channels, "out": deconv.out_channels,
                           "in_size": list(sizes[i]), "out_size": list(sizes[i + 1]),
                           "weight": add(deconv.weight), "bias": add(deconv.bias)})
            if i < len(model.deconvs) - 1:
                layers.append(_activation(model.deconv_activation))
    weights = np.concatenate(arrays)
    if len(weights) > MAX_FLOATS:
        raise Unsupported(f"its decoder has {len(weights):,} weights, more than the "
                          f"{MAX_FLOATS:,} a page can decode at display rate")
    work = sum(layer["in"] * layer["out"] * (16 * math.prod(layer["in_size"])
                                             if layer["op"] == "deconv" else 1)
               for layer in layers if layer["op"] in ("linear", "deconv"))
    if work > MAX_MULTIPLY_ADDS:
        raise Unsupported(f"its decoder needs {work:,} multiply-adds an image, more than the "
                          f"{MAX_MULTIPLY_ADDS:,} a page can do at display rate")
    return {"format": FORMAT, "latent_dim": cfg.latent_dim, "num_classes": cfg.num_classes,
            "image_shape": list(cfg.image_shape), "layers": layers,
            "weights": float_payload(weights)}


def _activation(module: nn.Module) -> dict:
    name = _ACTIVATION_NAMES.get(type(module))
    if name is None:
        raise Unsupported(f"its decoder uses a {type(module).__name__} layer")
    return {"op": name}


def float_payload(values: np.ndarray) -> str:
    """An array as base64 little-endian float32, the form the page reads codes in."""
    return base64.b64encode(np.ascontiguousarray(values, "<f4").tobytes()).decode()
