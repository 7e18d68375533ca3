"""Contours of the Approach-3 fit L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022,
Figure 4), in the (parameters, tokens) plane.

Filled contours of the fitted loss, dashed iso-FLOP lines C = 6 N D, the efficient frontier
(N*(C), D*(C), the line along which each iso-FLOP line touches its lowest contour), and every run
overlaid (white circles; diverged runs as crosses). Only the fitted formula is evaluated here.
"""

from __future__ import annotations

import math

from flops_fit.figures import style


def _frontier(p: dict, c):
    import numpy as np

    s = p["alpha"] + p["beta"]
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / s)
    n = g * (np.asarray(c) / 6) ** (p["beta"] / s)
    return n, np.asarray(c) / (6 * n)


def draw(ax, runs, view, fig=None) -> None:
    import numpy as np

    p = view.approach3()
    if p is None:
        reason = view.approaches["approach3"].reason or "not fitted"
        style.placeholder(ax, f"Approach 3 unavailable: {reason}")
        return
    from flops_fit.figures.isoflop import excluded_runs_frame

    used = view.used_runs()
    bad = excluded_runs_frame(runs, view)
    pts = [f for f in (used, bad) if f is not None and len(f)]
    if pts:
        import pandas as pd

        allp = pd.concat([f[["N", "D"]] for f in pts])
        n_lo, n_hi = allp["N"].min() / 3, allp["N"].max() * 3
        d_lo, d_hi = allp["D"].min() / 3, allp["D"].max() * 3
    else:
        n_lo, n_hi, d_lo, d_hi = 1e6, 1e10, 1e8, 1e12
    kappa = view.flops_per_6nd  # counted FLOPs per 6ND: C = kappa * 6 N D
    n = np.geomspace(n_lo, n_hi, 240)
    d = np.geomspace(d_lo, d_hi, 240)
    nn, dd = np.meshgrid(n, d)
    loss = p["E"] + p["A"] * nn ** -p["alpha"] + p["B"] * dd ** -p["beta"]
    levels = np.quantile(loss, np.linspace(0.0, 0.97, 14))
    cs = ax.contourf(nn, dd, loss, levels=levels, cmap="viridis_r", extend="max", alpha=0.9)
    ax.contour(nn, dd, loss, levels=levels, colors="white", linewidths=0.3, alpha=0.6)
    if fig is not None:
        cb = fig.colorbar(cs, ax=ax, pad=0.02, fraction=0.05)
        cb.set_label("Fitted loss $L(N, D)$")
        cb.ax.tick_params(which="both", labelsize=6)
        cb.ax.yaxis.set_major_formatter(style.plain_formatter())
    # iso-FLOP lines
    c_lo, c_hi = 6 * kappa * n_lo * d_lo, 6 * kappa * n_hi * d_hi
    for e in range(math.ceil(math.log10(c_lo)), math.floor(math.log10(c_hi)) + 1):
        c = 10.0**e
        ax.plot(n, c / (6 * kappa * n), color="white", lw=0.6, ls="--", alpha=0.8)
    fn, fd = _frontier(p, np.geomspace(c_lo, c_hi, 400) / kappa)
    keep = (fn >= n_lo) & (fn <= n_hi) & (fd >= d_lo) & (fd <= d_hi)
    ax.plot(fn[keep], fd[keep], color="black", lw=1.4, label="efficient frontier")
    if used is not None and len(used):
        ax.scatter(used["N"], used["D"], s=10, facecolors="white", edgecolors="black", lw=0.5, zorder=3, label="runs")
    if bad is not None and len(bad):
        ax.scatter(bad["N"], bad["D"], s=14, marker="x", color="black", lw=0.9, zorder=3, label="excluded run")
    ax.plot([], [], color="0.4", lw=0.6, ls="--", label="iso-FLOP lines, $C = 10^k$")
    ax.set_xlim(n_lo, n_hi)
    ax.set_ylim(d_lo, d_hi)
    style.log_axis(ax, "x", "count")
    style.log_axis(ax, "y", "count")
    ax.set_xlabel(view.params_label)
    ax.set_ylabel(f"{view.data_label} $D$")


def make(runs, view, out_dir, width="single", formats=("pdf", "png")) -> list[str]:
    import matplotlib.pyplot as plt

    style.use_paper_style()
    fig, ax = plt.subplots(figsize=style.figure_size(width, 0.95 if width == "single" else 0.42))
    draw(ax, runs, view, fig)
    handles, labels = ax.get_legend_handles_labels()
    if handles:  # under the plot: the contours fill the whole panel
        fig.legend(handles, labels, loc="outside lower center", ncols=2 if width == "single" else len(handles))
    return style.save_figure(fig, out_dir, "contours", formats)
