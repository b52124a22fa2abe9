"""Time of each disentanglement metric on the shipped models' test codes, next to the time of
encoding those codes (the reference: the one step every metric needs), one torch thread as in
the app's background worker. FactorVAE is timed twice: with the shapes grid encoded first
(46,080 images, the cost on a first visit) and from the grid's codes alone.

    python -m benchmarks.metrics

Targets for a shapes model: every metric together <= 30 s, <= 10 s with the grid's codes at
hand.
"""

from __future__ import annotations

import time

import torch

from vae import checkpoints, shapes
from vae import disentanglement as dis
from vae.derived import encode_split, grid_codes

TARGET_S, TARGET_CACHED_S = 30.0, 10.0


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(ckpt: checkpoints.Checkpoint) -> tuple[int, float, list[float], float]:
    """(number of codes, seconds to encode them, seconds of each metric, seconds to encode
    the grid)."""
    codes: dict = {}
    encode_s = timed(lambda: codes.update(encode_split(ckpt.path)))
    mu, logvar = codes["mu"], codes["logvar"]
    factors = codes["factors"] if "factors" in codes else codes["y"][:, None]
    times = [timed(lambda: dis.compute_mig(mu, factors)),
             timed(lambda: dis.compute_sap(mu, factors)),
             timed(lambda: dis.compute_sap_continuous(mu, factors)),
             timed(lambda: dis.compute_dci(mu, factors)),
             timed(lambda: dis.kl_decomposition(mu, logvar))]
    grid_s = 0.0
    if "factors" in codes:
        model = checkpoints.load_model(ckpt.path)[0]
        grid: list = []
        grid_s = timed(lambda: grid.append(grid_codes(model)))
        times.append(timed(lambda: dis.compute_factor_vae(grid[0], shapes.FACTOR_SIZES)))
    else:
        times.append(0.0)  # undefined for a single factor
    return len(mu), encode_s, times, grid_s


def main() -> None:
    torch.set_num_threads(1)
    shapes.grid()  # built once per process, as in the app: not any one model's cost
    print(f"{'model':24s} {'codes':>6s} {'encode':>7s} {'mig':>6s} {'sap':>6s} {'sap-c':>6s} "
          f"{'dci':>6s} {'kl-dec':>6s} {'fvae':>6s} {'grid':>6s} {'total':>7s} {'cached':>7s}"
          f"  (seconds; targets {TARGET_S:g} / {TARGET_CACHED_S:g} for shapes)")
    for ckpt in checkpoints.list_checkpoints([checkpoints.SHIPPED_DIR]):
        if ckpt.config["model"]["num_classes"]:
            continue  # a CVAE's code is the style given the label: nothing to disentangle
        n, encode_s, times, grid_s = measure(ckpt)
        cached = encode_s + sum(times)
        total = cached + grid_s
        verdict = "ok" if total <= TARGET_S and cached <= TARGET_CACHED_S else "OVER"
        print(f"{ckpt.name:24s} {n:6d} {encode_s:7.2f} " + " ".join(f"{t:6.2f}" for t in times)
              + f" {grid_s:6.2f} {total:7.2f} {cached:7.2f}  {verdict}")


if __name__ == "__main__":
    main()
