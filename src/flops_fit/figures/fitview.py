"""Read-only views of fit.json and predictions.csv for figures and tables.

Presentation never recomputes a fit: everything drawn or tabulated comes from the files that
``flops_fit.fitting`` wrote. This module is the one place that knows their layout, so a change of
the fit format touches only this file. The only arithmetic done here is *evaluating* a fitted
formula (a parabola's coefficients, Approach 3's L(N, D)) at points to draw it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

APPROACHES = ("approach1", "approach2", "approach3")


@dataclass(frozen=True)
class Interval:
    """A point estimate with its (bootstrap) interval; lo/hi are NaN when there is none."""

    value: float
    lo: float = math.nan
    hi: float = math.nan

    @classmethod
    def of(cls, obj) -> Interval:
        if obj is None:
            return cls(math.nan)
        if isinstance(obj, int | float):
            return cls(float(obj))
        if isinstance(obj, list | tuple):
            vals = [_f(x) for x in obj] + [math.nan] * 3
            return cls(*vals[:3])
        lo, hi = obj.get("lo", obj.get("low")), obj.get("hi", obj.get("high"))
        if (lo is None or hi is None) and isinstance(obj.get("interval"), list | tuple):
            lo, hi = obj["interval"][:2]
        if (lo is None or hi is None) and isinstance(obj.get("ci"), list | tuple):
            lo, hi = obj["ci"][:2]
        return cls(_f(obj.get("value", obj.get("estimate"))), _f(lo), _f(hi))

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.lo) and math.isfinite(self.hi)


def _f(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


@dataclass
class IsoFLOPBudget:
    """One budget of Approach 2: the parabola in log N, its minimum and whether the fit used it."""

    budget: float
    coefficients: tuple[float, ...]  # highest degree first, in ``x_scale`` of N
    x_scale: str  # "ln" or "log10": the variable of the parabola
    y_scale: str  # "loss" or "ln_loss"
    n_opt: Interval
    d_opt: Interval
    l_opt: Interval
    included: bool
    reason: str = ""
    n_range: tuple[float, float] = (math.nan, math.nan)

    def curve(self, n):
        """The fitted parabola evaluated at parameter counts ``n`` (drawing only)."""
        import numpy as np

        x = np.log(n) if self.x_scale == "ln" else np.log10(n)
        y = np.polyval(self.coefficients, x)
        return np.exp(y) if self.y_scale == "ln_loss" else y


@dataclass
class ApproachView:
    name: str
    ok: bool
    error: str = ""
    parameters: dict[str, Interval] = field(default_factory=dict)  # in table order
    excluded: list[tuple[float, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    raw: dict = field(default_factory=dict)

    def get(self, name: str) -> Interval:
        return self.parameters.get(name, Interval(math.nan))


class FitView:
    """Everything presentation needs from ``fit.json`` (+ ``predictions.csv``), by name."""

    def __init__(self, fit: dict, predictions=None, source: str = ""):
        self.fit = fit
        self.source = source
        self.predictions = predictions  # pandas DataFrame in long-by-approach form, or None
        self.approaches = {name: self._approach(name) for name in APPROACHES}

    # --------------------------------------------------------------- construction
    @classmethod
    def load(cls, fit_json: str | os.PathLike, predictions_csv: str | os.PathLike | None = None) -> FitView:
        fit = json.loads(Path(fit_json).read_text())
        preds = None
        if predictions_csv and Path(predictions_csv).is_file():
            preds = normalise_predictions(predictions_csv)
        return cls(fit, preds, str(fit_json))

    def _section(self, name: str) -> dict | None:
        box = self.fit.get("approaches", self.fit)
        sec = box.get(name)
        if sec is None:
            alt = {"approach1": "a1", "approach2": "a2", "approach3": "a3"}[name]
            sec = box.get(alt)
        return sec if isinstance(sec, dict) else None

    def _approach(self, name: str) -> ApproachView:
        sec = self._section(name)
        if sec is None:
            return ApproachView(name, ok=False, error="not in fit.json")
        status = sec.get("status", "ok")
        error = sec.get("error") or sec.get("reason") or ""
        ok = status in ("ok", "success", True) and not sec.get("failed", False)
        params_src = sec.get("parameters", sec.get("params", {})) or {}
        params = {k: Interval.of(v) for k, v in params_src.items()}
        for k in ("a", "b"):  # exponents may sit beside the parameters
            if k not in params and k in sec:
                params[k] = Interval.of(sec[k])
        order = ["E", "A", "B", "alpha", "beta", "a", "b", "G", "k_n", "k_d"]
        params = dict(sorted(params.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))
        excluded = []
        for item in sec.get("excluded_budgets", []) or []:
            if isinstance(item, dict):
                excluded.append((_f(item.get("budget")), str(item.get("reason", ""))))
            else:
                excluded.append((_f(item), ""))
        warnings = [str(w) for w in (sec.get("warnings") or [])]
        return ApproachView(name, ok=ok and bool(params), error=str(error), parameters=params,
                            excluded=excluded, warnings=warnings, raw=sec)

    # --------------------------------------------------------------- queries
    @property
    def convention(self) -> str:
        conv = self.fit.get("convention", {})
        if isinstance(conv, dict):
            return ", ".join(f"{k}: {v}" for k, v in sorted(conv.items()))
        return str(conv)

    def exponents(self, name: str) -> tuple[Interval, Interval]:
        ap = self.approaches[name]
        return ap.get("a"), ap.get("b")

    def isoflop(self) -> list[IsoFLOPBudget]:
        sec = self._section("approach2") or {}
        out = []
        for item in sec.get("budgets", sec.get("parabolas", [])) or []:
            coef = item.get("coefficients", item.get("coef", item.get("parabola")))
            if isinstance(coef, dict):
                coef = [coef.get(k) for k in ("c2", "c1", "c0")]
            coef = tuple(_f(c) for c in (coef or []))
            n_range = item.get("n_range", (item.get("n_min"), item.get("n_max")))
            out.append(IsoFLOPBudget(
                budget=_f(item.get("budget")),
                coefficients=coef,
                x_scale=str(item.get("x", item.get("x_scale", "log10"))).replace("_params", ""),
                y_scale=str(item.get("y", item.get("y_scale", "loss"))),
                n_opt=Interval.of(item.get("n_opt", item.get("N_opt"))),
                d_opt=Interval.of(item.get("d_opt", item.get("D_opt"))),
                l_opt=Interval.of(item.get("l_opt", item.get("L_opt"))),
                included=bool(item.get("included", True)),
                reason=str(item.get("reason", "") or ""),
                n_range=tuple(_f(x) for x in n_range) if n_range else (math.nan, math.nan),
            ))
        return sorted(out, key=lambda b: b.budget)

    def envelope(self):
        """Approach 1's envelope points as a DataFrame (flops, params, tokens, loss), or None."""
        import pandas as pd

        sec = self._section("approach1") or {}
        pts = sec.get("envelope", sec.get("points"))
        if not pts:
            return None
        frame = pd.DataFrame(pts)
        return frame if {"flops", "params", "tokens"} <= set(frame.columns) else None

    def approach3(self) -> dict | None:
        """Approach 3's point estimates E, A, B, alpha, beta (floats), or None when it failed."""
        ap = self.approaches["approach3"]
        names = ("E", "A", "B", "alpha", "beta")
        if not ap.ok or not all(n in ap.parameters for n in names):
            return None
        vals = {n: ap.parameters[n].value for n in names}
        return vals if all(math.isfinite(v) for v in vals.values()) else None

    def backtest(self):
        """Held-out checks as a DataFrame (approach, budget, quantity, predicted, lo, hi, actual), or None."""
        import pandas as pd

        bt = self.fit.get("backtest")
        if not bt:
            return None
        rows = []
        items = bt.items() if isinstance(bt, dict) else [(r.get("approach"), r) for r in bt]
        for approach, entry in items:
            entries = entry if isinstance(entry, list) else entry.get("points", [entry]) if isinstance(
                entry, dict) else []
            for e in entries:
                if not isinstance(e, dict):
                    continue
                for q in ("loss", "params", "tokens"):
                    pred = e.get(f"predicted_{q}", e.get("predicted") if q == "loss" else None)
                    act = e.get(f"actual_{q}", e.get("actual") if q == "loss" else None)
                    if pred is None or act is None:
                        continue
                    iv = Interval.of(pred)
                    rows.append({"approach": approach, "budget": _f(e.get("budget")), "quantity": q,
                                 "predicted": iv.value, "lo": iv.lo, "hi": iv.hi, "actual": _f(act)})
        return pd.DataFrame(rows) if rows else None


