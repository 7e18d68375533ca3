"""Per-run optimisation hyper-parameters from the study's ``training`` config (torch-free).

The planner calls :func:`resolve_hparams` for every run and :func:`resolve_schedule` once the
run's step count is known, so the resolved values are part of the run's spec (and of its
Snakemake params: change one and exactly the affected runs rerun). The training job only reads
the resolved numbers; it never re-derives them.

Rule (every key of ``training`` below is optional here; the config schema fills the defaults):

* Peak learning rate, by ``lr_scaling``:

  - ``constant``: ``lr`` for every size (right for a narrow band of tiny models where the
    optimum is flat, and what Hoffmann et al. 2022 do within one sweep; the default of custom
    models, the mock backend and hand-written specs);
  - ``inverse_width``: ``lr * lr_reference_size / d_model``, the muP-style 1/width rule for
    hidden weights (Yang et al. 2022);
  - ``kaplan``: ``0.003239 - 0.0001395 * ln(N)``, Kaplan et al. 2020, eq. D.1, floored at
    ``lr_min`` (default 1e-5). Kaplan's N is the non-embedding count; the planner passes N under
    the study's ``accounting.params`` convention;
  - ``sweep`` (the default of the built-in families, ``config.default_lr_scaling``): the rule
    ``eta*(N)`` fitted on the study's own learning-rate sweep
    (``flops_fit.lr_sweep``; results/{study}/lr/rule.json), rounded to 3 significant figures.
    ``None`` until the sweep has run (the planner's placeholder; no run trains with it).

* Batch size (sequences per step), by ``batch_scaling``: ``constant`` (``batch_size``, default:
  it keeps tokens per step, the validation set and the evaluation cost identical across a study)
  or ``power``: ``batch_size * (N / batch_reference_params) ** batch_exponent`` rounded to a power
  of two, at least 1 (Porian et al. 2024 tune batch size and lr per size and find both matter for
  small models; DeepSeek-AI 2024 fit power laws in compute).
* AdamW with ``beta1`` (0.9), ``beta2`` (0.95; Porian et al. 2024 show 0.99 is better at small
  batch sizes), ``eps`` (1e-8), ``weight_decay`` (0.1, on 2-D weights only, as nanoGPT) and
  gradient clipping at global norm ``grad_clip`` (1.0; 0 disables it).
* Linear warmup over ``warmup_fraction`` (0.05) of the run's own steps (at least one step: the
  warmup scales with the run rather than a fixed count, which would swallow short runs), then
  cosine decay to ``min_lr_ratio`` (0.1) x peak over exactly the remaining steps (Hoffmann et al.
  2022: a cosine cycle longer than the run biases its loss upwards), or warmup-stable-decay
  (``schedule: wsd``; Hu et al. 2024, Hägele et al. 2024) with a linear decay to ``min_lr_ratio``
  x peak over the last ``decay_fraction`` (0.2) of the steps (``decay_shape: sqrt``: the 1-sqrt
  cooldown of Hägele et al. 2024).
"""

from __future__ import annotations

import math

from .config import schema_defaults

LR_SCALINGS = ("constant", "inverse_width", "kaplan", "sweep")
BATCH_SCALINGS = ("constant", "power")
SCHEDULES = ("cosine", "wsd")


def _get(training: dict, key: str):
    """``training[key]``, else the schema's default (read only then: a training job never loads it)."""
    value = training.get(key)
    return schema_defaults("training")[key] if value is None else value


def swept_lr(lr_rule: dict, n_params: float) -> float:
    """The rate of a fitted rule ``lr_ref * (N / n_ref) ** exponent`` at 3 significant figures
    (so that refitting the same sweep never changes a run's params)."""
    lr = float(lr_rule["lr_ref"]) * (float(n_params) / float(lr_rule["n_ref"])) ** float(lr_rule["exponent"])
    return float(f"{lr:.3g}")


def peak_lr(size: int, n_params: int, training: dict, lr_rule: dict | None = None) -> float | None:
    """The peak learning rate of a model of width ``size`` and ``n_params`` parameters."""
    # a config's default is resolved by config.default_lr_scaling (sweep for the built-in
    # families); a hand-written training block without the key gets one rate
    rule = training.get("lr_scaling") or "constant"
    if rule == "sweep":
        return swept_lr(lr_rule, n_params) if lr_rule else None
    lr = float(_get(training, "lr"))
    if rule == "constant":
        return lr
    if rule == "inverse_width":
        return lr * float(_get(training, "lr_reference_size")) / float(size)
    if rule == "kaplan":
        return max(float(_get(training, "lr_min")), 0.003239 - 0.0001395 * math.log(max(n_params, 1)))
    raise ValueError(f"training.lr_scaling {rule!r} is not one of {', '.join(LR_SCALINGS)}")


def batch_size(n_params: int, training: dict) -> int:
    """Sequences per optimiser step for a model of ``n_params`` parameters."""
    rule = _get(training, "batch_scaling")
    base = int(_get(training, "batch_size"))
    if rule == "constant":
        return base
    if rule == "power":
        raw = base * (n_params / float(_get(training, "batch_reference_params"))) ** float(
            _get(training, "batch_exponent")
        )
        return max(1, 2 ** round(math.log2(max(raw, 1.0))))
    raise ValueError(f"training.batch_scaling {rule!r} is not one of {', '.join(BATCH_SCALINGS)}")


def resolve_hparams(size: int, n_params: int, training: dict, lr_rule: dict | None = None) -> dict:
    """Return ``{"batch_size": int, "optimizer": {...}}`` for a model of width ``size``.

    ``optimizer`` is the run spec's dict: name, lr, beta1, beta2, eps, weight_decay, grad_clip.
    The schedule depends on the run's length: see :func:`resolve_schedule`.
    """
    optimizer = {
        "name": "adamw",
        "lr": peak_lr(size, n_params, training, lr_rule),
        "beta1": float(_get(training, "beta1")),
        "beta2": float(_get(training, "beta2")),
        "eps": float(_get(training, "eps")),
        "weight_decay": float(_get(training, "weight_decay")),
        "grad_clip": float(_get(training, "grad_clip")),
    }
    return {"batch_size": batch_size(n_params, training), "optimizer": optimizer}


def resolve_schedule(steps: int, training: dict) -> dict:
    """The learning-rate schedule of a run of ``steps`` optimiser steps (the spec's ``schedule``)."""
    name = _get(training, "schedule")
    if name not in SCHEDULES:
        raise ValueError(f"training.schedule {name!r} is not one of {', '.join(SCHEDULES)}")
    warmup = max(1, round(float(_get(training, "warmup_fraction")) * steps)) if steps > 1 else 0
    schedule = {
        "name": name,
        "warmup_steps": int(min(warmup, max(steps - 1, 0))),
        "total_steps": int(steps),
        "min_lr_ratio": float(_get(training, "min_lr_ratio")),
    }
    if name == "wsd":
        schedule["decay_fraction"] = float(_get(training, "decay_fraction"))
        schedule["decay_steps"] = max(1, round(schedule["decay_fraction"] * steps))
        if _get(training, "decay_shape") != "linear":  # (absent when linear: older specs stay as they were)
            schedule["decay_shape"] = _get(training, "decay_shape")
    return schedule
