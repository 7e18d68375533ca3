"""Paper tables of one study, as LaTeX (booktabs), Markdown and CSV, plus ``numbers.tex``.

    from flops_fit.tables import make_tables
    make_tables("results/tiny/fit/fit.json", "results/tiny/fit/predictions.csv", "results/tiny/tables")

Written to ``out_dir`` (names in :data:`TABLES`):

* ``parameters.{csv,md,tex}``  -- every fitted parameter with its interval, per approach
  (Approaches 1 and 2: N* = k_N C^a, D* = k_D C^b; Approach 3: E, A, B, alpha, beta and the
  implied a, b);
* ``allocations.{csv,md,tex}`` -- compute-optimal allocations per budget and approach, in the
  style of Hoffmann et al. 2022, Table 3: budget, N*, D*, L*, D*/N*, with intervals, for the
  studied budgets and those beyond them (extrapolated rows are marked);
* ``runs.{csv,md,tex}``        -- the run table (appendix style): budget, size, N, D, FLOPs, loss,
  status, one row per run of runs.csv;
* ``numbers.tex`` -- one ``\\newcommand`` per number a paper's text quotes (``\\AThreeAlpha``,
  ``\\ATwoExponentA``, ``\\AThreeNOptCOneETwentyOne`` ...); macro names are letters only, as TeX
  requires. Every number is read from fit.json / predictions.csv; nothing is refitted.

Imports pandas inside functions only; never imports torch or matplotlib.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from flops_fit.figures.fitview import APPROACHES, FitView, Interval
from flops_fit.figures.style import human, sci
from flops_fit.io import atomic_write_text

TABLES = ("parameters", "allocations", "runs")
FORMATS = ("csv", "md", "tex")
NUMBERS = "numbers.tex"

APPROACH_NAMES = {"approach1": "Approach 1", "approach2": "Approach 2", "approach3": "Approach 3"}
APPROACH_WORDS = {"approach1": "AOne", "approach2": "ATwo", "approach3": "AThree"}
PARAM_TEX = {
    "E": "$E$",
    "A": "$A$",
    "B": "$B$",
    "alpha": r"$\alpha$",
    "beta": r"$\beta$",
    "a": "$a$ ($N^* \\propto C^a$)",
    "b": "$b$ ($D^* \\propto C^b$)",
    "G": "$G$",
    "k_N": "$k_N$",
    "k_D": "$k_D$",
    "gamma": r"$\gamma$ ($L^* \propto C^{-\gamma}$)",
    "k_L": "$k_L$",
}
PARAM_MD = {"alpha": "α", "beta": "β", "gamma": "γ (L* ∝ C^-γ)", "a": "a (N* ∝ C^a)", "b": "b (D* ∝ C^b)"}
PARAM_WORDS = {
    "E": "E",
    "A": "CoefA",
    "B": "CoefB",
    "alpha": "Alpha",
    "beta": "Beta",
    "a": "ExponentA",
    "b": "ExponentB",
    "G": "G",
    "k_N": "CoefN",
    "k_D": "CoefD",
    "gamma": "Gamma",
    "k_L": "CoefL",
}
_DIGITS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")
_TEENS = (
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
)
_TENS = ("", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety")


# ----------------------------------------------------------------------------- number formatting


def fmt_param(name: str, x: float) -> str:
    """A parameter value to show: exponents with 3 decimals, coefficients with 4 significant digits."""
    if x is None or not math.isfinite(x):
        return "--"
    if name in ("alpha", "beta", "a", "b", "gamma"):
        return f"{x:.3f}"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        return f"{x:.3e}"
    return f"{x:.4g}"


def fmt_loss(x: float) -> str:
    return "--" if x is None or not math.isfinite(x) else f"{x:.3f}"


def fmt_ratio(x: float) -> str:
    return "--" if x is None or not math.isfinite(x) else f"{x:.3g}"


def _interval_text(iv: Interval, fmt) -> str:
    return f"[{fmt(iv.lo)}, {fmt(iv.hi)}]" if iv.has_interval else ""


def tex_escape(text: str) -> str:
    """Escape the characters LaTeX treats specially in running text."""
    repl = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
    }
    return "".join(repl.get(ch, ch) for ch in str(text))


def tex_flops(x: float) -> str:
    """1e21 -> '$10^{21}$', 3e18 -> '$3\\times10^{18}$'."""
    if x is None or not math.isfinite(x) or x <= 0:
        return "--"
    s = sci(x, 3)
    mant, exp = s.split("e")
    return f"$10^{{{int(exp)}}}$" if mant == "1" else f"${mant}\\times10^{{{int(exp)}}}$"


def number_words(n: int) -> str:
    """0..999 in CamelCase words (TeX macro names may hold letters only): 21 -> 'TwentyOne'."""
    if n < 0:
        return "Minus" + number_words(-n)
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return _TEENS[n - 10]
    if n < 100:
        return _TENS[n // 10] + (_DIGITS[n % 10] if n % 10 else "")
    return _DIGITS[n // 100] + "Hundred" + (number_words(n % 100) if n % 100 else "")


def budget_words(c: float) -> str:
    """A budget as letters for macro names: 1e21 -> 'COneETwentyOne', 2.5e19 -> 'CTwoPointFiveENineteen'."""
    mant, exp = sci(c, 3).split("e")
    whole, _, frac = mant.partition(".")
    words = number_words(int(whole)) + ("Point" + "".join(_DIGITS[int(d)] for d in frac) if frac else "")
    return f"C{words}E{number_words(int(exp))}"


MACRO_RE = re.compile(r"^[A-Za-z]+$")


# ----------------------------------------------------------------------------- table frames


def parameters_frame(view: FitView):
    """One row per (approach, parameter): value, lo, hi (from fit.json)."""
    import pandas as pd

    rows = []
    for name in APPROACHES:
        ap = view.approaches[name]
        if not ap.parameters:
            continue
        for pname, iv in ap.parameters.items():
            rows.append({"approach": name, "parameter": pname, "value": iv.value, "lo": iv.lo, "hi": iv.hi})
    return pd.DataFrame(rows, columns=["approach", "parameter", "value", "lo", "hi"])


def allocations_frame(view: FitView, studied_max: float | None = None):
    """One row per (budget, approach) from predictions.csv: N*, D*, L*, D*/N* with intervals."""
    import numpy as np
    import pandas as pd

    cols = [
        "budget",
        "approach",
        "params",
        "params_lo",
        "params_hi",
        "tokens",
        "tokens_lo",
        "tokens_hi",
        "loss",
        "loss_lo",
        "loss_hi",
        "tokens_per_param",
        "extrapolated",
    ]
    preds = view.predictions
    if preds is None or preds.empty:
        return pd.DataFrame(columns=cols)
    frame = preds.copy()
    if "tokens_per_param" not in frame:
        frame["tokens_per_param"] = frame["tokens"] / frame["params"]
    if studied_max is not None and math.isfinite(studied_max):
        frame["extrapolated"] = frame["budget"] > studied_max * (1 + 1e-9)
    frame["extrapolated"] = frame["extrapolated"].astype(str).str.lower().isin(("true", "1", "1.0", "yes"))
    order = {a: i for i, a in enumerate(APPROACHES)}
    frame["_o"] = frame["approach"].map(order).fillna(9)
    frame = frame.sort_values(["budget", "_o"]).drop(columns="_o")
    keep = [c for c in cols if c in frame.columns] + [c for c in frame.columns if c.startswith("tokens_per_param_")]
    out = frame[keep].reset_index(drop=True)
    for c in ("params", "tokens", "loss"):
        out[c] = out[c].astype(float)
    return out[np.isfinite(out["params"]) | np.isfinite(out["loss"])].reset_index(drop=True)


# ----------------------------------------------------------------------------- renderers


def _md_table(header: list[str], rows: list[list[str]], align: list[str]) -> str:
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


LONG_TABLE_ROWS = 40
"""Tables with more rows than this become a ``longtable`` (breaks across pages)."""


def _tex_table(header: list[str], groups: list[list[list[str]]], align: str, caption: str, label: str) -> str:
    """A booktabs table; a ``longtable`` (header repeated on every page) when it is long."""
    head = [" & ".join(header) + " \\\\"]
    body = []
    for i, group in enumerate(groups):
        if i:
            body.append("\\midrule")
        body += [" & ".join(r) + " \\\\" for r in group]
    if sum(len(g) for g in groups) > LONG_TABLE_ROWS:
        lines = [
            "% requires \\usepackage{booktabs} and \\usepackage{longtable}",
            "{\\small",
            f"\\begin{{longtable}}{{{align}}}",
            f"\\caption{{{caption}}}\\label{{{label}}} \\\\",
            "\\toprule",
            *head,
            "\\midrule",
            "\\endfirsthead",
            "\\toprule",
            *head,
            "\\midrule",
            "\\endhead",
            "\\bottomrule",
            "\\endfoot",
            *body,
            "\\end{longtable}",
            "}",
        ]
        return "\n".join(lines) + "\n"
    lines = [
        "% requires \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "\\centering",
        "\\small",
        f"\\caption{{{caption}}}",
        f"\\label{{{label}}}",
        f"\\begin{{tabular}}{{{align}}}",
        "\\toprule",
        *head,
        "\\midrule",
        *body,
        "\\bottomrule",
        "\\end{tabular}",
        "\\end{table}",
    ]
    return "\n".join(lines) + "\n"


def _confidence(view: FitView) -> str:
    """e.g. "90%" (the fit's interval level), or "" when the fit has no intervals."""
    level = view.confidence
    if view.bootstrap and math.isfinite(level) and 0 < level < 1:
        return f"{100 * level:g}%"
    return ""


def render_parameters(frame, view: FitView) -> dict[str, str]:
    conf = _confidence(view)
    header_md = ["Approach", "Parameter", "Estimate", f"{conf} interval".strip()]
    rows_md, groups = [], []
    for name in APPROACHES:
        sel = frame[frame["approach"] == name]
        if sel.empty:
            continue
        group = []
        for r in sel.itertuples():
            iv = Interval(r.value, r.lo, r.hi)
            f = lambda x, p=r.parameter: fmt_param(p, x)  # noqa: E731
            rows_md.append(
                [
                    APPROACH_NAMES[name],
                    PARAM_MD.get(r.parameter, r.parameter),
                    f(r.value),
                    _interval_text(iv, f),
                ]
            )
            group.append(
                [
                    APPROACH_NAMES[name] if not group else "",
                    PARAM_TEX.get(r.parameter, tex_escape(r.parameter)),
                    f(r.value),
                    _interval_text(iv, f),
                ]
            )
        groups.append(group)
    md = _md_table(header_md, rows_md, ["l", "l", "r", "r"])
    notes = [f"Data: {w.strip()}" for w in view.fit.get("warnings") or []]
    if view.fit.get("effective_data"):
        notes.append("Data: D is the effective data of repeated epochs (Muennighoff et al. 2023)")
    for name in APPROACHES:
        ap = view.approaches[name]
        if not ap.ok and ap.reason:
            notes.append(f"{APPROACH_NAMES[name]}: not fitted: {ap.reason}")
        for budget, reason in ap.excluded:
            notes.append(f"{APPROACH_NAMES[name]}: budget {sci(budget, 3)} excluded: {reason}")
        notes += [f"{APPROACH_NAMES[name]}: warning: {w}" for w in ap.warnings]
    if name_budgets := [b for b in view.isoflop() if b.warnings]:
        for b in name_budgets:
            notes += [f"Approach 2: budget {sci(b.budget, 3)}: {w}" for w in b.warnings]
    if notes:
        md += "\nNotes:\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    caption = (
        "Fitted scaling-law parameters per approach"
        + (f" with {tex_escape(conf)} bootstrap intervals ({view.bootstrap} resamples). " if conf else ". ")
        + f"Conventions: {tex_escape(view.convention)}."
    )
    tex = _tex_table(
        ["Approach", "Parameter", "Estimate", f"{tex_escape(conf)} interval".strip()],
        groups,
        "llrr",
        caption,
        "tab:scaling-parameters",
    )
    return {"md": md, "tex": tex}


