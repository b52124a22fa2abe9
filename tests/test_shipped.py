"""The models that ship in checkpoints/: what a teacher gets with no training."""

import json

import numpy as np
import pytest
import torch

from vae import bundled_sample, checkpoints, decoder_payload, projection, sweep
from vae.cached_figures import cached_evaluation, evaluation_file
from vae.derived import (
    ELBO_ONLY,
    cached_metrics,
    encode_split,
    encodings_file,
    evaluate_checkpoint,
    metrics_file,
    tsne_file,
)
from vae.disentanglement import compute_mig
from vae.latent import posterior_handful

SWEEP = [f"shapes-sweep-{member}{seed}" for member in ("b1", "b2", "b4", "b8", "tc12")
         for seed in ("", "-s1", "-s2")]
# One 2-D recipe at four β, whose posteriors Explore and Map draw as rings.
FASHION_2D = {"fashion-vae-2d-b0_25": 0.25, "fashion-vae-2d": 1.0, "fashion-vae-2d-b4": 4.0,
              "fashion-vae-2d-b64": 64.0}
FASHION = ["fashion-vae", *FASHION_2D, "fashion-cvae"]
LATENT_DIMS = {"digits-vae-2d": 2, "digits-vae-20d": 20, "digits-betavae-10d": 10,
               "digits-cvae": 8, **dict.fromkeys(SWEEP, 10), "fashion-vae": 16,
               **dict.fromkeys(FASHION_2D, 2), "fashion-cvae": 16}
SHIPPED = list(LATENT_DIMS)
# The README's budgets: a 28x28 model's folder (its bundled sample included) and decoder
# payload are bigger than an 8x8 or 32x32 one's (1 MB = 10^6 bytes, as the README counts).
PAYLOAD_BYTES = {"small": 1_000_000, "28x28": 3_000_000}


def budget(name):
    return "28x28" if name in FASHION else "small"


def shipped(name):
    return checkpoints.SHIPPED_DIR / name


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_loads_small_and_slim(name):
    model, ckpt = checkpoints.load_model(shipped(name))
    assert ckpt.shipped
    if budget(name) == "28x28":
        size = sum(f.stat().st_size for f in ckpt.path.rglob("*") if f.is_file())
        assert size <= 5 * 10**6, f"{name} is {size:,} bytes with its sample"
    else:
        size = sum(f.stat().st_size for f in ckpt.version.rglob("*") if f.is_file())
        assert size < 2 * 2**20, f"{name} is {size / 2**20:.2f} MB"
        derived = sum(f.stat().st_size for f in (ckpt.path / checkpoints.DERIVED).glob("*"))
        assert derived < 2**20, f"{name}'s derived data is {derived / 2**20:.2f} MB"
    assert ckpt.optimizer() is None and ckpt.snapshots() is None
    assert model.config.latent_dim == LATENT_DIMS[name]


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_decoder_reaches_the_page_within_its_budget(name):
    # What the latent pad's component is sent, as the README promises.
    model, _ = checkpoints.load_model(shipped(name))
    size = len(json.dumps(decoder_payload.decoder_payload(model)).encode())
    assert size < PAYLOAD_BYTES[budget(name)], f"{name}'s decoder payload is {size:,} bytes"


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_carries_what_the_app_shows_of_it(name, monkeypatch):
    # A fresh clone reads these instead of computing for minutes; a model or a definition
    # changed without `make checkpoints` fails here, where the app would recompute.
    ckpt = checkpoints.load(shipped(name))
    monkeypatch.setattr(checkpoints, "CACHE_DIR", ckpt.path / "no-cache-here")
    # A 28x28 model keeps its sample's codes, not the whole test split's (quick to compute).
    split = bundled_sample.SPLIT if name in FASHION else "test"
    files = [evaluation_file(ckpt, ELBO_ONLY), encodings_file(ckpt, split), tsne_file(ckpt),
             tsne_file(ckpt, split), metrics_file(ckpt)]
    assert all(file.is_file() and file.parent == ckpt.path / checkpoints.DERIVED
               for file in files), files
    evaluation = cached_evaluation(ckpt, iwae_samples=ELBO_ONLY)
    assert evaluation["n_examples"] > 0
    assert cached_metrics(ckpt)["mig"] is not None
    codes = encode_split(ckpt.path, split)
    assert projection.load_cached(tsne_file(ckpt, split), len(codes["mu"])) is not None
    assert projection.load_cached(tsne_file(ckpt), evaluation["n_examples"]) is not None


def test_shipped_figures_are_what_the_code_computes_now():
    ckpt = checkpoints.load(shipped("digits-vae-20d"))
    fresh = evaluate_checkpoint(ckpt.path, iwae_samples=ELBO_ONLY, use_cache=False)
    stored = cached_evaluation(ckpt, iwae_samples=ELBO_ONLY)
    for key in ("elbo", "recon", "kl", "kl_per_dim", "active_dims"):
        # rel 1e-5, and 1e-8 nats for collapsed dimensions, whose KL is float32 rounding
        assert stored[key] == pytest.approx(fresh[key], rel=1e-5, abs=1e-8), key
    stored = encode_split(ckpt.path)
    computed = encode_split(ckpt.path, use_cache=False)
    assert stored.keys() == computed.keys()
    assert all(np.allclose(stored[k], computed[k], atol=1e-6) for k in stored)


