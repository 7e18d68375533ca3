"""Read-only views of fit.json and predictions.csv for figures and tables.

Presentation never recomputes a fit: everything drawn or tabulated comes from the files that
``flops_fit.fitting`` wrote (their layout is documented in ``flops_fit/fitting/__init__.py``).
This module is the one place that knows that layout, so a change of the fit format touches only
this file. The only arithmetic done here is *evaluating* a fitted formula (a budget's parabola,
Approach 3's L(N, D) and its frontier) at points in order to draw it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from flops_fit.approaches import APPROACH_KEYS, approach_key
from flops_fit.extrapolation import PLOT_LIMIT

PARAM_ORDER = ("E", "A", "B", "alpha", "beta", "a", "b", "G", "k_N", "k_D", "gamma", "k_L", "E_L")


def _f(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval; lo/hi are NaN when there is none."""

    value: float
    lo: float = math.nan
    hi: float = math.nan

    @classmethod
    def of(cls, value, interval=None) -> Interval:
        lo, hi = (interval or [None, None])[:2] if isinstance(interval, list | tuple) else (None, None)
        return cls(_f(value), _f(lo), _f(hi))

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.lo) and math.isfinite(self.hi)


@dataclass
class IsoFLOPBudget:
    """One budget of Approach 2: its parabola L(log10 N), the vertex and whether the fit used it."""

    budget: float
    budget_id: int
    coefficients: tuple[float, float, float] | None  # (c2, c1, c0) of L vs log10 N
    n_opt: Interval
    d_opt: Interval
    l_opt: Interval
    included: bool
    reason: str
    warnings: list[str]
    n_range: tuple[float, float]

    def curve(self, n):
        """The fitted parabola evaluated at parameter counts ``n`` (drawing only)."""
        import numpy as np

        return np.polyval(self.coefficients, np.log10(n))


