"""The comparison table of two studies: one row per budget and approach, the compute multiplier
of the variant over the baseline, the L* difference and both allocations, with intervals.

    from flops_fit.tables.comparison import comparison_tables
    comparison_tables(result)   # {"md": ..., "tex": ..., "html": ...}; result: fitting.compare.compare
"""

from __future__ import annotations

import math
import re

from flops_fit.approaches import approach_of
from flops_fit.presentation.compare_text import fmt_dloss, fmt_multiplier
from flops_fit.presentation.fitview import Interval
from flops_fit.presentation.formatting import human, md_escape, sci, tex_escape, tex_estimate, tex_flops
from flops_fit.tables.render import html_from_md, md_table, tex_table


def _iv(row: dict, name: str) -> Interval:
    return Interval(row[name], row[f"{name}_lo"], row[f"{name}_hi"])


def _text(iv: Interval, fmt) -> str:
    """'value [lo, hi]'; an unbounded side (an unreachable loss: M = inf) shows as inf."""
    bounded = not (math.isnan(iv.lo) or math.isnan(iv.hi))
    return f"{fmt(iv.value)} [{fmt(iv.lo)}, {fmt(iv.hi)}]" if bounded else fmt(iv.value)


def _rows(result: dict) -> list[dict]:
    rows = [r for block in result["approaches"].values() for r in block["rows"]]
    return sorted(rows, key=lambda r: (r["budget"], r["approach"]))


def _notes(result: dict) -> list[str]:
    base, var = result["baseline"]["name"], result["variant"]["name"]
    conf = f"{result['confidence']:.0%}"
    notes = [
        f"M: compute multiplier, the compute {base} needs to reach the L* of {var} at C, divided by C "
        f"(M > 1: {var} saves compute). dL*: L* of {var} minus L* of {base}.",
        f"Intervals: {conf}, {result['interval_method']}.",
    ]
    notes += [f"{approach_of(k).short}: {b['sentence']}" for k, b in result["approaches"].items()]
    return notes


def comparison_tables(result: dict) -> dict[str, str]:
    """Markdown, LaTeX and HTML of the comparison table."""
    base, var = result["baseline"]["name"], result["variant"]["name"]
    rows = _rows(result)
    names = md_escape(base), md_escape(var)
    header = ["C (FLOPs)", "Approach", "M", "dL*", f"N* {names[0]}", f"N* {names[1]}", f"D* {names[0]}",
              f"D* {names[1]}"]
    md_rows = [
        [sci(r["budget"], 3), approach_of(r["approach"]).short,
         _text(_iv(r, "multiplier"), fmt_multiplier), _text(_iv(r, "dL"), fmt_dloss),
         _text(_iv(r, "N_base"), human), _text(_iv(r, "N_var"), human),
         _text(_iv(r, "D_base"), human), _text(_iv(r, "D_var"), human)]
        for r in rows
    ]
    notes = _notes(result)
    md = md_table(header, md_rows, ["r", "l"] + ["r"] * 6) + "\n" + "\n\n".join(map(md_escape, notes)) + "\n"
    # LaTeX: two lines per budget and approach (baseline, then variant), so the table fits a page
    groups = [
        [[tex_flops(r["budget"]), approach_of(r["approach"]).short,
          _tex_plain(_iv(r, "multiplier"), _plain_multiplier), _tex_plain(_iv(r, "dL"), _plain_dloss),
          "baseline", tex_estimate(_iv(r, "N_base")), tex_estimate(_iv(r, "D_base"))],
         ["", "", "", "", "variant", tex_estimate(_iv(r, "N_var")), tex_estimate(_iv(r, "D_var"))]]
        for r in rows
    ]
    tex = tex_table(
        ["$C$ (FLOPs)", "", "$M$", "$\\Delta L^*$", "study", "$N^*$", "$D^*$"],
        groups,
        "rlrrlrr",
        caption=f"Compute multiplier $M$ of the variant ({tex_escape(var)}) over the baseline ({tex_escape(base)})",
        label=re.sub(r"[^A-Za-z0-9:-]+", "-", f"tab:compare-{base}-{var}"),  # names are data: no braces
        wide=True,
        notes=[tex_escape(n) for n in notes],
    ).replace("\\small\n", "\\small\n\\setlength{\\tabcolsep}{3pt}\n", 1)
    return {"md": md, "tex": tex, "html": html_from_md(md, f"{var} vs {base}")}


def _tex_plain(iv: Interval, fmt) -> str:
    return tex_escape(_text(iv, fmt)).replace("-", "$-$")


def _plain_multiplier(x: float) -> str:
    return fmt_multiplier(x).rstrip("x")


def _plain_dloss(x: float) -> str:
    return "--" if x is None or not x == x or abs(x) == float("inf") else f"{x:+.3f}".replace("+", "")
