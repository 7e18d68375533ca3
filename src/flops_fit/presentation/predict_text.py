"""The text ``flops-fit predict`` prints: per budget, each approach's N*, D*, L* and D*/N* with intervals."""

from __future__ import annotations

import math

from flops_fit import extrapolation
from flops_fit.approaches import approach_id, approach_of
from flops_fit.fitting import reach
from flops_fit.presentation.fitview import FitView, Interval, normalise_predictions
from flops_fit.presentation.formatting import fmt_loss, fmt_ratio, human, interval_text, one_line, sci

QUANTITIES = (("N_opt", "N*", human), ("D_opt", "D*", human), ("L_opt", "L*", fmt_loss),
              ("tokens_per_param", "D*/N*", fmt_ratio))


def format_predictions(table, fit=None) -> str:
    """Plain text for ``flops-fit predict``: per budget, each approach's N*, D*, L*, D*/N* with intervals.

    ``table`` is ``flops_fit.fitting.predict``'s DataFrame (or predictions.csv read as one);
    ``fit`` (the fit.json dict) adds the conventions and the interval level to the header. With
    the columns ``extrapolation``, ``backtest_L_error_pct`` and ``backtest_N_ratio`` each budget
    says how far beyond the studied budgets it lies (plainly, when more than 10x) and each
    approach how far off it was when the study's largest budget was held out.
    """
    import io as _io

    import pandas as pd

    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
    if frame.empty:
        return "no predictions (no approach was fitted)"
    frame = normalise_predictions(_io.StringIO(frame.to_csv(index=False)))
    frame = frame.assign(_o=frame["approach"].map(approach_id)).sort_values(["budget", "_o"])
    lines = [_header(fit)] if fit else []
    indicative = {k for k, v in ((fit or {}).get("approaches") or {}).items() if v.get("indicative")}
    study_reach = (fit or {}).get("reach")
    if study_reach and study_reach.get("limited"):
        lines.append(f"# {study_reach['message']}")
    for budget, grp in frame.groupby("budget", sort=True):
        lines.append(f"C = {sci(budget, 3)} FLOPs{_how_far(grp)}")
        note = reach.beyond_tested(_num(grp["extrapolation"].iloc[0]), study_reach) if "extrapolation" in grp else ""
        if note:
            lines.append(f"  ({note})")
        for r in grp.itertuples():
            parts = []
            for q, label, fmt in QUANTITIES:
                iv = Interval(float(getattr(r, q)), float(getattr(r, f"{q}_lo")), float(getattr(r, f"{q}_hi")))
                if math.isfinite(iv.value):
                    parts.append(
                        f"{label} = {fmt(iv.value)}" + (f" {interval_text(iv, fmt)}" if iv.has_interval else "")
                    )
            approach = approach_of(r.approach)
            tag = " (indicative)" if approach.key in indicative else ""
            lines.append(f"  {approach.name}{tag}: " + ", ".join(parts) + _backtest(r))
    for key in sorted(indicative & set(frame["approach"].map(lambda a: approach_of(a).key))):
        lines.append(f"# {approach_of(key).name}: {one_line(fit['approaches'][key]['indicative'])}")
    return "\n".join(lines)


def _header(fit: dict, what: str = "") -> str:
    """'# N = total parameters, C = 6ND[what]; [90% predictive interval]'."""
    view = FitView(fit)
    conf = view.interval_level
    method = str(fit.get("intervals_method") or "bootstrap").split(":")[0]
    return f"# {view.convention}{what}" + (f"; [{conf} {method} interval]" if conf else "")


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _how_far(grp) -> str:
    """' (250x the largest studied budget: far beyond the data, a rough guide)' and the like."""
    factor = _num(grp["extrapolation"].iloc[0]) if "extrapolation" in grp else math.nan
    if not math.isfinite(factor):
        return " (extrapolated beyond the studied budgets)" if grp["extrapolated"].any() else ""
    if not extrapolation.extrapolated_factor(factor):
        return ""
    times = f"{factor:.2g}" if factor < 10 else f"{factor:,.0f}" if factor < 1e6 else sci(factor, 3)
    far = ": far beyond the data, a rough guide" if extrapolation.far(factor) else ""
    return f" ({times}x the largest studied budget{far})"


def _backtest(r) -> str:
    """'; backtest: L* -0.9%, N* x0.99' (the study's largest budget held out), or ''."""
    err, ratio = _num(getattr(r, "backtest_L_error_pct", None)), _num(getattr(r, "backtest_N_ratio", None))
    parts = ([f"L* {err:+.1f}%"] if math.isfinite(err) else []) + ([f"N* x{ratio:.2f}"] if math.isfinite(ratio) else [])
    return "; backtest: " + ", ".join(parts) if parts else ""


def predictions_json(table, fit=None) -> dict:
    """``flops-fit predict --json``: the conventions, what the study cannot know (fit.json's ``reach``), the
    study's warnings and design diagnostics, and one record per (budget, approach) with every column of
    ``table`` (N_opt, N_opt_lo, ..., extrapolation, backtest errors) plus the approach's ``indicative``
    note and ``warnings``; NaN becomes null."""
    import json

    import pandas as pd

    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
    records = json.loads(frame.to_json(orient="records", double_precision=15))
    out = {"predictions": records}
    if fit:
        view = FitView(fit)
        approaches = fit.get("approaches") or {}
        for record in records:
            block = approaches.get(approach_of(record["approach"]).key, {}) if "approach" in record else {}
            record["indicative"] = block.get("indicative")  # Approach 1's note, else null
            record["warnings"] = list(block.get("warnings") or [])
        out = {
            "convention": fit.get("convention") or {},
            "confidence": view.confidence if view.interval_level else None,
            "bootstrap": view.bootstrap,
            "reach": fit.get("reach"),
            "warnings": list(fit.get("warnings") or []) + [d.get("message") for d in fit.get("diagnostics") or []],
            **out,
        }
    return out


def format_loss(table, fit=None) -> str:
    """Plain text for ``flops-fit predict --params N --tokens D``: per run, the loss L(N, D) Approach 3's
    surface gives with its interval, its compute and how far beyond the studied budgets it lies."""
    lines = [_header(fit, "; Approach 3's L(N, D)")] if fit else []
    for r in table.itertuples():
        iv = Interval(float(r.L), float(r.L_lo), float(r.L_hi))
        how_far = _how_far(table.iloc[[r.Index]])
        lines.append(
            f"N = {human(r.params)}, D = {human(r.tokens)} (D/N = {fmt_ratio(r.tokens_per_param)}, "
            f"C = {sci(r.compute, 3)} FLOPs{how_far}): L = {fmt_loss(iv.value)}"
            + (f" {interval_text(iv, fmt_loss)}" if iv.has_interval else "")
        )
    return "\n".join(lines)
