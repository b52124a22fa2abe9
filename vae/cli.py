"""`python -m vae ...`: train, evaluate, encode, sample and manage checkpoints.

CHECKPOINT and --out are filesystem paths the user chose (docs/design.md §5). Errors a user can fix
print one sentence and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vae import checkpoint_zips, checkpoints
from vae.data import DataError
from vae.model_config import ConfigError, kind_label, parse_hidden
from vae.presets import PRESETS

if TYPE_CHECKING:  # torch is imported only by the commands that need it
    from vae.runner import RunResult, SaveFailed

# Flags that map one-to-one onto config fields: flag dest -> (section, field).
MODEL_FLAGS = {"arch": "arch", "latent_dim": "latent_dim", "likelihood": "likelihood",
               "hidden": "hidden", "activation": "activation", "sigma": "sigma",
               "learn_sigma": "learn_sigma"}
TRAIN_FLAGS = {"beta": "beta", "beta_schedule": "beta_schedule", "free_bits": "free_bits",
               "binarize": "binarize", "epochs": "epochs", "batch_size": "batch_size",
               "lr": "lr", "lr_schedule": "lr_schedule", "early_stopping": "early_stopping",
               "optimizer": "optimizer", "seed": "seed", "threads": "threads",
               "device": "device", "weight_decay": "weight_decay", "ema": "ema",
               "refit": "refit", "objective": "objective", "capacity": "capacity"}


def _hidden(text: str) -> list[int]:
    try:
        return list(parse_hidden(text))
    except ValueError as err:  # argparse prints an ArgumentTypeError's sentence as it is
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_train_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="digits",
                        help="digits, shapes, fashion, mnist:DIR, npz:FILE, images:DIR or "
                        "images:FILE.zip")
    parser.add_argument("--class-names", type=lambda text: text.split(","), metavar="A,B,...",
                        help="names of the classes in label order, for labels that are numbers")
    parser.add_argument("--model", choices=["vae", "cvae"], default="vae")
    parser.add_argument("--arch", choices=["mlp", "conv"])
    parser.add_argument("--latent-dim", type=int)
    parser.add_argument("--beta", type=float)
    parser.add_argument("--beta-schedule", metavar="constant|linear:STEPS|sigmoid:T0:RATE|"
                        "cyclical:PERIOD")
    parser.add_argument("--objective", choices=["betavae", "betatcvae"],
                        help="betatcvae: beta weights only the KL's total correlation")
    parser.add_argument("--capacity", metavar="CMAX:STEPS:GAMMA",
                        help="gamma * |KL - C| with C rising to CMAX nats over STEPS steps")
    parser.add_argument("--free-bits", type=float, metavar="K")
    parser.add_argument("--likelihood", choices=["bernoulli", "gaussian"])
    parser.add_argument("--sigma", type=float, help="the Gaussian likelihood's fixed sigma")
    parser.add_argument("--learn-sigma", action="store_true", default=None,
                        help="learn the Gaussian likelihood's sigma")
    parser.add_argument("--binarize", action="store_true", default=None,
                        help="train and test on a fixed binarization: a true log-likelihood")
    parser.add_argument("--hidden", type=_hidden, metavar="512,256")
    parser.add_argument("--activation", choices=["relu", "tanh", "elu"])
    parser.add_argument("--preset", choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"])
    parser.add_argument("--early-stopping", type=int, metavar="PATIENCE")
    parser.add_argument("--optimizer", choices=["adam", "adamw", "adagrad"])
    parser.add_argument("--weight-decay", type=float, metavar="WD",
                        help="decoupled for adamw, an L2 penalty for adam and adagrad")
    parser.add_argument("--ema", type=float, metavar="DECAY",
                        help="keep an exponential moving average of the weights (e.g. 0.999) "
                        "and save it")
    parser.add_argument("--refit", action="store_true", default=None,
                        help="train on train + validation, once settings are chosen")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto",
                        help="auto (the default): the GPU where CUDA has one, else the CPU; "
                             "config.json says which it was")
    parser.add_argument("--image-size", type=int, help="resize user images to this side")
    parser.add_argument("--rgb", action="store_true", help="keep colour in image folders")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vae", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a VAE or CVAE and save a checkpoint")
    _add_train_flags(train)
    train.add_argument("--resume", action="store_true", help="continue the run saved at --out")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--out", required=True, type=Path)

    sweep = sub.add_parser("sweep", help="train one model per beta and seed (same data and "
                           "budget); run it again to resume what is unfinished")
    sweep.add_argument("--betas", required=True, metavar="0.5,1,2,4,8")
    sweep.add_argument("--seeds", metavar="0,1,2", help="one member per beta and seed, named "
                       "NAME-bBETA-sSEED (seed 0 keeps NAME-bBETA); else every member has --seed")
    _add_train_flags(sweep)
    sweep.add_argument("--parallel", type=int, default=2, choices=[1, 2],
                       help="members trained at once, one torch thread each (default 2)")
    sweep.add_argument("--backend", choices=["local", "ray"], default="local",
                       help="local: jobs on this machine (default); ray: one Ray task per "
                            "member, on a Ray started for the run or the cluster at --address")
    sweep.add_argument("--address", metavar="HOST:PORT",
                       help="an existing Ray cluster's head (with --backend ray)")
    sweep.add_argument("--quiet", action="store_true", help="no progress lines")
    sweep.add_argument("--out", required=True, type=Path,
                       help="folder for the members, named after it: OUT/NAME-bBETA[-sSEED]")

    evaluate = sub.add_parser("evaluate", help="test-set ELBO, KL, active units, IWAE bound")
    evaluate.add_argument("checkpoint", type=Path)
    evaluate.add_argument("--iwae-samples", type=int, default=100, metavar="K")
    evaluate.add_argument("--json", action="store_true")

    encode = sub.add_parser("encode", help="encode the test split to an npz")
    encode.add_argument("checkpoint", type=Path)
    encode.add_argument("--out", required=True, type=Path)

    sample = sub.add_parser("sample", help="decode samples from the prior")
    sample.add_argument("checkpoint", type=Path)
    sample.add_argument("--n", type=int, default=16)
    sample.add_argument("--label", help="a class of a CVAE, by name or number")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True, type=Path)

    metrics = sub.add_parser("metrics", help="disentanglement metrics and the KL decomposition")
    metrics.add_argument("checkpoint", type=Path)
    metrics.add_argument("--json", action="store_true")
    for command in (evaluate, encode, metrics):
        command.add_argument("--threads", type=int, help="torch threads (default: all cores)")
        command.add_argument("--quiet", action="store_true", help="no progress bar")

    derive = sub.add_parser("derive", help="compute and keep what the app shows of checkpoints "
                            "(test figures, encodings, metrics, t-SNE map)")
    derive.add_argument("checkpoints", type=Path, nargs="+")
    derive.add_argument("--sample", action="store_true",
                        help="also keep a sample of the test images, so the model can be shown "
                        "where its data is not installed")

    warm = sub.add_parser("warm", help="derive what the app shows of every checkpoint that "
                          "lacks it (models trained here), so each page opens ready")
    warm.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    warm.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("list", help="list the checkpoints")
    rename = sub.add_parser("rename", help="rename a checkpoint (shipped ones are protected)")
    rename.add_argument("checkpoint", type=Path)
    rename.add_argument("new_name")
    delete = sub.add_parser("delete", help="delete a checkpoint (shipped ones are protected)")
    delete.add_argument("checkpoint", type=Path)
    export = sub.add_parser("export", help="export a checkpoint to one zip")
    export.add_argument("checkpoint", type=Path)
    export.add_argument("--out", required=True, type=Path)
    slim = sub.add_parser("slim", help="copy a checkpoint without its training state "
                          "(optimizer, snapshots): small, not resumable; how models are shipped")
    slim.add_argument("checkpoint", type=Path)
    slim.add_argument("--out", required=True, type=Path)
    import_ = sub.add_parser("import", help="import a checkpoint zip into checkpoints/runs")
    import_.add_argument("zip", type=Path)
    import_.add_argument("--name")
    return parser


def _spec(args: argparse.Namespace):
    from vae.runner import RunSpec

    def chosen(flags: dict) -> dict:
        return {key: getattr(args, dest) for dest, key in flags.items()
                if getattr(args, dest) is not None}

    return RunSpec(dataset=args.dataset, model=chosen(MODEL_FLAGS), train=chosen(TRAIN_FLAGS),
                   kind=args.model, image_size=args.image_size, rgb=args.rgb,
                   preset=args.preset, class_names=args.class_names)


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


class _Bar:
    """A one-line progress bar on stderr with the time left, redrawn at most ten times a
    second; `end()` closes its line."""

    def __init__(self, what: str, quiet: bool = False):
        self.what, self.quiet = what, quiet
        self.start = time.monotonic()
        self.last = -1.0

    def __call__(self, fraction: float, detail: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (now - self.last < 0.1 and fraction < 1 and not force):
            return
        self.last, elapsed = now, now - self.start
        left = f"{_duration(elapsed * (1 - fraction) / fraction)} left" if fraction > 0 else ""
        sys.stderr.write(f"\r{self.what} [{'#' * int(30 * fraction):<30}] {100 * fraction:5.1f}%"
                         f" {detail}{_duration(elapsed)} so far, {left}\x1b[K")
        sys.stderr.flush()

    def end(self) -> None:
        if not self.quiet and self.last >= 0:
            sys.stderr.write("\n")


class _Progress:
    """Training's bar: the epoch, samples per second, the current loss and validation ELBO."""

    def __init__(self, quiet: bool):
        self.bar = _Bar("training", quiet)
        self.first_step: int | None = None

    def __call__(self, trainer, record: dict) -> None:
        if self.first_step is None:  # a resumed run counts its speed from where it resumed
            self.first_step = trainer.step - 1
        seconds = max(time.monotonic() - self.bar.start, 1e-9)
        speed = (trainer.step - self.first_step) * trainer.config.batch_size / seconds
        epochs = trainer.history["epochs"]
        val = f" val ELBO {epochs[-1]['val_elbo']:.2f}," if epochs else ""
        loss = f" loss {record['loss']:.2f}," if record["kind"] == "step" else ""
        self.bar(trainer.step / max(trainer.total_steps, 1),
                 f"epoch {trainer.epoch}/{trainer.config.epochs}, beta {trainer.beta:.3g},"
                 f"{loss}{val} {speed:,.0f} samples/s, ", force=record["kind"] == "epoch")


