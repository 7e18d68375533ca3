"""The learning-rate sweep (flops_fit.lr_sweep) in two panels, from sweep.csv and rule.json.

Left: final validation loss against the peak learning rate, one colour per swept size (viridis,
small to large; one point per run, every seed), each size's parabola in ln(lr) through the rates
near its best (seeds averaged), the best rate as a star; held-out sizes dashed. Right: each
size's best rate against parameters N with the fitted rule lr(N) = lr_ref (N / n_ref)^exponent
as a line (DeepSeek-AI 2024, Figure 3), held-out sizes as hollow markers with the rule's rate
beside them, sizes whose best rate the sweep does not bracket as grey triangles (not fitted).

    python -m flops_fit.figures.lr_sweep --rule results/demo/lr/rule.json \\
        --table results/demo/lr/sweep.csv --out results/demo/lr/sweep.png
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

from flops_fit.figures import style


def read_table(path: str) -> list[dict]:
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["size"], r["params"] = int(r["size"]), int(r["params"])
        r["lr"], r["loss"] = float(r["lr"]), float(r["loss"])
        r["holdout"] = r["holdout"] == "True"
    return rows


def plot_sweep(rule: dict, rows: list[dict], out: str, formats=("pdf", "png"), width: str = "single") -> list[str]:
    """Draw the two panels and save them as ``out`` with each format's suffix."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import FuncFormatter, NullFormatter

    style.use_paper_style()
    # two panels side by side need the full page width to stay readable
    w = max(style.WIDTHS_IN[width], style.WIDTHS_IN["double"])
    fig, (ax_loss, ax_rule) = plt.subplots(1, 2, figsize=(w, w * 0.36))
    sizes = sorted({r["size"] for r in rows})
    colors = dict(zip(sizes, style.sequential_colors(len(sizes)), strict=True))
    bests = {b["size"]: b for b in rule["sizes"]}
    for size in sizes:
        group = sorted((r for r in rows if r["size"] == size and math.isfinite(r["loss"])), key=lambda r: r["lr"])
        if not group:
            continue
        held = group[0]["holdout"]
        ax_loss.plot([r["lr"] for r in group], [r["loss"] for r in group], "o", color=colors[size], ms=3,
                     mfc="none" if held else colors[size], label=f"d={size}" + (" (held out)" if held else ""))
        best = bests.get(size)
        if best and best.get("parabola"):
            a, b, c = best["parabola"]
            x = np.linspace(math.log(min(best["window"])), math.log(max(best["window"])), 50)
            ax_loss.plot(np.exp(x), a * x * x + b * x + c, "--" if held else "-", color=colors[size], lw=0.8)
        if best:
            ax_loss.plot([best["lr"]], [best["loss"]], "*", color=colors[size], ms=7, mec="k", mew=0.3)
    plain = FuncFormatter(lambda x, _: f"{x:g}")
    ax_loss.set_xscale("log")
    ax_loss.xaxis.set_major_formatter(plain)
    ax_loss.xaxis.set_minor_formatter(NullFormatter())
    ax_loss.set_xticks(sorted({r["lr"] for r in rows}))
    ax_loss.set_xlabel("peak learning rate")
    ax_loss.set_ylabel("final validation loss")
    ax_loss.legend(loc="upper center", ncols=2)

    fitted = [b for b in rule["sizes"] if not b["holdout"] and not b["at_edge"]]
    held = [b for b in rule["sizes"] if b["holdout"] and not b["at_edge"]]
    edge = [b for b in rule["sizes"] if b["at_edge"]]
    if edge:
        ax_rule.plot([b["params"] for b in edge], [b["lr"] for b in edge], "^", mfc="none", color="0.5",
                     label="not bracketed (left out)")
    ax_rule.plot([b["params"] for b in fitted], [b["lr"] for b in fitted], "o", color="k", label="best rate (fitted)")
    if held:
        ax_rule.plot([b["params"] for b in held], [b["lr"] for b in held], "o", mfc="none", color="k",
                     label="best rate (held out)")
    ns = [b["params"] for b in rule["sizes"]]
    n = np.geomspace(min(ns) / 1.3, max(ns) * 1.3, 50)
    line = rule["lr_ref"] * (n / rule["n_ref"]) ** rule["exponent"]
    ax_rule.plot(n, line, "-", color="C0", label=f"rule: lr ∝ N^{rule['exponent']:.2f}")
    for c in rule["check"]:
        ax_rule.plot([c["params"]], [c["rule_lr"]], "x", color="C3")
        pen = c.get("loss_penalty_pct")
        txt = f"x{c['ratio']:.2f}" + (f", +{pen:.2f}%" if pen is not None else "")
        ax_rule.annotate(txt, (c["params"], c["rule_lr"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax_rule.set_xlabel(f"parameters N ({rule['params'].replace('_', '-')})")
    ax_rule.set_ylabel("best learning rate")
    ax_rule.set_yscale("log")
    ax_rule.yaxis.set_major_formatter(plain)
    ax_rule.yaxis.set_minor_formatter(plain)
    style.log_axis(ax_rule, "x", "count")
    ax_rule.legend(loc="lower left")
    stem = Path(out)
    return style.save_figure(fig, stem.parent, stem.stem, formats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flops_fit.figures.lr_sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--rule", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--out", required=True, help="the figure file; its suffix is replaced by each format")
    parser.add_argument("--formats", nargs="+", default=["pdf", "png"], choices=["pdf", "png", "svg"])
    parser.add_argument("--width", choices=["single", "double"], default="single")
    args = parser.parse_args(argv)
    plot_sweep(json.loads(Path(args.rule).read_text()), read_table(args.table), args.out, args.formats, args.width)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
