"""Numbers as a reader wants them, in plain text and in LaTeX: counts with K/M/B/T suffixes,
FLOPs in scientific notation, losses and exponents with a fixed number of decimals.

The same rules everywhere (figures' tick labels, tables, ``numbers.tex``, ``flops-fit predict``),
so a number reads the same in a figure, a table and the text of a paper.
"""

from __future__ import annotations

import math

EXPONENTS = ("alpha", "beta", "a", "b", "gamma")
"""Parameters shown with 3 decimals (the exponents of the scaling laws)."""

_SUFFIXES = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")]


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def sig(x: float, digits: int) -> str:
    """``x`` with at most ``digits`` significant digits and no trailing zeros."""
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    s = f"{x:.{decimals}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def human(x: float, digits: int = 3) -> str:
    """Counts as people write them: 12_000_000 -> '12M', 1.5e9 -> '1.5B', 950 -> '950'."""
    if not _finite(x):
        return "--"
    ax = abs(x)
    for scale, suffix in _SUFFIXES:
        if ax >= scale * 0.9995:
            return f"{sig(x / scale, digits)}{suffix}"
    return sig(x, digits)


def sci(x: float, digits: int = 2) -> str:
    """FLOPs as people write them: 1e21 -> '1e21', 3e18 -> '3e18', 2.5e19 -> '2.5e19'."""
    if not _finite(x):
        return "--"
    if x == 0:
        return "0"
    exp = math.floor(math.log10(abs(x)))
    m = sig(x / 10**exp, digits)
    if m in ("10", "-10"):
        m, exp = m[:-1], exp + 1
    return f"{m}e{exp}"


def fmt_param(name: str, x: float) -> str:
    """A parameter value to show: exponents with 3 decimals, coefficients with 4 significant digits."""
    if not _finite(x):
        return "--"
    if name in EXPONENTS:
        return f"{x:.3f}"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        return f"{x:.3e}"
    return f"{x:.4g}"


def fmt_loss(x: float) -> str:
    return f"{x:.3f}" if _finite(x) else "--"


def fmt_ratio(x: float) -> str:
    return f"{x:.3g}" if _finite(x) else "--"


def interval_text(iv, fmt) -> str:
    """'[lo, hi]' of an :class:`~flops_fit.presentation.fitview.Interval`, '' when it has none."""
    return f"[{fmt(iv.lo)}, {fmt(iv.hi)}]" if iv.has_interval else ""


# ----------------------------------------------------------------------------- LaTeX


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
    if not _finite(x) or x <= 0:
        return "--"
    mant, exp = sci(x, 3).split("e")
    return f"$10^{{{int(exp)}}}$" if mant == "1" else f"${mant}\\times10^{{{int(exp)}}}$"