def _save_again(failed: SaveFailed) -> RunResult:
    """The run trained but could not be written: in a terminal, keep it in memory and offer
    the save again once the user has freed the disk or fixed the permissions."""
    from vae.runner import RunResult, SaveFailed, write_error

    signal.signal(signal.SIGINT, signal.default_int_handler)  # training's handler is done
    while sys.stdin.isatty():
        sys.stderr.write(f"\nerror: {_printable(str(failed))} Press Enter to try the save "
                         "again, or Ctrl-C to give the run up. ")
        try:
            input()
            return RunResult(checkpoints.save(failed.out, **failed.files), failed.status,
                             failed.result)
        except OSError as err:
            failed = SaveFailed(write_error(failed.out, err), failed.out, failed.files,
                                failed.status, failed.result)
        except (KeyboardInterrupt, EOFError):
            break
    raise failed


def cmd_train(args: argparse.Namespace) -> int:
    from vae.runner import SaveFailed, prepare, train_run

    spec = _spec(args)
    if not args.resume and checkpoints.is_checkpoint(args.out):
        raise checkpoints.CheckpointError(
            f"{args.out} holds a checkpoint already; pass --resume to continue it, or choose "
            "another --out.")
    if not args.quiet:  # a first open of 60,000 images parses them: say why it waits
        sys.stderr.write(f"loading the data ({spec.dataset}) and building the model...\n")
    trainer, config, _ = prepare(spec, args.out, args.resume)

    def interrupt(signum, frame):  # first Ctrl-C: finish this step and save; second: abort
        signal.signal(signal.SIGINT, signal.default_int_handler)
        trainer.stop("interrupted (Ctrl-C)")

    signal.signal(signal.SIGINT, interrupt)
    progress = _Progress(args.quiet)
    try:
        result = train_run(spec, args.out, trainer=trainer, config=config, callbacks=(progress,))
    except SaveFailed as failed:
        result = _save_again(failed)
    progress.bar.end()
    print(f"{result.message} Saved to {args.out}.")
    if result.status == "stopped":
        print(f"Continue with: python -m vae train --resume --out {args.out}")
    return 1 if result.status == "failed" else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from vae import sweep
    from vae.jobs import JobManager

    betas = sweep.parse_betas(args.betas)
    seeds = sweep.parse_seeds(args.seeds) if args.seeds else None
    sweep.check_size(betas, seeds)
    spec = _spec(args)
    name = args.out.resolve().name
    if args.address and args.backend != "ray":
        raise ValueError("--address names a Ray cluster: add --backend ray.")
    study = sweep.members(spec, betas, name, seeds)
    left = sweep.unfinished(study, args.out)
    if len(left) < len(study):
        print(f"{len(study) - len(left)} of {len(study)} members are trained already; they "
              "are kept.")
    if args.backend == "ray" and left:
        return _sweep_on_ray(args, left, name)
    live = not args.quiet and sys.stderr.isatty()  # a log gets the lines, not the bar
    manager = JobManager(args.out, max_running=args.parallel, max_queued=len(left), threads=1)
    try:
        jobs = sweep.queue(manager, left, name)

        def interrupt(signum, frame):  # first Ctrl-C: every member saves; second: abort
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for job in jobs:
                if job.active:
                    manager.stop(job.id)

        signal.signal(signal.SIGINT, interrupt)
        reported: set[str] = set()
        while any(job.active for job in jobs):
            time.sleep(1.0)
            for job in jobs:  # a line per member as it ends, above the progress line
                if not job.active and job.id not in reported:
                    reported.add(job.id)
                    _clear_line(live)
                    print(f"{job.name}: {job.message or job.status}", flush=True)
            if live:
                running = [job for job in jobs if job.status == "running"]
                sys.stderr.write("\r" + " | ".join(
                    [f"{len(reported)} of {len(jobs)} done"]
                    + [f"{job.name.removeprefix(name + '-')} "
                       f"{100 * job.step / max(job.total_steps, 1):3.0f}%" for job in running]))
                sys.stderr.flush()
    finally:
        manager.shutdown()
    _clear_line(live)
    for job in jobs:
        if job.id not in reported:
            print(f"{job.name}: {job.message or job.status}")
    if any(job.status != "finished" for job in jobs):
        print("Resume with the same command; finished members are kept.")
        return 1
    print(f"Sweep '{name}' complete in {args.out}.")
    return 0


