"""The learning-rate stage: sweep a few rates at small sizes, fit eta*(N), plan the grid with it.

A scaling law is only as good as its runs: one learning rate for every width makes the IsoFLOP
minima the minima of a mistuned family (the best rate falls with size). So before the grid, a
study with ``training.lr_scaling: sweep`` trains every size of ``lr_sweep.sizes`` at every rate
of ``lr_sweep.lrs`` (log-spaced; one budget, ``lr_sweep.budget``), and

1. per size, fits a parabola of the final validation loss in ln(lr) through the best rate and
   its neighbours; its vertex is that size's best rate (the best swept rate when the vertex is
   not bracketed, flagged ``at_edge``);
2. fits the rule ``eta*(N) = lr_ref * (N / n_ref) ** exponent`` through the sizes' best rates
   (least squares in log-log; ``n_ref`` is their geometric mean), N under the study's
   ``accounting.params`` convention;
3. checks the rule on ``lr_sweep.holdout_sizes`` (swept, left out of the fit): the rule's rate
   against the swept best (ratio) and the loss penalty of using it (read off that size's
   parabola, in %).

This follows DeepSeek-AI 2024 ("DeepSeek LLM", Sec. 3.1: power laws for the optimal lr and batch
fitted on small sweeps) and Porian et al. 2024 ("Resolving discrepancies in compute-optimal
scaling of language models": tuning lr per size moves the compute-optimal exponent).

The rule lives in ``results/{study}/lr/rule.json``; the grid's run specs carry the rule's rate
rounded to 3 significant figures (``flops_fit.hparams.swept_lr``), so a refit that gives the same
rates reruns nothing and one that moves them reruns exactly the runs whose rate moved.

    flops-fit lr-rule results/demo/lr/runs/*.json --params total --holdout 48 \\
        --rule results/demo/lr/rule.json --table results/demo/lr/sweep.csv

Torch-free and snakemake-free (the planner imports :func:`plan_sweep` at parse time).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

from .hparams import swept_lr

RULE_SCHEMA_VERSION = 1
NEAR_BEST = 3  # points of the parabola: the best rate and its neighbours


class SweepError(ValueError):
    """The sweep's runs cannot give a rule (too few sizes, every run diverged, ...)."""


# --- planning -------------------------------------------------------------------------------
def uses_sweep(study: dict) -> bool:
    return study.get("training", {}).get("lr_scaling") == "sweep"


def sweep_settings(study: dict) -> dict:
    """The study's sweep: ``lrs``, ``sizes``, ``holdout_sizes`` and ``budget`` with defaults filled:
    5 rates x2 apart around ``training.lr``, the 3 smallest sizes of the grid, the smallest budget."""
    sweep = dict(study.get("lr_sweep") or {})
    grid = study["grid"]
    lr = float(study["training"].get("lr", 3e-3))
    lrs = sweep.get("lrs") or [lr * 2.0**k for k in (-2, -1, 0, 1, 2)]
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
    }


def sweep_run_id(budget: float, size: int, lr: float) -> str:
    """``C1e11-d32-lr0.004``: the grid's id of (budget, size) and the rate (3 significant figures)."""
    from .plan import run_id

    return f"{run_id(budget, size)}-lr{lr:.3g}"


def plan_sweep(name: str, study: dict) -> list[dict]:
    """The sweep's run specs (ordered by size, then rate): grid specs at ``lr_sweep.budget`` with
    a constant rate each."""
    from .plan import plan_run

    settings = sweep_settings(study)
    runs = []
    for size in sorted({*settings["sizes"], *settings["holdout_sizes"]}):
        for lr in settings["lrs"]:
            fixed = copy.deepcopy(study)
            fixed["training"] = {**fixed["training"], "lr": lr, "lr_scaling": "constant"}
            spec = plan_run(name, fixed, settings["budget"], size)
            spec["run_id"] = sweep_run_id(settings["budget"], size, lr)
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
        })  # fmt: skip
    return sorted(rows, key=lambda r: (r["size"], r["lr"]))


