"""Train one run of the plan and write its loss JSON (schema in docs/contracts.md).

Command line (what the Snakemake train rule runs, one process per run; under ``torchrun`` for
data-parallel runs: ``torchrun --standalone --nproc-per-node P -m flops_fit.cli train ...``)::

    flops-fit train --spec '{"run_id": "C1e12-d32", ...}' \\
        --data results/data/shakespeare --out results/demo/runs/C1e12-d32.json \\
        --checkpoint-dir results/demo/checkpoints/C1e12-d32 --threads 1

(``--spec`` takes the spec inline, as the rule passes its ``params.spec``, or a JSON file), or
from Python: ``train_run(spec, data_dir, out_json, checkpoint_dir, threads=1, log=print)``.
Cooldown branches (``flops_fit.branches``) run through the same command: a trunk segment (spec
``kind: trunk``) writes its branch-point checkpoint and a marker JSON instead of a run JSON, and
a branch or a later segment starts from the marker given with ``--start MARKER``.
Exit status: 0 (ok or diverged: divergence is data), 2 (a spec or input it cannot run, one
line), ``EXIT_PREEMPTED`` = 128 + SIGTERM = 143 after SIGTERM (checkpointed; a rerun resumes).

The log has a time-stamped line at the start, one per evaluation (step, units seen, validation
loss), a progress line every 10 s (``LOG_EVERY_S``; a hand-written spec may set
``training.log_every_s``) and one at the end.

What the job does, and the papers it follows:

* builds the run's model and data through ``flops_fit.tasks.build`` (a GPT on token windows, a
  ViT on images, or a configured class; ``flops_fit.families``); the loop below is the same for
  all of them, and "tokens" in the JSON counts the study's unit (``unit``: tokens, images, samples);
* trains exactly ``spec["steps"]`` AdamW steps of ``spec["batch_size"]`` samples (the planner
  turned the budget into steps: steps = C / (FLOPs per token x tokens per step)), with linear
  warmup and cosine decay to 10% over exactly the run (Hoffmann et al. 2022), or
  warmup-stable-decay; gradient clipping; weight decay on 2-D weights only (nanoGPT);
* evaluates the validation loss on a fixed, evenly strided set of ``eval.batches`` x
  ``batch_size`` validation samples (the same set for every evaluation and every run of a study
  with one batch size) at ``eval.points`` log-spaced steps and at the end (the curve feeds
  Chinchilla's Approach 1). Each evaluation costs about ``eval.batches`` / 3 training steps;
* samples training windows without replacement in a seeded permutation per epoch;
* is deterministic on CPU (one thread, seeded) and resumable: every
  ``training.checkpoint_minutes`` (or ``training.checkpoint_every_steps`` steps, or the environment
  variable ``FLOPS_FIT_CHECKPOINT_EVERY_STEPS``) it checkpoints atomically to ``checkpoint_dir``;
  a restarted job resumes from there and ends with exactly the losses of an uninterrupted run;
  SIGTERM (preemption) checkpoints at the end of the current step and stops (exit 143);
* treats divergence as data: a non-finite loss, or one above ``divergence_factor`` x the first
  step's loss, ends the run early with status ``diverged`` and the curve so far;
* runs on CPU by default, on CUDA with bf16 autocast (``training.dtype: bfloat16``), TF32,
  fused AdamW and optional ``torch.compile`` when ``training.device`` is ``cuda``, reading losses
  back every ``training.sync_every`` (16) steps so the host runs ahead of the GPU; data-parallel
  under ``torchrun`` (``flops_fit.training.distributed``).

The job reads top to bottom: :func:`set_up` (device, seeds, model, data, optimiser), :func:`resume`
(a checkpoint of this very spec, if any), :func:`train_loop` (steps, loss read-back, evaluation,
logging, checkpoints, SIGTERM), :func:`finish` (the last curve point and the run record of
``flops_fit.record``).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from flops_fit import record
from flops_fit.accounting import flops_per_unit
from flops_fit.io import atomic_write_json
from flops_fit.tasks import build
from flops_fit.training import checkpoint
from flops_fit.training.distributed import Dist
from flops_fit.training.optim import AdamW
from flops_fit.training.schedule import eval_steps, lr_at

TRAIN_LOSS_WINDOW = 10  # final train loss = mean over the last 10 steps
LOG_EVERY_S = 10.0  # progress line rhythm (seconds)
EXIT_PREEMPTED = 128 + signal.SIGTERM  # 143: what a shell reports for a process ended by SIGTERM


# --- set-up helpers ---------------------------------------------------------------------------
def process_start_time() -> float:
    """Wall-clock time at which this process started (Linux /proc; else now)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time()


