"""Cooldown branches (``grid.mode: branches``): one trunk per model size, one short branch per budget.

With a warmup-stable-decay schedule the learning rate of a run of S steps is constant until its
last ``decay_fraction`` x S steps, so every run of one model size at budgets C1 < C2 < ... is
the same stable run up to its own decay start. Hägele et al. 2024 ("Scaling laws and
compute-optimal training beyond fixed training durations", Sec. 3-4) show that a cooldown
started from a checkpoint of that stable run matches an independent run of the same length;
OLMo's WSD-S ladders and MiniCPM (Hu et al. 2024) train this way. So per size the planner cuts
one trunk into segments (one Snakemake job each, trunk ``d{size}-s{Q}``: it resumes from the
previous segment's checkpoint, so a new larger budget only appends a segment), and every run of
the grid becomes a branch that resumes from a trunk checkpoint and trains the rest of the run.

Where the trunk stops is a property of the grid, not of the cooldown: a run of S steps leaves
its trunk at Q = S - round(``branch_fraction`` x S) (``grid.branch_fraction``), whatever its
cooldown. Its branch trains the stable steps from Q to its decay start P = S -
round(``decay_fraction`` x S) (none when the two fractions are equal, the default), then the
cooldown; with a cooldown longer than ``branch_fraction`` (P < Q) it starts from the latest
trunk point at or before P (from scratch if there is none). So a changed cooldown
(``decay_fraction``, ``decay_shape``, ``min_lr_ratio``) changes the branches' specs only and
reruns only the branches; the trunks' specs, and so their Snakemake params, never hold it.

A branch trains exactly the steps of the independent WSD run with the trunk's warmup: same data
order, same RNG, same learning rate at every step; on CPU its losses equal that run's. Its run JSON
is an independent run's (``flops.actual`` is the equivalent run's FLOPs, what the fit uses) plus
``trunk`` provenance and ``flops.branch``: ``trunk`` (the trunk FLOPs up to its start),
``trunk_share`` (the trunk stretch this branch is the first to need), ``stable`` and ``cooldown``
(what the branch trains itself), ``cost`` (trunk_share + stable + cooldown: summed over a study,
the whole training bill) and ``independent``.

All runs of one size share the warmup of the shortest of them (``warmup_fraction`` of its steps).
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


def branch_plan(
    name: str, runs: list[dict], training: dict, branch_fraction: float = 0.2
) -> tuple[list[dict], list[dict]]:
    """The branch runs (each planned run resumed from its size's trunk) and the trunk segments.

    ``runs``: the independent runs of :func:`flops_fit.plan.plan_run`; ``branch_fraction``: the
    share of each run's steps after its trunk point (``grid.branch_fraction``). Returns
    ``(branches, segments)``, branches in the order of ``runs``, segments by size then step."""
    by_size: dict[int, list[dict]] = {}
    for run in runs:
        by_size.setdefault(run["size"], []).append(run)
    branches, segments = {}, []
    for size, group in sorted(by_size.items()):
        group = sorted(group, key=lambda r: r["steps"])
        warmup = resolve_schedule(group[0]["steps"], training)["warmup_steps"]
        ident = _identity(group[0], warmup)
        thash = spec_hash(ident)
        points = [trunk_point(r["steps"], branch_fraction) for r in group]  # no cooldown setting in here
        if points[0] <= warmup:
            raise ConfigError(
                f"config error at studies.{name}.grid.branch_fraction: run {group[0]['run_id']} "
                f"({group[0]['steps']} steps) would leave its trunk at step {points[0]}, within the trunk's "
                f"warmup of {warmup} steps; lower branch_fraction or warmup_fraction, or raise the budget"
            )
        planned, reached = [], 0
        for run in group:
            schedule = resolve_schedule(run["steps"], training) | {"warmup_steps": warmup}
            decay_start = run["steps"] - schedule["decay_steps"]
            if decay_start <= warmup:
                raise ConfigError(
                    f"config error at studies.{name}.training.decay_fraction: run {run['run_id']} "
                    f"({run['steps']} steps) would start its cooldown at step {decay_start}, within the "
                    f"warmup of {warmup} steps; lower decay_fraction or warmup_fraction, or raise the budget"
                )
            start = max((q for q in points if q <= decay_start), default=0)
            planned.append((run, schedule, decay_start, start))
            reached = max(reached, start)
        previous = 0
        for run, point in zip(group, points, strict=True):  # the chain up to the last point a branch needs
            if previous < point <= reached:
                segments.append(_segment(ident, thash, size, run, previous, point))
                previous = point
        needed = 0
        for run, schedule, decay_start, start in planned:
            per_step = run["tokens_per_step"] * flops_per_unit(run)
            branches[run["run_id"]] = run | {
                "schedule": schedule,
                "eval_steps": [s for s in eval_steps(run["steps"], run["eval"]["points"]) if s > start],
                "trunk": {"id": trunk_id(size, start) if start else None, "hash": thash, "step": start, "flops": {
                    "trunk": start * per_step,
                    "trunk_share": max(0, start - needed) * per_step,
                    "stable": (decay_start - start) * per_step,
                    "cooldown": (run["steps"] - decay_start) * per_step,
                }},
            }  # fmt: skip
            needed = max(needed, start)
    return [branches[r["run_id"]] for r in runs], segments


def trunk_point(steps: int, branch_fraction: float) -> int:
    """The step at which a run of ``steps`` steps leaves its trunk."""
    return steps - max(1, round(branch_fraction * steps))


def _segment(ident: dict, thash: str, size: int, run: dict, start: int, point: int) -> dict:
    """The trunk segment of width ``size`` from step ``start`` to ``point`` (``run``'s trunk point)."""
    tid = trunk_id(size, point)
    return ident | {
        "kind": "trunk", "run_id": tid, "steps": point, "tokens": point * run["tokens_per_step"],
        "flops": point * run["tokens_per_step"] * flops_per_unit(run),
        "schedule": ident["schedule"] | {"total_steps": point},
        "eval_steps": [s for s in eval_steps(run["steps"], run["eval"]["points"]) if start < s <= point],
        "trunk": {"id": tid, "hash": thash, "start": start, "previous": trunk_id(size, start) if start else None},
    }  # fmt: skip


def branch_flops(spec: dict) -> dict | None:
    """The run JSON's ``flops.branch`` block of a branch spec (None for any other run)."""
    trunk = spec.get("trunk")
    if not trunk or spec.get("kind") == "trunk":
        return None
    f = trunk["flops"]
    own = f.get("stable", 0) + f["cooldown"]
    return f | {"cost": f["trunk_share"] + own, "independent": spec["flops"]}


def job_flops(spec: dict) -> float:
    """The FLOPs one training job trains: a run in full, a branch its stable steps and cooldown,
    a trunk segment its stretch of the trunk (the SLURM wall time of the job)."""
    trunk = spec.get("trunk")
    if not trunk:
        return float(spec["flops"])
    if spec.get("kind") == "trunk":
        return float((spec["steps"] - trunk["start"]) * spec["tokens_per_step"] * flops_per_unit(spec))
    return float(trunk["flops"].get("stable", 0) + trunk["flops"]["cooldown"])


def training_flops(runs: list[dict], segments: list[dict] | None = None) -> float:
    """What training ``runs`` costs in FLOPs: each run in full (no ``segments``: the independent
    runs of the same grid); with its trunk ``segments``, the segments plus what each branch trains."""
    if not segments:
        return float(sum(r["flops"] for r in runs))
    trunk = sum((s["steps"] - s["trunk"]["start"]) * s["tokens_per_step"] * flops_per_unit(s) for s in segments)
    return float(trunk + sum(job_flops(r) for r in runs))
