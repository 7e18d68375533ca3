"""Is the variant better?  Compute multipliers between two fitted studies, with intervals.

Architecture papers report a variant against a baseline as a *compute multiplier*: the variant
at compute C reaches the loss the baseline reaches only at M(C) * C (Kaplan et al. 2020, §6:
architecture changes as shifts of the frontier; Hoffmann et al. 2022; the "effective compute" of
e.g. the DeepSeek and Gemma ablations).  With each study's compute-optimal loss law L*(C),

    M(C) = C' / C   where   L*_base(C') = L*_var(C)

M > 1: the variant saves compute (the baseline needs M times more for the same loss).
For the laws of Approaches 1 and 2, L* = E + k C^-gamma (:mod:`.powerlaw`), so

    C' = ((L*_var(C) - E_base) / k_base)^(-1 / gamma_base)

and when both studies share E and gamma, with r = k_base / k_var the ratio of prefactors,
M = r^(1/gamma) at every budget: a constant multiplier.  Different exponents give an M that
changes with scale.  Approach 3's L*(C) (with counted FLOPs, no closed form) is inverted
numerically on a fine log grid of C, interpolating log(L* - E) against log C (exact for a pure
power law in C).  A target loss at or below the baseline's irreducible E is out of its reach:
M = inf.

Intervals come from a *joint bootstrap*: each study's fit stored its own bootstrap replicates
(fit.json ``approaches.*.bootstrap.samples``); replicate i of the baseline is paired with
replicate pi(i) of the variant, pi a seeded random permutation (two studies fitted with the same
seed draw the same resampling indices; the permutation makes the pairs independent, as two
independent studies are), and every quantity is computed replicate by replicate; the interval is
the central percentile interval.  These intervals carry the runs' noise only; beyond the studied
budgets the laws' own misspecification (see :mod:`.predictive`) is not in them, which is why
every row says how far its budget lies beyond the data.

Whether M is constant: the slope s of log M against log C (least squares over the budgets
asked, or over the budgets both studies studied when only one is asked), per replicate; a
``confidence`` interval of s that holds 0 says "constant (a ratio of prefactors)", one that does
not says "changes with scale (different exponents)".

    from flops_fit.fitting.compare import load_study, compare
    result = compare(load_study("results/shakespeare"), load_study("results/shakespeare-swiglu"), [1e15])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flops_fit import extrapolation
from flops_fit.approaches import APPROACH_IDS, approach_key

from .allocation import evaluate
from .bootstrap import percentile_interval
from .fitjson import find_fit, read_fit
from .runs_table import FitError

GRID_STEP = 0.05  # decades of C between the points of Approach 3's tabulated L*(C)
GRID_REACH = 3.0  # decades below and above the budgets that the tabulation covers
SLOPE_POINTS = 9

METHOD = (
    "joint bootstrap: replicate i of the baseline's fit paired with replicate pi(i) of the variant's "
    "(pi a seeded random permutation: the studies resampled independently), every quantity computed per "
    "pair; central percentile interval; run noise only (no allowance for misspecification beyond the data)"
)


class CompareError(FitError):
    """Two studies that cannot be compared (different data units or conventions)."""


@dataclass
class Study:
    """One finished study: its name, fit.json content, data unit (None: not recorded) and path."""

    name: str
    fit: dict
    unit: str | None
    path: str


def _unit(fit: dict, fit_path: Path) -> str | None:
    """The data unit: fit.json's ``unit`` if it records one, else the ``unit`` column of the
    study's runs.csv (beside fit.json or one folder up), else None."""
    if fit.get("unit"):
        return str(fit["unit"])
    for runs in (fit_path.parent / "runs.csv", fit_path.parent.parent / "runs.csv"):
        if runs.is_file():
            head = pd.read_csv(runs, nrows=100_000)
            if "unit" in head.columns:
                units = sorted({str(u) for u in head["unit"].dropna()})
                if len(units) > 1:
                    raise CompareError(f"{runs}: runs on several data units {units}; one study has one unit")
                return units[0] if units else None
            return None
    return None


def load_study(path, name: str | None = None) -> Study:
    """A study from its results/<study> folder, its fit/ folder or its fit.json."""
    fit_path = find_fit(path, "give a finished study's results/<study> folder or its fit.json")
    if name is None:
        name = fit_path.parent.parent.name if fit_path.parent.name == "fit" else fit_path.parent.name
    fit = read_fit(fit_path)
    return Study(name=name, fit=fit, unit=_unit(fit, fit_path), path=str(fit_path))