def resolve_device(training: dict) -> torch.device:
    """The torch device of ``training.device``; one clear error if it is not available."""
    name = training.get("device", "cpu") or "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"training.device is 'cuda' but no CUDA device is available here (torch "
                f"{torch.__version__}, CUDA build {torch.version.cuda}, CUDA_VISIBLE_DEVICES="
                f"{os.environ.get('CUDA_VISIBLE_DEVICES')!r}); available: cpu. Set training.device: cpu "
                f"or run the job on a GPU node."
            )
        return torch.device("cuda")
    raise ValueError(f"training.device {name!r} is not supported; use 'cpu' or 'cuda'")


def autocast_context(device: torch.device, dtype: str | None):
    """bf16 autocast on CUDA by default (or when ``training.dtype`` is bfloat16); fp32 otherwise."""
    if dtype == "bfloat16" or (device.type == "cuda" and dtype in (None, "auto")):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """The model's own ``optimizer_groups`` if it has them, else nanoGPT's rule: weight decay on
    tensors of 2 or more dimensions (matmul and conv weights, embeddings), none on norms and biases."""
    if hasattr(model, "optimizer_groups"):
        return model.optimizer_groups(weight_decay)
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def make_optimizer(model: torch.nn.Module, opt: dict, device: torch.device):
    """AdamW (Loshchilov & Hutter 2019) with nanoGPT's decay groups: torch's fused kernel on CUDA,
    the light foreach ``flops_fit.training.optim.AdamW`` on CPU (same arithmetic, starts 1 s faster)."""
    groups = decay_groups(model, float(opt["weight_decay"]))  # the spec's resolved values (flops_fit.hparams)
    betas = (float(opt["beta1"]), float(opt["beta2"]))
    eps = float(opt["eps"])
    if device.type == "cuda":
        return torch.optim.AdamW(groups, lr=float(opt["lr"]), betas=betas, eps=eps, fused=True)
    return AdamW(groups, lr=float(opt["lr"]), betas=betas, eps=eps)