def best_lr(rows: list[dict]) -> dict:
    """The best rate of one size: the vertex of a parabola of loss in ln(lr) through the best
    swept rate and its neighbours (``NEAR_BEST`` points), or the best swept rate (``at_edge``)
    when the best is the smallest or largest rate or the parabola does not open upwards.

    Returns ``{lr, loss, at_edge, curvature}``: ``loss`` is the parabola's value at ``lr``
    (the swept loss when at the edge); ``curvature`` its coefficient a of a x^2 + b x + c.
    """
    good = [r for r in rows if math.isfinite(r["loss"])]
    if not good:
        raise SweepError(f"size {rows[0]['size']}: every sweep run diverged")
    good.sort(key=lambda r: r["lr"])
    i = min(range(len(good)), key=lambda k: good[k]["loss"])
    edge = {"lr": good[i]["lr"], "loss": good[i]["loss"], "at_edge": True, "curvature": math.nan}
    if i == 0 or i == len(good) - 1 or len(good) < NEAR_BEST:
        return edge
    lo = max(0, min(i - NEAR_BEST // 2, len(good) - NEAR_BEST))
    a, b, c = _parabola([math.log(r["lr"]) for r in good[lo : lo + NEAR_BEST]],
                        [r["loss"] for r in good[lo : lo + NEAR_BEST]])  # fmt: skip
    if not a > 0:
        return edge
    x = -b / (2 * a)
    return {"lr": math.exp(x), "loss": a * x * x + b * x + c, "at_edge": False, "curvature": a}


def _parabola(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least-squares a x^2 + b x + c (exact through 3 points)."""
    import numpy as np

    a, b, c = np.polyfit(np.asarray(xs), np.asarray(ys), 2)
    return float(a), float(b), float(c)


def loss_at(rows: list[dict], lr: float) -> float:
    """One size's loss at ``lr`` read off its parabola (NaN when it has none)."""
    good = sorted((r for r in rows if math.isfinite(r["loss"])), key=lambda r: r["lr"])
    best = best_lr(rows)
    if best["at_edge"]:
        return math.nan
    i = min(range(len(good)), key=lambda k: good[k]["loss"])
    lo = max(0, min(i - NEAR_BEST // 2, len(good) - NEAR_BEST))
    a, b, c = _parabola([math.log(r["lr"]) for r in good[lo : lo + NEAR_BEST]],
                        [r["loss"] for r in good[lo : lo + NEAR_BEST]])  # fmt: skip
    x = math.log(lr)
    return a * x * x + b * x + c


def fit_rule(rows: list[dict], params: str = "total") -> dict:
    """The rule eta*(N) from the sweep table (see the module docstring) and its held-out check.

    Returns the content of rule.json: ``lr_ref``, ``n_ref``, ``exponent``, the per-size bests
    (``sizes``), the held-out ``check`` rows, ``params`` (the N convention) and ``warnings``.
    """
    by_size: dict[int, list[dict]] = {}
    for r in rows:
        by_size.setdefault(r["size"], []).append(r)
    bests, warnings = [], []
    for size, group in sorted(by_size.items()):
        best = best_lr(group)
        bests.append({"size": size, "params": group[0]["params"], "holdout": group[0]["holdout"], **best})
        if best["at_edge"]:
            warnings.append(
                f"size {size}: the best swept rate {best['lr']:.3g} is not bracketed by the sweep's rates "
                f"({min(r['lr'] for r in group):.3g}-{max(r['lr'] for r in group):.3g}); widen lr_sweep.lrs"
            )
    fitted = [b for b in bests if not b["holdout"]]
    if len(fitted) < 2:
        raise SweepError(f"the rule needs at least 2 swept sizes outside holdout_sizes, got {len(fitted)}")
    x = [math.log(b["params"]) for b in fitted]
    y = [math.log(b["lr"]) for b in fitted]
    x0 = sum(x) / len(x)
    sxx = sum((xi - x0) ** 2 for xi in x)
    if sxx == 0:
        raise SweepError("the swept sizes all have the same parameter count")
    y0 = sum(y) / len(y)
    exponent = sum((xi - x0) * (yi - y0) for xi, yi in zip(x, y, strict=True)) / sxx
    rule = {"lr_ref": math.exp(y0), "n_ref": math.exp(x0), "exponent": exponent}
    check = []
    for b in bests:
        if not b["holdout"]:
            continue
        eta = swept_lr(rule, b["params"])
        penalty = loss_at(by_size[b["size"]], eta) / b["loss"] - 1.0 if not b["at_edge"] else math.nan
        check.append({
            "size": b["size"], "params": b["params"], "best_lr": b["lr"], "rule_lr": eta,
            "ratio": eta / b["lr"], "loss_penalty_pct": 100.0 * penalty,
            "within_sqrt2": bool(abs(math.log(eta / b["lr"])) <= 0.5 * math.log(2.0) + 1e-12),
        })  # fmt: skip
    return {
        "schema_version": RULE_SCHEMA_VERSION,
        "formula": "lr(N) = lr_ref * (N / n_ref) ** exponent",
        **rule,
        "params": params,
        "sizes": bests,
        "check": check,
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
    columns = ["run_id", "size", "params", "lr", "loss", "status", "holdout"]
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
    """The rule and its check in a few lines (the lr-rule command's output)."""
    lines = [
        f"lr(N) = {rule['lr_ref']:.4g} * (N / {rule['n_ref']:.4g}) ** {rule['exponent']:.3f}   "
        f"(N: {rule['params']} parameters)"
    ]
    for b in rule["sizes"]:
        tag = " (held out)" if b["holdout"] else ""
        lines.append(f"  size {b['size']}{tag}: N {b['params']:,}, best lr {b['lr']:.4g}, loss {b['loss']:.4f}")
    for c in rule["check"]:
        penalty = c["loss_penalty_pct"]
        lines.append(
            f"  held-out size {c['size']}: rule lr {c['rule_lr']:.4g} / best {c['best_lr']:.4g} = "
            f"x{c['ratio']:.3f} ({'within' if c['within_sqrt2'] else 'outside'} x1.414), loss penalty "
            + (f"{penalty:.3f}%" if penalty is not None and math.isfinite(penalty) else "n/a")
        )
    lines += [f"  warning: {w}" for w in rule["warnings"]]
    return "\n".join(lines)
