"""The learning-rate stage: sweep a few rates at small sizes, fit eta*(N), plan the grid with it.

A scaling law is only as good as its runs: one learning rate for every width makes the IsoFLOP
minima the minima of a mistuned family (the best rate falls with size). So before the grid, a
study with ``training.lr_scaling: sweep`` trains every size of ``lr_sweep.sizes`` at every rate
of ``lr_sweep.lrs`` (log-spaced; one budget, ``lr_sweep.budget``), and

1. per size, averages the seeds (``lr_sweep.seeds``) per rate and fits a least-squares parabola
   of the final validation loss in ln(lr) through the rates within x2 of the best swept one; its
   vertex is that size's best rate when the sweep *brackets* it (a swept rate on each side, the
   vertex inside the fitted rates); otherwise the size is flagged ``at_edge``, warned about
   (which side to extend) and left out of the rule -- a rule through edge minima would only
   repeat the sweep's range;
2. fits the rule ``eta*(N) = lr_ref * (N / n_ref) ** exponent`` through the bracketed best rates
   (least squares in log-log; ``n_ref`` is their geometric mean), N under the study's
   ``accounting.params`` convention; fewer than 2 bracketed sizes is an error;
3. checks the rule on ``lr_sweep.holdout_sizes`` (swept, left out of the fit): the rule's rate
   against that size's own bracketed best (goal: within x sqrt(2), one step of the default
   rate grid) and the loss penalty of using it, read off that size's parabola (goal: <= 0.5%);
   with 3 or more fitted sizes, the same check leaving each fitted size out in turn.

This follows DeepSeek-AI 2024 ("DeepSeek LLM", Sec. 3.1: power laws for the optimal lr and batch
fitted on small sweeps) and Porian et al. 2024 ("Resolving discrepancies in compute-optimal
scaling of language models": tuning lr per size moves the compute-optimal exponent).

The rule lives in ``results/{study}/lr/rule.json``; the grid's run specs carry the rule's rate
rounded to 3 significant figures (``flops_fit.hparams.swept_lr``), so a refit that gives the same
rates reruns nothing and one that moves them reruns exactly the runs whose rate moved.

    flops-fit lr-rule results/demo/lr/runs/*.json --params total \\
        --rule results/demo/lr/rule.json --table results/demo/lr/sweep.csv

Torch-free and snakemake-free (the planner imports :func:`plan_sweep` at parse time).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

from .hparams import swept_lr

RULE_SCHEMA_VERSION = 2
NEAR_BEST = 3  # fewest points of a parabola
WINDOW = 2.0  # the parabola of a size goes through the swept rates within this factor of its best one
MAX_PENALTY_PCT = 0.5  # the held-out check's goal for the loss cost of the rule's rate


class SweepError(ValueError):
    """The sweep's runs cannot give a rule (too few sizes, every run diverged, ...)."""


# --- planning -------------------------------------------------------------------------------
def uses_sweep(study: dict) -> bool:
    return study.get("training", {}).get("lr_scaling") == "sweep"


def sweep_settings(study: dict) -> dict:
    """The study's sweep: ``lrs``, ``sizes``, ``holdout_sizes``, ``budget`` and ``seeds`` with
    defaults filled: 7 rates x sqrt(2) apart around ``training.lr`` (a factor 8 in all), the 3
    smallest sizes of the grid, the smallest budget, 1 seed."""
    sweep = dict(study.get("lr_sweep") or {})
    grid = study["grid"]
    lr = float(study["training"].get("lr", 3e-3))
    lrs = sweep.get("lrs") or [float(f"{lr * 2.0 ** (k / 2):.3g}") for k in range(-3, 4)]
    budget = float(sweep.get("budget") or min(grid["budgets"]))
    sizes = sweep.get("sizes")
    if not sizes:
        if "sizes" in grid:
            sizes = sorted(grid["sizes"])[:3]
        else:
            from .plan import sizes_for_budget

            sizes = sizes_for_budget("", study, min(grid["budgets"]))[:3]
    return {
        "lrs": sorted(float(x) for x in lrs),
        "sizes": sorted(int(s) for s in sizes),
        "holdout_sizes": sorted(int(s) for s in sweep.get("holdout_sizes") or []),
        "budget": budget,
        "seeds": int(sweep.get("seeds") or 1),
    }