def test_digits_vae_20d_reaches_the_elbo_target():
    result = evaluate_checkpoint(shipped("digits-vae-20d"), use_cache=False)
    assert -result["elbo"] <= 23.8
    assert result["log_likelihood"] > result["elbo"]
    assert checkpoints.load(shipped("digits-vae-20d")).config["train"]["beta"] == 1.0


def test_beta_vae_uses_fewer_dimensions_than_the_plain_vae():
    beta = evaluate_checkpoint(shipped("digits-betavae-10d"), iwae_samples=1, use_cache=False)
    plain = evaluate_checkpoint(shipped("digits-vae-20d"), iwae_samples=1, use_cache=False)
    assert checkpoints.load(shipped("digits-betavae-10d")).config["train"]["beta"] >= 4
    assert beta["active_units"] < plain["active_units"]
    assert beta["kl"] < plain["kl"]


def test_shapes_model_reconstructs_position_and_size():
    model, ckpt = checkpoints.load_model(shipped("shapes-sweep-b4"))
    from vae.data import load_dataset

    test = load_dataset("shapes").test
    x = torch.as_tensor(test.images(np.arange(0, len(test), 10)))
    with torch.no_grad():
        recon = model.decode_mean(model.encode(x)[0])
    error = ((recon - x) ** 2).mean().item()
    baseline = ((x - x.mean(0)) ** 2).mean().item()
    assert error < 0.3 * baseline


def test_the_shapes_study_has_three_seeds_of_one_recipe_and_budget_per_beta():
    members = sweep.find_sweeps(checkpoints.list_checkpoints([checkpoints.SHIPPED_DIR]))
    assert [m.name for m in members["shapes-sweep"]] == SWEEP
    recipes = set()
    for member in members["shapes-sweep"]:
        train = dict(member.config["train"])
        del train["beta"], train["objective"], train["seed"]
        recipes.add(str(sorted(train.items())) + str(member.config["model"]))
    assert len(recipes) == 1
    groups = sweep.by_beta(members["shapes-sweep"])
    assert len(groups) == 5
    assert all([sweep.seed_of(m) for m in group] == [0, 1, 2] for group in groups)


def contingency_mi(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information of two discrete arrays in nats, from their contingency table."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    joint = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(joint, (ia, ib), 1)
    joint /= joint.sum()
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    seen = joint > 0
    return float((joint[seen] * np.log(joint[seen] / outer[seen])).sum())


def test_contingency_mi_on_a_table_worked_by_hand():
    # p(a, b): (0, 0) 1/2, (0, 1) 1/4, (1, 1) 1/4; p(a) = 3/4, 1/4; p(b) = 1/2, 1/2
    a, b = np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1])
    by_hand = 0.5 * np.log(4 / 3) + 0.25 * np.log(2 / 3) + 0.25 * np.log(2)
    assert contingency_mi(a, b) == pytest.approx(by_hand, abs=1e-15)
    assert contingency_mi(a, b) == pytest.approx(contingency_mi(1 - a, 5 - 2 * b))  # relabelled
    assert contingency_mi(np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1])) == 0


def independent_mig(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> float:
    """MIG as disentanglement_lib computes it, written apart from vae.disentanglement:
    20 equal-width bins over each code dimension's range, mutual information from the
    contingency table, the gap between the two best dimensions over the factor's entropy."""
    binned = np.stack([np.digitize(c, np.histogram(c, bins)[1][:-1]) for c in codes.T], 1)
    mi = np.array([[contingency_mi(f, b) for f in factors.T] for b in binned.T])
    entropy = np.array([contingency_mi(f, f) for f in factors.T])
    top = np.sort(mi, axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / entropy))


@pytest.mark.parametrize("name", SWEEP)
def test_two_implementations_of_mig_agree_on_every_sweep_member(name):
    codes = encode_split(shipped(name))
    project = compute_mig(codes["mu"], codes["factors"])["mig"]
    assert abs(project - independent_mig(codes["mu"], codes["factors"])) <= 1e-9


def test_high_beta_disentangles_more_than_beta_1():
    mig = {name: compute_mig(encode_split(shipped(name))["mu"],
                             encode_split(shipped(name))["factors"])["mig"]
           for name in ("shapes-sweep-b1", "shapes-sweep-tc12")}
    assert mig["shapes-sweep-tc12"] >= 0.35
    assert mig["shapes-sweep-tc12"] >= mig["shapes-sweep-b1"] + 0.05


def test_the_fashion_2d_models_differ_only_in_beta():
    recipes = set()
    for name, beta in FASHION_2D.items():
        config = checkpoints.load(shipped(name)).config
        assert config["train"]["beta"] == beta
        recipes.add(json.dumps({**config["train"], "beta": None}, sort_keys=True) +
                    json.dumps(config["model"], sort_keys=True))
    assert len(recipes) == 1


def test_posteriors_shrink_at_low_beta_and_swell_into_the_prior_at_high_beta():
    # The rings Explore and Map draw, encoded afresh: a dear KL (high β) pushes each q(z|x)
    # towards the prior N(0, 1); a cheap one (low β) pins each image to a point. With 784
    # Bernoulli pixels information is cheap: at β = 4 σ is still about 0.1, near 1 at β = 64.
    sd = {}
    for name, beta in FASHION_2D.items():
        codes = encode_split(shipped(name), bundled_sample.SPLIT, use_cache=False)
        sd[beta] = float(posterior_handful(codes["mu"], codes["logvar"], codes["y"]).sd.mean())
    assert sd[0.25] < sd[1.0] < sd[4.0] < sd[64.0], sd
    assert sd[64.0] > 0.5 > sd[4.0], sd