def check_comparable(base: Study, var: Study) -> None:
    """Raise CompareError when the two studies measure C, N or data differently."""
    if base.unit and var.unit and base.unit != var.unit:
        raise CompareError(
            f"cannot compare {base.name} (data unit {base.unit!r}) with {var.name} (data unit {var.unit!r}): "
            "a compute multiplier needs the same data unit (tokens vs tokens, images vs images)"
        )
    cb, cv = base.fit.get("convention", {}), var.fit.get("convention", {})
    for key in ("params", "flops"):
        if cb.get(key) != cv.get(key):
            raise CompareError(
                f"cannot compare {base.name} ({key}={cb.get(key)!r}) with {var.name} ({key}={cv.get(key)!r}): "
                f"refit one with the other's fit.{key} (allowed: the same convention in both)"
            )


def _usable(block: dict) -> bool:
    samples = (block.get("bootstrap") or {}).get("samples") or {}
    return block.get("status") == "ok" and bool(samples) and len(next(iter(samples.values()))) > 0


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _floor(approach: int, params: dict):
    """The irreducible loss of the L*(C) law: E of Approach 3, E_L of Approaches 1 and 2."""
    return params["E"] if approach == 3 else params.get("E_L", 0.0)


def baseline_budget(approach: int, params: dict, block: dict, target, c_span) -> np.ndarray:
    """The compute C' at which the baseline's L*(C') equals ``target`` (rows: replicates or 1).

    ``params`` values are scalars or (rows, 1) arrays, ``target`` (rows, budgets).
    Approaches 1 and 2: the closed form of the module docstring.  Approach 3: log(L* - E)
    tabulated against log10 C over ``c_span`` widened by GRID_REACH decades, interpolated;
    beyond the table, extended along its end segments.
    """
    target = np.atleast_2d(np.asarray(target, dtype=float))
    e = np.asarray(_floor(approach, params), dtype=float).reshape(-1, 1)
    with np.errstate(all="ignore"):
        gap = target - e
        if approach != 3:
            k, g = (np.asarray(params[p], dtype=float) for p in ("k_L", "gamma"))
            out = (gap / k) ** (-1.0 / g)
        else:
            out = _invert_tabulated(params, block, gap, c_span, e)
        out = np.where(gap > 0, out, np.inf)
        return np.where(np.isfinite(target) & np.isfinite(e), out, np.nan)


def _invert_tabulated(params: dict, block: dict, gap: np.ndarray, c_span, e: np.ndarray) -> np.ndarray:
    lo, hi = math.log10(c_span[0]) - GRID_REACH, math.log10(c_span[1]) + GRID_REACH
    x = np.arange(lo, hi + GRID_STEP / 2, GRID_STEP)
    _, _, table = evaluate(3, params, 10.0 ** x[None, :], block)
    y = np.log(np.atleast_2d(table) - e)  # rows x grid, decreasing in x
    rows = max(y.shape[0], gap.shape[0])
    y = np.broadcast_to(y, (rows, len(x)))
    g = np.broadcast_to(np.log(np.where(gap > 0, gap, np.nan)), (rows, gap.shape[1]))
    out = np.full(g.shape, np.nan)
    for r in range(rows):
        ok = np.isfinite(y[r])
        if ok.sum() < 2 or not np.all(np.diff(y[r][ok]) < 0):
            continue
        xs, ys = x[ok][::-1], y[r][ok][::-1]  # increasing in y for np.interp
        xr = np.interp(g[r], ys, xs)
        lo_slope = (xs[1] - xs[0]) / (ys[1] - ys[0])
        hi_slope = (xs[-1] - xs[-2]) / (ys[-1] - ys[-2])
        xr = np.where(g[r] < ys[0], xs[0] + (g[r] - ys[0]) * lo_slope, xr)
        xr = np.where(g[r] > ys[-1], xs[-1] + (g[r] - ys[-1]) * hi_slope, xr)
        out[r] = 10.0**xr
    return out


def _quantities(approach: int, pb: dict, bb: dict, pv: dict, bv: dict, c: np.ndarray, c_span) -> dict:
    """N*, D*, L* of both studies and the multiplier at budgets ``c`` (shape (1, budgets))."""
    with np.errstate(all="ignore"):
        nb, db, lb = (np.atleast_2d(v) for v in evaluate(approach, pb, c, bb))
        nv, dv, lv = (np.atleast_2d(v) for v in evaluate(approach, pv, c, bv))
        c_prime = baseline_budget(approach, pb, bb, lv, c_span)
        return {"N_base": nb, "D_base": db, "L_base": lb, "N_var": nv, "D_var": dv, "L_var": lv,
                "dL": lv - lb, "multiplier": c_prime / c}


