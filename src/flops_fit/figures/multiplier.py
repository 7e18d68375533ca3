"""The figure of a baseline-vs-variant comparison (``flops-fit compare --out``).

Left: the compute-optimal loss L*(C) of both studies (colour per study; line style per approach)
with the bootstrap bands of one approach (Approach 2 when fitted: :data:`BAND_PREFERENCE`).
Right: the compute multiplier M(C) of the variant over the baseline per approach, that
approach's joint-bootstrap band, M = 1 marked, the asked budgets as points, the compute beyond
both studies' data shaded.  Drawn from the comparison result's
``curve`` (:func:`flops_fit.fitting.compare.compare` on a grid of budgets); nothing is refitted.

    python -m flops_fit.figures.multiplier results/comparison/A-vs-B/compare.json \\
        --out results/comparison/A-vs-B --formats png
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from flops_fit import extrapolation
from flops_fit.approaches import approach_key, approach_of
from flops_fit.figures import style

BAND_PREFERENCE = tuple(approach_key(k) for k in (2, 3, 1))
"""The one approach drawn with bands (the others as lines; the table has every interval)."""
MAX_SHOWN = 100.0  # the multiplier panel shows at most 1/100x .. 100x


def _leading_digit(v: float) -> int:
    return round(v / 10 ** np.floor(np.log10(v))) if v > 0 else 0


def _column(rows: list[dict], name: str) -> np.ndarray:
    return np.array([np.nan if r[name] is None else r[name] for r in rows], dtype=float)


def make_multiplier_figure(result: dict, out_dir, width: str = "double", formats=("pdf", "png")) -> list[str]:
    """Write ``multiplier.<fmt>`` into ``out_dir``; return the paths."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    style.use_paper_style()
    base, var = result["baseline"], result["variant"]
    colors = dict(zip(("base", "var"), style.category_colors(2), strict=True))
    names = {"base": base["name"], "var": var["name"]}
    fig, (ax_l, ax_m) = plt.subplots(1, 2, figsize=style.figure_size(width, 0.42 if width == "double" else 0.7))
    curve = result.get("curve") or {}
    banded = next((k for k in BAND_PREFERENCE if k in curve), None)
    top = 1.0
    for key, rows in curve.items():
        c = _column(rows, "budget")
        ls = style.APPROACH_LINESTYLES[key]
        for tag in ("base", "var"):
            ax_l.plot(c, _column(rows, f"L_{tag}"), color=colors[tag], ls=ls, lw=1.1)
            if key == banded:
                ax_l.fill_between(c, _column(rows, f"L_{tag}_lo"), _column(rows, f"L_{tag}_hi"),
                                  color=colors[tag], alpha=0.18, lw=0)
        m, lo, hi = (_column(rows, n) for n in ("multiplier", "multiplier_lo", "multiplier_hi"))
        hi = np.where(np.isnan(hi) & np.isfinite(lo), np.inf, hi)  # compare.json writes inf as null
        finite = np.isfinite(m) & (m > 0)
        ax_m.plot(c[finite], m[finite], color="0.15", ls=ls, lw=1.1, label=approach_of(key).short)
        top = max(top, *m[finite], *(1 / m[finite]))
        if key == banded:  # an unreachable upper bound (inf) runs to the top of the panel
            band = np.isfinite(lo) & (lo > 0) & ~np.isnan(hi)
            ax_m.fill_between(c[band], lo[band], np.minimum(hi[band], MAX_SHOWN), color="0.3", alpha=0.2, lw=0)
            top = max(top, *np.minimum(hi[band], MAX_SHOWN), *(1 / np.maximum(lo[band], 1 / MAX_SHOWN)))
        asked = result["approaches"].get(key, {}).get("rows", [])
        ca, ma = _column(asked, "budget"), _column(asked, "multiplier")
        ax_m.scatter(ca[np.isfinite(ma)], ma[np.isfinite(ma)], marker=style.APPROACH_MARKERS[key], s=14,
                     color="0.15", zorder=3)
    if not curve:
        style.placeholder(ax_l, "no comparison curve in the result")
        style.placeholder(ax_m, "no comparison curve in the result")
        return style.save_figure(fig, out_dir, "multiplier", formats)
    for tag in ("base", "var"):
        ax_l.plot([], [], color=colors[tag], lw=1.5, label=names[tag])
    for key in curve:
        ax_l.plot([], [], color="0.3", ls=style.APPROACH_LINESTYLES[key], lw=1.1, label=approach_of(key).short)
    beyond = max(max(base["budgets"]), max(var["budgets"])) * (1 + extrapolation.TOLERANCE)
    for ax in (ax_l, ax_m):
        ax.set_xscale("log")
        style.log_axis(ax, "x", "flops")
        ax.set_xlabel("Compute $C$ (FLOPs)")
        ax.grid(True, which="major")
        ax.axvspan(beyond, ax.get_xlim()[1], color="0.92", lw=0, zorder=0, label="_beyond")
    ax_m.text(0.99, 0.98, "beyond the data", transform=ax_m.transAxes, ha="right", va="top", fontsize=6, color="0.4")
    ax_l.set_ylabel("Compute-optimal loss $L^*(C)$")
    ax_l.legend(loc="upper right", ncols=2)
    ax_m.set_yscale("log")
    ax_m.set_ylim(1 / (1.2 * top), 1.2 * top)
    ax_m.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax_m.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}x" if _leading_digit(v) in (2, 3, 5) else ""))
    ax_m.axhline(1.0, color="0.5", lw=0.8, ls="--")
    ax_m.set_ylabel("Compute multiplier $M$ of the variant")
    ax_m.legend(loc="upper left", title=f"band: {approach_of(banded).short if banded else ''}, "
                f"{result['confidence']:.0%} joint bootstrap")
    return style.save_figure(fig, out_dir, "multiplier", formats)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flops_fit.figures.multiplier",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("compare_json", help="compare.json written by `flops-fit compare --out`")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--width", choices=["single", "double"], default="double")
    parser.add_argument("--formats", nargs="+", default=["pdf", "png"], choices=["pdf", "png", "svg"])
    args = parser.parse_args(argv)
    with open(args.compare_json) as fh:
        result = json.load(fh)
    make_multiplier_figure(result, args.out, args.width, tuple(args.formats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
