"""IsoFLOP curves (Approach 2; Hoffmann et al. 2022, Figure 3 left).

Final loss against parameters, one colour per compute budget (small to large, viridis), each
budget's fitted parabola (in log10 N, from fit.json) over the sizes it sampled, and its vertex
N* with the bootstrap interval as a horizontal bar. A budget the fit left out is drawn in grey
with hollow markers and a dotted parabola, the reasons summarised above the plot; runs the fit
excluded (diverged, non-finite loss) are grey crosses. Up to ``LEGEND_BUDGETS`` budgets are
named in the legend; beyond that a colour bar maps colour to compute.
"""

from __future__ import annotations

import math
import re

from flops_fit.approaches import approach_key
from flops_fit.figures import style

LEGEND_BUDGETS = 8
MAX_NOTES = 4


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


def summarise_exclusions(excluded: list[tuple[float, str]], max_lines: int = MAX_NOTES) -> list[str]:
    """At most ``max_lines`` lines on why budgets were left out: one per budget when few, else
    grouped by kind of reason (numbers blanked out) with a count."""
    if len(excluded) <= max_lines:
        return [f"C={style.sci(c)} excluded: {reason}" for c, reason in excluded]
    kinds: dict[str, list[str]] = {}
    for _c, reason in excluded:  # same reason up to its numbers -> one kind
        kinds.setdefault(re.sub(r"\[.*?\]|[-+]?\d[\d.e+-]*", "#", reason), []).append(reason)
    lines = [f"{len(excluded)} budgets excluded, e.g.:"]
    for reasons in sorted(kinds.values(), key=len, reverse=True)[: max_lines - 1]:
        example = reasons[0] if len(reasons[0]) <= 80 else reasons[0][:77] + "..."
        lines.append(f"{len(reasons)}x {example}")
    return lines


def draw(ax, runs, view, legend_budgets: bool = True) -> list[str]:
    """Draw the panel; return notes (why budgets were excluded) to print above it."""
    import numpy as np

    budgets = view.isoflop()
    used = view.used_runs()
    pre_notes = []
    if not budgets:  # no Approach 2: still show the runs by budget, without parabolas
        reason = view.approaches[approach_key(2)].reason or "not in fit.json"
        if used is None or not len(used):
            style.placeholder(ax, f"Approach 2 unavailable: {reason}")
            return []
        budgets = _budgets_without_fit(used)
        pre_notes = [f"No IsoFLOP parabolas: Approach 2 {reason}"]
    colors = dict(zip([b.budget_id for b in budgets], style.sequential_colors(len(budgets)), strict=True))
    for b in budgets:
        color = colors[b.budget_id] if b.included else style.EXCLUDED_COLOR
        label = (style.tex_power(b.budget) + ("" if b.included else " (excluded)")) if legend_budgets else None
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
        if b.coefficients and all(math.isfinite(x) for x in b.coefficients) and math.isfinite(n_lo) and n_hi > n_lo:
            grid = np.geomspace(n_lo / 1.1, n_hi * 1.1, 200)
            ax.plot(grid, b.curve(grid), color=color, lw=1.0, ls="-" if b.included else ":", zorder=2)
        inside = n_lo <= b.n_opt.value <= n_hi if math.isfinite(n_lo) else True
        if math.isfinite(b.n_opt.value) and math.isfinite(b.l_opt.value) and (b.included or inside):
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
    if not legend_budgets:  # generic entries instead of one per budget
        ax.scatter([], [], s=12, color=style.sequential_colors(3)[1], label="runs (colour: $C$)")
        if any(not b.included for b in budgets):
            ax.scatter([], [], s=12, facecolors="none", edgecolors=style.EXCLUDED_COLOR, label="excluded budget")
    bad = excluded_runs_frame(runs, view)
    if bad is not None and len(bad):
        ax.scatter(
            bad["N"], bad["L"], s=14, marker="x", color=style.EXCLUDED_COLOR, lw=0.8, zorder=3, label="excluded run"
        )
    if any(math.isfinite(b.n_opt.value) for b in budgets):
        label = "$N^*$ (" + _conf(view) + ")"
        ax.errorbar([], [], xerr=[], fmt="D", ms=4, mfc="white", mec="black", ecolor="black", label=label)
    ax.set_xlabel(view.params_label)
    ax.set_ylabel(view.loss_label("Final validation loss"))
    style.log_axis(ax, "x", "count")
    style.log_axis(ax, "y", "loss")
    ax.grid(True, which="major")
    return pre_notes + summarise_exclusions([(b.budget, b.reason) for b in budgets if not b.included])


def _budgets_without_fit(used) -> list:
    """One IsoFLOPBudget per budget of the fit's runs, with no parabola (drawing the runs only)."""
    from flops_fit.presentation.fitview import Interval, IsoFLOPBudget

    out = []
    for bid, grp in used.groupby("budget_id", sort=True):
        none = Interval(math.nan)
        out.append(
            IsoFLOPBudget(
                budget=float(grp["budget"].iloc[0]),
                budget_id=int(bid),
                coefficients=None,
                n_opt=none,
                d_opt=none,
                l_opt=none,
                included=True,
                reason="",
                warnings=[],
                n_range=(float(grp["N"].min()), float(grp["N"].max())),
            )
        )
    return out


def _conf(view) -> str:
    c = view.confidence
    return f"{100 * c:.0f}% interval" if math.isfinite(c) and view.bootstrap else "vertex"


def _budget_colorbar(fig, ax, budgets) -> None:
    import matplotlib as mpl

    cs = [b.budget for b in budgets]
    norm = mpl.colors.LogNorm(min(cs), max(cs))
    cmap = mpl.colors.ListedColormap(style.sequential_colors(256))
    cb = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02, fraction=0.05)
    cb.set_label("Compute $C$ (FLOPs)")
    cb.ax.tick_params(which="both", labelsize=6)
    style.log_axis(cb.ax, "y", "flops")


def make(runs, view, out_dir, width="single", formats=("pdf", "png")) -> list[str]:
    import matplotlib.pyplot as plt

    style.use_paper_style()
    fig, ax = plt.subplots(figsize=style.figure_size(width, 0.95 if width == "single" else 0.42))
    budgets = view.isoflop()
    if not budgets and view.used_runs() is not None:
        budgets = _budgets_without_fit(view.used_runs())
    few = len(budgets) <= LEGEND_BUDGETS
    notes = draw(ax, runs, view, legend_budgets=few)
    if budgets and not few:
        _budget_colorbar(fig, ax, budgets)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        title = "Compute $C$ (FLOPs)" if few else None
        if width == "single":
            fig.legend(
                handles, labels, title=title, loc="outside lower center", ncols=3, handlelength=1.2, columnspacing=1.0
            )
        else:
            fig.legend(handles, labels, title=title, loc="outside right upper")
    if notes:  # above the plot: why the fit left budgets out
        style.top_note(ax, notes, width)
    return style.save_figure(fig, out_dir, "isoflop", formats)
