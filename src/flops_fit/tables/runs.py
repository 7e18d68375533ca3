"""The run table (appendix style): budget, size, N, D, FLOPs, loss, status, one row per run of
runs.csv."""

from __future__ import annotations

import math

from flops_fit.presentation.fitview import FitView
from flops_fit.presentation.formatting import fmt_loss, human, md_escape, sci, tex_escape, tex_flops, tex_num
from flops_fit.tables.render import md_table, tex_table

SHOWN_COLUMNS = (  # the columns of runs.csv (flops_fit.runs.RUN_COLUMNS) this table shows
    "run_id",
    "status",
    "budget",
    "size",
    "n_layer",
    "d_model",
    "params",
    "tokens",
    "flops",
    "loss",
)


def runs_frame(runs):
    """The run table: the presentational columns of runs.csv that exist, sorted by budget and size."""
    import pandas as pd

    if runs is None:
        return pd.DataFrame(columns=["run_id", "params", "tokens", "loss"])
    cols = [c for c in SHOWN_COLUMNS if c in runs.columns]
    keys = [c for c in ("budget", "params") if c in cols]
    return runs[cols].sort_values(keys, kind="stable").reset_index(drop=True) if keys else runs[cols]


def render_runs(frame, view: FitView) -> dict[str, str]:
    heads = {
        "run_id": "Run",
        "status": "Status",
        "budget": "Budget (FLOPs)",
        "size": "Size",
        "n_layer": "Layers",
        "d_model": "Width",
        "params": "N",
        "tokens": "D",
        "flops": "FLOPs",
        "loss": "Loss",
    }
    tex_heads = {**heads, "budget": "Budget", "params": "$N$", "tokens": "$D$", "loss": "Val.\\ loss"}
    fmt = {
        "budget": lambda x: sci(x, 3),
        "flops": lambda x: sci(x, 3),
        "params": human,
        "tokens": human,
        "loss": fmt_loss,
        "size": lambda x: f"{x:g}",
        "n_layer": lambda x: f"{x:g}",
        "d_model": lambda x: f"{x:g}",
    }
    tex_fmt = {**fmt, "budget": tex_flops, "flops": tex_flops, "params": tex_num, "tokens": tex_num}
    cols = list(frame.columns)
    excluded = view.excluded_runs()

    def cells(r, fmts, esc):
        out = []
        for c in cols:
            v = r[c]
            if c in fmts and isinstance(v, int | float) and math.isfinite(v):
                out.append(fmts[c](float(v)))
            else:
                out.append(esc(str(v)) if v == v else "--")
        return out

    rows_md = [cells(r, fmt, md_escape) for _, r in frame.iterrows()]
    rows_tex = [cells(r, tex_fmt, tex_escape) for _, r in frame.iterrows()]
    align = ["l" if c in ("run_id", "status") else "r" for c in cols]
    md = md_table([heads[c] for c in cols], rows_md, align)
    md += (
        f"\nN: total parameters; D: {md_escape(view.unit)} seen; Loss: final validation loss "
        f"({md_escape(view.loss_unit)});"
        " Size: the grid's size knob (e.g. the width); Layers, Width: depth and d_model.\n"
    )
    if excluded:
        md += "\nExcluded from the fits: " + "; ".join(md_escape(f"{k} ({v})") for k, v in sorted(excluded.items()))
        md += "\n"
    caption = (
        f"All {len(frame)} training runs. $N$: total parameters; $D$: {tex_escape(view.unit)} seen; "
        f"loss: final validation loss ({tex_escape(view.loss_unit)}); size: the grid's size knob; budgets and "
        f"FLOPs under the study's convention. Conventions of the fit: {tex_escape(view.convention)}."
    )
    tex = tex_table([tex_heads[c] for c in cols], [rows_tex], "".join(align), caption, "tab:runs", wide=True)
    return {"md": md, "tex": tex}
