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
        reason = view.approaches["approach3"].error or "no Approach 3 fit"
        style.placeholder(ax, f"Approach 3 unavailable: {reason}")
        return
    if runs is not None and len(runs):
        n_lo, n_hi = runs["params"].min() / 3, runs["params"].max() * 3
        d_lo, d_hi = runs["tokens"].min() / 3, runs["tokens"].max() * 3
    else:
        n_lo, n_hi, d_lo, d_hi = 1e6, 1e10, 1e8, 1e12
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
        cb.ax.tick_params(labelsize=6)
        cb.ax.yaxis.set_major_formatter(style.plain_formatter())
    # iso-FLOP lines
    c_lo, c_hi = 6 * n_lo * d_lo, 6 * n_hi * d_hi
    for e in range(math.ceil(math.log10(c_lo)), math.floor(math.log10(c_hi)) + 1):
        c = 10.0**e
        ax.plot(n, c / (6 * n), color="white", lw=0.5, ls="--", alpha=0.7)
    fn, fd = _frontier(p, np.geomspace(c_lo, c_hi, 200))
    keep = (fn >= n_lo) & (fn <= n_hi) & (fd >= d_lo) & (fd <= d_hi)
    ax.plot(fn[keep], fd[keep], color="black", lw=1.4, label="efficient frontier")
    if runs is not None and len(runs):
        ok = runs[runs["status"] != "diverged"] if "status" in runs else runs
        ax.scatter(ok["params"], ok["tokens"], s=10, facecolors="white", edgecolors="black", lw=0.5, zorder=3,
                   label="runs")
        if "status" in runs and (runs["status"] == "diverged").any():
            bad = runs[runs["status"] == "diverged"]
            ax.scatter(bad["params"], bad["tokens"], s=12, marker="x", color="red", lw=0.8, zorder=3,
                       label="diverged")
    ax.plot([], [], color="white", lw=0.5, ls="--", label="iso-FLOP $C=6ND$")
    ax.set_xlim(n_lo, n_hi)
    ax.set_ylim(d_lo, d_hi)
    style.log_axis(ax, "x", "count")
    style.log_axis(ax, "y", "count")
    ax.set_xlabel("Parameters $N$")
    ax.set_ylabel("Tokens $D$")
    leg = ax.legend(loc="upper right", frameon=True, facecolor="0.3", framealpha=0.6, labelcolor="white")
    leg.get_frame().set_linewidth(0)


def make(runs, view, out_dir, width="single", formats=("pdf", "png")) -> list[str]:
    import matplotlib.pyplot as plt

    style.use_paper_style()
    fig, ax = plt.subplots(figsize=style.figure_size(width, 0.85 if width == "single" else 0.5))
    draw(ax, runs, view, fig)
    return style.save_figure(fig, out_dir, "contours", formats)