def _sweep_on_ray(args: argparse.Namespace, left: list, name: str) -> int:
    from vae import sweep_ray

    sweep_ray.import_ray()  # a missing Ray is one sentence, before anything starts
    failed = []
    results = sweep_ray.run(left, args.out, address=args.address, gpu=args.device == "cuda")
    try:
        for member, error in results:
            print(f"{member}: {'Training finished.' if error is None else f'failed: {error}'}",
                  flush=True)
            if error is not None:
                failed.append(member)
    except KeyboardInterrupt:
        results.close()  # cancels the members still out; the finished ones are saved
        print("Stopped; finished members are kept. Resume with the same command.")
        return 1
    if failed:
        print(f"{len(failed)} member(s) failed; run the same command again to train them.")
        return 1
    print(f"Sweep '{name}' complete in {args.out}.")
    return 0


def _clear_line(live: bool) -> None:
    if live:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def cmd_evaluate(args: argparse.Namespace) -> int:
    from vae.derived import evaluate_checkpoint

    result = _with_bar(args, f"evaluating (K = {args.iwae_samples})", evaluate_checkpoint,
                       iwae_samples=args.iwae_samples)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.checkpoint} on the test split ({result['n_examples']} examples), "
          f"{result['units']}:")
    for key in ("elbo", "recon", "kl", "log_likelihood"):
        print(f"  {key:15s} {result[key]:10.3f}")
    print(f"  active units    {result['active_units']} of {len(result['kl_per_dim'])}")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from vae.derived import encode_split

    codes = _with_bar(args, "encoding", encode_split)
    np.savez_compressed(args.out, **codes)
    print(f"Wrote the test split's encodings to {args.out}.")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from vae.images import save_grid
    from vae.latent import sample_prior

    model, ckpt = checkpoints.load_model(args.checkpoint)
    label = None if args.label is None else ckpt.class_index(args.label)
    x, y = sample_prior(model, args.n, label=label, seed=args.seed)
    if args.out.suffix.lower() == ".png":
        save_grid(x, args.out, columns=args.n if y is not None and args.label is None else None)
    elif args.out.suffix.lower() == ".npz":
        np.savez_compressed(args.out, **({"x": x} if y is None else {"x": x, "y": y}))
    else:
        raise DataError(f"{args.out}: --out must end in .npz or .png.")
    print(f"Wrote {len(x)} samples to {args.out}.")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    from vae.derived import disentanglement_metrics
    from vae.disentanglement import METRICS

    result = _with_bar(args, "measuring", disentanglement_metrics)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.checkpoint}: factors {', '.join(result['factor_names'])}")
    for key in METRICS:
        value = result[key]
        shown = f"n/a ({result[key + '_reason']})" if value is None else f"{value:.3f}"
        print(f"  {key:20s} {shown}")
    parts = result["kl_decomposition"]
    print("  KL {kl:.3f} = MI {mutual_information:.3f} + TC {total_correlation:.3f} "
          "+ dimension-wise {dimension_wise_kl:.3f}".format(**parts))
    return 0


