"""Compute-optimal allocation: N* and D* against compute C, per approach (Hoffmann et al. 2022,
Figure 3 middle and right; Figure 1 for the extrapolation).

Lines are the predictions of predictions.csv (the fitted power laws; beyond the data moved by the
drift the study's own backtest measured, see fitting/predictive.py), out to at most ``max_extrapolation``
(default 100) times the largest studied budget (the table lists every requested budget; a far
extrapolation drawn here would squeeze the data into a corner), with their interval as a band;
points are what each approach measured per budget (Approach 2's parabola minima with intervals,
Approach 1's envelope). The grey region marks extrapolation beyond the largest studied budget.
"""

from __future__ import annotations

import math

from flops_fit.approaches import APPROACH_KEYS, approach_key, approach_of
from flops_fit.extrapolation import PLOT_LIMIT
from flops_fit.figures import style


def _studied_max(view) -> float:
    budgets = view.studied_budgets
    return max(budgets) if budgets else math.nan


def thin(frame, n: int = 40):
    """At most ``n`` rows, evenly spaced (Approach 1's envelope has ~1,500 points)."""
    if frame is None or len(frame) <= n:
        return frame
    step = max(1, len(frame) // n)
    return frame.iloc[::step]


def draw(axes, runs, view, quantities=("N", "D"), max_extrapolation=PLOT_LIMIT) -> list:
    """Draw one panel per quantity, N* or D* (predictions.csv's ``N_opt``/``D_opt``, Approach 1's
    envelope ``N``/``D``); return legend handles."""
    import numpy as np

    colors = style.approach_colors()
    preds = view.predictions_within(max_extrapolation)
    c_max = _studied_max(view)
    handles = {}
    for ax, q in zip(axes, quantities, strict=True):
        drew = False
        col = f"{q}_opt"
        if preds is not None:
            for name in APPROACH_KEYS:
                sel = preds[preds["approach"] == name].sort_values("budget")
                sel = sel[np.isfinite(sel[col].astype(float))]
                if sel.empty:
                    continue
                drew = True
                (line,) = ax.plot(sel["budget"], sel[col], color=colors[name], lw=1.2, label=approach_of(name).label)
                handles[name] = line
                if sel[f"{col}_lo"].notna().all() and sel[f"{col}_hi"].notna().all():
                    ax.fill_between(sel["budget"], sel[f"{col}_lo"], sel[f"{col}_hi"], color=colors[name], alpha=0.18,
                                    lw=0)
                    handles["band"] = style.band_handle(view)
        # measured points
        for b in view.isoflop():
            iv = b.n_opt if q == "N" else b.d_opt
            if not math.isfinite(iv.value) or not (b.included or b.n_range[0] <= b.n_opt.value <= b.n_range[1]):
                continue  # an excluded budget's vertex outside its sampled sizes is no measurement
            drew = True
            yerr = [[max(iv.value - iv.lo, 0)], [max(iv.hi - iv.value, 0)]] if iv.has_interval else None
            col = colors[approach_key(2)] if b.included else style.EXCLUDED_COLOR
            h = ax.errorbar(
                [b.budget],
                [iv.value],
                yerr=yerr,
                fmt=style.APPROACH_MARKERS[approach_key(2)],
                ms=3.5,
                color=col,
                mfc=col if b.included else "none",
                elinewidth=0.8,
                capsize=1.5,
                zorder=4,
            )
            if not b.included:
                handles["excluded"] = h
        env = thin(view.envelope())
        if env is not None and q in env:
            drew = True
            ax.scatter(
                env["C"],
                env[q],
                s=8,
                marker=style.APPROACH_MARKERS[approach_key(1)],
                color=colors[approach_key(1)],
                alpha=0.7,
                zorder=3,
                lw=0,
            )
        if not drew:
            style.placeholder(ax, "no fitted allocation in fit.json / predictions.csv")
            continue
        if env is not None:
            handles["envelope"] = ax.scatter(
                [],
                [],
                s=8,
                marker=style.APPROACH_MARKERS[approach_key(1)],
                color=colors[approach_key(1)],
                lw=0,
                label="A1 envelope points",
            )
        if view.isoflop():
            handles["vertices"] = ax.errorbar(
                [], [], yerr=[], fmt="o", ms=3.5, color=colors[approach_key(2)], label="A2 IsoFLOP minima"
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        if math.isfinite(c_max):
            lo, hi = ax.get_xlim()
            if hi > c_max * 1.01:
                ax.axvspan(c_max, hi, color="0.92", zorder=0, lw=0)
                ax.text(
                    c_max * 1.15,
                    0.04,
                    "extrapolated",
                    transform=ax.get_xaxis_transform(),
                    fontsize=6,
                    color="0.4",
                    va="bottom",
                )
            ax.set_xlim(lo, hi)
        ax.set_xlabel("Compute $C$ (FLOPs)")
        ax.set_ylabel(f"Optimal {view.n_kind} params $N^*$" if q == "N" else f"Optimal {view.unit} $D^*$")
        style.log_axis(ax, "x", "flops")
        style.log_axis(ax, "y", "count")
        ax.grid(True, which="major")
    if "excluded" in handles:
        handles["excluded"].set_label("excluded budget")
    if "band" in handles:  # last in the legend
        handles["band"] = handles.pop("band")
    return list(handles.values())


def make(runs, view, out_dir, width="single", formats=("pdf", "png"), max_extrapolation=PLOT_LIMIT) -> list[str]:
    import matplotlib.pyplot as plt

    style.use_paper_style()
    if width == "single":
        fig, axes = plt.subplots(2, 1, figsize=style.figure_size(width, 1.3), sharex=True)
    else:
        fig, axes = plt.subplots(1, 2, figsize=style.figure_size(width, 0.38))
    handles = draw(axes, runs, view, max_extrapolation=max_extrapolation)
    if handles:
        axes[0].legend(handles=handles, loc="upper left")
    if width == "single":
        axes[0].set_xlabel("")
    return style.save_figure(fig, out_dir, "allocation", formats)
