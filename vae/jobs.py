"""Trainings in worker processes (docs/design.md §2): commands in, metrics and weight snapshots out.
This is the manager, in the server or the CLI; vae.job_worker is the inside of a worker.

A worker is a spawned process, so a training step never holds the server's GIL, a stop is a
real stop, and a crash stays in the worker. It exits by itself within a second of its parent's
death. The manager keeps a job record on disk so a restarted server can show what was
interrupted, and it runs at most `max_running` jobs, queueing up to `max_queued` more.

A run whose final save fails (disk full, permissions) ends "unsaved": the manager keeps what
the save would have written, so `save_again` can write it once the cause is fixed.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import queue
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from vae import checkpoints, job_worker
from vae.files import write_atomic
from vae.processes import context, pid_alive, start
from vae.runner import RunSpec, write_error

ACTIVE = ("queued", "running", "paused")
MAX_KEPT_STEPS = 4000
SPEED_WINDOW_S = 10.0


class JobError(RuntimeError):
    """A request the manager refuses; the message is one sentence for the user."""


@dataclass
class Job:
    id: str
    name: str
    out: str
    spec: dict
    owner: str = ""
    resume: bool = False
    study: str = ""  # the sweep a member belongs to: its queued members wait as one entry
    status: str = "queued"
    message: str = ""
    created: float = field(default_factory=time.time)
    pid: int | None = None
    step: int = 0
    total_steps: int = 0
    beta: float | None = None
    pace: float = 0.0
    # Live data, not persisted: step/epoch records, the latest weights, timeline snapshots.
    steps: list[dict] = field(default_factory=list, repr=False)
    epochs: list[dict] = field(default_factory=list, repr=False)
    beta_changes: list[dict] = field(default_factory=list, repr=False)
    weights: dict | None = field(default=None, repr=False)
    snapshots: dict[int, dict] = field(default_factory=dict, repr=False)
    config: dict | None = field(default=None, repr=False)  # the run's config.json content
    # An unsaved run: what its save would have written, and its result once written.
    unsaved: dict | None = field(default=None, repr=False)
    # (arrival time, step) of the latest metric messages: the training speed.
    marks: list[tuple[float, int]] = field(default_factory=list, repr=False)

    RECORD_FIELDS = ("id", "name", "out", "spec", "owner", "resume", "study", "status", "message",
                     "created", "pid", "step", "total_steps")

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def holds_out(self) -> bool:
        """Whether the job may still write its folder: active, or unsaved and kept."""
        return self.active or self.status == "unsaved"

    def steps_per_second(self) -> float | None:
        """Training speed over the last SPEED_WINDOW_S of messages; None until it is known."""
        if len(self.marks) < 2:
            return None
        (t0, s0), (t1, s1) = self.marks[0], self.marks[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 and s1 > s0 else None

    def record(self) -> dict:
        data = asdict(self)
        return {k: data[k] for k in self.RECORD_FIELDS}


class JobManager:
    def __init__(self, root: Path | None = None, *, max_running: int = 1, max_queued: int = 8,
                 threads: int = 1, idle: bool = False):
        self.root = Path(root or checkpoints.RUNS_DIR)
        self.records_dir = self.root / ".jobs"
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self.max_running, self.max_queued, self.threads = max_running, max_queued, threads
        self.idle = idle  # workers train on what other programs leave (vae/processes.py)
        self._ctx = context()
        self._events = self._ctx.Queue()
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._procs: dict[str, tuple[mp.process.BaseProcess, Connection]] = {}
        self._closing = threading.Event()
        self._load_records()
        self._pump = threading.Thread(target=self._pump_events, name="job-events", daemon=True)
        self._pump.start()

    # ---- public API -------------------------------------------------------------------
    def submit(self, spec: RunSpec, name: str, *, owner: str = "", resume: bool = False,
               out: Path | None = None, study: str = "", pace: float = 0.0) -> Job:
        """Queue a training; raises JobError with a sentence when it cannot be accepted. The
        members of one `study` take one place in the queue, however many there are. `pace`
        (steps a second, 0 = full speed) holds from the worker's first step, whoever watches."""
        out = Path(out) if out else checkpoints.resolve_name(name, self.root)
        if not pace >= 0:
            raise JobError("The pace must be a number of steps per second >= 0.")
        with self._lock:
            if any(j.active and Path(j.out) == out for j in self._jobs.values()):
                raise JobError(f"A job for '{name}' is already queued or running; wait for it "
                               "or pick another name.")
            if any(j.holds_out and Path(j.out) == out for j in self._jobs.values()):
                raise JobError(f"A run of '{name}' is waiting to be saved; save it again or "
                               "discard it first, or pick another name.")
            if not resume and checkpoints.is_checkpoint(out):
                raise JobError(f"A model named '{name}' exists already; pick another name or "
                               "continue training it.")
            queued = [j for j in self._jobs.values() if j.status == "queued"]
            waiting = len({j.study or j.id for j in queued})
            if not (study and any(j.study == study for j in queued)) and \
                    waiting >= self.max_queued:
                raise JobError(f"The job queue is full ({self.max_queued} waiting); try again "
                               "when a job has finished.")
            job = Job(uuid.uuid4().hex[:8], name, str(out), spec.to_dict(), owner, resume, study,
                      pace=float(pace))
            self._jobs[job.id] = job
            self._write(job)
            self._start_queued()
            return job

    def jobs(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def get(self, job_id: str) -> Job:
        with self._lock:
            if job_id not in self._jobs:
                raise JobError(f"There is no job '{job_id}'.")
            return self._jobs[job_id]

    def pause(self, job_id: str) -> None:
        self._command(job_id, ("pause",), "paused")

    def resume(self, job_id: str) -> None:
        self._command(job_id, ("resume",), "running")

    def set_beta(self, job_id: str, beta: float) -> None:
        """Set beta from the next step on; the run records each change (the Train page's β
        slider sends one when it is let go, or once its keys have rested)."""
        if not (math.isfinite(beta) and beta >= 0):
            raise JobError("beta must be a number >= 0.")
        self._command(job_id, ("beta", float(beta)))

    def continue_run(self, job_id: str, beta: float, epochs: int, *, owner: str = "") -> Job:
        """A new job that trains an ended job's saved run `epochs` more epochs at `beta` and its
        pace, from its weights, optimizer and counters (the resume of docs/design.md §5); the
        run's history marks the step where it continued. Raises JobError with a sentence."""
        if not (math.isfinite(beta) and beta >= 0):
            raise JobError("beta must be a number >= 0.")
        if not (isinstance(epochs, int) and epochs >= 1):
            raise JobError("Continue for at least one more epoch.")
        job = self.get(job_id)
        if job.holds_out:
            raise JobError(f"Job '{job.name}' is {job.status}: continue it once it has ended "
                           "and been saved.")
        try:
            ckpt = checkpoints.load(job.out)
        except (checkpoints.CheckpointError, OSError):
            raise JobError(f"Job '{job.name}' saved no checkpoint, so there is nothing to "
                           "continue; start a new run.") from None
        if not ckpt.resumable:
            raise JobError(f"Model '{job.name}' holds no training state, so it cannot be "
                           "continued; start a new run.")
        done = ckpt.history.get("resume", {}).get("epoch", len(ckpt.history["epochs"]))
        # On the CPU, as the Models page continues a run: the app trains there.
        spec = RunSpec(train={"epochs": done + epochs, "beta": float(beta), "device": "cpu"})
        return self.submit(spec, job.name, owner=owner, resume=True, out=Path(job.out),
                           pace=job.pace)

    def set_pace(self, job_id: str, steps_per_second: float) -> None:
        """Limit a job to this many steps a second (0 = as fast as it goes)."""
        if not steps_per_second >= 0:
            raise JobError("The pace must be a number of steps per second >= 0.")
        self._command(job_id, ("pace", float(steps_per_second)))
        self.get(job_id).pace = float(steps_per_second)

    def stop(self, job_id: str) -> None:
        with self._lock:
            job = self.get(job_id)
            if job.status == "queued":
                self._finish(job, "stopped", "Stopped before it started.")
            elif job.active:
                self._command(job_id, ("stop",))

    def save_again(self, job_id: str) -> Job:
        """Write an unsaved run's checkpoint (after the disk was freed or the permissions fixed);
        raises JobError with the reason when it fails again, keeping the run for another try."""
        with self._lock:
            job = self.get(job_id)
            if job.status != "unsaved" or job.unsaved is None or job.unsaved.get("saving"):
                raise JobError(f"Job '{job.name}' is {job.status}: there is nothing to save.")
            unsaved = job.unsaved
            unsaved["saving"] = True  # one writer per checkpoint: a second press waits its turn
        try:
            checkpoints.save(job.out, **_torch_files(unsaved["files"]))
        except OSError as err:
            with self._lock:
                unsaved["saving"] = False
                job.message = job_worker.unsaved_message(write_error(Path(job.out), err))
                self._write(job)
            raise JobError(job.message) from None
        with self._lock:
            job.unsaved = None
            self._finish(job, unsaved["status"], f"{unsaved['message']} Saved on a later try.")
        return job

    def discard(self, job_id: str) -> None:
        """Drop an unsaved run: its folder keeps whatever was saved before."""
        with self._lock:
            job = self.get(job_id)
            if job.status != "unsaved" or job.unsaved is None or job.unsaved.get("saving"):
                raise JobError(f"Job '{job.name}' is {job.status}: there is nothing to discard.")
            job.unsaved = None
            self._finish(job, "failed", "The unsaved run was discarded; the last checkpoint "
                         "saved before it, if any, is kept.")

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.get(job_id).active:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"Job {job_id} still {self.get(job_id).status}.")
            time.sleep(0.05)
        return self.get(job_id)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every job (saving what is done), then end the workers and the event thread."""
        with self._lock:
            for job in self._jobs.values():
                if job.active:
                    self.stop(job.id)
        deadline = time.monotonic() + timeout
        for proc, _ in list(self._procs.values()):
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        self._closing.set()
        self._pump.join()
        self._drain()

    # ---- internals ----------------------------------------------------------------------
    def _controllable(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.status not in ("running", "paused") or job_id not in self._procs:
            raise JobError(f"Job '{job.name}' is {job.status}, so it cannot take that.")
        return job

    def _command(self, job_id: str, command: tuple, status: str | None = None) -> None:
        with self._lock:
            job = self._controllable(job_id)
            self._procs[job_id][1].send(command)
            if status:
                job.status = status
                self._write(job)

    def _start_queued(self) -> None:
        running = sum(j.status in ("running", "paused") for j in self._jobs.values())
        for job in sorted(self._jobs.values(), key=lambda j: j.created):
            if running >= self.max_running or self._closing.is_set():
                return
            if job.status != "queued":
                continue
            parent_end, child_end = self._ctx.Pipe()
            proc = start(job_worker.worker_main, (job.id, job.spec, job.out, job.resume,
                                                  self.threads, child_end, self._events,
                                                  os.getpid()), name=f"vae-job-{job.id}",
                         idle=self.idle)
            child_end.close()
            if job.pace:  # read before the worker's first step, as any later command is
                parent_end.send(("pace", job.pace))
            self._procs[job.id] = (proc, parent_end)
            job.status, job.pid = "running", proc.pid
            self._write(job)
            running += 1

    def _pump_events(self) -> None:
        while not self._closing.is_set():
            try:
                event = self._events.get(timeout=0.2)
            except queue.Empty:
                event = None
            with self._lock:
                if event:
                    self._handle(*event)
                self._reap()

    def _drain(self) -> None:
        with self._lock:
            while True:
                try:
                    self._handle(*self._events.get_nowait())
                except (queue.Empty, OSError, ValueError):
                    break
            self._reap()

    def _handle(self, kind: str, job_id: str, payload) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if kind == "started":
            job.total_steps = payload["total_steps"]
            job.step = payload["step"]
            job.config = payload.get("config")
            history = payload["history"]  # a resumed run's so far
            job.steps = _thinned(history["steps"])
            job.epochs, job.beta_changes = history["epochs"], history["beta_changes"]
            if job.beta_changes:
                job.beta = job.beta_changes[-1]["beta"]
            self._write(job)  # once: a restarted server shows "step N of TOTAL"
        elif kind == "metrics":
            for record in payload:
                (job.steps if record["kind"] == "step" else job.epochs).append(record)
                job.step = record["step"]
                job.beta = record.get("beta", job.beta)
            job.steps = _thinned(job.steps)
            now = time.monotonic()
            job.marks = [m for m in job.marks if now - m[0] <= SPEED_WINDOW_S] + [(now, job.step)]
        elif kind == "beta":
            job.beta_changes.append(payload)
        elif kind == "weights":
            job.weights = payload
        elif kind == "snapshots":
            job.snapshots.update(payload)
        elif kind == "done":
            if "unsaved" in payload:
                job.unsaved = payload["unsaved"]
            self._finish(job, payload["status"], payload["message"])

    def _finish(self, job: Job, status: str, message: str) -> None:
        job.status, job.message = status, message
        if job.id in self._procs:
            proc, conn = self._procs.pop(job.id)
            proc.join(timeout=5)
            conn.close()
        if status != "unsaved" and checkpoints.is_checkpoint(job.out):
            # Saved: pages read the run from its checkpoint now. Its live copies (weights,
            # up to 50 snapshots, thousands of records) would otherwise stay in the server for
            # as long as it runs, one set per job.
            job.weights, job.snapshots, job.steps, job.epochs = None, {}, [], []
        self._write(job)
        self._start_queued()

    def _reap(self) -> None:
        """A worker that died without reporting (killed, out of memory) fails its job."""
        for job_id, (proc, _) in list(self._procs.items()):
            if not proc.is_alive() and self._events.empty():
                self._finish(self._jobs[job_id], "failed",
                             f"The training process ended unexpectedly (exit code "
                             f"{proc.exitcode}); its last saved checkpoint is kept.")

    def _write(self, job: Job) -> None:
        write_atomic(self.records_dir / f"{job.id}.json", json.dumps(job.record()).encode())

    @staticmethod
    def _interrupted(job: Job) -> str:
        """Say what is left of a job the server's end cut off: its last saved checkpoint."""
        try:
            saved = checkpoints.load(job.out).history.get("resume", {}).get("step")
        except (checkpoints.CheckpointError, OSError):
            saved = None
        if saved is None:
            return ("The server stopped while this job was active, before it saved anything; "
                    "start it again.")
        job.step = saved  # the record's step is where it started; the checkpoint is where it is
        return (f"The server stopped while this job was active; its checkpoint saved at step "
                f"{saved} is kept: continue it from the Models page, or from the command line "
                "with --resume.")

    def _load_records(self) -> None:
        """Jobs a previous server left active, whose worker is gone, become 'interrupted'."""
        for path in sorted(self.records_dir.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                job = Job(**{k: data[k] for k in Job.RECORD_FIELDS if k in data})
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if job.active and not (job.status != "queued" and pid_alive(job.pid)):
                job.status = "interrupted"
                job.message = self._interrupted(job)
                self._write(job)
            elif job.status == "unsaved":  # what it kept in memory went with the server
                job.status = "failed"
                job.message = (f"{job.message.split(' The trained run')[0]} The server stopped "
                               "before it was saved; the last checkpoint saved before, if any, "
                               "is kept.")
                self._write(job)
            if not job.active:
                self._jobs[job.id] = job


def _thinned(steps: list[dict]) -> list[dict]:
    """Every other record, as often as needed to keep at most MAX_KEPT_STEPS."""
    while len(steps) > MAX_KEPT_STEPS:
        steps = steps[::2]
    return steps


def _torch_files(files: dict) -> dict:
    import torch

    def tensors(arrays: dict) -> dict:
        return {k: torch.from_numpy(v) for k, v in arrays.items()}

    return {**files, "weights": tensors(files["weights"]),
            "optimizer": (tensors(files["optimizer"][0]), files["optimizer"][1]),
            "snapshots": files["snapshots"] and tensors(files["snapshots"])}
