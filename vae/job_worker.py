"""The inside of a training job's worker process (vae.jobs starts it): it trains the run,
applies the manager's commands between steps, and sends metrics and weight copies back."""

from __future__ import annotations

import select
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path

from vae.processes import exit_with_parent
from vae.runner import RunSpec, SaveFailed

# How often a worker sends a copy of the weights, and its buffered step records. The records
# come twice as often as the live page redraws (ui/live.py, every second), so each redraw has
# news; the weights once a second, as each copy has the server encode and decode pictures,
# which at every redraw took a fifth of a core while students' sliders waited for it. Every
# send wakes the queue's feeder thread, which takes the GIL from the training: at 0.1 s the
# sends cost a small model's job 1-2 % of its speed. Timeline snapshots travel with the
# records: early in a run one is taken nearly every step, and a message each woke the feeder
# thread as often.
WEIGHTS_INTERVAL_S = 1.0
METRICS_INTERVAL_S = 0.5


def unsaved_message(error: str) -> str:
    return (f"{error} The trained run is kept in memory: free some space or fix the "
            "permissions, then save it again.")


def numpy_files(files: dict) -> dict:
    """save()'s arguments with numpy arrays for tensors (they cross the event queue)."""
    tensors, meta = files["optimizer"]
    return {**files, "weights": numpy_weights(files["weights"]),
            "optimizer": (numpy_weights(tensors), meta),
            "snapshots": files["snapshots"] and numpy_weights(files["snapshots"])}


def numpy_weights(weights: dict) -> dict:
    return {k: v.numpy() for k, v in weights.items()}


class WorkerControl:
    """The trainer callback inside a worker: applies commands, paces, reports."""

    def __init__(self, job_id: str, conn: Connection, events):
        self.job_id, self.conn, self.events = job_id, conn, events
        self.buffer: list[dict] = []
        self.snapshots: dict[int, dict] = {}
        self.last_metrics = self.last_weights = 0.0
        self.paused = False
        self.pace = 0.0
        self.pace_origin = (0.0, 0)
        # Checked every step: Connection.poll builds a selector each call (~12 µs), a poll
        # object made once answers in about 1 µs.
        self.poller = select.poll()
        self.poller.register(conn.fileno(), select.POLLIN)

    def send(self, kind: str, payload) -> None:
        self.events.put((kind, self.job_id, payload))

    def apply(self, trainer, command: tuple) -> None:
        kind = command[0]
        if kind == "stop":
            trainer.stop("stopped by the user")
            self.paused = False
        elif kind == "pause":
            self.paused = True
        elif kind == "resume":
            self.paused = False
            self.pace_origin = (time.monotonic(), trainer.step)
        elif kind == "beta":
            trainer.set_beta(command[1])
            self.send("beta", trainer.history["beta_changes"][-1])
        elif kind == "pace":
            self.pace = command[1]
            self.pace_origin = (time.monotonic(), trainer.step)

    def poll(self, trainer, timeout: float = 0.0) -> None:
        if self.poller.poll(timeout * 1000):  # milliseconds
            self.apply(trainer, self.conn.recv())

    def __call__(self, trainer, record: dict) -> None:
        self.buffer.append(record)
        now = time.monotonic()
        if now - self.last_metrics > METRICS_INTERVAL_S:
            self.flush()
        if record["step"] in trainer.snapshots and record["kind"] == "step":
            self.snapshots[record["step"]] = numpy_weights(trainer.snapshots[record["step"]])
        if now - self.last_weights > WEIGHTS_INTERVAL_S:
            self.send("weights", numpy_weights(trainer.weights()))
            self.last_weights = now
        self.poll(trainer)
        while self.paused and not trainer.finished:
            self.flush()
            self.poll(trainer, 0.1)
        if self.pace and record["kind"] == "step":
            t0, s0 = self.pace_origin
            # A pace changed while waiting (to full speed: 0) ends the wait.
            while self.pace and not trainer.finished and (
                    delay := t0 + (trainer.step - s0) / self.pace - time.monotonic()) > 0:
                self.poll(trainer, min(delay, 0.05))

    def flush(self) -> None:
        if self.buffer:
            self.send("metrics", self.buffer)
            self.buffer = []
        if self.snapshots:
            self.send("snapshots", self.snapshots)
            self.snapshots = {}
        self.last_metrics = time.monotonic()


def worker_main(job_id: str, spec: dict, out: str, resume: bool, threads: int,
                 conn: Connection, events, parent_pid: int) -> None:
    exit_with_parent(parent_pid)
    # Ctrl-C in a terminal reaches the whole process group: the parent decides, by a stop
    # command that lets this worker finish its step and save.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    from vae.runner import prepare, train_run

    torch.set_num_threads(threads)
    control = WorkerControl(job_id, conn, events)
    try:
        run_spec = RunSpec.from_dict(spec)
        trainer, config, _ = prepare(run_spec, Path(out), resume)
        trainer.config.threads = threads
        # A resumed run's curves so far: the live page draws the whole run, and where it
        # was continued.
        history = {k: trainer.history[k] for k in ("steps", "epochs", "beta_changes")}
        control.send("started", {"total_steps": trainer.total_steps, "step": trainer.step,
                                 "config": config, "history": history})
        result = train_run(run_spec, out, callbacks=(control,), trainer=trainer, config=config)
        control.flush()
        control.send("weights", numpy_weights(trainer.weights()))
        control.send("done", {"status": result.status, "message": result.message})
    except SaveFailed as err:  # trained, not written: the manager keeps it for save_again
        control.flush()
        control.send("weights", numpy_weights(err.files["weights"]))
        control.send("done", {"status": "unsaved", "message": unsaved_message(str(err)),
                              "unsaved": {"files": numpy_files(err.files),
                                          "status": err.status, "message": err.result}})
    except Exception as err:  # noqa: BLE001 - any failure must reach the user as a sentence
        control.flush()
        message = str(err) if isinstance(err, ValueError | OSError) else (
            f"Training failed: {type(err).__name__}: {err}")
        control.send("done", {"status": "failed", "message": message})
    finally:
        events.close()
        events.join_thread()
