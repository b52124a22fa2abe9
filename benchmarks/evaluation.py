"""Test-split evaluation (the ELBO over 10 passes of fresh z, what a page shows first) of a
shipped conv model, next to the plainest loop that computes the same terms: `elbo_terms` per
pass, each encoding the batch again, in the model's default memory format.

    python -m benchmarks.evaluation [--model shapes-sweep-b1]
"""

from __future__ import annotations

import argparse
import time

import torch

from vae import checkpoints
from vae.evaluation import ELBO_ONLY, checkpoint_data, evaluate_checkpoint
from vae.losses import elbo_terms

PASSES = 10


@torch.no_grad()
def plain_elbo(path: str) -> float:
    model, ckpt = checkpoints.load_model(path)
    model.eval()
    x = torch.as_tensor(checkpoint_data(ckpt)[0])
    generator = torch.Generator().manual_seed(0)
    elbo = []
    for i in range(0, len(x), 256):
        xb = x[i:i + 256]
        eps = [torch.randn(len(xb), model.config.latent_dim, generator=generator)
               for _ in range(PASSES)]
        elbo.append(torch.stack([elbo_terms(model, xb, eps=e)["elbo"] for e in eps]).mean(0))
    return torch.cat(elbo).mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="shapes-sweep-b1")
    name = parser.parse_args().model
    path = str(checkpoints.SHIPPED_DIR / name)
    torch.set_num_threads(1)  # as the app's background worker runs it
    start = time.perf_counter()
    plain = plain_elbo(path)
    plain_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = evaluate_checkpoint(path, iwae_samples=ELBO_ONLY, use_cache=False)["elbo"]
    ours_s = time.perf_counter() - start
    print(f"{name}: test ELBO over {PASSES} passes, one thread")
    print(f"  plain loop (reference)   {plain_s:6.2f} s   ELBO {plain:.4f}")
    print(f"  evaluate_checkpoint      {ours_s:6.2f} s   ELBO {ours:.4f}   "
          f"({plain_s / ours_s:.1f}x faster; it also computes the K = 1 bound and active units)")


if __name__ == "__main__":
    main()
