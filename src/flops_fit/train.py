"""Train one run of the plan and write its loss JSON (schema in docs/contracts.md).

Command line (what the Snakemake train rule runs, one process per run)::

    python -m flops_fit.train --spec results/demo/specs/C1e12-d32.json \\
        --data results/data/shakespeare --out results/demo/runs/C1e12-d32.json \\
        --checkpoint-dir results/demo/checkpoints/C1e12-d32 --threads 1

or from Python: ``train_run(spec, data_dir, out_json, checkpoint_dir, threads=1, log=print)``
(``log`` gets one progress line every ``training.log_every_s`` seconds, default 10).

What the job does, and the papers it follows:

* builds the run's model and data through ``flops_fit.tasks.build`` (a GPT on token windows, a
  ViT on images, or a configured class); the loop below is the same for all of them, and
  "tokens" in the JSON counts the study's unit (``unit``: tokens, images, samples);
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
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch

from flops_fit.io import atomic_write_json
from flops_fit.provenance import provenance
from flops_fit.record import run_flops
from flops_fit.tasks import build
from flops_fit.training import checkpoint
from flops_fit.training.distributed import Dist
from flops_fit.training.optim import AdamW
from flops_fit.training.schedule import eval_steps, lr_at

SCHEMA_VERSION = 1
TRAIN_LOSS_WINDOW = 10  # final train loss = mean over the last 10 steps
EXIT_PREEMPTED = 128 + signal.SIGTERM  # 143: what a shell reports for a SIGTERM-killed process
LOG_EVERY_S = 10.0  # progress line rhythm (seconds); training.log_every_s overrides


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
    groups = decay_groups(model, float(opt.get("weight_decay", 0.0)))
    betas = (float(opt.get("beta1", 0.9)), float(opt.get("beta2", 0.95)))
    eps = float(opt.get("eps", 1e-8))
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
    print(msg, flush=True)  # flushed, so progress reaches a job's log file as it happens


def _quiet(msg: str) -> None:
    pass  # ranks other than 0 of a data-parallel job


# --- the job ------------------------------------------------------------------------------
def train_run(
    spec: dict,
    data_dir: str | os.PathLike,
    out_json: str | os.PathLike,
    checkpoint_dir: str | os.PathLike,
    threads: int = 1,
    log=_log,
) -> dict:
    """Train the run ``spec`` on the prepared data in ``data_dir``; write and return its JSON.

    Raises ValueError for a spec this job cannot run (backend, device, shape vs counts) and
    :class:`Preempted` after checkpointing when SIGTERM arrives; a diverged run returns normally.
    """
    t_call = time.time()
    t_process = process_start_time()
    training = spec.get("training", {})
    if training.get("backend", "torch") != "torch":
        raise ValueError(f"train_run trains backend 'torch' only; got training.backend {training['backend']!r}")
    device = resolve_device(training)
    dist = Dist(device.type)
    if device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 matmuls on tensor cores (as nanoGPT)
        torch.backends.cudnn.allow_tf32 = True
    if not dist.main:
        log = _quiet
    torch.set_num_threads(int(threads))
    random.seed(spec["seed"])
    np.random.seed(spec["seed"] % 2**32)
    torch.manual_seed(spec["seed"])
    run_id = spec.get("run_id", "run")

    # the run's model and data (a GPT on token windows, a ViT on images, a configured class):
    # flops_fit.tasks builds them; the model's parameter counts must be the planner's
    task = build(spec, data_dir)
    model = task.model.to(device)
    groups = task.counts
    steps, batch_size = int(spec["steps"]), int(spec["batch_size"])
    if batch_size % dist.world:
        raise ValueError(f"batch_size {batch_size} is not a multiple of the {dist.world} data-parallel ranks")
    local_batch = batch_size // dist.world
    mine = slice(dist.rank * local_batch, (dist.rank + 1) * local_batch)  # this rank's share of a batch
    units_per_step = batch_size * task.units_per_sample  # tokens (GPT), images (ViT), samples
    fpu = float(spec["flops_per_token"])  # training FLOPs per unit under the study's convention
    opt_cfg, schedule = spec["optimizer"], spec["schedule"]
    peak_lr, grad_clip = float(opt_cfg["lr"]), float(opt_cfg.get("grad_clip", 0.0))
    optimizer = make_optimizer(model, opt_cfg, device)
    core = torch.compile(model) if training.get("compile") else model
    step_model = dist.wrap(core)
    amp = autocast_context(device, training.get("dtype"))
    curve_steps = set(eval_steps(steps, int(spec.get("eval", {}).get("points", 12))))

    def evaluate() -> dict:
        """Mean loss (and accuracy, for classifiers) on the fixed validation set."""
        return task.evaluate(core, device, local_batch, amp)

    # resume from a checkpoint of this very spec, if any
    spec_hash = checkpoint.spec_hash(spec)
    every_steps = int(os.environ.get("FLOPS_FIT_CHECKPOINT_EVERY_STEPS") or training.get("checkpoint_every_steps") or 0)
    every_s = 60.0 * float(training.get("checkpoint_minutes") or 0) or math.inf
    state = checkpoint.load(checkpoint_dir, spec_hash, log=log)
    step, curve, losses, initial_loss, resumed_from = 0, [], [], None, None
    prior = {"train_s": 0.0, "eval_s": 0.0, "wall_s": 0.0}  # time spent by earlier attempts
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"]["torch"])
        if device.type == "cuda" and state["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(state["rng"]["cuda"])
        task.position = int(state["sampler_position"])
        step, curve, losses = int(state["step"]), list(state["curve"]), list(state["losses"])
        initial_loss, prior, resumed_from = state["initial_loss"], dict(state["timing"]), step
        log(f"[{run_id}] resuming from step {step}/{steps}")

    def save_checkpoint(loop_s: float, eval_s: float) -> None:
        if not dist.main:
            return
        rng = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state() if device.type == "cuda" else None,
        }
        timing = {"train_s": prior["train_s"] + loop_s, "eval_s": prior["eval_s"] + eval_s,
                  "wall_s": prior["wall_s"] + time.time() - t_call}  # fmt: skip
        checkpoint.save(checkpoint_dir, {
            "spec_hash": spec_hash, "step": step, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "rng": rng, "sampler_position": task.position,
            "curve": curve, "losses": losses, "initial_loss": initial_loss, "timing": timing,
        })  # fmt: skip

    def curve_point(metrics: dict) -> dict:
        units = step * units_per_step
        val = _finite_or_none(metrics["val_loss"])
        point = {"step": step, "tokens": units, "flops": units * fpu, "val_loss": val,
                 "train_loss": _mean_tail(losses)}  # fmt: skip
        if "val_accuracy" in metrics:
            point["val_accuracy"] = metrics["val_accuracy"]
        return point

    prov = provenance(device.type)
    factor = float(training.get("divergence_factor") or math.inf)
    log_every = float(training.get("log_every_s", LOG_EVERY_S))
    params = list(model.parameters())
    status, last_loss, first_step_at, eval_s = "ok", None, None, 0.0
    log(f"[{run_id}] {groups['total']:,} params, {steps} steps x {units_per_step} {task.unit}, "
        f"device {device}" + (f", {dist.world} ranks" if dist.enabled else ""))  # fmt: skip

    # SIGTERM (preemption, cancel): checkpoint at the end of the current step, then stop
    stop_signal: list[int] = []
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGTERM, lambda signum, frame: stop_signal.append(signum))
    # Losses are read back from the device (a sync) at "sync points" only: every step on CPU,
    # every ``training.sync_every`` (default 16) steps on CUDA so that the host runs ahead of the
    # GPU, and always at the first and last steps, evaluation points and checkpoint intervals.
    # Divergence, SIGTERM, logging and checkpoints are decided there (on all ranks alike).
    sync_every = max(1, int(training.get("sync_every") or (16 if device.type == "cuda" else 1)))
    pending: list[torch.Tensor] = []  # losses of the steps since the last sync point

    def sync_point(n: int) -> bool:  # after step n (1-based)
        return (
            first_step_at is None  # the first step of this attempt (timing, initial loss)
            or n % sync_every == 0
            or n in curve_steps
            or n == steps
            or bool(every_steps and n % every_steps == 0)
        )

    def read_back(values: list[torch.Tensor], stop: bool) -> tuple[list[float], bool]:
        """The pending losses as floats (mean over ranks) and whether any rank must stop."""
        flat = torch.cat([torch.stack(values).double(), torch.tensor([float(stop)], device=device).double()])
        if dist.enabled:
            dist.all_reduce_mean(flat)
        out = flat.tolist()
        return out[:-1], out[-1] > 0

    t0 = time.time()
    last_log = last_ckpt = t0
    start_step = step
    try:
        while step < steps:
            lr = lr_at(step, peak_lr, schedule, steps)
            for g in optimizer.param_groups:
                g["lr"] = lr
            batch = task.to(task.next_batch(), device, mine)  # this rank's share of the global batch
            with amp:
                loss, _ = task.forward(step_model, batch)
            pending.append(loss.detach())
            if sync_point(step + 1):  # read the losses back (all ranks at the same steps)
                values, stop = read_back(pending, bool(stop_signal))
                pending.clear()
                if stop and not stop_signal:
                    stop_signal.append(signal.SIGTERM)  # another rank was told to stop
                if first_step_at is None:
                    first_step_at = time.time()
                if initial_loss is None:
                    initial_loss = values[0]
                bad = next((i for i, v in enumerate(values) if not math.isfinite(v) or v > factor * initial_loss), None)
                if bad is not None:  # stop; report the steps before the first bad loss
                    status, step, last_loss = "diverged", step + 1 - len(values) + bad, values[bad]
                    losses.extend(values[:bad])
                    log(f"[{run_id}] diverged at step {step + 1}: loss {last_loss} (first {initial_loss:.4f})")
                    break
                losses.extend(values)
                last_loss = values[-1]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # (DDP averages the gradients over ranks here)
            if grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, grad_clip, foreach=True)
            optimizer.step()
            step += 1

            if step in curve_steps:
                te = time.time()
                metrics = evaluate()
                eval_s += time.time() - te
                curve.append(curve_point(metrics))
                val = metrics["val_loss"]
                if not math.isfinite(val):
                    status = "diverged"
                    log(f"[{run_id}] diverged at step {step}: validation loss {val}")
                    break
            if pending:  # between sync points: no logging, checkpoint or stop (losses not read yet)
                continue
            now = time.time()
            if now - last_log >= log_every or step == steps:
                rate = (step - start_step) * units_per_step / max(now - t0, 1e-9)
                eta = (steps - step) * units_per_step / max(rate, 1e-9)
                seen = step * units_per_step
                log(f"[{run_id}] step {step}/{steps} {task.unit} {seen:.3g} loss {last_loss:.4f} "
                    f"lr {lr:.2e} tok/s {rate:,.0f} eta {eta:.0f}s")  # fmt: skip
                last_log = now
            if step < steps and ((every_steps and step % every_steps == 0) or now - last_ckpt >= every_s):
                save_checkpoint(now - t0, eval_s)
                last_ckpt = time.time()
            if stop_signal and step < steps:
                save_checkpoint(now - t0, eval_s)
                log(f"[{run_id}] signal {stop_signal[0]}: checkpointed at step {step}/{steps}; stopping")
                dist.close()
                raise Preempted(f"run {run_id} stopped by signal {stop_signal[0]} at step {step}")
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
    train_s = prior["train_s"] + (time.time() - t0)  # the loop's time, evaluation included

    # the final point of the curve (already there unless the run stopped between eval points)
    if step > 0 and not (curve and curve[-1]["step"] == step):
        curve.append(curve_point(evaluate()))
    final_val = curve[-1]["val_loss"] if curve else None
    if status == "ok" and final_val is None:
        status = "diverged"

    seen = step * units_per_step
    result = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "study": spec.get("study"),
        "status": status,
        "spec": spec,
        "params": {k: groups[k] for k in ("total", "non_embedding", "embedding")},
        "flops": run_flops(spec, seen),  # under the study's convention and every other one
        "unit": task.unit,  # what "tokens" counts: tokens (GPT), images (ViT), samples
        "tokens": task.data_record(step * batch_size),
        "curve": curve,
        "final": {
            "train_loss": _mean_tail(losses) if status == "ok" else _finite_or_none(last_loss),
            "val_loss": final_val,
            "step": step,
            **({"val_accuracy": curve[-1]["val_accuracy"]} if curve and "val_accuracy" in curve[-1] else {}),
        },
        "optimizer": opt_cfg,
        "schedule": schedule,
        "timing": {
            "wall_s": prior["wall_s"] + time.time() - t_call,
            "train_s": train_s,
            "eval_s": prior["eval_s"] + eval_s,
            "tokens_per_s": seen / train_s if train_s > 0 else None,
            "flops_per_s": fpu * seen / train_s if train_s > 0 else None,
            "start_to_first_step_s": (first_step_at - t_process) if first_step_at else None,
            "call_to_first_step_s": (first_step_at - t_call) if first_step_at else None,
        },
        "provenance": {
            **prov,
            "backend": "torch",
            "threads": int(threads),
            "world_size": dist.world,
            "config_hash": spec_hash,
            "code_version": spec.get("code_version"),
            "resumed_from_step": resumed_from,
        },
    }
    if dist.main:
        atomic_write_json(out_json, result)
        checkpoint.remove(checkpoint_dir)
    dist.barrier()
    dist.close()
    log(f"[{run_id}] {status}: step {step}/{steps}, val loss {final_val}, {train_s:.1f}s, "
        f"{result['timing']['tokens_per_s'] or 0:,.0f} tok/s")  # fmt: skip
    return result
