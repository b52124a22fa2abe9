import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from vae import checkpoints, data
from vae.checkpoints import split_snapshots
from vae.data import model_inputs
from vae.evaluation import evaluate
from vae.losses import elbo_terms, training_objective
from vae.model_config import ModelConfig
from vae.models import VAE
from vae.runner import RunSpec, train_run
from vae.training import TrainConfig, Trainer, TrainingDiverged


def small_model(**kw):
    torch.manual_seed(0)
    return VAE(ModelConfig(image_shape=(1, 8, 8), latent_dim=kw.pop("latent_dim", 8),
                           hidden=(64,), **kw))


def test_a_trained_model_reconstructs_test_digits(digits):
    torch.manual_seed(0)
    model = VAE(ModelConfig(latent_dim=8, hidden=(128,)))
    Trainer(model, digits.train, digits.val, TrainConfig(epochs=60, batch_size=64)).run()
    x = torch.as_tensor(digits.test.images())
    with torch.no_grad():
        recon = model.decode_mean(model.encode(x)[0])
    error = ((recon - x) ** 2).mean().item()
    baseline = ((x - x.mean(0)) ** 2).mean().item()  # predicting the average digit
    assert error < 0.55 * baseline
    # A reconstruction of a 3 still reads as a 3 to a classifier that only saw real digits.
    flat = digits.train.images().reshape(len(digits.train), -1)
    classifier = LogisticRegression(max_iter=2000).fit(flat, digits.train.y)
    assert classifier.score(recon.flatten(1).numpy(), digits.test.y) >= 0.7


def test_history_holds_objective_and_beta1_terms(digits):
    trainer = Trainer(small_model(), digits.train, digits.val,
                      TrainConfig(epochs=2, beta=4.0))
    history = trainer.run()
    step = history["steps"][-1]
    assert step["beta"] == 4.0
    assert step["loss"] == pytest.approx(-step["recon"] + 4.0 * step["kl"], rel=1e-4)
    assert step["elbo"] == pytest.approx(step["recon"] - step["kl"], abs=1e-3)
    epoch = history["epochs"][-1]
    assert epoch["val_elbo"] == pytest.approx(epoch["val_recon"] - epoch["val_kl"], abs=1e-3)
    assert len(epoch["val_kl_per_dim"]) == 8


def test_each_step_is_one_plain_adam_step_on_that_batch_alone(digits):
    # The trainer clears gradients itself; were one left over, the second step would follow
    # the sum of two batches' gradients and part from the textbook loop below.
    trainer = Trainer(small_model(), digits.train, digits.val, TrainConfig(epochs=1))
    model = small_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=trainer.config.lr)
    generator = torch.Generator().manual_seed(trainer.config.seed)
    for batch in (torch.arange(0, 64), torch.arange(64, 128)):
        trainer.train_step(batch)
        x = torch.as_tensor(model_inputs(digits.train, "train", False))[batch].float()
        eps = torch.randn(len(batch), 8, generator=generator)
        terms = elbo_terms(model, x, None, eps)
        loss = training_objective(terms["recon"], terms["kl_per_dim"], 1.0).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for name, value in model.state_dict().items():
        torch.testing.assert_close(trainer.model.state_dict()[name], value)


