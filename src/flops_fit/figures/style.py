"""One paper style for every figure: sizes, fonts, colour-blind-safe colours, tick labels, saving.

Sizes follow the common two-column venues (NeurIPS/ICML/ACL): a single column is about 3.25-3.5 in
wide and a full page width about 6.75-7 in; fonts are 8 pt so a figure placed at 100 % matches a
9-10 pt body. Colours come from seaborn's ``colorblind`` palette (Okabe-Ito-like) for categories
(approaches, studies) and from ``viridis`` (perceptually uniform, readable in grey scale and by
people with the common colour-vision deficiencies) for ordered quantities such as compute budgets.

matplotlib and seaborn are imported inside functions, so importing this module costs nothing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from flops_fit.approaches import APPROACH_KEYS
from flops_fit.io import atomic_path
from flops_fit.presentation.formatting import human, sci, sig

WIDTHS_IN = {"single": 3.4, "double": 7.0}
"""Figure widths in inches for one column and for the full page width."""

APPROACH_MARKERS = dict(zip(APPROACH_KEYS, ("s", "o", "^"), strict=True))
APPROACH_LINESTYLES = dict(zip(APPROACH_KEYS, (":", "--", "-"), strict=True))
"""One marker and one line style per approach (keyed as in fit.json), the same in every figure."""
EXCLUDED_COLOR = "0.6"
"""Grey for anything drawn but excluded from a fit (budgets, runs)."""

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 6.5,
    "legend.title_fontsize": 7,
    "legend.frameon": False,
    "axes.linewidth": 0.6,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "lines.linewidth": 1.2,
    "lines.markersize": 4,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,  # TrueType in the PDF: selectable text, accepted by every venue
    "ps.fonttype": 42,
    "svg.hashsalt": "flops-fit",  # fixed ids in SVG files: same inputs, same bytes
    "figure.constrained_layout.use": True,
}


def use_paper_style() -> None:
    """Select the non-interactive backend and apply the paper style (idempotent)."""
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    sns.set_theme(context="paper", style="ticks", palette="colorblind", rc=RC)


def figure_size(width: str = "single", aspect: float = 0.75, ncols: int = 1) -> tuple[float, float]:
    """(width, height) in inches: ``width`` is "single" or "double"; height = width * aspect / ncols.

    ``ncols`` keeps panels near ``aspect`` when several sit side by side in one row.
    """
    if width not in WIDTHS_IN:
        raise ValueError(f"width must be one of {sorted(WIDTHS_IN)}, got {width!r}")
    w = WIDTHS_IN[width]
    return w, w * aspect / max(1, ncols)


def approach_colors() -> dict[str, tuple]:
    """A fixed colour per approach, the same in every figure."""
    import seaborn as sns

    pal = sns.color_palette("colorblind")
    return dict(zip(APPROACH_KEYS, (pal[2], pal[0], pal[1]), strict=True))


def category_colors(n: int) -> list[tuple]:
    """``n`` colour-blind-safe colours for unordered categories (e.g. studies)."""
    import seaborn as sns

    return list(sns.color_palette("colorblind", max(n, 1)))[:n] if n <= 10 else list(sns.color_palette("husl", n))


def sequential_colors(n: int) -> list[tuple]:
    """``n`` ordered colours (viridis without its faint yellow end) for budgets, small to large."""
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    if n <= 1:
        return [cmap(0.35)]
    return [cmap(0.05 + 0.8 * i / (n - 1)) for i in range(n)]


# ----------------------------------------------------------------------------- tick labels


def tex_power(x: float, digits: int = 2) -> str:
    """3e18 -> '$3\\times10^{18}$', 1e21 -> '$10^{21}$' (mathtext, as LogFormatterSciNotation);
    the mantissa with at most ``digits`` significant digits."""
    mant, exp = sci(x, digits).split("e")
    return f"$10^{{{int(exp)}}}$" if mant == "1" else f"${mant}\\times10^{{{int(exp)}}}$"


def label_digits(values, least: int = 2, most: int = 6) -> int:
    """Significant digits for the tick labels of ``values``: the fewest (at least ``least``) at
    which every value prints exactly (ticks 0.05 apart: 1.85, not 1.9), or, for values no number
    of digits up to ``most`` prints exactly (e.g. contour levels), the fewest at which the labels
    are pairwise distinct. Labels are then both true and distinct (issue 24: "2, 2, 1.9, 1.9")."""
    vals = sorted({abs(float(v)) for v in values if v and math.isfinite(v)})
    for d in range(least, most + 1):
        if all(abs(float(f"{x:.{d - 1}e}") - x) <= 1e-9 * x for x in vals):
            return d
    for d in range(least, most + 1):
        if len({f"{x:.{d - 1}e}" for x in vals}) == len(vals):
            return d
    return most


def precise_formatter(fmt):
    """A matplotlib Formatter calling ``fmt(x, digits)`` for positive ticks, ``digits`` chosen by
    :func:`label_digits` from all the ticks it labels at once (``set_locs``: the locator's
    values), so its precision follows the locator's step."""
    from matplotlib.ticker import Formatter

    class _Precise(Formatter):
        digits = 2

        def set_locs(self, locs):
            super().set_locs(locs)
            lo, hi = self.axis.get_view_interval() if self.axis is not None else (-math.inf, math.inf)
            shown = [x for x in locs if min(lo, hi) <= x <= max(lo, hi)] or list(locs)
            self.digits = label_digits(shown)

        def __call__(self, x, pos=None):
            return fmt(x, self.digits) if x > 0 else ""

    return _Precise()


