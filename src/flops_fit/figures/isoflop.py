"""IsoFLOP curves (Approach 2; Hoffmann et al. 2022, Figure 3 left).

Final loss against parameters, one colour per compute budget (small to large, viridis), each
budget's fitted parabola (in log10 N, from fit.json) over the sizes it sampled, and its vertex
N* with the bootstrap interval as a horizontal bar. A budget the fit left out is drawn in grey
with hollow markers and a dotted parabola, its reason listed under the plot; runs the fit
excluded (diverged, non-finite loss) are grey crosses.
"""

from __future__ import annotations

import math

from flops_fit.figures import style


def excluded_runs_frame(runs, view):
    """Runs of runs.csv that the fit excluded, with N under the fit's convention (or None)."""
    if runs is None or "run_id" not in runs:
        return None
    excluded = view.excluded_runs()
    if not excluded:
        return None
    col = (view.fit.get("convention") or {}).get("params_column", "params")
    col = col if col in runs else "params"
    sel = runs[runs["run_id"].astype(str).isin(excluded)].copy()
    sel["N"] = sel[col]
    sel["D"] = sel["tokens"]
    sel["L"] = sel["loss"]
    return sel


def draw(ax, runs, view) -> list[str]:
    """Draw the panel; return notes (excluded budgets with reasons) to print above it."""
    import numpy as np

    budgets = view.isoflop()
    used = view.used_runs()
    if not budgets:
        reason = view.approaches["approach2"].reason or "no IsoFLOP fit in fit.json"
        style.placeholder(ax, f"Approach 2 unavailable: {reason}")
        return []
    colors = dict(zip([b.budget_id for b in budgets], style.sequential_colors(len(budgets)), strict=True))
    notes = []
    for b in budgets:
        color = colors[b.budget_id] if b.included else style.EXCLUDED_COLOR
        label = style.sci(b.budget) + ("" if b.included else " (excluded)")
        if not b.included:
            notes.append(f"C={style.sci(b.budget)} excluded: {b.reason}")
        pts = used[used["budget_id"] == b.budget_id] if used is not None else None
        if pts is not None and len(pts):
            ax.scatter(
                pts["N"],
                pts["L"],
                s=12,
                marker="o",
                zorder=3,
                linewidths=0.8,
                facecolors=color if b.included else "none",
                edgecolors=color,
                label=label,
            )
            n_lo, n_hi = pts["N"].min(), pts["N"].max()
        else:
            n_lo, n_hi = b.n_range
        if b.coefficients and all(math.isfinite(x) for x in b.coefficients) and math.isfinite(n_lo):
            grid = np.geomspace(n_lo / 1.1, n_hi * 1.1, 200)
            ax.plot(grid, b.curve(grid), color=color, lw=1.0, ls="-" if b.included else ":", zorder=2)
        if math.isfinite(b.n_opt.value) and math.isfinite(b.l_opt.value):
            iv = b.n_opt
            xerr = [[max(iv.value - iv.lo, 0)], [max(iv.hi - iv.value, 0)]] if iv.has_interval else None
            ax.errorbar(
                [iv.value],
                [b.l_opt.value],
                xerr=xerr,
                fmt="D",
                ms=4,
                mfc=color if b.included else "white",
                mec="black",
                mew=0.6,
                ecolor="black",
                elinewidth=0.8,
                capsize=1.5,
                zorder=4,
            )
    bad = excluded_runs_frame(runs, view)
    if bad is not None and len(bad):
        ax.scatter(
            bad["N"],
            bad["L"],
            s=14,
            marker="x",
            color=style.EXCLUDED_COLOR,
            lw=0.8,
            zorder=3,
            label="excluded run",
        )
    ax.errorbar(
        [],
        [],
        xerr=[],
        fmt="D",
        ms=4,
        mfc="white",
        mec="black",
        ecolor="black",
        label="$N^*$ (" + _conf(view) + ")",
    )
    ax.set_xlabel(view.params_label)
    ax.set_ylabel("Final validation loss")
    style.log_axis(ax, "x", "count")
    style.log_axis(ax, "y", "loss")
    ax.grid(True, which="major")
    return notes


def _conf(view) -> str:
    c = view.confidence
    return f"{100 * c:.0f}% interval" if math.isfinite(c) and view.bootstrap else "vertex"


def make(runs, view, out_dir, width="single", formats=("pdf", "png")) -> list[str]:
    import matplotlib.pyplot as plt

    style.use_paper_style()
    fig, ax = plt.subplots(figsize=style.figure_size(width, 0.95 if width == "single" else 0.42))
    notes = draw(ax, runs, view)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ncols = 3 if width == "single" else 1
        if width == "single":
            fig.legend(
                handles,
                labels,
                title="Compute $C$ (FLOPs)",
                loc="outside lower center",
                ncols=ncols,
                handlelength=1.2,
                columnspacing=1.0,
            )
        else:
            fig.legend(handles, labels, title="Compute $C$ (FLOPs)", loc="outside right upper")
    if notes:
        # above the axes: the reasons the fit gave for leaving budgets out
        ax.text(
            0.0,
            1.02,
            "\n".join(notes),
            transform=ax.transAxes,
            fontsize=5.5,
            color="0.35",
            va="bottom",
            wrap=True,
        )
    return style.save_figure(fig, out_dir, "isoflop", formats)
