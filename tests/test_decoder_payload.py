"""The decoder payload the latent pad runs in the page (its agreement with torch is checked in
Chromium, tests/test_browser_latent_pad.py)."""

import base64

import numpy as np
import pytest

from vae import decoder_payload
from vae.model_config import ModelConfig
from vae.models import VAE


@pytest.mark.parametrize("config", [
    ModelConfig(latent_dim=3, hidden=(16,)),
    ModelConfig(image_shape=(3, 28, 28), latent_dim=4, arch="conv", conv_channels=(4, 4, 4),
                hidden=(8,), num_classes=2, activation="elu"),
])
def test_the_payload_holds_every_decoder_weight_once(config):
    model = VAE(config)
    payload = decoder_payload.decoder_payload(model)
    weights = np.frombuffer(base64.b64decode(payload["weights"]), "<f4")
    decoder = [p for name, p in model.named_parameters()
               if name.startswith(("decoder", "deconvs"))]
    assert len(weights) == sum(p.numel() for p in decoder)
    last = payload["layers"][-1]
    assert np.array_equal(weights[last["bias"]:last["bias"] + last["out"]],
                          decoder[-1].detach().numpy())
    assert payload["latent_dim"] == config.latent_dim
    assert payload["num_classes"] == config.num_classes


def test_a_decoder_too_big_for_the_page_is_refused_with_a_reason(monkeypatch):
    monkeypatch.setattr(decoder_payload, "MAX_FLOATS", 1000)
    with pytest.raises(decoder_payload.Unsupported, match="weights, more than"):
        decoder_payload.decoder_payload(VAE(ModelConfig(latent_dim=3, hidden=(64,))))


def test_a_decoder_too_slow_for_the_page_is_refused_with_a_reason(monkeypatch):
    monkeypatch.setattr(decoder_payload, "MAX_MULTIPLY_ADDS", 10_000)
    config = ModelConfig(image_shape=(1, 32, 32), latent_dim=3, arch="conv", hidden=(8,))
    with pytest.raises(decoder_payload.Unsupported, match="multiply-adds"):
        decoder_payload.decoder_payload(VAE(config))