def count_formatter():
    """Tick labels for parameter and token counts: 10K, 10M, 1B, 10T; powers of ten beyond
    (never "1000T"); as many digits as the ticks need (1.25M)."""
    return precise_formatter(lambda x, d: human(x, d) if x < 999.5e12 else tex_power(x, d))


def flops_formatter():
    """Tick labels for FLOPs: $10^{21}$ on the decades (matplotlib's LogFormatterSciNotation),
    $3\\times10^{18}$ between them."""
    from matplotlib.ticker import LogFormatterSciNotation

    decades = LogFormatterSciNotation(base=10)

    def label(x, d):
        mant = sci(x, d).split("e")[0]
        return decades(x) if mant == "1" else tex_power(x, d)

    return precise_formatter(label)


def plain_formatter():
    """Tick formatter for losses: plain decimals (2.5, 3, 4; 1.85, 1.9, 1.95 when the ticks are
    0.05 apart), with as many digits as the ticks need to be true and distinct."""
    return precise_formatter(sig)


_LABEL_SPACE_IN = {
    ("x", "flops"): 0.42,
    ("x", "count"): 0.36,
    ("x", "loss"): 0.3,
    ("y", "flops"): 0.2,
}
"""Room one tick label needs along an axis, in inches (y labels: one text line)."""
_MINOR_SPACE_IN = {("x", "flops"): 0.6}
"""Room of a label between the decades ($3\\times10^{18}$ is wider than $10^{18}$)."""


def _ticks_in(lo: float, hi: float, subs) -> int:
    """How many ticks at mantissas ``subs`` (1 = the decades) fall within [lo, hi]."""
    count = 0
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        count += sum(lo <= m * 10.0**e <= hi for m in subs)
    return count


def log_axis(ax, which: str, kind: str) -> None:
    """Make ``ax``'s ``which`` axis ("x"/"y") logarithmic with labels that never run together.

    ``kind``: "count" (params, tokens), "flops" or "loss". The decades are labelled, every
    k-th one when the axis is too short for all of them (matplotlib's ``LogLocator`` with
    ``numticks`` set from the axis length and the width of one label); when fewer than three
    decades are in view, some ticks between them get labels too (2, 3, 5; or 2, 5; or 3), as
    many as fit. Call it after the data are drawn (it reads the limits).
    """
    from matplotlib.ticker import LogLocator, NullFormatter

    fmt = {"count": count_formatter, "flops": flops_formatter, "loss": plain_formatter}[kind]
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    lo, hi = ax.get_xlim() if which == "x" else ax.get_ylim()
    box = ax.get_position()
    fig_w, fig_h = ax.figure.get_size_inches()
    length = box.width * fig_w if which == "x" else box.height * fig_h
    space = _LABEL_SPACE_IN.get((which, kind), 0.16)
    room = max(2, int(length / space))
    axis.set_major_locator(LogLocator(base=10, numticks=room))
    axis.set_major_formatter(fmt())
    axis.set_minor_locator(LogLocator(base=10, subs="auto", numticks=room))
    axis.set_minor_formatter(NullFormatter())
    if not (lo > 0 and hi > lo):
        return
    decades = _ticks_in(lo, hi, (1,))
    if decades > room:  # every k-th decade labelled: the others get unlabelled ticks
        axis.set_minor_locator(LogLocator(base=10, subs=(1.0,), numticks=10 * decades + 10))
        return
    if decades >= 3:
        return
    room = max(2, int(length / _MINOR_SPACE_IN.get((which, kind), space)))
    for subs in ((1, 2, 3, 5), (1, 2, 5), (1, 3)):
        if _ticks_in(lo, hi, subs) <= room:
            axis.set_minor_locator(LogLocator(base=10, subs=subs[1:], numticks=12))
            axis.set_minor_formatter(fmt())
            return


# ----------------------------------------------------------------------------- saving


_METADATA = {"pdf": {"CreationDate": None}, "svg": {"Date": None}, "png": {"Software": None}}
"""No timestamps in the files: the same inputs give the same bytes."""


def save_figure(fig, out_dir: str | os.PathLike, name: str, formats=("pdf", "png")) -> list[str]:
    """Save ``fig`` as ``out_dir/name.<fmt>`` for each format, atomically; close it; return paths."""
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"
        with atomic_path(path) as tmp:  # metadata without a creation date: same inputs, same bytes
            fig.savefig(tmp, format=fmt, metadata=_METADATA.get(fmt, {}))
        paths.append(str(path))
    plt.close(fig)
    return paths


def top_note(ax, lines: list[str], width: str = "single", fontsize: float = 5.5) -> None:
    """Small grey text above the plot, as the axes' left title wrapped to fit inside the axes
    width (the constrained layout makes room above; text wider than the axes would make it
    squeeze the axes sideways)."""
    import textwrap

    chars = int(WIDTHS_IN[width] * 0.62 * 26 * 5.5 / fontsize)  # characters per line
    wrapped = [w for line in lines for w in textwrap.wrap(line, chars, subsequent_indent="  ")]
    ax.set_title("\n".join(wrapped), loc="left", fontsize=fontsize, color="0.35")


def band_handle(view):
    """A legend entry for the shaded bands around fitted lines: what interval they are."""
    from matplotlib.patches import Patch

    level = view.interval_level
    what = f"{level} interval" if level else "interval"
    method = str(view.fit.get("intervals_method") or "").strip()
    label = f"{what} ({method})" if method and len(method) <= 24 else f"{what} of each approach's law"
    return Patch(facecolor="0.5", alpha=0.3, lw=0, label=label)


def placeholder(ax, message: str) -> None:
    """An empty panel that says why there is nothing to show (missing or failed fit)."""
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        wrap=True,
        transform=ax.transAxes,
        fontsize=7,
        color="0.35",
    )
