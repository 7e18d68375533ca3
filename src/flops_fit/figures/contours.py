"""Contours of the Approach-3 fit L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022,
Figure 4), in the (parameters, tokens) plane.

Filled contours of the fitted loss, dashed iso-FLOP lines C = 6 N D labelled with their C, the
efficient frontier (N*(C), D*(C), the line along which each iso-FLOP line touches its lowest
contour), and every run overlaid, filled with the colour of its measured loss on the contours'
scale (a run whose fill matches the background lies on the fitted surface; Besiroglu et al.
2024, Figure 2, colour their points the same way); runs the fit excluded are crosses. Only the
fitted formula is evaluated here.
"""

from __future__ import annotations

import math

from flops_fit.approaches import approach_key
from flops_fit.figures import style


def _frontier(p: dict, c):
    import numpy as np

    s = p["alpha"] + p["beta"]
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / s)
    n = g * (np.asarray(c) / 6) ** (p["beta"] / s)
    return n, np.asarray(c) / (6 * n)


def _round_levels(levels):
    """Contour levels rounded to the fewest significant digits (at least 2) that keep them strictly
    increasing, so the colour bar's labels print each level exactly and no two read the same."""
    import numpy as np

    for digits in range(2, 8):
        rounded = np.array([float(f"{x:.{digits - 1}e}") for x in levels])
        if np.all(np.diff(rounded) > 0):
            return rounded
    return np.asarray(levels)


def draw(ax, runs, view, fig=None) -> None:
    import numpy as np

    p = view.approach3()
    if p is None:
        reason = view.approaches[approach_key(3)].reason or "not fitted"
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
    levels = _round_levels(np.quantile(loss, np.linspace(0.0, 0.97, 14)))
    cs = ax.contourf(nn, dd, loss, levels=levels, cmap="viridis_r", extend="max", alpha=0.9)
    ax.contour(nn, dd, loss, levels=levels, colors="white", linewidths=0.3, alpha=0.6)
    if fig is not None:
        cb = fig.colorbar(cs, ax=ax, pad=0.02, fraction=0.05)
        cb.set_label(f"Loss $L(N, D)$, {view.loss_unit}")
        cb.ax.tick_params(which="both", labelsize=6)
        cb.ax.yaxis.set_major_formatter(style.plain_formatter())
    _iso_flop_lines(ax, nn, dd, kappa)
    c_lo, c_hi = 6 * kappa * n_lo * d_lo, 6 * kappa * n_hi * d_hi
    fn, fd = _frontier(p, np.geomspace(c_lo, c_hi, 400) / kappa)
    keep = (fn >= n_lo) & (fn <= n_hi) & (fd >= d_lo) & (fd <= d_hi)
    ax.plot(fn[keep], fd[keep], color="black", lw=1.4, label="efficient frontier")
    if used is not None and len(used):
        ax.scatter(
            used["N"],
            used["D"],
            c=used["L"],
            cmap=cs.cmap,
            norm=cs.norm,
            s=12,
            edgecolors="black",
            lw=0.5,
            zorder=3,
            label="runs (fill: measured loss)",
        )
    if bad is not None and len(bad):
        ax.scatter(bad["N"], bad["D"], s=14, marker="x", color="black", lw=0.9, zorder=3, label="excluded run")
    ax.plot([], [], color="0.4", lw=0.6, ls="--", label="iso-FLOP line, labelled with $C$")
    ax.set_xlim(n_lo, n_hi)
    ax.set_ylim(d_lo, d_hi)
    style.log_axis(ax, "x", "count")
    style.log_axis(ax, "y", "count")
    ax.set_xlabel(view.params_label)
    ax.set_ylabel(f"{view.data_label} $D$")


def _iso_flop_lines(ax, nn, dd, kappa, most: int = 6, margin: float = 0.12) -> None:
    """Dashed lines of constant compute C = kappa * 6 N D at powers of ten (every k-th when there
    would be more than ``most``), each labelled with its C near its lower-right end. Labels keep
    ``margin`` (a fraction of each log axis) from the axes' edges, so none is cut by them; a line
    that crosses the panel only within that margin of a corner is left out (it could not be
    labelled)."""
    import matplotlib.patheffects as pe
    import numpy as np

    log_c = np.log10(6 * kappa * nn * dd)
    first, last = math.ceil(log_c.min() + 0.3), math.floor(log_c.max() - 0.3)
    if last < first:
        return
    step = max(1, math.ceil((last - first + 1) / most))
    levels = list(range(first, last + 1, step))
    n_lo, n_hi, d_lo, d_hi = (math.log10(v) for v in (nn.min(), nn.max(), dd.min(), dd.max()))
    mn, md = margin * (n_hi - n_lo), margin * (d_hi - d_lo)  # the labels' box: the panel less a margin
    n_lo, n_hi, d_lo, d_hi = n_lo + mn, n_hi - mn, d_lo + md, d_hi - md
    spots, kept = [], []
    for e in levels:  # the piece of N * D = const inside the labels' box, in log space; 85% along it
        k = e - math.log10(6 * kappa)
        a, b = max(n_lo, k - d_hi), min(n_hi, k - d_lo)
        if b <= a:
            continue
        n = a + 0.85 * (b - a)
        spots.append((10**n, 10 ** (k - n)))
        kept.append(e)
    if not kept:
        return
    lines = ax.contour(nn, dd, log_c, levels=kept, colors="white", linewidths=0.6, linestyles="--", alpha=0.85)
    texts = ax.clabel(lines, fmt=lambda v: f"$10^{{{round(v)}}}$", fontsize=6, inline=True, manual=spots)
    for t in texts:
        t.set_path_effects([pe.withStroke(linewidth=1.2, foreground="0.2")])


def make(runs, view, out_dir, width="single", formats=("pdf", "png")) -> list[str]:
    import matplotlib.pyplot as plt

    style.use_paper_style()
    fig, ax = plt.subplots(figsize=style.figure_size(width, 0.95 if width == "single" else 0.42))
    draw(ax, runs, view, fig)
    handles, labels = ax.get_legend_handles_labels()
    if handles:  # under the plot: the contours fill the whole panel
        fig.legend(handles, labels, loc="outside lower center", ncols=2 if width == "single" else len(handles))
    return style.save_figure(fig, out_dir, "contours", formats)