def _finite_or_none(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _mean_tail(losses: list[float], n: int = TRAIN_LOSS_WINDOW) -> float | None:
    tail = losses[-n:]
    return _finite_or_none(float(sum(tail) / len(tail))) if tail else None


class Preempted(RuntimeError):
    """SIGTERM (SLURM preemption, Snakemake cancel) arrived: the run checkpointed and stopped."""


def _log(msg: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} {msg}", flush=True)  # flushed, so progress reaches a job's log file as it happens


def _quiet(msg: str) -> None:
    pass  # ranks other than 0 of a data-parallel job


# --- the job's fixed parts and its progress ------------------------------------------------
@dataclass
class Job:
    """What stays fixed during a run: the spec, model, data, optimiser, device and cadences."""

    spec: dict
    task: object  # flops_fit.tasks.Task
    model: torch.nn.Module  # the parameters (checkpoints, clipping)
    core: torch.nn.Module  # the model, compiled if asked (evaluation)
    step_model: torch.nn.Module  # core, wrapped for data parallelism (training steps)
    optimizer: torch.optim.Optimizer
    device: torch.device
    dist: Dist
    amp: object  # autocast context (or a null context)
    log: object
    checkpoint_dir: str | os.PathLike
    spec_hash: str
    start: dict | None = None  # the trunk marker a branch or a trunk segment starts from

    @property
    def run_id(self) -> str:
        return self.spec.get("run_id", "run")

    @property
    def steps(self) -> int:
        return int(self.spec["steps"])

    @property
    def training(self) -> dict:
        return self.spec.get("training", {})

    @property
    def local_batch(self) -> int:
        return int(self.spec["batch_size"]) // self.dist.world

    @property
    def units_per_step(self) -> int:  # tokens (GPT), images (ViT), samples
        return int(self.spec["batch_size"]) * self.task.units_per_sample


@dataclass
class Progress:
    """What a run has done so far (all of it checkpointed, so a rerun continues exactly)."""

    step: int = 0
    curve: list = field(default_factory=list)
    losses: list = field(default_factory=list)  # training loss of every step
    initial_loss: float | None = None
    resumed_from: int | None = None
    start_step: int = 0  # a branch's (or trunk segment's) first step: its trunk's branch point
    prior: dict = field(default_factory=lambda: {"train_s": 0.0, "eval_s": 0.0, "wall_s": 0.0})  # earlier attempts
    status: str = "ok"
    last_loss: float | None = None
    first_step_at: float | None = None  # wall time of this attempt's first step
    eval_s: float = 0.0  # this attempt's evaluation seconds


# --- set-up ----------------------------------------------------------------------------------
def set_up(spec: dict, data_dir, checkpoint_dir, threads: int, log, start: dict | None = None) -> Job:
    """Device, seeds, the run's model and data (``flops_fit.tasks``), optimiser and autocast."""
    training = spec.get("training", {})
    if training.get("backend", "torch") != "torch":
        raise ValueError(f"train_run trains backend 'torch' only; got training.backend {training['backend']!r}")
    device = resolve_device(training)
    dist = Dist(device.type)
    if device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 matmuls on tensor cores (as nanoGPT)
        torch.backends.cudnn.allow_tf32 = True
    torch.set_num_threads(int(threads))
    random.seed(spec["seed"])
    np.random.seed(spec["seed"] % 2**32)
    torch.manual_seed(spec["seed"])
    task = build(spec, data_dir)  # the model's parameter counts must be the planner's
    model = task.model.to(device)
    if int(spec["batch_size"]) % dist.world:
        raise ValueError(f"batch_size {spec['batch_size']} is not a multiple of the {dist.world} data-parallel ranks")
    optimizer = make_optimizer(model, spec["optimizer"], device)
    core = torch.compile(model) if training.get("compile") else model
    return Job(
        spec=spec, task=task, model=model, core=core, step_model=dist.wrap(core), optimizer=optimizer,
        device=device, dist=dist, amp=autocast_context(device, training.get("dtype")),
        log=log if dist.main else _quiet, checkpoint_dir=checkpoint_dir, spec_hash=checkpoint.spec_hash(spec),
        start=start,
    )  # fmt: skip


# --- checkpoints -----------------------------------------------------------------------------
def resume(job: Job) -> Progress:
    """The progress of a checkpoint of this very spec (model, optimiser, RNG and data restored),
    else of the trunk's branch point it starts from (``job.start``), or a fresh start."""
    state = checkpoint.load(job.checkpoint_dir, job.spec_hash, log=job.log)
    if state is None and job.start is not None:
        return _start_from_trunk(job)
    if state is None:
        return Progress()
    _restore(job, state)
    step = int(state["step"])
    job.log(f"[{job.run_id}] resuming from step {step}/{job.steps}")
    return Progress(step=step, curve=list(state["curve"]), losses=list(state["losses"]),
                    initial_loss=state["initial_loss"], resumed_from=step, prior=dict(state["timing"]),
                    start_step=int(state.get("start_step", 0)))  # fmt: skip


def _start_from_trunk(job: Job) -> Progress:
    """Progress at the trunk's branch point (``flops_fit.branches``): the trunk's model, optimiser,
    RNG, data position and curve, as if this run had trained those steps itself."""
    trunk = job.spec["trunk"]
    step = int(trunk["start"] if job.spec.get("kind") == "trunk" else trunk["step"])
    state = checkpoint.load_point(job.start, trunk["hash"], step)
    _restore(job, state)
    job.log(f"[{job.run_id}] starting from trunk {job.start['trunk_id']} at step {step}/{job.steps}")
    return Progress(step=step, curve=list(state["curve"]), losses=list(state["losses"]),
                    initial_loss=state["initial_loss"], start_step=step)  # fmt: skip


def _restore(job: Job, state: dict) -> None:
    """Model, optimiser, RNG and data position from a checkpoint's ``state``."""
    job.model.load_state_dict(state["model"])
    job.optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"]["torch"])
    if job.device.type == "cuda" and state["rng"].get("cuda") is not None:
        torch.cuda.set_rng_state(state["rng"]["cuda"])
    job.task.position = int(state["sampler_position"])


def save_checkpoint(job: Job, p: Progress, loop_s: float, t_call: float, filename: str = checkpoint.FILENAME) -> bool:
    """Checkpoint the run after step ``p.step`` (rank 0 only), with the time spent so far."""
    if not job.dist.main:
        return True
    rng = {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state() if job.device.type == "cuda" else None}
    timing = {"train_s": p.prior["train_s"] + loop_s, "eval_s": p.prior["eval_s"] + p.eval_s,
              "wall_s": p.prior["wall_s"] + time.time() - t_call}  # fmt: skip
    trunk_hash = job.spec.get("trunk", {}).get("hash") if job.spec.get("kind") == "trunk" else None
    return checkpoint.save(job.checkpoint_dir, {
        "spec_hash": job.spec_hash, "step": p.step, "model": job.model.state_dict(),
        "optimizer": job.optimizer.state_dict(), "rng": rng, "sampler_position": job.task.position,
        "curve": p.curve, "losses": p.losses, "initial_loss": p.initial_loss, "timing": timing,
        "start_step": p.start_step, "trunk_hash": trunk_hash,
    }, log=job.log, filename=filename)  # fmt: skip


# --- evaluation ------------------------------------------------------------------------------
def evaluate(job: Job, p: Progress) -> dict:
    """Evaluate on the fixed validation set, append the curve point and log it; return the point."""
    metrics = job.task.evaluate(job.core, job.device, job.local_batch, job.amp)
    units = p.step * job.units_per_step
    point = {"step": p.step, "tokens": units, "flops": units * flops_per_unit(job.spec),
             "val_loss": _finite_or_none(metrics["val_loss"]), "train_loss": _mean_tail(p.losses)}  # fmt: skip
    if "val_accuracy" in metrics:
        point["val_accuracy"] = metrics["val_accuracy"]
    p.curve.append(point)
    accuracy = f" accuracy {point['val_accuracy']:.4f}" if "val_accuracy" in point else ""
    job.log(f"[{job.run_id}] eval step {p.step}/{job.steps} {job.task.unit} {units:.4g} "
            f"val loss {metrics['val_loss']:.4f}{accuracy}")  # fmt: skip
    return point


# --- the loop --------------------------------------------------------------------------------
@dataclass
class Clock:
    """This attempt's loop start, last progress line and last checkpoint (wall seconds)."""

    t0: float
    last_log: float
    last_ckpt: float
    start_step: int


@contextlib.contextmanager
def sigterm_flag():
    """A list that receives the signal number when SIGTERM arrives (handled in the main thread)."""
    received: list[int] = []
    old = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        yield received
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def train_loop(job: Job, p: Progress, stop: list[int], t_call: float) -> float:
    """Train from ``p.step`` to the end, a divergence, or SIGTERM (:class:`Preempted`); return the
    loop's seconds (evaluation included).

    Losses are read back from the device (a sync) at "sync points" only: every step on CPU, every
    ``training.sync_every`` (default 16) steps on CUDA so that the host runs ahead of the GPU, and
    always at this attempt's first step, the last step, evaluation points and checkpoint intervals.
    Divergence, SIGTERM, logging and checkpoints are decided there (on all ranks alike)."""
    spec, task, training = job.spec, job.task, job.training
    steps, curve_steps = job.steps, set(eval_steps(job.steps, int(spec["eval"]["points"])))
    if "eval_steps" in spec:  # a branch or trunk segment: the steps its stretch of the run evaluates at
        curve_steps = set(spec["eval_steps"])
    every_steps = int(os.environ.get("FLOPS_FIT_CHECKPOINT_EVERY_STEPS") or training.get("checkpoint_every_steps") or 0)
    sync_every = max(1, int(training.get("sync_every") or (16 if job.device.type == "cuda" else 1)))
    mine = slice(job.dist.rank * job.local_batch, (job.dist.rank + 1) * job.local_batch)  # this rank's share
    params, grad_clip = list(job.model.parameters()), float(spec["optimizer"]["grad_clip"])
    pending: list[torch.Tensor] = []  # losses of the steps since the last sync point
    clock = Clock(t0=time.time(), last_log=time.time(), last_ckpt=time.time(), start_step=p.step)
    while p.step < steps:
        lr = lr_at(p.step, float(spec["optimizer"]["lr"]), spec["schedule"], steps)
        for g in job.optimizer.param_groups:
            g["lr"] = lr
        batch = task.to(task.next_batch(), job.device, mine)  # this rank's share of the global batch
        with job.amp:
            loss, _ = task.forward(job.step_model, batch)
        pending.append(loss.detach())
        n = p.step + 1  # the step being taken (1-based)
        sync = p.first_step_at is None or n % sync_every == 0 or n in curve_steps or n == steps
        if (sync or (every_steps and n % every_steps == 0)) and _read_back(job, p, pending, stop):
            break  # diverged: the steps before the first bad loss are kept
        job.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # (DDP averages the gradients over ranks here)
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, grad_clip, foreach=True)
        job.optimizer.step()
        p.step += 1
        if p.step in curve_steps:
            te = time.time()
            val = evaluate(job, p)["val_loss"]
            p.eval_s += time.time() - te
            if val is None:
                p.status = "diverged"
                job.log(f"[{job.run_id}] diverged at step {p.step}: validation loss is not finite")
                break
        if not pending:  # at a sync point: log, checkpoint, stop (between them the losses are not read yet)
            _after_sync(job, p, stop, lr, clock, every_steps, t_call)
    return time.time() - clock.t0


