"""Cooldown branches (``grid.mode: branches``): one trunk per model size, one short cooldown per budget.

With a warmup-stable-decay schedule the learning rate of a run of S steps is constant until its
last ``decay_fraction`` x S steps, so every run of one model size at budgets C1 < C2 < ... is
the same stable run up to its own decay start P = S - round(decay_fraction x S). Hägele et al.
2024 ("Scaling laws and compute-optimal training beyond fixed training durations", Sec. 3-4)
show that a cooldown started from a checkpoint of that stable run matches an independent run
of the same length; OLMo's WSD-S ladders and MiniCPM (Hu et al. 2024) train this way. So per size
the planner cuts one trunk at the branch points P1 < P2 < ... into segments (one Snakemake job
each, trunk ``d{size}-s{P}``: it resumes from the previous segment's branch-point checkpoint, so a
new larger budget only appends a segment), and every run of the grid becomes a branch that
resumes from its segment's checkpoint and trains the cooldown.

A branch trains exactly the steps of the independent WSD run with the trunk's warmup: same data
order, same RNG, same learning rate at every step; on CPU its losses equal that run's. Its run JSON
is an independent run's (``flops.actual`` is the equivalent run's FLOPs, what the fit uses) plus
``trunk`` provenance and ``flops.branch``: ``trunk`` (the trunk FLOPs up to the branch point),
``trunk_share`` (the trunk segment this branch is the first to need), ``cooldown``, ``cost``
(trunk_share + cooldown: summed over a study, the whole training bill) and ``independent``.

All runs of one size share the warmup of the shortest of them (``warmup_fraction`` of its steps).
The cooldown's shape and floor (``decay_shape``, ``min_lr_ratio``) are not part of a trunk, so
changing them reruns only branches; ``decay_fraction`` says where branches leave the trunk, so
changing it moves the branch points and retrains the trunks.
"""

from __future__ import annotations

from .accounting import flops_per_unit
from .config import ConfigError
from .hparams import resolve_schedule
from .provenance import spec_hash
from .training.schedule import eval_steps

RUN_ONLY_KEYS = ("run_id", "budget", "steps", "tokens", "flops", "schedule")


def trunk_id(size: int, step: int) -> str:
    """The id of the trunk segment of width ``size`` that ends at ``step``: ``d32-s1200``."""
    return f"d{size}-s{step}"


def _identity(run: dict, warmup: int) -> dict:
    """What every run of one size shares up to its branch point: its spec without the run's
    length, plus the stable schedule (warmup, then the peak learning rate)."""
    ident = {k: v for k, v in run.items() if k not in RUN_ONLY_KEYS}
    return ident | {"schedule": {"name": "wsd", "warmup_steps": warmup, "decay_steps": 0}}


def branch_plan(name: str, runs: list[dict], training: dict) -> tuple[list[dict], list[dict]]:
    """The branch runs (each planned run resumed from its size's trunk) and the trunk segments.

    ``runs``: the independent runs of :func:`flops_fit.plan.plan_run`; returns ``(branches,
    segments)``, branches in the order of ``runs``, segments by size then step."""
    by_size: dict[int, list[dict]] = {}
    for run in runs:
        by_size.setdefault(run["size"], []).append(run)
    branches, segments = {}, []
    for size, group in sorted(by_size.items()):
        group = sorted(group, key=lambda r: r["steps"])
        warmup = resolve_schedule(group[0]["steps"], training)["warmup_steps"]
        ident = _identity(group[0], warmup)
        thash = spec_hash(ident)
        start = 0
        for run in group:
            steps, per_step = run["steps"], run["tokens_per_step"] * flops_per_unit(run)
            schedule = resolve_schedule(steps, training) | {"warmup_steps": warmup}
            point = steps - schedule["decay_steps"]
            if point <= warmup:
                raise ConfigError(
                    f"config error at studies.{name}.training.decay_fraction: run {run['run_id']} "
                    f"({steps} steps) would branch at step {point}, within the trunk's warmup of "
                    f"{warmup} steps; lower decay_fraction or warmup_fraction, or raise the budget"
                )
            tid = trunk_id(size, point)
            if point > start:
                segments.append(ident | {
                    "kind": "trunk", "run_id": tid, "steps": point, "tokens": point * run["tokens_per_step"],
                    "flops": point * per_step, "schedule": ident["schedule"] | {"total_steps": point},
                    "eval_steps": [s for s in eval_steps(steps, run["eval"]["points"]) if start < s <= point],
                    "trunk": {"id": tid, "hash": thash, "start": start,
                              "previous": trunk_id(size, start) if start else None},
                })  # fmt: skip
            branches[run["run_id"]] = run | {
                "schedule": schedule,
                "eval_steps": [s for s in eval_steps(steps, run["eval"]["points"]) if s > point],
                "trunk": {"id": tid, "hash": thash, "step": point, "flops": {
                    "trunk": point * per_step,
                    "trunk_share": max(0, point - start) * per_step,
                    "cooldown": (steps - point) * per_step,
                }},
            }  # fmt: skip
            start = max(start, point)
    return [branches[r["run_id"]] for r in runs], segments


def branch_flops(spec: dict) -> dict | None:
    """The run JSON's ``flops.branch`` block of a branch spec (None for any other run)."""
    trunk = spec.get("trunk")
    if not trunk or spec.get("kind") == "trunk":
        return None
    f = trunk["flops"]
    return f | {"cost": f["trunk_share"] + f["cooldown"], "independent": spec["flops"]}


def job_flops(spec: dict) -> float:
    """The FLOPs one training job trains: a run in full, a branch its cooldown, a trunk segment
    its stretch of the trunk (the SLURM wall time of the job)."""
    trunk = spec.get("trunk")
    if not trunk:
        return float(spec["flops"])
    if spec.get("kind") == "trunk":
        return float((spec["steps"] - trunk["start"]) * spec["tokens_per_step"] * flops_per_unit(spec))
    return float(trunk["flops"]["cooldown"])


def training_flops(runs: list[dict], segments: list[dict] | None = None) -> float:
    """What training ``runs`` costs in FLOPs: each independent run in full; branches as their
    trunk segments plus their cooldowns."""
    if not segments:
        return float(sum(r["flops"] for r in runs))
    trunk = sum((s["steps"] - s["trunk"]["start"]) * s["tokens_per_step"] * flops_per_unit(s) for s in segments)
    return float(trunk + sum(r["trunk"]["flops"]["cooldown"] for r in runs))
