#!/usr/bin/env bash
# Rebuilds every shipped model from scratch on the CPU (`make checkpoints`); the README quotes
# the figures these commands produce. Runs land in checkpoints/runs/_build, and a slim copy
# (weights, config, history: no optimizer state) replaces the shipped folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BUILD=checkpoints/runs/_build

ship() {
  local name=$1; shift
  rm -rf "${BUILD:?}/$name"
  echo "== $name: $*"
  SECONDS=0
  "$PY" -m vae train "$@" --quiet --out "$BUILD/$name"
  echo "   trained in ${SECONDS} s"
  rm -rf "checkpoints/${name:?}"
  "$PY" -m vae slim "$BUILD/$name" --out "checkpoints/$name"
}

ship digits-vae-20d --preset digits-best --threads 1
ship digits-vae-2d --latent-dim 2 --hidden 512,256 --batch-size 64 --lr-schedule cosine \
  --epochs 500
# beta = 4 with the Bernoulli ("BCE") likelihood collapses grey-level digits to zero KL (also
# with warm-up or --binarize): information is worth too little per pixel. A Gaussian with
# sigma = 0.3 prices it so that beta = 4 keeps a few dimensions and prunes the rest.
ship digits-betavae-10d --latent-dim 10 --beta 4 --likelihood gaussian --sigma 0.3 \
  --hidden 512,256 --batch-size 64 --lr-schedule cosine --epochs 500
ship digits-cvae --model cvae --latent-dim 8 --hidden 512,256 --batch-size 64 \
  --lr-schedule cosine --epochs 500
# The Disentangle page's shapes sweep: one recipe, seed and budget for every beta (two members
# train at once, one thread each), then a beta-TCVAE member at the high end, whose MIG beats
# the beta-VAEs' (README).
SWEEP_RECIPE=(--dataset shapes --preset shapes-conv --beta-schedule linear:1500 --epochs 8 --quiet)
rm -rf "${BUILD:?}/shapes-sweep"
echo "== shapes-sweep"
SECONDS=0
"$PY" -m vae sweep --betas 1,2,4,8 "${SWEEP_RECIPE[@]}" --out "$BUILD/shapes-sweep"
"$PY" -m vae sweep --betas 12 --objective betatcvae "${SWEEP_RECIPE[@]}" --out "$BUILD/shapes-sweep"
echo "   trained in ${SECONDS} s"
for member in "$BUILD"/shapes-sweep/shapes-sweep-*; do
  name=$(basename "$member")
  rm -rf "checkpoints/${name:?}"
  "$PY" -m vae slim "$member" --out "checkpoints/$name"
done
# What the app shows of each model (test figures, encodings, metrics, t-SNE maps), kept in its
# folder and tracked, so a fresh clone's first visit reads them instead of computing
# (docs/design.md §5).
SECONDS=0
shipped=(checkpoints/*/CURRENT)
LATENT_LAB_WRITE_SHIPPED_DERIVED=1 "$PY" -m vae derive "${shipped[@]%/CURRENT}"
echo "== derived data in ${SECONDS} s"