def _read_back(job: Job, p: Progress, pending: list, stop: list[int]) -> bool:
    """Read the pending losses (mean over ranks) and any rank's stop request; record them, or the
    ones before the first bad loss; True when the run diverged."""
    flat = torch.cat([torch.stack(pending).double(), torch.tensor([float(bool(stop))], device=job.device).double()])
    if job.dist.enabled:
        job.dist.all_reduce_mean(flat)
    *values, stop_any = flat.tolist()
    pending.clear()
    if stop_any > 0 and not stop:
        stop.append(signal.SIGTERM)  # another rank was told to stop
    if p.first_step_at is None:
        p.first_step_at = time.time()
    if p.initial_loss is None:
        p.initial_loss = values[0]
    factor = float(job.training.get("divergence_factor") or math.inf)
    bad = next((i for i, v in enumerate(values) if not math.isfinite(v) or v > factor * p.initial_loss), None)
    if bad is None:
        p.losses.extend(values)
        p.last_loss = values[-1]
        return False
    p.status, p.step, p.last_loss = "diverged", p.step + 1 - len(values) + bad, values[bad]
    p.losses.extend(values[:bad])
    job.log(f"[{job.run_id}] diverged at step {p.step + 1}: loss {p.last_loss} (first {p.initial_loss:.4f})")
    return True


