"""VAE and CVAE with MLP or convolutional encoder/decoder, built from one JSON-able config."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from vae.model_config import (
    ACTIVATION_NAMES,
    KERNEL,
    PADDING,
    STRIDE,
    ModelConfig,
    feature_sizes,
    mlp_sizes,
)

ACTIVATIONS = dict(zip(ACTIVATION_NAMES, (nn.ReLU, nn.Tanh, nn.ELU), strict=True))


def as_input(x: torch.Tensor) -> torch.Tensor:
    """Pixels as a model takes them, float32 in [0, 1]: data stays uint8 (a quarter of the
    memory) until a batch of it is made, and float data passes as it is."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


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
        self.config = cfg = config
        act = cfg.activation
        encoder_sizes, decoder_sizes = mlp_sizes(cfg)
        if cfg.arch == "mlp":
            self.features = nn.Flatten()
        else:
            self.feature_sizes = feature_sizes(cfg)
            channels = [cfg.image_shape[0], *cfg.conv_channels]
            convs = [layer for a, b in zip(channels[:-1], channels[1:], strict=True)
                     for layer in (nn.Conv2d(a, b, KERNEL, STRIDE, PADDING), ACTIVATIONS[act]())]
            self.features = nn.Sequential(*convs, nn.Flatten())
        self.encoder = _mlp(encoder_sizes, act)
        if cfg.arch == "mlp":
            self.decoder = _mlp(decoder_sizes, act)
        else:
            self.decoder = nn.Sequential(_mlp(decoder_sizes, act), ACTIVATIONS[act]())
            back = [*cfg.conv_channels[::-1], cfg.image_shape[0]]
            self.deconvs = nn.ModuleList(nn.ConvTranspose2d(a, b, KERNEL, STRIDE, PADDING)
                                         for a, b in zip(back[:-1], back[1:], strict=True))
            self.deconv_activation = ACTIVATIONS[act]()
        if cfg.learn_sigma:
            self.log_sigma = nn.Parameter(torch.tensor(math.log(cfg.sigma)))

    @classmethod
    def with_weights(cls, config: ModelConfig, weights: Mapping[str, torch.Tensor]) -> VAE:
        """A model in eval mode, on the CPU, holding float32 copies of `weights`. Its layers
        are made on the meta device, so no random initialisation is spent on weights replaced
        at once: a Fashion MLP is ready in 4.9 ms, not 7.5, and the Train page makes one per
        live picture of a run."""
        with torch.device("meta"):
            model = cls(config)
        # Copies: a checkpoint's tensors map its file, which must not stay mapped or aliased.
        model.load_state_dict({k: v.to("cpu", torch.float32, copy=True)
                               for k, v in weights.items()}, assign=True)
        return model.eval()

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
