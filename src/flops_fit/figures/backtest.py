"""Backtest: each approach fitted without the largest budget(s), its predictions for the held-out
budget against what the held-out runs measured.

One panel per quantity the backtest reports (loss, and where present N* and D*): predicted
(with its interval) against actual; the diagonal is a perfect prediction. The text gives the
relative error of each approach.
"""

from __future__ import annotations

import math

from flops_fit.figures import style

_LABELS = {"loss": "loss", "params": "$N^*$", "tokens": "$D^*$"}


def draw(axes, view, quantities) -> None:
    import numpy as np

    bt = view.backtest()
    colors = style.approach_colors()
    for ax, q in zip(axes, quantities, strict=True):
        sel = bt[bt["quantity"] == q] if bt is not None else None
        if sel is None or sel.empty:
            style.placeholder(ax, "no backtest in fit.json")
            continue
        lines = []
        for name, grp in sel.groupby("approach", sort=True):
            col = colors.get(name, "0.3")
            yerr = None
            if grp["lo"].notna().all() and grp["hi"].notna().all():
                yerr = [np.maximum(grp["predicted"] - grp["lo"], 0), np.maximum(grp["hi"] - grp["predicted"], 0)]
            ax.errorbar(grp["actual"], grp["predicted"], yerr=yerr, fmt=style.APPROACH_MARKERS.get(name, "o"),
                        color=col, ms=4, elinewidth=0.8, capsize=1.5, label=style.APPROACH_LABELS.get(name, name))
            rel = (grp["predicted"] / grp["actual"] - 1).abs().max()
            if math.isfinite(rel):
                lines.append(f"{style.APPROACH_SHORT.get(name, name)}: {100 * rel:.1f}%")
        vals = np.concatenate([sel["actual"], sel["predicted"], sel["lo"].dropna(), sel["hi"].dropna()])
        vals = vals[np.isfinite(vals) & (vals > 0)]
        lo, hi = vals.min(), vals.max()
        pad = (hi / lo) ** 0.15 if hi > lo else 1.05
        lo, hi = lo / pad, hi * pad
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--", zorder=0)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        kind = "loss" if q == "loss" else "count"
        style.log_axis(ax, "x", kind)
        style.log_axis(ax, "y", kind)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(f"Held-out {_LABELS[q]} (measured)")
        ax.set_ylabel(f"Predicted {_LABELS[q]}")
        if lines:
            ax.text(0.04, 0.96, "max rel. error\n" + "\n".join(lines), transform=ax.transAxes, va="top",
                    fontsize=6)
        ax.grid(True, which="major")
    if len(axes):
        handles, labels = axes[0].get_legend_handles_labels()
        if handles:
            axes[0].legend(handles, labels, loc="lower right")


def make(view, out_dir, width="single", formats=("pdf", "png")) -> list[str]:
    import matplotlib.pyplot as plt

    style.use_paper_style()
    bt = view.backtest()
    quantities = [q for q in ("loss", "params", "tokens") if bt is not None and (bt["quantity"] == q).any()]
    quantities = quantities or ["loss"]
    if width == "single" and len(quantities) > 1:
        quantities = quantities[:2] if "loss" not in quantities else ["loss", *[q for q in quantities if q != "loss"]][:2]
    fig, axes = plt.subplots(1, len(quantities), figsize=style.figure_size(width, 0.85, ncols=len(quantities)),
                             squeeze=False)
    draw(list(axes[0]), view, quantities)
    return style.save_figure(fig, out_dir, "backtest", formats)
