"""One figure comparing several studies (e.g. GPT on TinyStories vs ViT on CIFAR-10).

    python -m flops_fit.figures.comparison --out results/comparison/figures \\
        shakespeare=results/shakespeare/fit/fit.json tinystories=results/tinystories/fit/fit.json

Left: the compute-optimal N*(C) of every study (colour per study; solid Approach 3, dashed
Approach 2, dotted Approach 1), with interval bands, from each study's predictions.csv (the file
beside its fit.json), out to 100x each study's largest budget. Right: the allocation exponent a
(N* ~ C^a) of every study and approach with its bootstrap interval -- a forest plot; a = 0.5
(Chinchilla's equal scaling) is marked.
Nothing is refitted.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from flops_fit.approaches import APPROACH_KEYS, approach_key, approach_of
from flops_fit.extrapolation import PLOT_LIMIT
from flops_fit.figures import style


def make_comparison(studies: dict, out_dir, width: str = "double", formats=("pdf", "png")) -> list[str]:
    """Write ``comparison.<fmt>`` for ``studies`` ({name: fit.json path}); return the paths."""
    import matplotlib.pyplot as plt

    from flops_fit.presentation.fitview import FitView

    style.use_paper_style()
    views = {}
    for name, fit_json in studies.items():
        preds = Path(fit_json).with_name("predictions.csv")
        views[name] = FitView.load(fit_json, preds if preds.is_file() else None)
    colors = dict(zip(views, style.category_colors(len(views)), strict=True))
    fig, (ax_n, ax_a) = plt.subplots(
        1,
        2,
        figsize=style.figure_size(width, 0.42 if width == "double" else 0.7),
        gridspec_kw={"width_ratios": [1.4, 1]},
    )
    # left: N*(C)
    drew = False
    for name, view in views.items():
        preds = view.predictions_within(PLOT_LIMIT)  # each study's laws to 100x its largest budget
        if preds is None:
            continue
        for ap in APPROACH_KEYS:
            sel = preds[preds["approach"] == ap].sort_values("budget")
            sel = sel[sel["N_opt"].notna()]
            if sel.empty:
                continue
            drew = True
            ax_n.plot(sel["budget"], sel["N_opt"], color=colors[name], ls=style.APPROACH_LINESTYLES[ap], lw=1.1)
            if ap == approach_key(3) and sel["N_opt_lo"].notna().all() and sel["N_opt_hi"].notna().all():
                ax_n.fill_between(
                    sel["budget"], sel["N_opt_lo"], sel["N_opt_hi"], color=colors[name], alpha=0.15, lw=0
                )
        for b in view.isoflop():
            if b.included and math.isfinite(b.n_opt.value):
                ax_n.scatter([b.budget], [b.n_opt.value], s=10, color=colors[name], zorder=3)
    if drew:
        ax_n.set_xscale("log")
        ax_n.set_yscale("log")
        style.log_axis(ax_n, "x", "flops")
        style.log_axis(ax_n, "y", "count")
        ax_n.set_xlabel("Compute $C$ (FLOPs)")
        kinds = sorted({view.n_kind for view in views.values()})
        ax_n.set_ylabel(f"Optimal parameters $N^*$ ({' / '.join(kinds)})")
        ax_n.grid(True, which="major")
        for name in views:
            ax_n.plot([], [], color=colors[name], lw=1.5, label=name)
        for ap in APPROACH_KEYS:
            ax_n.plot([], [], color="0.3", ls=style.APPROACH_LINESTYLES[ap], lw=1.1, label=approach_of(ap).short)
        ax_n.legend(loc="upper left", ncols=2)
    else:
        style.placeholder(ax_n, "no predictions.csv beside the fits")
    # right: forest plot of the exponent a
    labels, y = [], 0
    for name, view in views.items():
        for ap in APPROACH_KEYS:
            iv = view.approaches[ap].get("a")
            if not math.isfinite(iv.value):
                continue
            xerr = [[max(iv.value - iv.lo, 0)], [max(iv.hi - iv.value, 0)]] if iv.has_interval else None
            ax_a.errorbar(
                [iv.value],
                [y],
                xerr=xerr,
                fmt=style.APPROACH_MARKERS[ap],
                color=colors[name],
                ms=4,
                elinewidth=0.9,
                capsize=1.5,
            )
            labels.append(f"{name} {approach_of(ap).short}")
            y += 1
        y += 0.5
    if labels:
        ticks = []
        y = 0
        for view in views.values():
            for ap in APPROACH_KEYS:
                if math.isfinite(view.approaches[ap].get("a").value):
                    ticks.append(y)
                    y += 1
            y += 0.5
        ax_a.set_yticks(ticks, labels)
        ax_a.invert_yaxis()
        ax_a.axvline(0.5, color="0.5", lw=0.8, ls="--")
        ax_a.set_xlabel("Exponent $a$ in $N^* \\propto C^a$")
        ax_a.grid(True, axis="x")
    else:
        style.placeholder(ax_a, "no fitted exponents")
    return style.save_figure(fig, out_dir, "comparison", formats)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flops_fit.figures.comparison", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("studies", nargs="+", help="NAME=path/to/fit.json, one per study")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--width", choices=["single", "double"], default="double")
    parser.add_argument("--formats", nargs="+", default=["pdf", "png"], choices=["pdf", "png", "svg"])
    args = parser.parse_args(argv)
    studies = {}
    for item in args.studies:
        name, sep, path = item.partition("=")
        if not sep:
            parser.error(f"expected NAME=path/to/fit.json, got {item!r}")
        studies[name] = path
    make_comparison(studies, args.out, args.width, tuple(args.formats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