def render_allocations(frame, view: FitView) -> dict[str, str]:
    conf = _confidence(view)
    rows_md, groups = [], []
    for budget, sel in frame.groupby("budget", sort=True):
        group = []
        for r in sel.itertuples():
            mark = "†" if r.extrapolated else ""
            n_iv = Interval(r.params, r.params_lo, r.params_hi)
            d_iv = Interval(r.tokens, r.tokens_lo, r.tokens_hi)
            l_iv = Interval(r.loss, r.loss_lo, r.loss_hi)
            values = [  # the same cells in both formats
                human(r.params),
                _interval_text(n_iv, human),
                human(r.tokens),
                _interval_text(d_iv, human),
                fmt_loss(r.loss),
                _interval_text(l_iv, fmt_loss),
                fmt_ratio(r.tokens_per_param),
            ]
            rows_md.append([sci(budget, 3) + mark, APPROACH_NAMES.get(r.approach, r.approach), *values])
            budget_tex = (tex_flops(budget) + ("$^\\dagger$" if mark else "")) if not group else ""
            group.append([budget_tex, APPROACH_NAMES.get(r.approach, tex_escape(r.approach)), *values])
        groups.append(group)
    iv_head = f"{conf} interval".strip()
    header = ["Budget (FLOPs)", "Approach", "N*", iv_head, "D*", iv_head, "L*", iv_head, "D*/N*"]
    md = _md_table(header, rows_md, ["l", "l", "r", "r", "r", "r", "r", "r", "r"])
    if frame["extrapolated"].any():
        md += "\n† beyond the largest studied budget (extrapolated).\n"
    t_iv = tex_escape(conf) or "interval"
    tex_header = ["FLOPs", "Approach", "$N^*$", t_iv, "$D^*$", t_iv, "$L^*$", t_iv, "$D^*/N^*$"]
    caption = (
        "Compute-optimal allocations per budget and approach (cf. Hoffmann et al. 2022, Table 3)"
        + (f", with {tex_escape(conf)} bootstrap intervals. " if conf else ". ")
        + ("$^\\dagger$Beyond the largest studied budget (extrapolated). " if frame["extrapolated"].any() else "")
        + f"$D^*$ counts {tex_escape(view.unit)}. Conventions: {tex_escape(view.convention)}."
    )
    tex = _tex_table(tex_header, groups, "llrrrrrrr", caption, "tab:compute-optimal")
    return {"md": md, "tex": tex}


