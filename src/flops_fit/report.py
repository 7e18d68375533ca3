"""What the presentation rules write for a study, and the headline page of the HTML report.

The Snakefile asks :func:`presentation_files` at parse time for every figure and table file of a
study (``rule all`` requests them). The headline (:func:`make_headline`) answers the study's
question before any figure: for each target budget of the config, N*, D*, L* and D*/N* per
approach with their intervals, how far beyond the studied budgets that is, and how well the
study predicted its own largest budget when it was held out (the backtest). ``snakemake
--report`` shows it on its landing page (workflow/report/workflow.rst includes it).

Cheap to import: no matplotlib, pandas or torch until a function needs them.
"""

from __future__ import annotations

import html
import math

from flops_fit import extrapolation
from flops_fit.figures import FIGURES
from flops_fit.figures import FORMATS as FIGURE_FORMATS
from flops_fit.tables import FORMATS as TABLE_FORMATS
from flops_fit.tables import NUMBERS, TABLES

HEADLINE = "report/headline.html"
"""The headline page of a study, under results/<study>/."""


def presentation_files(study: str, formats=FIGURE_FORMATS, studies=()) -> list[str]:
    """Every figure and table file the pipeline writes for ``study`` (``rule all`` asks for them),
    the report's headline page, plus the comparison figure when ``studies`` (the active studies)
    holds more than one."""
    out = [f"results/{study}/figures/{name}.{ext}" for ext in formats for name in FIGURES]
    out += [f"results/{study}/tables/{name}.{ext}" for name in TABLES for ext in TABLE_FORMATS]
    out += [f"results/{study}/tables/{NUMBERS}", f"results/{study}/config.yaml", f"results/{study}/{HEADLINE}"]
    if len(studies) > 1:
        out += [f"results/comparison/figures/comparison.{ext}" for ext in formats]
    return out


def target_budgets(study_config: dict) -> list[float]:
    """The budgets a study is for: its config's ``fit.predict_budgets``, else 100x its largest
    studied budget."""
    targets = sorted(float(c) for c in (study_config.get("fit") or {}).get("predict_budgets") or [])
    return targets or [100.0 * max(float(c) for c in study_config["grid"]["budgets"])]


# ----------------------------------------------------------------------------- the headline page

_STYLE = """
.ff-headline { font-family: system-ui, sans-serif; max-width: 60rem; }
.ff-headline table { border-collapse: collapse; margin: 0.4rem 0 1rem; font-size: 0.9rem; }
.ff-headline th, .ff-headline td { padding: 0.2rem 0.6rem; border-bottom: 1px solid #ddd; text-align: right; }
.ff-headline th:first-child, .ff-headline td:first-child { text-align: left; }
.ff-headline .iv { color: #555; font-size: 0.85em; }
.ff-headline .warn { color: #8a4b00; }
.ff-headline .note { color: #555; font-size: 0.85rem; }
"""


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _cell(value: float, lo: float, hi: float, fmt) -> str:
    if not math.isfinite(value):
        return "<td>&ndash;</td>"
    iv = f' <span class="iv">[{fmt(lo)}, {fmt(hi)}]</span>' if math.isfinite(lo) and math.isfinite(hi) else ""
    return f"<td>{html.escape(fmt(value))}{iv}</td>"


def _times(factor: float) -> str:
    """3.3, 250, 1,250 or 1.25e9 (how many times the largest studied budget)."""
    from flops_fit.presentation.formatting import sci

    return f"{factor:.2g}" if factor < 10 else f"{factor:,.0f}" if factor < 1e6 else sci(factor, 3)


def _backtest_cell(err_pct: float, n_ratio: float) -> str:
    parts = []
    if math.isfinite(err_pct):
        parts.append(f"L* {err_pct:+.1f}%")
    if math.isfinite(n_ratio):
        parts.append(f"N* &times;{n_ratio:.2f}")
    return f"<td>{', '.join(parts) or '&ndash;'}</td>"