def cmd_derive(args: argparse.Namespace) -> int:
    from vae.derived import derive_all

    for path in args.checkpoints:
        files = derive_all(path, sample=args.sample)
        print(f"{path}: {len(files)} derived files, {sum(f.stat().st_size for f in files):,} "
              "bytes.")
    return 0


def cmd_warm(args: argparse.Namespace) -> int:
    from vae import bundled_sample
    from vae.derived import derive_all, is_derived

    _threads(args)
    listed = checkpoints.list_checkpoints()
    cold = [ckpt for ckpt in listed if not is_derived(ckpt)]
    live = not args.quiet and sys.stderr.isatty()
    bar, failed = _Bar("warming", args.quiet), []
    for done, ckpt in enumerate(cold):
        detail = f"{ckpt.name} ({done + 1} of {len(cold)}), "
        bar(done / len(cold), detail, force=True)
        try:
            # A model that carries a sample of its test split keeps it (and its map) current.
            derive_all(ckpt.path, sample=bundled_sample.sample_file(ckpt).is_file(),
                       report=lambda f, done=done, detail=detail: bar((done + f) / len(cold),
                                                                      detail))
        except (DataError, ValueError, OSError, checkpoints.CheckpointError) as err:
            # The others can still be warmed.
            failed.append(ckpt.name)
            _clear_line(live)
            print(f"{ckpt.name}: not warmed: {_printable(str(err))}", flush=True)
    if cold:
        bar(1.0, force=True)
    bar.end()
    print(f"Warmed {len(cold) - len(failed)}, ready already {len(listed) - len(cold)}"
          + (f", not warmed {len(failed)} (said above)" if failed else "") + ".")
    return 1 if failed else 0