def _slope(log_c: np.ndarray, multiplier: np.ndarray) -> np.ndarray:
    """Least-squares slope of log10 M on log10 C per row (NaN where any M is not finite)."""
    x = log_c - log_c.mean()
    with np.errstate(all="ignore"):
        y = np.log10(multiplier)
        s = (y * x).sum(axis=1) / (x * x).sum()
    return np.where(np.all(np.isfinite(y), axis=1), s, np.nan)


def _interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0 with inf kept (an unreachable loss is M = inf)."""
    big = np.finfo(float).max / 4
    lo, hi = percentile_interval(np.where(np.isposinf(samples), big, samples), confidence)
    return np.where(lo >= big, np.inf, lo), np.where(hi >= big, np.inf, hi)


def slope_budgets(budgets, base_budgets, var_budgets) -> np.ndarray:
    """Where the slope of log M is measured: the budgets asked when they span > 0.1 decade, else
    the range both studies studied (their overlap, or their union if they do not overlap)."""
    b = np.asarray(budgets, dtype=float)
    if np.log10(b.max() / b.min()) > 0.1:
        lo, hi = b.min(), b.max()
    else:
        lo, hi = max(min(base_budgets), min(var_budgets)), min(max(base_budgets), max(var_budgets))
        if hi <= lo:
            lo, hi = min(*base_budgets, *var_budgets), max(*base_budgets, *var_budgets)
    return np.geomspace(lo, hi, SLOPE_POINTS)


def verdict(slope: float, lo: float, hi: float, confidence: float) -> tuple[str, str]:
    """("constant" | "changes" | "undetermined", a sentence) from the slope's interval."""
    pct = f"{confidence:.0%}"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "undetermined", "Whether the multiplier changes with scale cannot be said: its slope has no interval."
    if lo <= 0 <= hi:
        return "constant", (
            f"The multiplier is constant across budgets as far as the data can tell (slope of log M vs log C "
            f"{slope:+.3f}, {pct} interval [{lo:+.3f}, {hi:+.3f}] holds 0): consistent with a ratio of prefactors "
            "(the same exponent)."
        )
    trend = "grows" if slope > 0 else "shrinks"
    return "changes", (
        f"The multiplier changes with scale: it {trend} with C (slope of log M vs log C {slope:+.3f}, "
        f"{pct} interval [{lo:+.3f}, {hi:+.3f}] excludes 0): the loss laws have different exponents."
    )


def compare_approach(base: Study, var: Study, approach: int, budgets, confidence: float, seed: int = 0,
                     curve=()) -> dict:
    """Rows per budget (and per ``curve`` budget) and the multiplier's slope for one approach
    (see the module docstring); all budgets in one pass (Approach 3 tabulates L*(C) once)."""
    key = approach_key(approach)
    bb, bv = base.fit["approaches"][key], var.fit["approaches"][key]
    c, curve = np.asarray(budgets, dtype=float), np.asarray(curve, dtype=float)
    grid = slope_budgets(c, base.fit["budgets"], var.fit["budgets"])
    allc = np.concatenate([c, curve, grid])[None, :]
    c_span = (float(allc.min()), float(allc.max()))
    pb = {p: (math.nan if v is None else v) for p, v in bb["params"].items()}
    pv = {p: (math.nan if v is None else v) for p, v in bv["params"].items()}
    point = _quantities(approach, pb, bb, pv, bv, allc, c_span)

    sb = {p: _arr(v) for p, v in bb["bootstrap"]["samples"].items()}
    sv = {p: _arr(v) for p, v in bv["bootstrap"]["samples"].items()}
    rb, rv = len(next(iter(sb.values()))), len(next(iter(sv.values())))
    pairs = min(rb, rv)
    perm = np.random.default_rng(seed).permutation(rv)[:pairs]
    sb = {p: v[:pairs, None] for p, v in sb.items()}
    sv = {p: v[perm, None] for p, v in sv.items()}
    reps = _quantities(approach, sb, bb, sv, bv, allc, c_span)
    at_grid = slice(len(c) + len(curve), None)
    slope_point = float(_slope(np.log10(grid), point["multiplier"][:, at_grid])[0])
    slope_reps = _slope(np.log10(grid), reps["multiplier"][:, at_grid])
    s_lo, s_hi = (float(v[0]) for v in percentile_interval(slope_reps[:, None], confidence))
    kind, sentence = verdict(slope_point, s_lo, s_hi, confidence)

    def rows(columns) -> list[dict]:
        out = []
        for j in columns:
            budget = float(allc[0, j])
            row = {"budget": budget, "approach": approach}
            for name in ("multiplier", "dL", "L_base", "L_var", "N_base", "N_var", "D_base", "D_var"):
                lo, hi = _interval(reps[name][:, j : j + 1], confidence)
                row.update({name: float(point[name][0, j]), f"{name}_lo": float(lo[0]), f"{name}_hi": float(hi[0])})
            row["extrapolation"] = float(max(extrapolation.factor(budget, base.fit["budgets"]),
                                             extrapolation.factor(budget, var.fit["budgets"])))
            row["beyond_data"] = bool(row["extrapolation"] > extrapolation.FAR)
            row["unreachable"] = bool(math.isinf(row["multiplier"]))  # the variant's L* is below the baseline's E
            out.append(row)
        return out

    return {
        "rows": rows(range(len(c))),
        "curve": rows(range(len(c), len(c) + len(curve))),
        "slope": {"value": slope_point, "lo": s_lo, "hi": s_hi, "budgets": [float(grid[0]), float(grid[-1])]},
        "verdict": kind,
        "sentence": sentence,
        "pairs": pairs,
        "pairs_finite": int(np.isfinite(reps["multiplier"][:, : len(c)]).all(axis=1).sum()),
    }


