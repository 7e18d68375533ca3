"""Numbers as a reader wants them, in plain text and in LaTeX: counts with K/M/B/T suffixes,
FLOPs in scientific notation, losses and exponents with a fixed number of decimals.

The same rules everywhere (figures' tick labels, tables, ``numbers.tex``, ``flops-fit predict``),
so a number reads the same in a figure, a table and the text of a paper.
"""

from __future__ import annotations

import math
import re
import unicodedata

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
        return sci(x, 4)
    return sig(x, 4)


def fmt_loss(x: float) -> str:
    return f"{x:.3f}" if _finite(x) else "--"


def fmt_ratio(x: float) -> str:
    return f"{x:.3g}" if _finite(x) else "--"


def interval_text(iv, fmt) -> str:
    """'[lo, hi]' of an :class:`~flops_fit.presentation.fitview.Interval`, '' when it has none."""
    return f"[{fmt(iv.lo)}, {fmt(iv.hi)}]" if iv.has_interval else ""


# ----------------------------------------------------------------------------- LaTeX


def one_line(text) -> str:
    """``text`` on one line: every run of whitespace (newlines, tabs, Unicode line separators) one
    space, other control characters dropped.  Strings from a fit.json, a CSV or a config are data;
    a line break in one would end a LaTeX comment or a Markdown table row and let the rest act as code."""
    kept = "".join(ch for ch in str(text) if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(kept.split())


def tex_comment(text) -> str:
    """Text for a LaTeX ``%`` comment: one line (:func:`one_line`), so nothing after it is typeset."""
    return one_line(text)


_MD_SPECIAL = set("\\`[]<>|&")


def md_escape(text) -> str:
    """Text for a Markdown table cell or note: one line, and every character that Markdown reads
    as markup (HTML tags, links, images, code, table pipes) backslash-escaped (CommonMark), so a
    ``<script>`` or a link in a fit.json shows as text.  :func:`md_unescape` undoes it."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in one_line(text))


def md_unescape(text: str) -> str:
    """The text :func:`md_escape` escaped (for the HTML page made from the Markdown, which escapes
    for HTML itself)."""
    return re.sub(r"\\([\\`\[\]<>|&])", r"\1", text)


def tex_escape(text: str) -> str:
    """Escape the characters LaTeX treats specially in running text; on one line (:func:`one_line`:
    a blank line would end a table cell's paragraph)."""
    text = one_line(text)
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


def _tex_power(mant: str, exp: int) -> str:
    return f"10^{{{exp}}}" if mant == "1" else f"{mant}\\times10^{{{exp}}}"


def tex_num(x: float, digits: int = 3, plain_below: float = 1e4) -> str:
    """A number for LaTeX text or math: plain digits when 1e-3 <= |x| < ``plain_below``
    (920.3), else ``\\ensuremath{2.54\\times10^{4}}`` (never ``2.54e+04``). ``\\ensuremath`` makes
    it work both in running text and inside ``$...$`` (numbers.tex macros are used in both)."""
    if not _finite(x):
        return "--"
    if x == 0 or 1e-3 <= abs(x) < plain_below:
        return sig(x, digits)
    mant, exp = sci(x, digits).split("e")
    return f"\\ensuremath{{{_tex_power(mant, int(exp))}}}"


def tex_param(name: str, x: float) -> str:
    """A fitted parameter for LaTeX: exponents with 3 decimals, coefficients with 4 significant
    digits (powers of ten from 1e5 on, as :func:`fmt_param`)."""
    if not _finite(x):
        return "--"
    if name in EXPONENTS:
        return f"{x:.3f}"
    return tex_num(x, 4, plain_below=1e5)


def tex_interval(iv, digits: int = 3, plain_below: float = 1e4) -> str:
    """An interval for LaTeX, sharing the point estimate's power of ten so it stays narrow:
    ``\\ensuremath{[2.10, 2.75]\\times10^{7}}``; plain ``[4.03, 4.10]`` for plain numbers; "" when
    there is none."""
    if not iv.has_interval:
        return ""
    ref = iv.value if _finite(iv.value) and iv.value else iv.hi
    if ref == 0 or 1e-3 <= abs(ref) < plain_below:
        return f"[{tex_num(iv.lo, digits, plain_below)}, {tex_num(iv.hi, digits, plain_below)}]"
    exp = math.floor(math.log10(abs(ref)))
    lo, hi = sig(iv.lo / 10**exp, digits), sig(iv.hi / 10**exp, digits)
    return f"\\ensuremath{{[{lo}, {hi}]\\times10^{{{exp}}}}}"


def tex_estimate(iv, digits: int = 3) -> str:
    """A count with its interval in one narrow LaTeX cell, sharing one power of ten:
    ``\\ensuremath{2.41\\,[2.10, 2.75]\\times10^{7}}`` (plain numbers below 1e4)."""
    if not _finite(iv.value):
        return "--"
    if not iv.has_interval:
        return tex_num(iv.value, digits)
    if iv.value == 0 or 1e-3 <= abs(iv.value) < 1e4:
        return f"{tex_num(iv.value, digits)} {tex_interval(iv, digits)}"
    exp = math.floor(math.log10(abs(iv.value)))
    m = [sig(x / 10**exp, digits) for x in (iv.value, iv.lo, iv.hi)]
    return f"\\ensuremath{{{m[0]}\\,[{m[1]}, {m[2]}]\\times10^{{{exp}}}}}"


def tex_flops(x: float) -> str:
    """1e21 -> '$10^{21}$', 3e18 -> '$3\\times10^{18}$'."""
    if not _finite(x) or x <= 0:
        return "--"
    mant, exp = sci(x, 3).split("e")
    return f"${_tex_power(mant, int(exp))}$"