RUN_COLUMNS = (
    "run_id",
    "status",
    "budget",
    "size",
    "n_layer",
    "d_model",
    "params",
    "tokens",
    "flops",
    "loss",
)


def runs_frame(runs):
    """The run table: the presentational columns of runs.csv that exist, sorted by budget and size."""
    import pandas as pd

    if runs is None:
        return pd.DataFrame(columns=["run_id", "params", "tokens", "loss"])
    cols = [c for c in RUN_COLUMNS if c in runs.columns]
    keys = [c for c in ("budget", "params") if c in cols]
    return runs[cols].sort_values(keys, kind="stable").reset_index(drop=True) if keys else runs[cols]


def render_runs(frame, view: FitView) -> dict[str, str]:
    heads = {
        "run_id": "Run",
        "status": "Status",
        "budget": "Budget (FLOPs)",
        "size": "Size",
        "n_layer": "Layers",
        "d_model": "Width",
        "params": "N",
        "tokens": "D",
        "flops": "FLOPs",
        "loss": "Loss",
    }
    tex_heads = {**heads, "budget": "Budget", "params": "$N$", "tokens": "$D$", "loss": "Val.\\ loss"}
    fmt = {
        "budget": lambda x: sci(x, 3),
        "flops": lambda x: sci(x, 3),
        "params": human,
        "tokens": human,
        "loss": fmt_loss,
        "size": lambda x: f"{x:g}",
        "n_layer": lambda x: f"{x:g}",
        "d_model": lambda x: f"{x:g}",
    }
    tex_fmt = {**fmt, "budget": tex_flops, "flops": tex_flops}
    cols = list(frame.columns)
    excluded = view.excluded_runs()

    def cells(r, fmts, esc):
        out = []
        for c in cols:
            v = r[c]
            if c in fmts and isinstance(v, int | float) and math.isfinite(v):
                out.append(fmts[c](float(v)))
            else:
                out.append(esc(str(v)) if v == v else "--")
        return out

    rows_md = [cells(r, fmt, str) for _, r in frame.iterrows()]
    rows_tex = [cells(r, tex_fmt, tex_escape) for _, r in frame.iterrows()]
    align = ["l" if c in ("run_id", "status") else "r" for c in cols]
    md = _md_table([heads[c] for c in cols], rows_md, align)
    if excluded:
        md += "\nExcluded from the fits: " + "; ".join(f"{k} ({v})" for k, v in sorted(excluded.items())) + "\n"
    caption = (
        f"All {len(frame)} training runs (final validation loss; budgets and FLOPs under the study's "
        f"convention). Conventions of the fit: {tex_escape(view.convention)}."
    )
    tex = _tex_table([tex_heads[c] for c in cols], [rows_tex], "".join(align), caption, "tab:runs")
    return {"md": md, "tex": tex}