@dataclass
class ApproachView:
    name: str
    ok: bool
    reason: str = ""
    parameters: dict[str, Interval] = field(default_factory=dict)  # in PARAM_ORDER
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
        self.predictions = predictions  # normalised DataFrame (see normalise_predictions) or None
        self.approaches = {name: self._approach(name) for name in APPROACH_KEYS}
        self.unit = "tokens"  # what D counts: "tokens", "images" or "samples" (see set_unit)

    def set_unit(self, runs) -> None:
        """Take the data unit from runs.csv's optional ``unit`` column (image studies count images)."""
        if runs is not None and "unit" in runs and runs["unit"].notna().any():
            units = sorted(set(runs["unit"].dropna().astype(str)))
            self.unit = units[0] if len(units) == 1 else "units"

    @property
    def data_label(self) -> str:
        """e.g. "Tokens" (or "Images"): the axis label of D."""
        return self.unit.capitalize()

    @classmethod
    def load(cls, fit_json, predictions_csv=None) -> FitView:
        """From the files, or (in a notebook) from the fit dict and the predictions DataFrame.  A
        corrupt, empty or foreign file is a FitError naming it (``fitting.fitjson.read_fit``)."""
        from flops_fit.fitting.fitjson import read_fit

        fit = fit_json if isinstance(fit_json, dict) else read_fit(fit_json)
        preds = None
        if predictions_csv is not None and not isinstance(predictions_csv, str | os.PathLike):
            preds = normalise_predictions(predictions_csv)  # a DataFrame
        elif predictions_csv and Path(predictions_csv).is_file():
            preds = normalise_predictions(predictions_csv)
        return cls(fit, preds, "" if isinstance(fit_json, dict) else str(fit_json))

    def _section(self, name: str) -> dict | None:
        sec = (self.fit.get("approaches") or {}).get(name)
        return sec if isinstance(sec, dict) else None

    def _approach(self, name: str) -> ApproachView:
        sec = self._section(name)
        if sec is None:
            return ApproachView(name, ok=False, reason="not fitted (not requested)")
        intervals = sec.get("intervals") or {}
        params = {k: Interval.of(v, intervals.get(k)) for k, v in (sec.get("params") or {}).items()}
        params = dict(
            sorted(
                params.items(),
                key=lambda kv: PARAM_ORDER.index(kv[0]) if kv[0] in PARAM_ORDER else len(PARAM_ORDER),
            )
        )
        excluded = [(_f(e.get("budget")), str(e.get("reason") or "")) for e in sec.get("excluded_budgets") or []]
        return ApproachView(
            name,
            ok=sec.get("status") == "ok" and bool(params),
            reason=str(sec.get("reason") or ""),
            parameters=params,
            excluded=excluded,
            warnings=[str(w) for w in sec.get("warnings") or []],
            raw=sec,
        )

    # --------------------------------------------------------------- conventions and options
    @property
    def convention(self) -> str:
        """e.g. "N = total parameters, C = 6ND"."""
        conv = self.fit.get("convention") or {}
        n = {"total": "total parameters", "non_embedding": "non-embedding parameters"}.get(
            conv.get("params"), str(conv.get("params", "?"))
        )
        c = {"6ND": "6ND", "counted": "counted FLOPs"}.get(conv.get("flops"), str(conv.get("flops", "?")))
        return f"N = {n}, C = {c}"

    @property
    def n_kind(self) -> str:
        """What N counts: "total" or "non-embedding" (parameters)."""
        conv = (self.fit.get("convention") or {}).get("params")
        return "non-embedding" if conv == "non_embedding" else "total"

    @property
    def params_label(self) -> str:
        """The axis label of N, saying which parameters it counts."""
        return f"{self.n_kind.capitalize()} parameters $N$"

    @property
    def loss_unit(self) -> str:
        """e.g. "nats per token" (cross-entropy per unit of data: token, byte-token, image)."""
        one = {"tokens": "token", "images": "image", "samples": "sample"}.get(self.unit, self.unit.rstrip("s"))
        return f"nats per {one}"

    def loss_label(self, what: str = "Validation loss") -> str:
        """An axis label for a loss with its unit: "Validation loss (nats per token)"."""
        return f"{what} ({self.loss_unit})"

    @property
    def confidence(self) -> float:
        return _f((self.fit.get("options") or {}).get("confidence"))

    @property
    def interval_level(self) -> str:
        """e.g. "90%" (the fit's interval level), or "" when the fit has no intervals."""
        level = self.confidence
        if self.bootstrap and math.isfinite(level) and 0 < level < 1:
            return f"{100 * level:g}%"
        return ""

    @property
    def bootstrap(self) -> int:
        b = _f((self.fit.get("options") or {}).get("bootstrap"))
        return int(b) if math.isfinite(b) else 0

    @property
    def studied_budgets(self) -> list[float]:
        return sorted(_f(b) for b in self.fit.get("budgets") or [])

    def predictions_within(self, max_extrapolation: float | None = PLOT_LIMIT):
        """predictions.csv's rows up to ``max_extrapolation`` x the largest studied budget (all
        rows when None or when the studied budgets are unknown): what a figure draws, so that a far
        extrapolation (the table still lists it) does not squeeze the data into a corner."""
        preds = self.predictions
        budgets = self.studied_budgets
        if preds is None or not max_extrapolation or not budgets:
            return preds
        return preds[preds["budget"] <= max(budgets) * max_extrapolation * 1.001]  # budgets: means of runs

    @property
    def flops_per_6nd(self) -> float:
        """Counted FLOPs per 6ND (1 under C = 6ND): how Approach 3's C relates to N and D."""
        k = _f((self._section(approach_key(3)) or {}).get("flops_per_6ND"))
        return k if math.isfinite(k) and k > 0 else 1.0

    # --------------------------------------------------------------- data
    def used_runs(self):
        """The runs the fit used: DataFrame run_id, N, D, C, L, budget, budget_id (or None)."""
        import pandas as pd

        runs = self.fit.get("runs")
        return pd.DataFrame(runs) if runs else None

    def excluded_runs(self) -> dict[str, str]:
        return {str(e.get("run_id")): str(e.get("reason") or "") for e in self.fit.get("excluded_runs") or []}

    def isoflop(self) -> list[IsoFLOPBudget]:
        out = []
        for item in (self._section(approach_key(2)) or {}).get("budgets") or []:
            par = item.get("parabola")
            coef = tuple(_f(par.get(k)) for k in ("c2", "c1", "c0")) if isinstance(par, dict) else None
            iv = {
                q: Interval(_f(item.get(q)), _f(item.get(q + "_lo")), _f(item.get(q + "_hi")))
                for q in ("N_opt", "D_opt", "L_opt")
            }
            out.append(
                IsoFLOPBudget(
                    budget=_f(item.get("budget")),
                    budget_id=int(item.get("budget_id", -1)),
                    coefficients=coef,
                    n_opt=iv["N_opt"],
                    d_opt=iv["D_opt"],
                    l_opt=iv["L_opt"],
                    included=bool(item.get("included")),
                    reason=str(item.get("reason") or ""),
                    warnings=[str(w) for w in item.get("warnings") or []],
                    n_range=(_f(item.get("N_min")), _f(item.get("N_max"))),
                )
            )
        return sorted(out, key=lambda b: b.budget)

    def envelope(self):
        """Approach 1's envelope as a DataFrame (C, N, D, L, run_id: fit.json's names), or None."""
        import pandas as pd

        env = (self._section(approach_key(1)) or {}).get("envelope")
        if not env:
            return None
        frame = pd.DataFrame(env)
        return frame if len(frame) else None

    def approach3(self) -> dict | None:
        """Approach 3's point estimates E, A, B, alpha, beta (floats), or None when it failed."""
        ap = self.approaches[approach_key(3)]
        names = ("E", "A", "B", "alpha", "beta")
        if not ap.ok:
            return None
        vals = {n: ap.get(n).value for n in names}
        return vals if all(math.isfinite(v) for v in vals.values()) else None

    def backtest(self):
        """Held-out comparison as a DataFrame (approach, budget, quantity "L" (of L*) or "N" (of N*),
        predicted, predicted_lo, predicted_hi, actual), or None. The prediction's interval is NaN
        when fit.json has none."""
        import pandas as pd

        bt = self.fit.get("backtest") or {}
        rows = []
        for approach, entry in (bt.get("approaches") or {}).items():
            if not isinstance(entry, dict) or entry.get("status") != "ok":
                continue
            for e in entry.get("held_out") or []:
                for q, pred, obs in (("L", "L_pred", "L_obs"), ("N", "N_pred", "N_obs")):
                    if e.get(pred) is not None and e.get(obs) is not None:
                        rows.append(
                            {
                                "approach": approach,
                                "budget": _f(e.get("budget")),
                                "quantity": q,
                                "predicted": _f(e[pred]),
                                "predicted_lo": _f(e.get(pred + "_lo")),
                                "predicted_hi": _f(e.get(pred + "_hi")),
                                "actual": _f(e[obs]),
                                "observed_from": str(e.get("observed_from") or ""),
                            }
                        )
        return pd.DataFrame(rows) if rows else None

    def backtest_skipped(self) -> dict[str, str]:
        """Approaches the backtest could not refit: {approach: reason}."""
        bt = self.fit.get("backtest") or {}
        return {
            k: str(v.get("reason") or v.get("status"))
            for k, v in (bt.get("approaches") or {}).items()
            if isinstance(v, dict) and v.get("status") != "ok"
        }

    def backtest_note(self) -> str:
        bt = self.fit.get("backtest") or {}
        if not bt:
            return "no backtest in fit.json"
        if bt.get("status") != "ok":
            return f"backtest skipped: {bt.get('reason') or bt.get('status')}"
        return ""


