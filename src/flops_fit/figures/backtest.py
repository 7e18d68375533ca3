"""Backtest: each approach refitted without the largest budget(s) predicts the held-out budgets
(fit.json ``backtest``; Choshen et al. 2025 judge a scaling law by how well it extrapolates).

Two panels against compute C: the optimal loss L* and the optimal size N*. Black circles are
what each budget measured (its IsoFLOP vertex); the held-out budget's measurement is a black
star; coloured markers are each approach's prediction for it (nudged sideways so they do not
hide each other), with the prediction's interval as an error bar when fit.json gives one
(``N_pred_lo``/``N_pred_hi``, ``L_pred_lo``/``L_pred_hi``): a calibrated interval contains the
star. The panel lists each approach's error, prediction / observation - 1.
"""

from __future__ import annotations

import math

from flops_fit.approaches import approach_of
from flops_fit.figures import style


def draw(axes, view, quantities) -> dict:
    """Draw one panel per quantity, "L" (L*) or "N" (N*); return {label: handle} for one shared legend."""
    import numpy as np

    bt = view.backtest()
    colors = style.approach_colors()
    handles = {}
    held = set(bt["budget"].round(-6).unique()) if bt is not None else set()
    for ax, q in zip(axes, quantities, strict=True):
        sel = bt[bt["quantity"] == q] if bt is not None else None
        if sel is None or sel.empty:
            style.placeholder(ax, view.backtest_note() or "no backtest for this quantity")
            continue
        for b in view.isoflop():
            iv = b.l_opt if q == "L" else b.n_opt
            if not (b.included and math.isfinite(iv.value)) or round(b.budget, -6) in held:
                continue
            h = ax.scatter([b.budget], [iv.value], s=14, color="black", zorder=3)
            handles.setdefault("measured optimum", h)
        obs = sel.drop_duplicates("budget")
        h = ax.scatter(
            obs["budget"],
            obs["actual"],
            marker="*",
            s=70,
            color="black",
            zorder=6,
            edgecolors="white",
            linewidths=0.4,
        )
        handles.setdefault("held-out budget", h)
        names = sorted(sel["approach"].unique())
        errors = []
        for i, name in enumerate(names):
            grp = sel[sel["approach"] == name]
            nudge = 10 ** (0.06 * (i - (len(names) - 1) / 2))
            h = ax.scatter(
                grp["budget"] * nudge,
                grp["predicted"],
                marker=style.APPROACH_MARKERS.get(name, "o"),
                color=colors.get(name, "0.3"),
                s=22,
                zorder=5,
                edgecolors="white",
                linewidths=0.4,
            )
            bars = grp[np.isfinite(grp["predicted_lo"]) & np.isfinite(grp["predicted_hi"])]
            if len(bars):
                ax.errorbar(
                    bars["budget"] * nudge,
                    bars["predicted"],
                    yerr=[
                        (bars["predicted"] - bars["predicted_lo"]).clip(lower=0),
                        (bars["predicted_hi"] - bars["predicted"]).clip(lower=0),
                    ],
                    fmt="none",
                    ecolor=colors.get(name, "0.3"),
                    elinewidth=0.9,
                    capsize=2,
                    zorder=4,
                )
                handles.setdefault(f"predicted {view.interval_level or ''} interval".replace("  ", " "), _bar_handle())
            err = 100 * (grp["predicted"] / grp["actual"] - 1).to_numpy(float)
            worst = err[int(np.argmax(np.abs(err)))]
            short = approach_of(name).short
            errors.append((f"{short}: {worst:+.1f}%", colors.get(name, "0.3")))
            handles.setdefault(f"{short} predicted", h)
        for name in sorted(k for k in view.backtest_skipped() if view.approaches[k].ok):
            errors.append((f"{approach_of(name).short}: not refitted", "0.45"))
        # errors in the empty corner: loss falls with C (lower left), N* rises (upper left)
        y0, va = (0.04, "bottom") if q == "L" else (0.96, "top")
        ax.text(0.04, y0, "pred/obs - 1", transform=ax.transAxes, fontsize=6, va=va, color="0.3")
        for j, (text, col) in enumerate(errors):
            step = (j + 1) * 0.075
            ax.text(
                0.04,
                y0 + step if va == "bottom" else y0 - step,
                text,
                transform=ax.transAxes,
                fontsize=6,
                va=va,
                color=col,
            )
        ax.margins(x=0.12, y=0.12)
        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        if hi / lo < 4:  # a lone budget: show a decade around it, not a sliver
            mid = (lo * hi) ** 0.5
            ax.set_xlim(mid / 3.2, mid * 3.2)
        ax.set_yscale("log")
        style.log_axis(ax, "x", "flops")
        style.log_axis(ax, "y", "loss" if q == "L" else "count")
        ax.set_xlabel("Compute $C$ (FLOPs)")
        loss_label, n_label = f"Optimal loss $L^*$\n({view.loss_unit})", f"Optimal $N^*$\n({view.n_kind} params)"
        ax.set_ylabel(loss_label if q == "L" else n_label)
        ax.grid(True, which="major")
    return handles


def _bar_handle():
    """A grey error bar for the legend: "predicted interval"."""
    from matplotlib.lines import Line2D

    return Line2D([], [], color="0.3", marker="|", markersize=7, lw=0, mew=0.9)


def make(view, out_dir, width="single", formats=("pdf", "png")) -> list[str]:
    import matplotlib.pyplot as plt

    style.use_paper_style()
    fig, axes = plt.subplots(1, 2, figsize=style.figure_size(width, 0.62 if width == "single" else 0.36))
    handles = draw(list(axes), view, ["L", "N"])
    for ax in axes:  # flush right: centred under the right panel, the label ran off the figure
        ax.set_xlabel(ax.get_xlabel(), loc="right")
    if handles:
        fig.legend(
            list(handles.values()),
            list(handles),
            loc="outside lower center",
            ncols=2 if width == "single" else len(handles),  # three columns are wider than a column
            columnspacing=1.0,
            handletextpad=0.3,
        )
    return style.save_figure(fig, out_dir, "backtest", formats)
