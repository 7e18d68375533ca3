"""Learning-rate schedules as pure functions of the step (so a resumed run needs no state).

* ``cosine``: linear warmup from lr/warmup to lr over ``warmup_steps``, then cosine decay to
  ``min_lr_ratio * lr`` reached at exactly the run's last step (Hoffmann et al. 2022, Sec. 3 and
  App. B: the cosine cycle length must match the run, and decays 10x; nanoGPT's ``get_lr``).
* ``wsd``: warmup, constant, then a linear decay to ``min_lr_ratio * lr`` over the last
  ``decay_steps`` (or ``decay_fraction`` of the) steps (Hu et al. 2024 "MiniCPM"; Hägele et al.
  2024), or with ``decay_shape: sqrt`` the "1 - sqrt" cooldown that Hägele et al. 2024 (Sec. 3,
  Fig. 5) find better than linear: lr = min + (peak - min) x (1 - sqrt(progress)). With
  ``decay_steps: 0`` it is warmup then constant: the trunk of cooldown branches
  (``flops_fit.branches``).
"""

from __future__ import annotations

import math

import numpy as np


def lr_at(step: int, lr: float, schedule: dict, total_steps: int) -> float:
    """Learning rate for optimiser step ``step`` (0-based) of a run of ``total_steps`` steps;
    ``schedule``: the spec's, as :func:`flops_fit.hparams.resolve_schedule` resolved it."""
    warmup = int(schedule["warmup_steps"])
    if step < warmup:
        return lr * (step + 1) / warmup
    name = schedule["name"]
    last = max(total_steps - 1, 1)
    if name == "cosine":
        if last <= warmup:
            return lr
        progress = min(1.0, (step - warmup) / (last - warmup))  # 0 after warmup .. 1 at the last step
        min_lr = lr * float(schedule["min_lr_ratio"])
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)
    if name == "wsd":
        decay = schedule.get("decay_steps")
        if decay is None:
            decay = max(1, round(float(schedule["decay_fraction"]) * total_steps))
        start = max(warmup, total_steps - int(decay))  # first step of the decay phase
        if step < start:
            return lr
        progress = min(1.0, (step - start + 1) / max(total_steps - start, 1))  # .. 1 at the last step
        if schedule.get("decay_shape", "linear") == "sqrt":
            progress = math.sqrt(progress)
        min_lr = lr * float(schedule["min_lr_ratio"])  # a cooldown's floor: a trunk (no decay) has none
        return lr - progress * (lr - min_lr)
    raise ValueError(f"schedule.name {name!r} is not one of cosine, wsd")


def eval_steps(steps: int, points: int) -> list[int]:
    """``points`` log-spaced steps in [1, steps], strictly increasing, always ending at ``steps``."""
    if steps <= 0:
        return []
    raw = np.geomspace(1, steps, max(2, points)) if steps > 1 else np.array([1.0])
    out: list[int] = []
    for value in raw:
        s = max(int(round(value)), out[-1] + 1 if out else 1)
        if s > steps:
            break
        out.append(s)
    if out[-1] != steps:
        out.append(steps)
    return out