def _after_sync(job: Job, p: Progress, stop: list[int], lr: float, clock: Clock, every_steps: int, t_call) -> None:
    """At a sync point: the progress line, a periodic checkpoint, and SIGTERM's checkpoint-and-stop."""
    now, steps, ups = time.time(), job.steps, job.units_per_step
    if now - clock.last_log >= float(job.training.get("log_every_s", LOG_EVERY_S)) or p.step == steps:
        rate = (p.step - clock.start_step) * ups / max(now - clock.t0, 1e-9)
        eta = (steps - p.step) * ups / max(rate, 1e-9)
        job.log(f"[{job.run_id}] step {p.step}/{steps} {job.task.unit} {p.step * ups:.3g} loss {p.last_loss:.4f} "
                f"lr {lr:.2e} {job.task.unit}/s {rate:,.0f} eta {eta:.0f}s")  # fmt: skip
        clock.last_log = now
    every_s = 60.0 * float(job.training.get("checkpoint_minutes") or 0) or math.inf
    if p.step < steps and ((every_steps and p.step % every_steps == 0) or now - clock.last_ckpt >= every_s):
        save_checkpoint(job, p, now - clock.t0, t_call)
        clock.last_ckpt = time.time()
    if stop and p.step < steps:
        save_checkpoint(job, p, now - clock.t0, t_call)
        job.log(f"[{job.run_id}] signal {stop[0]}: checkpointed at step {p.step}/{steps}; stopping")
        job.dist.close()
        raise Preempted(f"run {job.run_id} stopped by signal {stop[0]} at step {p.step}")


# --- the record ------------------------------------------------------------------------------
def finish(job: Job, p: Progress, train_s: float, threads: int, t_call: float, t_process: float) -> dict:
    """The last curve point (unless the run stopped on an evaluation step) and the run record."""
    if p.step > 0 and not (p.curve and p.curve[-1]["step"] == p.step):
        evaluate(job, p)
    final_val = p.curve[-1]["val_loss"] if p.curve else None
    if p.status == "ok" and final_val is None:
        p.status = "diverged"
    final = {
        "train_loss": _mean_tail(p.losses) if p.status == "ok" else _finite_or_none(p.last_loss),
        "val_loss": final_val,
        "step": p.step,
    }
    if p.curve and "val_accuracy" in p.curve[-1]:
        final["val_accuracy"] = p.curve[-1]["val_accuracy"]
    trained = (p.step - p.start_step) * job.units_per_step  # a branch's own steps (throughput)
    timing = record.timing(job.spec, trained, wall_s=p.prior["wall_s"] + time.time() - t_call, train_s=train_s,
                           eval_s=p.prior["eval_s"] + p.eval_s, first_step_at=p.first_step_at,
                           process_start=t_process, call_start=t_call)  # fmt: skip
    prov = record.run_provenance(job.spec, job.device.type, "torch", threads, job.dist.world, p.resumed_from)
    return record.run_record(job.spec, status=p.status, params=job.task.counts,
                             data=job.task.data_record(p.step * int(job.spec["batch_size"])), curve=p.curve,
                             final=final, timing=timing, provenance=prov, trunk=job.start)  # fmt: skip


