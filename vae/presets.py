"""Named training recipes: partial model and training configs that explicit choices override."""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    # Kingma & Welling 2014 (docs/design.md §3): MLP with tanh, 500 hidden units, minibatch 100,
    # one z per example, Adagrad.
    "paper": {
        "description": "The original paper's setup: tanh MLP 500, batch 100, Adagrad.",
        "model": {"arch": "mlp", "hidden": [500], "activation": "tanh"},
        "train": {"optimizer": "adagrad", "lr": 0.02, "batch_size": 100},
    },
    # The recipe behind the shipped digits-vae-20d (README: how it was chosen on validation).
    # Validation plateaus by 800 epochs (1000 is no better); lr 5e-4 or 2e-3, batch 128,
    # 256-128 or 512-256-128, ELU, weight decay, EMA and KL warm-up were all no better there.
    # The refit then adds the 144 validation images (docs/design.md §4): ~95 s on one CPU thread.
    "digits-best": {
        "description": "Best digits ELBO found on validation: 512-256 MLP, batch 32, cosine "
                       "decay, refit on train + validation.",
        "model": {"arch": "mlp", "hidden": [512, 256], "latent_dim": 20},
        "train": {"batch_size": 32, "lr": 1e-3, "lr_schedule": "cosine", "epochs": 330,
                  "refit": True},
    },
    "beta4": {
        "description": "beta = 4 with a linear warm-up: fewer, more disentangled dimensions.",
        "model": {"latent_dim": 10},
        "train": {"beta": 4.0, "beta_schedule": "linear:2000"},
    },
    # Bernoulli on grey digits collapses at beta >= 4 (checkpoints/build.sh); a Gaussian with
    # sigma = 0.3 keeps a beta sweep informative. About 10 s a member on one thread.
    "digits-sweep": {
        "description": "A quick digits model for beta sweeps: 256 MLP, z = 10, Gaussian.",
        "model": {"arch": "mlp", "hidden": [256], "latent_dim": 10, "likelihood": "gaussian",
                  "sigma": 0.3},
        "train": {"epochs": 100, "batch_size": 64, "lr_schedule": "cosine"},
    },
    "tiny-live": {
        "description": "A small 2-D model that a class can watch train, paced.",
        "model": {"arch": "mlp", "hidden": [128], "latent_dim": 2},
        "train": {"epochs": 60, "batch_size": 64},
    },
    # A live run for a lesson (ui/train_form.py paces it at 10 steps/s): 72 epochs of 21
    # steps last about 2.5 minutes, and at half the usual learning rate the pictures keep
    # improving for the first minute instead of the first 20 s, at a speed a class can follow.
    "lesson-live": {
        "description": "A 2-D digits model for a lesson: trains in about 2.5 minutes, slow "
                       "enough to talk over.",
        "model": {"arch": "mlp", "hidden": [128], "latent_dim": 2},
        "train": {"epochs": 72, "batch_size": 64, "lr": 5e-4},
    },
    "shapes-conv": {
        "description": "Burgess-style conv beta-VAE for 32x32 shapes.",
        "model": {"arch": "conv", "hidden": [256, 256], "latent_dim": 10,
                  "conv_channels": [32, 32, 32, 32]},
        "train": {"batch_size": 64, "lr": 5e-4, "epochs": 8},
    },
}
