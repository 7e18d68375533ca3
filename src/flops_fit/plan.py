"""Plan the IsoFLOP grid of a study: one run spec per (compute budget, model size).

A pure function of the study's config, evaluated when Snakemake parses the workflow, so it
imports no torch (the 1,000-run dry-run benchmark depends on it; only a ``custom`` family imports
the user's class). Each model family answers for its own shapes and counts (``flops_fit.families``). The run
spec is the contract of docs/contracts.md; its sorted-keys JSON is the train rule's params,
so editing the config reruns exactly the runs whose spec changed.

Steps follow the budget exactly (issue 4): ``steps = round(C / (flops_per_unit * tokens_per_step))``.

With ``grid.mode: adaptive`` nothing is planned up front: ``flops_fit.adaptive`` plans each
round from the runs before it (:func:`plan_run` gives each run its spec). With
``grid.mode: branches`` every run becomes a cooldown branch of its size's trunk
(``flops_fit.branches``), and a centred grid picks its targets from one log-spaced ladder shared by
all budgets (``n_opt x span^(k / (points - 1))`` for integer k), so that one size serves several
budgets and its runs share a trunk.
"""

from __future__ import annotations

import math

from .branches import branch_plan
from .config import ConfigError
from .families import family
from .hparams import resolve_hparams, resolve_schedule

PLAN_COLUMNS = [
    "run_id",
    "budget",
    "size",
    "n_layer",
    "d_model",
    "n_head",
    "params_total",
    "params_non_embedding",
    "flops_per_unit",
    "batch_size",
    "steps",
    "tokens",
    "flops",
    "lr",
]
MAX_WIDTH = 16384


def architecture(name: str, study: dict, size: int) -> dict:
    """The model of grid size ``size`` under the study's family (``flops_fit.families``): ``model``
    (the spec's dict), parameter ``counts``, ``flops_per_unit`` (training FLOPs per token / image /
    sample under the study's convention), ``units_per_sample`` (tokens per sequence, 1 per image)
    and ``extra`` spec keys. Raises ConfigError naming the culprit."""
    fam = family(study["model"]["family"], f"studies.{name}.model.family")
    try:
        return fam.architecture(name, study, size)
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(f"config error at studies.{name}: size {size}: {err}") from None


def run_id(budget: float, size: int) -> str:
    """Readable, stable, path-safe id: ``C1e12-d32``, ``C2.5e11-d24``."""
    mantissa, exponent = f"{budget:.6e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"C{mantissa}e{int(exponent)}-d{size}"


def sizes_for_budget(name: str, study: dict, budget: float) -> list[int]:
    """Model sizes (GPT width knob) trained at ``budget``."""
    grid = study["grid"]
    if "sizes" in grid:
        return sorted(grid["sizes"])
    c = grid["centred"]
    if family(study["model"]["family"]).EXPLICIT_SIZES:
        raise ConfigError(
            f"config error at studies.{name}.grid.centred: a {study['model']['family']} model needs grid.sizes "
            "(the planner builds one instance per size)"
        )
    counts = {w: n for w in range(4, MAX_WIDTH + 1, 4) if (n := _n_params(name, w, study))}
    centre = c["n_opt"] * (budget / c["budget"]) ** c["exponent"]
    chosen = []
    for target in _targets(centre, c, ladder=grid.get("mode") == "branches"):
        chosen.append(min(counts, key=lambda w: abs(math.log(counts[w] / target))))
    chosen = sorted(set(chosen))
    if len(chosen) < c["points"]:
        for size in chosen:  # a budget too small for even these sizes: say so (min_steps), as grid.sizes does
            plan_run(name, study, budget, size)
        smallest = min(counts)
        raise ConfigError(
            f"config error at studies.{name}.grid.centred: only {len(chosen)} distinct sizes fit "
            f"{c['points']} points over a span of {c['span']} around N*={centre:.3g} params at budget {budget:g} "
            f"(the smallest width, {smallest}, has {counts[smallest]} params; widths come in steps of 4 and "
            "must be multiples of their head count); widen the span, lower the points or raise the budget"
        )
    return chosen


def _targets(centre: float, c: dict, ladder: bool) -> list[float]:
    """``points`` parameter counts log-spaced over ``span`` around ``centre``; with ``ladder``, the
    nearest rungs of the ladder ``n_opt x step^k`` (step = span^(1/(points-1))) instead."""
    points, span = c["points"], c["span"]
    if not ladder:
        return [centre * span ** (i / (points - 1) - 0.5) for i in range(points)]
    step = span ** (1 / (points - 1))
    k0 = math.log(centre / c["n_opt"]) / math.log(step) - (points - 1) / 2
    first = round(k0)
    return [c["n_opt"] * step ** (first + i) for i in range(points)]