def _read_predictions(path):
    """predictions.csv as a DataFrame; FitError naming it when it is empty or not a CSV."""
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        from flops_fit.fitting.runs_table import FitError

        raise FitError(f"{path}: not a readable predictions.csv ({type(exc).__name__}: {exc}); rerun the fit") from None


def normalise_predictions(path_or_buffer):
    """predictions.csv (a path, buffer or DataFrame) as one row per (approach, budget), in its own
    column names: ``approach`` as its fit.json key ("approach1".."approach3"), ``budget``,
    ``N_opt``, ``D_opt``, ``L_opt``, ``tokens_per_param`` (each with ``_lo``/``_hi``; NaN where
    the file has none) and ``extrapolated`` (not in_sample)."""
    import numpy as np
    import pandas as pd

    if isinstance(path_or_buffer, pd.DataFrame):
        frame = path_or_buffer.copy()
    else:
        frame = _read_predictions(path_or_buffer)
    for q in ("N_opt", "D_opt", "L_opt", "tokens_per_param"):
        for suffix in ("", "_lo", "_hi"):
            if q + suffix not in frame.columns:
                frame[q + suffix] = np.nan
    if "in_sample" in frame.columns:
        frame["extrapolated"] = ~frame["in_sample"].astype(str).str.lower().isin(("true", "1", "1.0"))
    elif "extrapolated" not in frame.columns:
        frame["extrapolated"] = False
    try:
        frame["approach"] = frame["approach"].map(approach_key)
        frame["budget"] = frame["budget"].astype(float)
    except (KeyError, ValueError, TypeError) as exc:
        from flops_fit.fitting.runs_table import FitError

        where = path_or_buffer if isinstance(path_or_buffer, str | os.PathLike) else "predictions table"
        raise FitError(
            f"{where}: not a flops-fit predictions.csv ({type(exc).__name__}: {exc}); rerun the fit"
        ) from None
    return frame.sort_values(["approach", "budget"]).reset_index(drop=True)
