#!/usr/bin/env bash
# Rebuilds every shipped model from scratch on the CPU (`make checkpoints`); the README quotes
# the figures these commands produce. Runs land in checkpoints/runs/_build, and a slim copy
# (weights, config, history: no optimizer state) replaces the shipped folder.
# `bash checkpoints/build.sh fashion` rebuilds one group (digits, shapes, fashion) alone;
# `BACKEND=ray make checkpoints` trains the shapes study through Ray.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BUILD=checkpoints/runs/_build

ship() {
  local name=$1; shift
  rm -rf "${BUILD:?}/$name"
  echo "== $name: $*"
  SECONDS=0
  # On the CPU everywhere (the CLI's default is a GPU where there is one), so every machine
  # rebuilds the same models.
  "$PY" -m vae train "$@" --device cpu --quiet --out "$BUILD/$name"
  echo "   trained in ${SECONDS} s"
  rm -rf "checkpoints/${name:?}"
  "$PY" -m vae slim "$BUILD/$name" --out "checkpoints/$name"
}

digits() {
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
  derive checkpoints/digits-*
}

# The Disentangle page's shapes study: one recipe and budget for every beta and seed (two
# members train at once, one thread each), then a beta-TCVAE member at the high end, whose MIG
# beats the beta-VAEs' (README). BACKEND=ray trains the members as Ray tasks, with the same
# weights.
shapes() {
  SWEEP_RECIPE=(--dataset shapes --preset shapes-conv --beta-schedule linear:1500 --epochs 8
    --seeds 0,1,2 --backend "${BACKEND:-local}" --device cpu --quiet)
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
  derive checkpoints/shapes-sweep-*
}

# Fashion-MNIST (Debian's dataset-fashion-mnist), 28x28: the app opens on fashion-vae. The
# recipe was chosen on validation (README: how); 400-200 keeps a folder with its sample under
# 5 MB and the decoder the page runs under 3 MB. Each model carries a stratified 2,000-image
# sample of the test split with the data's licence, so a laptop without the package can still
# run the lesson.
FASHION_RECIPE=(--dataset fashion --hidden 400,200 --batch-size 128 --lr-schedule cosine
  --optimizer adamw --weight-decay 0.05 --threads 1)
fashion() {
  ship fashion-vae "${FASHION_RECIPE[@]}" --latent-dim 16 --epochs 100
  ship fashion-vae-2d "${FASHION_RECIPE[@]}" --latent-dim 2 --epochs 60
  # The same 2-D recipe at other betas: Explore and Map draw a few test images' posteriors,
  # which shrink to points at beta = 0.25 and swell into the prior only at beta = 64 (784
  # Bernoulli pixels make information cheap: at beta = 4 their sigma is still about 0.1, at 16
  # about 0.3, at 32 about 0.6; at 64 one dimension is given up to the prior).
  ship fashion-vae-2d-b0_25 "${FASHION_RECIPE[@]}" --latent-dim 2 --epochs 60 --beta 0.25
  ship fashion-vae-2d-b4 "${FASHION_RECIPE[@]}" --latent-dim 2 --epochs 60 --beta 4
  ship fashion-vae-2d-b64 "${FASHION_RECIPE[@]}" --latent-dim 2 --epochs 60 --beta 64
  ship fashion-cvae "${FASHION_RECIPE[@]}" --model cvae --latent-dim 16 --epochs 60
  derive --sample checkpoints/fashion-*
}

# What the app shows of each model (test figures, encodings, metrics, t-SNE maps), kept in its
# folder and tracked, so a fresh clone's first visit reads them instead of computing
# (docs/design.md §5).
derive() {
  SECONDS=0
  LATENT_LAB_WRITE_SHIPPED_DERIVED=1 "$PY" -m vae derive "$@"
  echo "== derived data in ${SECONDS} s"
}

for group in ${@:-digits shapes fashion}; do
  "$group"
done
