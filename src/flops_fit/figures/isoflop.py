"""IsoFLOP curves (Approach 2; Hoffmann et al. 2022, Figure 3 left).

Final loss against parameters, one colour per compute budget (small to large, viridis), the
fitted parabola of each budget, and its minimum N* with the bootstrap interval as a horizontal
bar. Budgets the fit left out are drawn in grey with hollow markers, and the legend says why.
Runs that diverged are crosses.
"""

from __future__ import annotations

import math

from flops_fit.figures import style


def draw(ax, runs, view) -> None:
    import numpy as np

    budgets = view.isoflop()
    if not budgets and runs is None:
        style.placeholder(ax, "no IsoFLOP fit in fit.json")
        return
    run_budgets = sorted(runs["budget"].dropna().unique()) if runs is not None and "budget" in runs else []
    all_budgets = sorted(set(run_budgets) | {b.budget for b in budgets})
    colors = dict(zip(all_budgets, style.sequential_colors(len(all_budgets)), strict=True))
    by_budget = {b.budget: b for b in budgets}
    excluded = {c: r for c, r in view.approaches["approach2"].excluded}
    for c in all_budgets:
        fit = by_budget.get(c)
        included = fit.included if fit else False
        if c in excluded:
            included = False
        color = colors[c] if included else style.EXCLUDED_COLOR
        label = f"{style.sci(c)}"
        if not included:
            reason = (fit.reason if fit and fit.reason else excluded.get(c, "")) or "excluded"
            label += f" (excluded: {reason})"
        if runs is not None and len(run_budgets):
            sel = runs[np.isclose(runs["budget"], c, rtol=1e-6)]
            ok = sel[sel["status"] != "diverged"] if "status" in sel else sel
            bad = sel[sel["status"] == "diverged"] if "status" in sel else sel.iloc[:0]
            ax.scatter(ok["params"], ok["loss"], s=14, marker="o", zorder=3, linewidths=0.8,
                       facecolors=color if included else "none", edgecolors=color, label=label)
            if len(bad):
                ax.scatter(bad["params"], bad["loss"], s=14, marker="x", color=color, zorder=3, linewidths=0.8)
            n_lo, n_hi = ok["params"].min(), ok["params"].max()
        else:
            ax.scatter([], [], s=14, color=color, label=label)
            n_lo, n_hi = fit.n_range if fit else (math.nan, math.nan)
        if fit and len(fit.coefficients) == 3 and all(math.isfinite(x) for x in fit.coefficients):
            if not (math.isfinite(n_lo) and math.isfinite(n_hi)):
                n_lo, n_hi = fit.n_opt.value / 4, fit.n_opt.value * 4
            grid = np.geomspace(n_lo / 1.15, n_hi * 1.15, 200)
            ax.plot(grid, fit.curve(grid), color=color, lw=1.0, ls="-" if included else ":", zorder=2)
            n_opt = fit.n_opt.value
            if math.isfinite(n_opt):
                l_opt = fit.l_opt.value if math.isfinite(fit.l_opt.value) else float(fit.curve(np.array([n_opt]))[0])
                xerr = None
                if fit.n_opt.has_interval:
                    xerr = [[max(n_opt - fit.n_opt.lo, 0)], [max(fit.n_opt.hi - n_opt, 0)]]
                ax.errorbar([n_opt], [l_opt], xerr=xerr, fmt="D", ms=4.5, mfc="white" if not included else color,
                            mec="black", mew=0.7, ecolor="black", elinewidth=0.8, capsize=1.5, zorder=4)
    ax.set_xlabel("Parameters $N$")
    ax.set_ylabel("Final validation loss")
    style.log_axis(ax, "x", "count")
    style.log_axis(ax, "y", "loss")
    ax.errorbar([], [], xerr=[], fmt="D", ms=4.5, mfc="white", mec="black", ecolor="black", label="fitted $N^*$")
    ax.legend(title="Compute $C$ (FLOPs)", loc="upper right", ncols=1, handlelength=1.0)
    ax.grid(True, which="major")


def make(runs, view, out_dir, width="single", formats=("pdf", "png")) -> list[str]:
    import matplotlib.pyplot as plt

    style.use_paper_style()
    fig, ax = plt.subplots(figsize=style.figure_size(width, 0.8 if width == "single" else 0.45))
    draw(ax, runs, view)
    return style.save_figure(fig, out_dir, "isoflop", formats)