def numbers_macros(view: FitView, alloc, runs=None) -> list[tuple[str, str, str]]:
    """(macro name, value text, comment) for every quotable number."""
    out: list[tuple[str, str, str]] = []
    for name in APPROACHES:
        ap = view.approaches[name]
        prefix = APPROACH_WORDS[name]
        for pname, iv in ap.parameters.items():
            word = PARAM_WORDS.get(pname) or "".join(w.capitalize() for w in re.split(r"[^A-Za-z]+", pname) if w)
            f = lambda x, p=pname: fmt_param(p, x)  # noqa: E731
            out.append((prefix + word, f(iv.value), f"{APPROACH_NAMES[name]}: {pname}"))
            if iv.has_interval:
                out.append((prefix + word + "Low", f(iv.lo), f"{APPROACH_NAMES[name]}: {pname}, interval low"))
                out.append((prefix + word + "High", f(iv.hi), f"{APPROACH_NAMES[name]}: {pname}, interval high"))
    for r in alloc.itertuples():
        prefix = APPROACH_WORDS.get(r.approach)
        if prefix is None:
            continue
        b = budget_words(r.budget)
        for q, word, fmt in (
            ("params", "NOpt", human),
            ("tokens", "DOpt", human),
            ("loss", "LOpt", fmt_loss),
        ):
            iv = Interval(getattr(r, q), getattr(r, f"{q}_lo"), getattr(r, f"{q}_hi"))
            if not math.isfinite(iv.value):
                continue
            out.append(
                (
                    f"{prefix}{word}{b}",
                    fmt(iv.value),
                    f"{APPROACH_NAMES[r.approach]}: {q} at C={sci(r.budget, 3)}",
                )
            )
            if iv.has_interval:
                out.append((f"{prefix}{word}{b}Low", fmt(iv.lo), ""))
                out.append((f"{prefix}{word}{b}High", fmt(iv.hi), ""))
        if math.isfinite(r.tokens_per_param):
            out.append((f"{prefix}TokensPerParam{b}", fmt_ratio(r.tokens_per_param), ""))
    bt = view.backtest()
    if bt is not None:  # "+0.8": prediction / observation - 1 in percent at the held-out budget
        several = bt["budget"].nunique() > 1  # then the macro names carry the budget
        for r in bt.itertuples():
            prefix = APPROACH_WORDS.get(r.approach)
            word = {"loss": "Loss", "params": "NOpt"}.get(r.quantity)
            if not (prefix and word and math.isfinite(r.predicted) and math.isfinite(r.actual) and r.actual):
                continue
            name = f"{prefix}Backtest{word}ErrorPct" + (budget_words(r.budget) if several else "")
            note = f"{APPROACH_NAMES[r.approach]}: backtest, {r.quantity} at C={sci(r.budget, 3)}, % error"
            out.append((name, f"{100 * (r.predicted / r.actual - 1):+.1f}", note))
    conf = _confidence(view)
    if conf:
        out.append(("ConfidenceLevel", conf.replace("%", r"\%"), "interval level"))
    if view.bootstrap:
        out.append(("BootstrapSamples", str(view.bootstrap), "bootstrap resamples"))
    if runs is not None and len(runs):
        out.append(("NumRuns", str(len(runs)), "runs in runs.csv"))
        if "status" in runs:
            out.append(("NumRunsDiverged", str(int((runs["status"] == "diverged").sum())), "diverged runs"))
        if "budget" in runs:
            budgets = sorted(runs["budget"].dropna().unique())
            out.append(("NumBudgets", str(len(budgets)), "compute budgets studied"))
            if budgets:
                out.append(("MinBudget", tex_flops(budgets[0]), "smallest studied budget"))
                out.append(("MaxBudget", tex_flops(budgets[-1]), "largest studied budget"))
        out.append(("MinParams", human(float(runs["params"].min())), "smallest model"))
        out.append(("MaxParams", human(float(runs["params"].max())), "largest model"))
    seen, unique = set(), []
    for name, value, comment in out:
        if name in seen or not MACRO_RE.match(name):
            continue
        seen.add(name)
        unique.append((name, value, comment))
    return unique