def cmd_list(args: argparse.Namespace) -> int:
    from vae.cached_figures import cached_evaluation

    rows = [("name", "dataset", "model", "z", "beta", "test ELBO")]
    for ckpt in checkpoints.list_checkpoints():
        cfg = ckpt.config
        # Never computed here: a 28x28 model's evaluation takes minutes (`evaluate` does it).
        figures = cached_evaluation(ckpt, iwae_samples=None)
        elbo = f"{figures['elbo']:.3f}" if figures else "not evaluated"
        rows.append((ckpt.name + ("" if ckpt.shipped else " (run)"), cfg["data"]["dataset"],
                     kind_label(cfg["model"]["num_classes"]).lower() + "/"
                     + cfg["model"]["arch"], str(cfg["model"]["latent_dim"]),
                     f"{cfg['train']['beta']:g}", elbo))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    print(f"Renamed to {checkpoints.rename(args.checkpoint, args.new_name)}.")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    checkpoints.delete(args.checkpoint)
    print(f"Deleted {args.checkpoint}.")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    print(f"Exported to {checkpoint_zips.export_zip(args.checkpoint, args.out)}.")
    return 0


def cmd_slim(args: argparse.Namespace) -> int:
    if checkpoints.is_checkpoint(args.out):
        raise checkpoints.CheckpointError(f"{args.out} holds a checkpoint already; delete it "
                                          "first or choose another --out.")
    ckpt = checkpoints.load(args.checkpoint)
    checkpoints.save(args.out, config=ckpt.config, weights=ckpt.weights(), history=ckpt.history)
    print(f"Wrote {args.out} (weights, config and history only).")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    print(f"Imported as {checkpoint_zips.import_zip(args.zip, name=args.name).path}.")
    return 0


def _with_bar(args: argparse.Namespace, what: str, compute, **kwargs):
    """`compute(args.checkpoint, report=..., **kwargs)` on --threads threads, with a progress
    bar that says what it is doing."""
    _threads(args)
    bar = _Bar(what, args.quiet)
    result = compute(args.checkpoint, report=bar, **kwargs)
    bar.end()
    return result


def _threads(args: argparse.Namespace) -> None:
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError("--threads must be at least 1.")
        import torch

        torch.set_num_threads(args.threads)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = globals()[f"cmd_{args.command}"]
    try:
        return command(args)
    except (DataError, ConfigError, checkpoints.CheckpointError, ValueError, OSError) as err:
        print(f"error: {_printable(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # what was finished is kept; what was under way is not written
        print("\nstopped by Ctrl-C; run the command again to finish it.", file=sys.stderr)
        return 130


def _printable(text: str) -> str:
    """Messages quote file and checkpoint names, which may hold a terminal's escape sequences
    or a right-to-left override: written as escapes (\\x1b, \\u202e), they cannot restyle
    the terminal or reorder the sentence."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