def sweep_run_id(budget: float, size: int, lr: float, seed: int | None = None) -> str:
    """``C1e11-d32-lr0.004``: the grid's id of (budget, size) and the rate (3 significant figures);
    ``-s1`` appended for a repeat with another seed (``seed`` given)."""
    from .plan import run_id

    return f"{run_id(budget, size)}-lr{lr:.3g}" + ("" if seed is None else f"-s{seed}")


def plan_sweep(name: str, study: dict) -> list[dict]:
    """The sweep's run specs (ordered by seed, size, then rate): grid specs at ``lr_sweep.budget``
    with a constant rate each; with ``lr_sweep.seeds`` > 1 the same runs again with the seeds
    after the study's (``seed`` + 1, ...), which the rule averages per rate."""
    from .plan import plan_run

    settings = sweep_settings(study)
    first = int(study.get("seed", 0))
    runs = []
    for seed in range(first, first + settings["seeds"]):
        for size in sorted({*settings["sizes"], *settings["holdout_sizes"]}):
            for lr in settings["lrs"]:
                fixed = copy.deepcopy(study)
                fixed["seed"] = seed
                fixed["training"] = {**fixed["training"], "lr": lr, "lr_scaling": "constant"}
                spec = plan_run(name, fixed, settings["budget"], size)
                spec["run_id"] = sweep_run_id(settings["budget"], size, lr, None if seed == first else seed)
                spec["lr_sweep"] = {"holdout": size in settings["holdout_sizes"]}
                runs.append(spec)
    return runs


# --- fitting --------------------------------------------------------------------------------
def sweep_table(runs: list[dict], params: str = "total") -> list[dict]:
    """One row per sweep run (from the run JSONs): size, N, lr, final validation loss, status."""
    rows = []
    for run in runs:
        spec = run["spec"]
        loss = (run.get("final") or {}).get("val_loss")
        ok = run.get("status") == "ok" and loss is not None and math.isfinite(loss)
        rows.append({
            "run_id": run["run_id"],
            "size": int(spec["size"]),
            "params": int(run["params"][params]),
            "lr": float(spec["optimizer"]["lr"]),
            "loss": float(loss) if ok else math.nan,
            "status": run.get("status", "ok") if ok else "diverged",
            "holdout": bool(spec.get("lr_sweep", {}).get("holdout")),
            "seed": int(spec.get("seed", 0)),
        })  # fmt: skip
    return sorted(rows, key=lambda r: (r["size"], r["lr"], r["seed"]))


def mean_by_rate(rows: list[dict]) -> list[dict]:
    """One size's sweep averaged over seeds: ``{lr, loss, n}`` per rate, ordered by rate; a rate
    at which any seed diverged has loss inf (worse than every finite rate, so it still bounds
    the best rate from above, but no parabola passes through it)."""
    by_lr: dict[float, list[float]] = {}
    for r in rows:
        by_lr.setdefault(r["lr"], []).append(r["loss"])
    out = []
    for lr, losses in sorted(by_lr.items()):
        finite = all(math.isfinite(x) for x in losses)
        out.append({"lr": lr, "loss": sum(losses) / len(losses) if finite else math.inf, "n": len(losses)})
    return out


def best_lr(rows: list[dict]) -> dict:
    """The best rate of one size: the vertex of a least-squares parabola of loss (averaged over
    seeds) in ln(lr) through the swept rates within a factor ``WINDOW`` of the best swept rate.

    The best is *bracketed* when the best swept rate has a swept rate on each side (a diverged
    rate above counts: it is worse), the parabola opens upwards and its vertex lies inside the
    rates it was fitted on. Otherwise the result is the best swept rate with ``at_edge`` True:
    the optimum may lie outside the swept rates, and the rule must not use it.

    Returns ``{lr, loss, at_edge, curvature, parabola, window, edge}``: ``loss`` the parabola's
    value at ``lr`` (the swept loss when not bracketed); ``curvature`` a of a x^2 + b x + c;
    ``window`` the rates the parabola was fitted on; ``edge``, when not bracketed, says why:
    "low" or "high" (the optimum lies beyond that end), "flat" (the parabola opens downwards:
    noise above the curvature) or "few" (fewer than 3 finite rates near the best).
    """
    means = mean_by_rate(rows)
    finite = [m for m in means if math.isfinite(m["loss"])]
    if not finite:
        raise SweepError(f"size {rows[0]['size']}: every sweep run diverged")
    i = min(range(len(means)), key=lambda k: means[k]["loss"])
    best = means[i]
    window = [m for m in finite if abs(math.log(m["lr"] / best["lr"])) <= math.log(WINDOW) + 1e-9]
    edge = {"lr": best["lr"], "loss": best["loss"], "at_edge": True, "curvature": math.nan,
            "parabola": None, "window": [m["lr"] for m in window], "edge": None}  # fmt: skip
    if i == 0:
        return {**edge, "edge": "low"}
    if i == len(means) - 1:
        return {**edge, "edge": "high"}
    if len(window) < NEAR_BEST:
        return {**edge, "edge": "few"}
    a, b, c = _parabola([math.log(m["lr"]) for m in window], [m["loss"] for m in window])
    x = -b / (2 * a) if a > 0 else math.nan
    if not (math.log(window[0]["lr"]) <= x <= math.log(window[-1]["lr"])):
        return {**edge, "edge": "flat" if not a > 0 else ("high" if x > math.log(best["lr"]) else "low")}
    return {"lr": math.exp(x), "loss": a * x * x + b * x + c, "at_edge": False, "curvature": a,
            "parabola": [a, b, c], "window": [m["lr"] for m in window], "edge": None}  # fmt: skip