def render_numbers(macros: list[tuple[str, str, str]], view: FitView) -> str:
    lines = [
        "% Numbers quoted in the text, generated by flops-fit from fit.json and predictions.csv.",
        f"% Conventions: {view.convention}. Use: \\input{{numbers.tex}} ... $\\alpha = \\AThreeAlpha$.",
        "% Counts use K/M/B/T suffixes (e.g. 1.2B); losses have 3 decimals; exponents 3 decimals.",
    ]
    for name, value, comment in macros:
        lines.append(f"\\newcommand{{\\{name}}}{{{value}}}" + (f"  % {comment}" if comment else ""))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- entry point


def make_tables(fit_json, predictions_csv, out_dir, runs_csv=None, macro_prefix: str = "") -> list[str]:
    """Write every table in :data:`TABLES` (csv, md, tex) and ``numbers.tex``; return the paths.

    ``fit_json`` may be the path or (in a notebook) the fit dict itself; ``predictions_csv`` and
    ``runs_csv`` may be paths or DataFrames. ``macro_prefix`` (letters only, e.g. the study's
    name) starts every macro of numbers.tex, so several studies' files can be ``\\input`` together.
    """
    if macro_prefix and not MACRO_RE.match(macro_prefix):
        raise ValueError(f"macro prefix {macro_prefix!r} must be letters only (a LaTeX macro name)")
    import pandas as pd

    view = FitView.load(fit_json, predictions_csv)
    if isinstance(runs_csv, pd.DataFrame):
        runs = runs_csv
    else:
        runs = pd.read_csv(runs_csv) if runs_csv and os.path.isfile(runs_csv) else None
    view.set_unit(runs)
    studied_max = float(runs["budget"].max()) if runs is not None and "budget" in runs and len(runs) else None
    out_dir = Path(out_dir)
    paths = []
    params = parameters_frame(view)
    alloc = allocations_frame(view, studied_max)
    for name, frame, render in (
        ("parameters", params, render_parameters),
        ("allocations", alloc, render_allocations),
        ("runs", runs_frame(runs), render_runs),
    ):
        texts = render(frame, view)
        texts["csv"] = frame.to_csv(index=False)
        for fmt in FORMATS:
            path = out_dir / f"{name}.{fmt}"
            atomic_write_text(path, texts[fmt])
            paths.append(str(path))
    path = out_dir / NUMBERS
    macros = [(macro_prefix + name, value, note) for name, value, note in numbers_macros(view, alloc, runs)]
    atomic_write_text(path, render_numbers(macros, view))
    paths.append(str(path))
    return paths