def test_same_seed_same_weights_and_another_seed_differs(digits):
    def train(seed):
        trainer = Trainer(small_model(), digits.train, digits.val,
                          TrainConfig(epochs=2, seed=seed))
        trainer.run()
        return trainer.weights()

    a, b, c = train(1), train(1), train(2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_set_beta_replaces_the_schedule_and_is_marked(digits):
    def switch(trainer, record):
        if record["kind"] == "step" and record["step"] == 5:
            trainer.set_beta(0.25)

    trainer = Trainer(small_model(), digits.train, digits.val,
                      TrainConfig(epochs=1, beta=2.0, beta_schedule="linear:100"),
                      callbacks=(switch,))
    history = trainer.run()
    betas = [s["beta"] for s in history["steps"]]
    assert betas[:2] == pytest.approx([0.0, 2.0 / 100])
    assert betas[5:] == [0.25] * (len(betas) - 5)
    assert history["beta_changes"] == [{"step": 5, "beta": 0.25}]


def test_stop_from_a_callback_ends_within_one_step(digits):
    trainer = Trainer(small_model(), digits.train, digits.val, TrainConfig(epochs=50),
                      callbacks=(lambda t, r: t.step == 7 and t.stop("test"),))
    trainer.run()
    assert trainer.step == 7
    assert trainer.history["stopped"] == "test"


def test_non_finite_loss_stops_with_the_step_and_keeps_good_weights(digits):
    poisoned = type(digits.train)(digits.train.images().copy())
    poisoned.x[200:] = np.nan  # batches past the first ones hold NaN pixels
    trainer = Trainer(small_model(), poisoned, digits.val, TrainConfig(epochs=3, batch_size=64))
    with pytest.raises(TrainingDiverged, match=r"step \d+") as err:
        trainer.run()
    assert "learning rate" in str(err.value)
    assert all(torch.isfinite(w).all() for w in trainer.weights().values())


@pytest.mark.parametrize("stop_after_it", [False, True])
def test_a_non_finite_gradient_rolls_back_to_finite_weights(digits, stop_after_it):
    """A NaN gradient with a finite loss: its step ruins the weights, and the run goes back,
    whether the next step sees it or a stop request arrives first."""
    trainer = Trainer(small_model(), digits.train, digits.val, TrainConfig(epochs=5,
                                                                           batch_size=64))
    poisoned_at = trainer.steps_per_epoch + 3

    def poison(grad):
        return grad * float("nan") if trainer.step + 1 == poisoned_at else grad

    trainer.parameters[0].register_hook(poison)
    if stop_after_it:
        trainer.callbacks.append(
            lambda t, record: t.stop("stopped") if t.step == poisoned_at else None)
    with pytest.raises(TrainingDiverged, match=r"non-finite at step \d+"):
        trainer.run()
    assert all(torch.isfinite(w).all() for w in trainer.weights().values())


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_weights_never_leave_the_trainer_with_one_non_finite_value(digits, bad):
    trainer = Trainer(small_model(), digits.train, digits.val, TrainConfig(epochs=1))
    assert trainer.weights()  # finite: copied out
    with torch.no_grad():
        trainer.parameters[-1][-1] = bad  # the last value of the last tensor alone
    with pytest.raises(TrainingDiverged, match="non-finite"):
        trainer.weights()


def test_early_stopping_stops_and_restores_the_best_validation_weights(digits):
    trainer = Trainer(small_model(), digits.train, digits.val,
                      TrainConfig(epochs=400, lr=3e-3, early_stopping=3))
    history = trainer.run()
    assert trainer.epoch < 400
    assert "early stopping" in history["stopped"]
    assert trainer.validation_terms()["val_elbo"] == pytest.approx(
        max(e["val_elbo"] for e in history["epochs"]), abs=1e-3)  # history keeps 6 digits


@pytest.mark.parametrize("options", [
    {"optimizer": "adam", "lr_schedule": "cosine"},
    {"optimizer": "adagrad", "lr_schedule": "constant"},
    # the EMA is state too: the checkpoint holds the average, the raw weights ride along
    {"optimizer": "adamw", "weight_decay": 0.01, "ema": 0.9, "lr_schedule": "cosine"},
])
def test_resume_mid_epoch_continues_exactly(tmp_path, options):
    spec = RunSpec(model={"hidden": [32], "latent_dim": 4},
                   train={"epochs": 3, "batch_size": 100, **options})
    whole = train_run(spec, tmp_path / "whole")
    stop_at = [17]  # mid-epoch: 13 steps an epoch

    def stopper(trainer, record):
        if trainer.step == stop_at[0]:
            trainer.stop("interrupted")

    part = train_run(spec, tmp_path / "part", callbacks=(stopper,))
    assert part.status == "stopped"
    resumed = train_run(spec, tmp_path / "part", resume=True)
    assert resumed.status == "finished"
    a, b = whole.checkpoint.weights(), resumed.checkpoint.weights()
    assert all(torch.equal(a[k], b[k]) for k in a)
    snaps = split_snapshots(resumed.checkpoint.snapshots())
    assert list(snaps) == list(split_snapshots(whole.checkpoint.snapshots()))


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal needs a machine without CUDA")
def test_asking_for_cuda_without_one_is_refused_in_a_sentence(tmp_path):
    with pytest.raises(ValueError, match="this machine has none; pass --device cpu or auto"):
        train_run(RunSpec(train={"epochs": 1, "device": "cuda"}), tmp_path / "r")


def test_snapshots_are_log_spaced_and_at_most_fifty(tmp_path):
    result = train_run(RunSpec(model={"hidden": [16]}, train={"epochs": 30}), tmp_path / "r")
    steps = list(split_snapshots(result.checkpoint.snapshots()))
    assert 20 <= len(steps) <= 50
    assert steps[0] == 1 and steps[-1] == 30 * 11
    assert np.diff(steps)[:5].max() < np.diff(steps)[-5:].min()  # dense early, sparse late


def test_diverged_run_saves_last_good_weights_with_a_message(tmp_path):
    result = train_run(RunSpec(model={"hidden": [16]}, train={"epochs": 5, "lr": 1e6}),
                       tmp_path / "r")
    assert result.status == "failed"
    assert "non-finite at step" in result.message
    weights = checkpoints.load(tmp_path / "r").weights()
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_binarized_inputs_are_a_fixed_draw(digits, monkeypatch):
    a = model_inputs(digits.test, "test", True)
    assert a.dtype == np.uint8 and set(np.unique(a)) <= {0, 255}
    assert abs(a.mean() / 255 - digits.test.images().mean()) < 0.01
    # Drawn a slice at a time (no float copy of a large split): the same draw.
    monkeypatch.setattr(data, "BINARIZE_ROWS", 7)
    assert np.array_equal(a, model_inputs(digits.test, "test", True))
    assert math.isclose(model_inputs(digits.test, "test", False).max(), 1.0)


def test_new_train_options_round_trip_and_are_validated():
    config = TrainConfig(optimizer="adamw", weight_decay=0.01, ema=0.999, refit=True)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig().to_dict()["ema"] == 0.0 and not TrainConfig().refit
    for bad in ({"ema": 1.0}, {"ema": -0.1}, {"weight_decay": -1.0}, {"optimizer": "sgd"}):
        with pytest.raises(ValueError, match="Invalid training config"):
            TrainConfig(**bad)
    with pytest.raises(ValueError, match="refit trains on"):
        TrainConfig(refit=True, early_stopping=5)


def test_ema_weights_differ_from_raw_and_validate_at_least_as_well(digits):
    def train(**options):
        config = TrainConfig(epochs=40, batch_size=64, lr=3e-3, **options)
        trainer = Trainer(small_model(), digits.train, digits.val, config)
        trainer.run()
        result = evaluate(trainer.model, digits.val.images(), iwae_samples=1, passes=10)
        return trainer, result["elbo"]

    raw, raw_elbo = train()
    averaged, ema_elbo = train(ema=0.99)
    assert not all(torch.equal(a, b) for a, b in
                   zip(raw.weights().values(), averaged.weights().values(), strict=True))
    # The model the caller holds and the weights saved are both the average.
    assert all(torch.equal(a, b) for a, b in zip(
        averaged.model.state_dict().values(), averaged.weights().values(), strict=True))
    assert ema_elbo >= raw_elbo
    assert averaged.history["epochs"][-1]["val_elbo"] == pytest.approx(
        averaged.validation_terms()["val_elbo"], abs=1e-3)  # history keeps 6 digits


def test_weight_decay_shrinks_the_weights(digits):
    def norm(weight_decay):
        config = TrainConfig(epochs=3, optimizer="adamw", weight_decay=weight_decay)
        trainer = Trainer(small_model(), digits.train, digits.val, config)
        trainer.run()
        return sum(w.pow(2).sum() for w in trainer.weights().values()).sqrt().item()

    assert norm(10.0) < 0.9 * norm(0.0)  # AdamW shrinks by lr * wd = 1 % a step


def test_refit_trains_on_train_plus_validation(tmp_path, digits):
    assert len(digits.train) + len(digits.val) == 1437
    result = train_run(RunSpec(model={"hidden": [16]}, train={"epochs": 1, "refit": True,
                                                               "batch_size": 100}),
                       tmp_path / "r")
    history = result.checkpoint.history
    assert history["epochs"][-1]["step"] == 15  # ceil(1437 / 100); train alone takes 13
    assert result.checkpoint.config["train"]["refit"] is True
    trainer = Trainer(small_model(), digits.train, digits.val, TrainConfig(refit=True))
    assert len(trainer.train_x) == len(trainer.train_y) == 1437
    assert torch.equal(trainer.train_x[-len(digits.val):], trainer.val_x)


def test_snapshots_are_budgeted_by_bytes(digits, tmp_path, monkeypatch):
    from vae import training

    model = VAE(ModelConfig(hidden=(32,), latent_dim=2))
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    monkeypatch.setattr(training, "MAX_SNAPSHOT_BYTES", int(3.5 * size))
    spec = RunSpec(model={"hidden": [32], "latent_dim": 2}, train={"epochs": 5, "threads": 1})
    result = train_run(spec, tmp_path / "run")
    steps = sorted(split_snapshots(result.checkpoint.snapshots()))
    last = 5 * math.ceil(len(digits.train) / 128)
    assert len(steps) == 3 and steps[0] == 1 and steps[-1] == last  # first, middle, last
    assert (result.checkpoint.version / "snapshots.safetensors").stat().st_size < 3.5 * size
