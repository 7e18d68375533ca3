"""``numbers.tex``: one ``\\newcommand`` per number a paper's text quotes (``\\AThreeAlpha``,
``\\ATwoExponentA``, ``\\AThreeNOptCOneETwentyOne`` ...). Macro names are letters only, as TeX
requires, so numbers and budgets are spelled out in words."""

from __future__ import annotations

import math
import re

from flops_fit.approaches import APPROACH_KEYS, approach_of
from flops_fit.presentation.fitview import FitView, Interval
from flops_fit.presentation.formatting import fmt_loss, fmt_ratio, human, sci, tex_comment, tex_flops, tex_param

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
    "E_L": "LossFloor",
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


MACRO_RE = re.compile(r"^[A-Za-z]+$")


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


def approach_word(approach) -> str:
    """An approach in letters for macro names: "approach3" -> 'AThree'."""
    return "A" + number_words(approach_of(approach).id)


def budget_words(c: float) -> str:
    """A budget as letters for macro names: 1e21 -> 'COneETwentyOne', 2.5e19 -> 'CTwoPointFiveENineteen'."""
    mant, exp = sci(c, 3).split("e")
    whole, _, frac = mant.partition(".")
    words = number_words(int(whole)) + ("Point" + "".join(_DIGITS[int(d)] for d in frac) if frac else "")
    return f"C{words}E{number_words(int(exp))}"


def numbers_macros(view: FitView, alloc, runs=None) -> list[tuple[str, str, str]]:
    """(macro name, value text, comment) for every quotable number."""
    out: list[tuple[str, str, str]] = []
    for name in APPROACH_KEYS:
        ap = view.approaches[name]
        prefix = approach_word(name)
        for pname, iv in ap.parameters.items():
            word = PARAM_WORDS.get(pname) or "".join(w.capitalize() for w in re.split(r"[^A-Za-z]+", pname) if w)
            f = lambda x, p=pname: tex_param(p, x)  # noqa: E731
            out.append((prefix + word, f(iv.value), f"{approach_of(name).name}: {pname}"))
            if iv.has_interval:
                out.append((prefix + word + "Low", f(iv.lo), f"{approach_of(name).name}: {pname}, interval low"))
                out.append((prefix + word + "High", f(iv.hi), f"{approach_of(name).name}: {pname}, interval high"))
    for r in alloc.itertuples():
        prefix = approach_word(r.approach)
        b = budget_words(r.budget)
        for q, word, fmt in (("N_opt", "NOpt", human), ("D_opt", "DOpt", human), ("L_opt", "LOpt", fmt_loss)):
            iv = Interval(getattr(r, q), getattr(r, f"{q}_lo"), getattr(r, f"{q}_hi"))
            if not math.isfinite(iv.value):
                continue
            out.append(
                (
                    f"{prefix}{word}{b}",
                    fmt(iv.value),
                    f"{approach_of(r.approach).name}: {q[0]}* at C={sci(r.budget, 3)}",
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
            prefix = approach_word(r.approach)
            word = {"L": "Loss", "N": "NOpt"}.get(r.quantity)
            if not (prefix and word and math.isfinite(r.predicted) and math.isfinite(r.actual) and r.actual):
                continue
            name = f"{prefix}Backtest{word}ErrorPct" + (budget_words(r.budget) if several else "")
            note = f"{approach_of(r.approach).name}: backtest, {r.quantity}* at C={sci(r.budget, 3)}, % error"
            out.append((name, f"{100 * (r.predicted / r.actual - 1):+.1f}", note))
    conf = view.interval_level
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
    """numbers.tex: one ``\\newcommand`` a line.  Its ``%`` comments quote fit.json's texts (the
    convention, parameter names), which are data: each on one line (:func:`tex_comment`), so a newline
    in a foreign fit.json cannot end the comment and make the rest code a paper would typeset."""
    lines = [
        "% Numbers quoted in the text, generated by flops-fit from fit.json and predictions.csv.",
        f"% Conventions: {tex_comment(view.convention)}. Use: \\input{{numbers.tex}} ... $\\alpha = \\AThreeAlpha$.",
        "% Counts use K/M/B/T suffixes (e.g. 1.2B); losses have 3 decimals; exponents 3 decimals.",
    ]
    for name, value, comment in macros:
        if not MACRO_RE.match(name):  # numbers_macros keeps letters only; a name is code, never data
            raise ValueError(f"numbers.tex: macro name {name!r} is not letters only")
        lines.append(f"\\newcommand{{\\{name}}}{{{value}}}" + (f"  % {tex_comment(comment)}" if comment else ""))
    return "\n".join(lines) + "\n"