def format_predictions(table, fit=None) -> str:
    """Plain text for ``flops-fit predict``: per budget, each approach's N*, D*, L* with intervals.

    ``table`` is ``flops_fit.fitting.predict``'s DataFrame (or predictions.csv read as one);
    ``fit`` (the fit.json dict) adds the conventions and the interval level to the header.
    """
    import io as _io

    import pandas as pd

    from flops_fit.figures.fitview import normalise_predictions

    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
    if frame.empty:
        return "no predictions (no approach was fitted)"
    frame = normalise_predictions(_io.StringIO(frame.to_csv(index=False)))
    order = {a: i for i, a in enumerate(APPROACHES)}
    frame = frame.assign(_o=frame["approach"].map(order)).sort_values(["budget", "_o"])
    lines = []
    if fit:
        view = FitView(fit)
        conf = _confidence(view)
        lines.append(f"# {view.convention}" + (f"; [{conf} bootstrap interval]" if conf else ""))
    for budget, grp in frame.groupby("budget", sort=True):
        extra = " (extrapolated beyond the studied budgets)" if grp["extrapolated"].any() else ""
        lines.append(f"C = {sci(budget, 3)} FLOPs{extra}")
        for r in grp.itertuples():
            parts = []
            for q, label, fmt in (("params", "N*", human), ("tokens", "D*", human), ("loss", "L*", fmt_loss)):
                iv = Interval(float(getattr(r, q)), float(getattr(r, f"{q}_lo")), float(getattr(r, f"{q}_hi")))
                if math.isfinite(iv.value):
                    parts.append(
                        f"{label} = {fmt(iv.value)}" + (f" {_interval_text(iv, fmt)}" if iv.has_interval else "")
                    )
            if math.isfinite(float(r.tokens_per_param)):
                parts.append(f"D*/N* = {fmt_ratio(float(r.tokens_per_param))}")
            lines.append(f"  {APPROACH_NAMES.get(r.approach, r.approach)}: " + ", ".join(parts))
    return "\n".join(lines)
