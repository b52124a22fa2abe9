"""Time of each disentanglement metric on the shipped models' test codes, next to the time of
encoding those codes (the reference: the one step every metric needs), one torch thread as in
the app's background worker.

    python -m benchmarks.metrics

Target: every metric of one model together in <= 10 s.
"""

from __future__ import annotations

import time

import torch

from vae import checkpoints, shapes
from vae import disentanglement as dis
from vae.derived import encode_split, factor_encoder

TARGET_S = 10.0


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(ckpt: checkpoints.Checkpoint) -> tuple[int, float, list[float]]:
    """(number of codes, seconds to encode them, seconds of each metric)."""
    codes: dict = {}
    encode_s = timed(lambda: codes.update(encode_split(ckpt.path)))
    mu, logvar = codes["mu"], codes["logvar"]
    factors = codes["factors"] if "factors" in codes else codes["y"][:, None]
    times = [timed(lambda: dis.compute_mig(mu, factors)),
             timed(lambda: dis.compute_sap(mu, factors)),
             timed(lambda: dis.compute_dci(mu, factors)),
             timed(lambda: dis.kl_decomposition(mu, logvar))]
    if "factors" in codes:
        encode = factor_encoder(checkpoints.load_model(ckpt.path)[0])
        times.append(timed(lambda: dis.compute_factor_vae(
            encode, shapes.fixed_factors, shapes.sample_factors, factors.shape[1])))
    else:
        times.append(0.0)  # undefined for a single factor
    return len(mu), encode_s, times


def main() -> None:
    torch.set_num_threads(1)
    print(f"{'model':24s} {'codes':>6s} {'encode':>7s} {'mig':>6s} {'sap':>6s} {'dci':>6s} "
          f"{'kl-dec':>6s} {'fvae':>6s} {'total':>7s}  (seconds; target total <= {TARGET_S:g})")
    for ckpt in checkpoints.list_checkpoints([checkpoints.SHIPPED_DIR]):
        if ckpt.config["model"]["num_classes"]:
            continue  # a CVAE's code is the style given the label: nothing to disentangle
        n, encode_s, times = measure(ckpt)
        total = encode_s + sum(times)
        print(f"{ckpt.name:24s} {n:6d} {encode_s:7.2f} " + " ".join(f"{t:6.2f}" for t in times)
              + f" {total:7.2f}  {'ok' if total <= TARGET_S else 'OVER'}")


if __name__ == "__main__":
    main()