def normalise_predictions(path):
    """predictions.csv as one row per (approach, budget) with columns
    ``approach, budget, params, params_lo, params_hi, tokens, tokens_lo, tokens_hi, loss, loss_lo,
    loss_hi, extrapolated`` (missing columns are NaN)."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(path)
    rename = {}
    for col in frame.columns:
        low = col.lower()
        for src, dst in (("n_opt", "params"), ("d_opt", "tokens"), ("l_opt", "loss"),
                         ("n_star", "params"), ("d_star", "tokens"), ("l_star", "loss")):
            if low.startswith(src):
                rename[col] = dst + low[len(src):]
    frame = frame.rename(columns=rename)
    for q in ("params", "tokens", "loss"):
        for suffix in ("", "_lo", "_hi"):
            if q + suffix not in frame.columns:
                frame[q + suffix] = np.nan
    if "extrapolated" not in frame.columns:
        frame["extrapolated"] = False
    if "approach" not in frame.columns:
        frame["approach"] = "approach3"
    frame["approach"] = frame["approach"].astype(str).map(
        lambda a: {"a1": "approach1", "a2": "approach2", "a3": "approach3", "1": "approach1",
                   "2": "approach2", "3": "approach3"}.get(a.lower(), a.lower()))
    return frame.sort_values(["approach", "budget"]).reset_index(drop=True)