def _parabola(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least-squares a x^2 + b x + c (exact through 3 points)."""
    import numpy as np

    a, b, c = np.polyfit(np.asarray(xs), np.asarray(ys), 2)
    return float(a), float(b), float(c)


def loss_at(best: dict, lr: float) -> float:
    """One size's loss at ``lr`` read off its parabola (NaN when its best is not bracketed)."""
    if best["at_edge"] or not best.get("parabola"):
        return math.nan
    a, b, c = best["parabola"]
    x = math.log(lr)
    return a * x * x + b * x + c


def fit_power_law(bests: list[dict]) -> dict:
    """``{lr_ref, n_ref, exponent}``: least squares of ln(best lr) on ln N; n_ref the geometric mean."""
    x = [math.log(b["params"]) for b in bests]
    y = [math.log(b["lr"]) for b in bests]
    x0, y0 = sum(x) / len(x), sum(y) / len(y)
    sxx = sum((xi - x0) ** 2 for xi in x)
    if sxx == 0:
        raise SweepError("the swept sizes all have the same parameter count")
    exponent = sum((xi - x0) * (yi - y0) for xi, yi in zip(x, y, strict=True)) / sxx
    return {"lr_ref": math.exp(y0), "n_ref": math.exp(x0), "exponent": exponent}


def check_size(rule: dict, best: dict) -> dict:
    """The rule on one size it was not fitted on: its rate against the size's own bracketed best
    (goal: within one step of a x sqrt(2) grid) and the loss that rate costs on the size's
    parabola (goal: <= 0.5%). Unbracketed sizes cannot be checked (``checked`` False)."""
    eta = swept_lr(rule, best["params"])
    checked = not best["at_edge"]
    penalty = 100.0 * (loss_at(best, eta) / best["loss"] - 1.0) if checked else math.nan
    within = checked and abs(math.log(eta / best["lr"])) <= 0.5 * math.log(2.0) + 1e-12
    return {
        "size": best["size"], "params": best["params"], "best_lr": best["lr"], "rule_lr": eta,
        "ratio": eta / best["lr"], "loss_penalty_pct": penalty, "checked": checked,
        "within_sqrt2": bool(within), "passed": bool(within and penalty <= MAX_PENALTY_PCT),
    }  # fmt: skip


def fit_rule(rows: list[dict], params: str = "total") -> dict:
    """The rule eta*(N) from the sweep table (see the module docstring) and its held-out checks.

    Only sizes whose best rate is bracketed enter the rule; a size at the edge of the swept
    rates is warned about, and fewer than 2 bracketed sizes outside ``holdout_sizes`` is an
    error (widen ``lr_sweep.lrs`` on the side it names). Returns the content of rule.json:
    ``lr_ref``, ``n_ref``, ``exponent``, the per-size bests (``sizes``), the held-out ``check``
    rows, ``leave_one_out`` (each fitted size predicted by the rule of the others), ``params``
    (the N convention), ``seeds`` and ``warnings``.
    """
    by_size: dict[int, list[dict]] = {}
    for r in rows:
        by_size.setdefault(r["size"], []).append(r)
    bests, warnings = [], []
    for size, group in sorted(by_size.items()):
        best = best_lr(group)
        bests.append({"size": size, "params": group[0]["params"], "holdout": group[0]["holdout"], **best})
        if best["at_edge"]:
            lrs = sorted({r["lr"] for r in group})
            side = {
                "low": f"add rates below {lrs[0]:.3g} in lr_sweep.lrs",
                "high": f"add rates above {lrs[-1]:.3g} in lr_sweep.lrs",
                "flat": "the loss is flat or noisy around it: raise lr_sweep.seeds or widen lr_sweep.lrs",
            }.get(best["edge"], "sweep more rates around it (lr_sweep.lrs)")
            warnings.append(
                f"size {size}: the best rate is not bracketed by the swept rates ({lrs[0]:.3g}-{lrs[-1]:.3g}; "
                f"best swept {best['lr']:.3g}); it is left out of the rule: {side}"
            )
    fitted = [b for b in bests if not b["holdout"] and not b["at_edge"]]
    if len(fitted) < 2:
        raise SweepError(
            f"the rule needs at least 2 sizes outside holdout_sizes whose best rate the sweep brackets, got "
            f"{len(fitted)}: " + ("; ".join(warnings) or "sweep more sizes")
        )
    rule = fit_power_law(fitted)
    check = [check_size(rule, b) for b in bests if b["holdout"]]
    loo = []
    if len(fitted) >= 3:
        for b in fitted:
            loo.append(check_size(fit_power_law([o for o in fitted if o is not b]), b))
    return {
        "schema_version": RULE_SCHEMA_VERSION,
        "formula": "lr(N) = lr_ref * (N / n_ref) ** exponent",
        **rule,
        "params": params,
        "seeds": sorted({int(r.get("seed", 0)) for r in rows}),
        "sizes": bests,
        "check": check,
        "leave_one_out": loo,
        "warnings": warnings,
    }


def read_rule(path: str | Path) -> dict | None:
    """The rule.json at ``path``, or None when there is none yet (the sweep has not run)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None


def write_rule(run_jsons: list[str], params: str, rule_path: str, table_path: str) -> dict:
    """Read the sweep's run JSONs, fit the rule, write rule.json and sweep.csv atomically."""
    from .io import atomic_write_json, atomic_write_text

    runs = [json.loads(Path(p).read_text()) for p in run_jsons]
    rows = sweep_table(runs, params)
    rule = fit_rule(rows, params)
    columns = ["run_id", "size", "params", "lr", "seed", "loss", "status", "holdout"]
    lines = [",".join(columns)] + [",".join(_cell(r[c]) for c in columns) for r in rows]
    atomic_write_text(table_path, "\n".join(lines) + "\n")
    atomic_write_json(rule_path, _finite(rule))
    return rule


def _cell(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _finite(obj):
    """JSON-safe copy: NaN and inf become None."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def describe(rule: dict) -> str:
    """The rule and its checks in a few lines (the lr-rule command's output)."""
    seeds = rule.get("seeds") or [0]
    lines = [
        f"lr(N) = {rule['lr_ref']:.4g} * (N / {rule['n_ref']:.4g}) ** {rule['exponent']:.3f}   "
        f"(N: {rule['params']} parameters; {len(seeds)} seed{'s' if len(seeds) > 1 else ''} per rate)"
    ]
    for b in rule["sizes"]:
        tag = " (held out)" if b["holdout"] else ""
        state = "not bracketed, left out" if b["at_edge"] else "bracketed"
        lines.append(
            f"  size {b['size']}{tag}: N {b['params']:,}, best lr {b['lr']:.4g} ({state}), loss {b['loss']:.4f}"
        )
    for title, rows in (("held-out size", rule["check"]), ("leave-one-out size", rule.get("leave_one_out") or [])):
        for c in rows:
            lines.append(f"  {title} {c['size']}: " + _check_text(c))
    lines += [f"  warning: {w}" for w in rule["warnings"]]
    return "\n".join(lines)


def _check_text(c: dict) -> str:
    if not c.get("checked", True):
        return f"rule lr {c['rule_lr']:.4g}; its best rate is not bracketed: no check"
    penalty = c["loss_penalty_pct"]
    verdict = "PASS" if c.get("passed") else "FAIL"
    return (
        f"rule lr {c['rule_lr']:.4g} / best {c['best_lr']:.4g} = x{c['ratio']:.3f} "
        f"({'within' if c['within_sqrt2'] else 'outside'} x1.414), loss penalty {penalty:.3f}% "
        f"(goal <= {MAX_PENALTY_PCT}%) {verdict}"
    )