def finish_trunk(job: Job, p: Progress, train_s: float, t_call: float) -> dict:
    """A trunk segment's end: its branch-point checkpoint (``checkpoint.POINT``, kept for the
    branches) and the marker JSON that the branches take as input (``flops_fit.branches``)."""
    if p.step > 0 and not (p.curve and p.curve[-1]["step"] == p.step):
        evaluate(job, p)
    path = Path(job.checkpoint_dir) / checkpoint.POINT
    if p.status == "ok" and not save_checkpoint(job, p, train_s, t_call, filename=checkpoint.POINT):
        raise OSError(f"trunk {job.run_id}: could not write its branch-point checkpoint {path}")
    return record.trunk_marker(job.spec, status=p.status, step=p.step, checkpoint=str(path), curve=p.curve,
                               train_s=train_s, provenance=record.run_provenance(
                                   job.spec, job.device.type, "torch", 1, job.dist.world, p.resumed_from),
                               data=job.task.data_record(p.step * int(job.spec["batch_size"])))  # fmt: skip


# --- the job ---------------------------------------------------------------------------------
def train_run(
    spec: dict,
    data_dir: str | os.PathLike,
    out_json: str | os.PathLike,
    checkpoint_dir: str | os.PathLike,
    threads: int = 1,
    log=_log,
    start: dict | None = None,
) -> dict:
    """Train the run ``spec`` on the prepared data in ``data_dir``; write and return its JSON
    (a trunk segment's marker for a ``kind: trunk`` spec); ``start``: the trunk marker a branch
    or a later trunk segment starts from.

    Raises ValueError for a spec this job cannot run (backend, device, shape vs counts) and
    :class:`Preempted` after checkpointing when SIGTERM arrives; a diverged run returns normally.
    """
    t_call, t_process = time.time(), process_start_time()
    if start is not None and start.get("status") != "ok":  # a diverged trunk: this run is diverged too
        result = record.after_failed_trunk(spec, start, "torch")
        atomic_write_json(out_json, result)
        log(f"[{spec.get('run_id')}] trunk {result.get('diverged_in') or result['trunk']['diverged_in']} "
            f"diverged at step {start['step']}: recorded as diverged, not trained")  # fmt: skip
        return result
    job = set_up(spec, data_dir, checkpoint_dir, threads, log, start)
    p = resume(job)
    ranks = f", {job.dist.world} ranks" if job.dist.enabled else ""
    job.log(f"[{job.run_id}] {job.task.counts['total']:,} params, {job.steps} steps x {job.units_per_step} "
            f"{job.task.unit}, device {job.device}{ranks}")  # fmt: skip
    with sigterm_flag() as stop:
        train_s = p.prior["train_s"] + train_loop(job, p, stop, t_call)
    if spec.get("kind") == "trunk":
        result = finish_trunk(job, p, train_s, t_call)
        if job.dist.main:
            atomic_write_json(out_json, result)
            checkpoint.remove(checkpoint_dir)  # the periodic one (point.pt stays)
        job.dist.barrier()
        job.dist.close()
        job.log(f"[{job.run_id}] trunk {p.status}: step {p.step}/{job.steps}, {train_s:.1f}s")
        return result
    result = finish(job, p, train_s, threads, t_call, t_process)
    if job.dist.main:
        atomic_write_json(out_json, result)
        checkpoint.remove(checkpoint_dir)
    job.dist.barrier()
    job.dist.close()
    rate = result["timing"]["tokens_per_s"] or 0
    job.log(f"[{job.run_id}] {p.status}: step {p.step}/{job.steps}, val loss {result['final']['val_loss']}, "
            f"{train_s:.1f}s, {rate:,.0f} {job.task.unit}/s")  # fmt: skip
    return result