def compare(base: Study, var: Study, budgets, approaches=None, confidence: float | None = None, seed: int = 0,
            curve_points: int = 0) -> dict:
    """The comparison of ``var`` against ``base`` at ``budgets`` for every approach fitted (with
    bootstrap replicates) in both, or for ``approaches``.  ``curve_points`` > 0 adds ``curve``:
    the same rows on that many budgets from the smallest studied one to the largest asked or
    studied (what the figure draws).  Raises CompareError/FitError."""
    check_comparable(base, var)
    c = [float(b) for b in budgets]
    if not c or not all(math.isfinite(b) and b > 0 for b in c):
        raise FitError(f"budgets {budgets!r}: give compute budgets as finite FLOPs > 0, e.g. 1e15")
    if confidence is None:
        confidence = float(base.fit.get("options", {}).get("confidence", 0.9))
    common = [k for k in APPROACH_IDS
              if _usable(base.fit["approaches"].get(approach_key(k), {}))
              and _usable(var.fit["approaches"].get(approach_key(k), {}))]
    if approaches:
        missing = [k for k in approaches if k not in common]
        if missing:
            raise FitError(
                f"approach(es) {missing} not fitted with bootstrap replicates in both studies "
                f"(allowed here: {common or 'none'}); refit with bootstrap > 0"
            )
        common = [k for k in common if k in approaches]
    if not common:
        raise FitError(
            f"{base.name} and {var.name} share no approach fitted with bootstrap replicates; "
            "refit both with bootstrap > 0"
        )
    out = {
        "baseline": _describe(base),
        "variant": _describe(var),
        "budgets": c,
        "confidence": confidence,
        "seed": seed,
        "interval_method": METHOD,
        "definition": "multiplier M(C) = C'/C with L*_baseline(C') = L*_variant(C); M > 1: the variant saves compute. "
        "dL = L*_variant(C) - L*_baseline(C).",
    }
    studied = [*base.fit["budgets"], *var.fit["budgets"]]
    curve = np.geomspace(min(studied), max(*studied, *c), curve_points) if curve_points else ()
    blocks = {approach_key(k): compare_approach(base, var, k, c, confidence, seed, curve) for k in common}
    out["approaches"] = {k: {n: v for n, v in b.items() if n != "curve"} for k, b in blocks.items()}
    if curve_points:
        out["curve"] = {k: b["curve"] for k, b in blocks.items()}
    return out


def _describe(study: Study) -> dict:
    return {
        "name": study.name,
        "path": study.path,
        "unit": study.unit or "not recorded",
        "convention": {k: study.fit.get("convention", {}).get(k) for k in ("params", "flops")},
        "budgets": study.fit["budgets"],
    }


def rows_frame(result: dict) -> pd.DataFrame:
    """One row per (budget, approach) of a :func:`compare` result."""
    rows = [r for block in result["approaches"].values() for r in block["rows"]]
    return pd.DataFrame(rows).sort_values(["budget", "approach"], ignore_index=True)
