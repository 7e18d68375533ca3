"""Loss against compute with the compute-efficient frontier (Hoffmann et al. 2022, Figure 2;
Kaplan et al. 2020, Figure 1 left).

With curves.csv: every run's validation-loss curve against compute (coloured by model size);
without: each run's final loss. The frontier -- the least loss reached at each compute -- is
the running minimum over compute of Approach 1's envelope from fit.json (or, when the fit has no
Approach 1, of the curves). Each approach's predicted L*(C) from predictions.csv (the fitted law; beyond the data
moved by the measured drift) is drawn dashed on top, with its
interval band, out to at most ``max_extrapolation`` (default 100) times the largest studied budget.
"""

from __future__ import annotations

from flops_fit.approaches import APPROACH_KEYS, approach_of
from flops_fit.extrapolation import PLOT_LIMIT
from flops_fit.figures import style


def least_loss(compute, loss):
    """The frontier through points (C, L): the least loss reached with at most C FLOPs, i.e. the
    running minimum of L over increasing C (non-increasing), as the points where it drops plus the
    last compute (a zig-zag between runs is not a frontier: issue 24's 1.935 -> 2.004 between
    1.400e11 and 1.401e11 FLOPs)."""
    import numpy as np

    c, loss = np.asarray(compute, float), np.asarray(loss, float)
    good = np.isfinite(c) & np.isfinite(loss) & (c > 0)
    order = np.argsort(c[good], kind="stable")
    c, best = c[good][order], np.minimum.accumulate(loss[good][order])
    if not len(c):
        return c, best
    keep = np.r_[True, best[1:] < best[:-1]]
    keep[-1] = True
    return c[keep], best[keep]


def draw(ax, runs, view, curves=None, max_extrapolation=PLOT_LIMIT) -> None:
    import numpy as np

    colors = style.approach_colors()
    have_data = False
    env = view.envelope()
    if curves is not None and len(curves):
        have_data = True
        sizes = sorted(curves["params"].unique())
        palette = dict(zip(sizes, style.sequential_colors(len(sizes)), strict=True))
        for _run_id, grp in curves.groupby("run_id", sort=False):
            grp = grp.sort_values("flops")
            ax.plot(grp["flops"], grp["loss"], color=palette[grp["params"].iloc[0]], lw=0.5, alpha=0.7)
        _size_colorbar(ax, sizes, view.params_label)
        if env is None:  # no Approach 1 in the fit: draw the curves' running minimum instead
            env_f, env_l = least_loss(curves["flops"], curves["loss"])
            ax.plot(env_f, env_l, color="black", lw=1.2, label="lower envelope of the curves")
    else:
        used = view.used_runs()
        if used is not None and len(used):
            have_data = True
            ax.scatter(used["C"], used["L"], s=10, color="0.35", lw=0, zorder=3, label="runs (final loss)")
    if env is not None and "L" in env:
        have_data = True
        env_c, env_l = least_loss(env["C"], env["L"])
        ax.plot(env_c, env_l, color="black", lw=1.2, zorder=4, label="frontier (Approach 1 envelope)")
    preds = view.predictions_within(max_extrapolation)
    band = False
    if preds is not None:
        for name in APPROACH_KEYS:
            sel = preds[preds["approach"] == name].sort_values("budget")
            sel = sel[np.isfinite(sel["L_opt"].astype(float))]
            if sel.empty:
                continue
            have_data = True
            ax.plot(
                sel["budget"],
                sel["L_opt"],
                color=colors[name],
                lw=1.1,
                ls="--",
                label=f"{approach_of(name).short} fit $L^*(C)$",
            )
            if sel["L_opt_lo"].notna().all() and sel["L_opt_hi"].notna().all():
                ax.fill_between(sel["budget"], sel["L_opt_lo"], sel["L_opt_hi"], color=colors[name], alpha=0.18, lw=0)
                band = True
    if not have_data:
        style.placeholder(ax, "no runs or curves to draw")
        return
    ax.set_xlabel("Compute $C$ (FLOPs)")
    ax.set_ylabel(view.loss_label())
    style.log_axis(ax, "x", "flops")
    style.log_axis(ax, "y", "loss")
    ax.grid(True, which="major")
    handles, _labels = ax.get_legend_handles_labels()
    ax.legend(handles=handles + ([style.band_handle(view)] if band else []), loc="lower left")


def _size_colorbar(ax, sizes, label: str) -> None:
    """A colour bar for the model sizes of the curves (log scale, labels like 10M)."""
    import matplotlib as mpl

    if len(sizes) < 2:
        return
    norm = mpl.colors.LogNorm(min(sizes), max(sizes))
    cmap = mpl.colors.ListedColormap(style.sequential_colors(256))
    cb = ax.figure.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02, fraction=0.05)
    cb.set_label(label)
    cb.ax.tick_params(which="both", labelsize=6)
    style.log_axis(cb.ax, "y", "count")


def in_convention(curves, runs, view):
    """curves.csv with ``params`` (N under the fit's convention) and ``flops`` as the fit counts C:
    6 N D under the 6ND convention, the counted FLOPs otherwise (so the fitted L*(C) lines up).
    Curves of runs the fit excluded (diverged ones) are left out: their losses would set the scale."""
    if curves is None or runs is None or "run_id" not in runs:
        return curves
    conv = view.fit.get("convention") or {}
    col = conv.get("params_column", "params")
    col = col if col in runs else "params"
    per_run = runs[["run_id", col]].rename(columns={col: "params"})
    per_run = per_run[~per_run["run_id"].astype(str).isin(view.excluded_runs())]  # e.g. diverged
    curves = curves.drop(columns=[c for c in ("params",) if c in curves]).merge(per_run, on="run_id", how="inner")
    if conv.get("flops") == "6ND":
        curves = curves.assign(flops=6.0 * curves["params"] * curves["tokens"])
    return curves


def make(
    runs, view, out_dir, curves=None, width="single", formats=("pdf", "png"), max_extrapolation=PLOT_LIMIT
) -> list[str]:
    import matplotlib.pyplot as plt

    style.use_paper_style()
    fig, ax = plt.subplots(figsize=style.figure_size(width, 0.8 if width == "single" else 0.45))
    draw(ax, runs, view, in_convention(curves, runs, view), max_extrapolation)
    return style.save_figure(fig, out_dir, "frontier", formats)