def headline_html(fit_json, predictions_csv, targets, study: str = "", runs_csv=None) -> str:
    """The headline page as a self-contained HTML fragment (its own <style>, no scripts).

    ``targets``: the budgets to answer for (FLOPs); each is looked up in predictions.csv (the
    pipeline predicts every target budget). Columns used when present: ``extrapolation``,
    ``beyond_data``, ``backtest_L_error_pct``, ``backtest_N_ratio``, ``interval_method``.
    """
    from flops_fit.approaches import approach_id, approach_of
    from flops_fit.presentation.fitview import FitView
    from flops_fit.presentation.formatting import fmt_loss, fmt_ratio, human, sci

    view = FitView.load(fit_json, predictions_csv)
    if runs_csv is not None:
        import pandas as pd

        from flops_fit.fitting.runs_table import read_runs_table

        view.set_unit(runs_csv if isinstance(runs_csv, pd.DataFrame) else read_runs_table(runs_csv))
    preds = view.predictions
    studied = view.studied_budgets
    level = view.interval_level or "no"
    method = str(view.fit.get("intervals_method") or "")
    out = [f"<style>{_STYLE}</style>", '<div class="ff-headline">']
    title = f"Compute-optimal allocation{': ' + html.escape(study) if study else ''}"
    out.append(f"<h2>{title}</h2>")
    out.append(
        f'<p class="note">{html.escape(view.convention)}; D counts {html.escape(view.unit)}; '
        f"loss in {html.escape(view.loss_unit)}; brackets: {level} intervals"
        + (f" ({html.escape(method.split(':')[0])}, see the end)" if method else "")
        + (f"; studied budgets {sci(studied[0], 3)} to {sci(studied[-1], 3)} FLOPs" if studied else "")
        + ".</p>"
    )
    for c in targets:
        rows = None
        if preds is not None and len(preds):
            rows = preds[(preds["budget"] - c).abs() <= 1e-6 * c]
        out.append(f"<h3>C = {sci(c, 3)} FLOPs</h3>")
        if rows is None or rows.empty:
            out.append('<p class="warn">No prediction for this budget in predictions.csv.</p>')
            continue
        factor = _num(rows["extrapolation"].iloc[0]) if "extrapolation" in rows else math.nan
        if not math.isfinite(factor) and studied:
            factor = c / studied[-1]
        if math.isfinite(factor) and extrapolation.extrapolated_factor(factor):
            far = extrapolation.far(factor)
            out.append(
                f'<p class="{"warn" if far else "note"}">{_times(factor)}&times; the largest studied budget'
                + (": far beyond the data, read it as a rough guide." if far else ".")
                + "</p>"
            )
        out.append(
            "<table><tr><th>Approach</th><th>N* (parameters)</th>"
            f"<th>D* ({html.escape(view.unit)})</th><th>L*</th><th>D*/N*</th>"
            "<th>Backtest (largest budget held out)</th></tr>"
        )
        indicative = {k for k, v in (view.fit.get("approaches") or {}).items() if v.get("indicative")}
        for r in sorted(rows.itertuples(), key=lambda r: approach_id(r.approach)):
            backtest = _backtest_cell(
                _num(getattr(r, "backtest_L_error_pct", None)), _num(getattr(r, "backtest_N_ratio", None))
            )
            approach = approach_of(r.approach)
            name = approach.name + (" (indicative)" if approach.key in indicative else "")
            out.append(
                f"<tr><td>{html.escape(name)}</td>"
                + _cell(_num(r.N_opt), _num(r.N_opt_lo), _num(r.N_opt_hi), human)
                + _cell(_num(r.D_opt), _num(r.D_opt_lo), _num(r.D_opt_hi), human)
                + _cell(_num(r.L_opt), _num(r.L_opt_lo), _num(r.L_opt_hi), fmt_loss)
                + _cell(_num(r.tokens_per_param), _num(r.tokens_per_param_lo), _num(r.tokens_per_param_hi), fmt_ratio)
                + backtest
                + "</tr>"
            )
        out.append("</table>")
    failed = [f"{approach_of(a).name}: {v.reason}" for a, v in view.approaches.items() if not v.ok and v.reason]
    reach = view.fit.get("reach") or {}
    message = str(reach.get("message") or "")
    notes = [message[:1].upper() + message[1:]] if reach.get("limited") and message else []
    notes += [str(d.get("message")) for d in view.fit.get("diagnostics") or [] if d.get("message")]
    notes += [
        f"{approach_of(k).name}: {v['indicative']}"
        for k, v in (view.fit.get("approaches") or {}).items()
        if v.get("status") == "ok" and v.get("indicative")
    ]
    if failed or notes:
        out.append('<h3>Read with care</h3><ul class="note">')
        out += [f"<li>{html.escape(line)}</li>" for line in failed + notes]
        out.append("</ul>")
    if method:
        out.append(f'<p class="note">Intervals: {html.escape(method)}.</p>')
    out.append(
        '<p class="note">Backtest: each approach refitted without the largest studied budget, predicting it; '
        "L* error = prediction / observation &minus; 1, N* ratio = prediction / observation. "
        "The figures and tables of this study follow in the report.</p>"
    )
    out.append("</div>")
    return "\n".join(out) + "\n"


def make_headline(fit_json, predictions_csv, out_path, targets, study: str = "", runs_csv=None) -> str:
    """Write :func:`headline_html` to ``out_path`` (atomically); return the path."""
    from flops_fit.io import atomic_write_text

    atomic_write_text(out_path, headline_html(fit_json, predictions_csv, targets, study, runs_csv))
    return str(out_path)