def _n_params(name: str, size: int, study: dict) -> int:
    """Parameters of width ``size`` under the study's convention (0 if no valid shape)."""
    try:
        return architecture(name, study, size)["counts"][study["accounting"]["params"]]
    except ConfigError:
        return 0


def plan_run(name: str, study: dict, budget: float, size: int, lr_rule: dict | None = None) -> dict:
    """The complete spec of one run (docs/contracts.md); ``lr_rule``: the study's fitted
    learning-rate rule (``training.lr_scaling: sweep``, flops_fit.lr_sweep), None before the sweep."""
    acct, training = study["accounting"], study["training"]
    arch = architecture(name, study, size)
    counts, fpu = arch["counts"], arch["flops_per_unit"]
    hp = resolve_hparams(size, counts[acct["params"]], training, lr_rule)
    tokens_per_step = hp["batch_size"] * arch["units_per_sample"]  # units: tokens, images or samples
    steps = round(budget / (fpu * tokens_per_step))
    rid = run_id(budget, size)
    if steps < study["grid"]["min_steps"]:
        raise ConfigError(
            f"config error at studies.{name}.grid: run {rid} gets only {steps} optimiser steps "
            f"(minimum grid.min_steps={study['grid']['min_steps']}); raise the budget, shrink the "
            f"size or the batch_size"
        )
    return {
        "study": name,
        "run_id": rid,
        "seed": study["seed"],
        "code_version": study["code_version"],
        "dataset": study["data"]["name"],
        "budget": float(budget),
        "size": int(size),
        "model": arch["model"],
        "params_total": counts["total"],
        "params_non_embedding": counts["non_embedding"],
        "params_embedding": counts["embedding"],
        "flop_convention": arch.get("flop_convention", acct["flops"]),
        "param_convention": acct["params"],
        "flops_per_unit": fpu,
        "batch_size": hp["batch_size"],
        "tokens_per_step": tokens_per_step,
        "steps": steps,
        "tokens": steps * tokens_per_step,
        "flops": steps * tokens_per_step * fpu,
        "optimizer": hp["optimizer"],
        "schedule": resolve_schedule(steps, training),
        "eval": {"points": training["eval_points"], "batches": training["eval_batches"]},
        "training": {
            k: training[k]
            for k in (
                "backend",
                "device",
                "dtype",
                "compile",
                "checkpoint_minutes",
                "checkpoint_every_steps",
                "divergence_factor",
            )
        }
        | ({"mock": training["mock"]} if training["backend"] == "mock" else {})
        | ({"augment": training["augment"]} if arch["extra"].get("unit") == "images" else {}),
    } | arch["extra"]


def plan_study(name: str, study: dict, lr_rule: dict | None = None) -> list[dict]:
    """Every run of a study, ordered by budget then size."""
    return plan_study_and_trunks(name, study, lr_rule)[0]


def plan_study_and_trunks(name: str, study: dict, lr_rule: dict | None = None) -> tuple[list[dict], list[dict]]:
    """Every run of a study (ordered by budget then size) and its trunk segments (none unless
    ``grid.mode`` is branches: ``flops_fit.branches``)."""
    name_of_family, source = study["model"]["family"], study["data"]["source"]
    sources = family(name_of_family, f"studies.{name}.model.family").SOURCES
    if sources is not None and source not in sources:
        raise ConfigError(
            f"config error at studies.{name}.data.source: model.family {name_of_family} cannot use "
            f"{source!r} (allowed values: {', '.join(sources)}, or model.family custom)"
        )
    runs = [
        plan_run(name, study, budget, size, lr_rule)
        for budget in sorted(study["grid"]["budgets"])
        for size in sizes_for_budget(name, study, budget)
    ]
    ids = [r["run_id"] for r in runs]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"config error at studies.{name}.grid.budgets: two budgets give the same run id")
    if study["grid"].get("mode", "independent") == "adaptive":
        return [], []  # planned round by round as the runs come in (flops_fit.adaptive)
    if study["grid"].get("mode", "independent") == "branches":
        return branch_plan(name, runs, study["training"], study["grid"]["branch_fraction"])
    return runs, []


def plan_tsv(runs: list[dict]) -> str:
    """The plan as a tab-separated table (results/{study}/plan.tsv)."""
    rows = ["\t".join(PLAN_COLUMNS)]
    for r in runs:
        model = r["model"]  # a custom model has no known shape: its size stands for the width
        flat = {
            **r,
            "n_layer": model.get("n_layer", ""),
            "d_model": model.get("d_model", r["size"]),
            "n_head": model.get("n_head", ""),
            "lr": r["optimizer"]["lr"],
        }
        rows.append("\t".join(_fmt(flat[c]) for c in PLAN_COLUMNS))
    return "\n".join(rows) + "\n"


def _fmt(value) -> str:
    if value is None:
        return "pending"  # a learning rate that the study's sweep has not fitted yet
    return f"{value:.6g}" if isinstance(value, float) else str(value)
