"""The allocations table: compute-optimal N*, D*, L*, D*/N* per budget and approach, with
intervals, in the style of Hoffmann et al. 2022, Table 3 (studied budgets and those beyond them;
extrapolated rows are marked)."""

from __future__ import annotations

import math

from flops_fit import extrapolation
from flops_fit.approaches import approach_id, approach_of
from flops_fit.presentation.fitview import FitView, Interval
from flops_fit.presentation.formatting import (
    fmt_loss,
    fmt_ratio,
    human,
    interval_text,
    md_escape,
    sci,
    tex_escape,
    tex_estimate,
    tex_flops,
)
from flops_fit.tables.render import md_table, tex_table


def allocations_frame(view: FitView, studied_max: float | None = None):
    """One row per (budget, approach) from predictions.csv: N*, D*, L*, D*/N* with intervals."""
    import numpy as np
    import pandas as pd

    cols = [
        "budget",
        "approach",
        "N_opt",
        "N_opt_lo",
        "N_opt_hi",
        "D_opt",
        "D_opt_lo",
        "D_opt_hi",
        "L_opt",
        "L_opt_lo",
        "L_opt_hi",
        "tokens_per_param",
        "extrapolated",
    ]
    preds = view.predictions
    if preds is None or preds.empty:
        return pd.DataFrame(columns=cols)
    frame = preds.copy()
    if "tokens_per_param" not in frame:
        frame["tokens_per_param"] = frame["D_opt"] / frame["N_opt"]
    if studied_max is not None and math.isfinite(studied_max):
        frame["extrapolated"] = extrapolation.extrapolated(frame["budget"].astype(float), [studied_max])
    frame["extrapolated"] = frame["extrapolated"].astype(str).str.lower().isin(("true", "1", "1.0", "yes"))
    frame["_o"] = frame["approach"].map(approach_id)
    frame = frame.sort_values(["budget", "_o"]).drop(columns="_o")
    keep = [c for c in cols if c in frame.columns] + [c for c in frame.columns if c.startswith("tokens_per_param_")]
    out = frame[keep].reset_index(drop=True)
    for c in ("N_opt", "D_opt", "L_opt"):
        out[c] = out[c].astype(float)
    return out[np.isfinite(out["N_opt"]) | np.isfinite(out["L_opt"])].reset_index(drop=True)


def render_allocations(frame, view: FitView) -> dict[str, str]:
    conf = view.interval_level
    rows_md, groups = [], []
    for budget, sel in frame.groupby("budget", sort=True):
        group = []
        for r in sel.itertuples():
            mark = "†" if r.extrapolated else ""
            n_iv = Interval(r.N_opt, r.N_opt_lo, r.N_opt_hi)
            d_iv = Interval(r.D_opt, r.D_opt_lo, r.D_opt_hi)
            l_iv = Interval(r.L_opt, r.L_opt_lo, r.L_opt_hi)
            loss = [fmt_loss(r.L_opt), interval_text(l_iv, fmt_loss)]
            md_cells = [human(r.N_opt), interval_text(n_iv, human), human(r.D_opt), interval_text(d_iv, human)]
            tex_cells = [tex_estimate(n_iv), tex_estimate(d_iv), " ".join(loss).strip()]
            r_iv = Interval.of(r.tokens_per_param, [getattr(r, "tokens_per_param_lo", None),
                                                    getattr(r, "tokens_per_param_hi", None)])
            ratio = [fmt_ratio(r.tokens_per_param), interval_text(r_iv, fmt_ratio)]
            rows_md.append([sci(budget, 3) + mark, approach_of(r.approach).name, *md_cells, *loss, *ratio])
            budget_tex = (tex_flops(budget) + ("$^\\dagger$" if mark else "")) if not group else ""
            short = approach_of(r.approach).short
            group.append([budget_tex, short, *tex_cells, tex_estimate(r_iv)])
        groups.append(group)
    iv_head = f"{conf} interval".strip()
    header = ["Budget (FLOPs)", "Approach", "N*", iv_head, "D*", iv_head, "L*", iv_head, "D*/N*", iv_head]
    md = md_table(header, rows_md, ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r"])
    md += (
        f"\nN*: optimal parameters ({view.n_kind}); D*: optimal {md_escape(view.unit)}; L*: their loss "
        f"({md_escape(view.loss_unit)}); D*/N*: {md_escape(view.unit)} per parameter."
        + (" † beyond the largest studied budget (extrapolated)." if frame["extrapolated"].any() else "")
        + "\n"
    )
    t_iv = f" [{tex_escape(conf)}]" if conf else ""
    tex_header = ["$C$ (FLOPs)", "Appr.", f"$N^*${t_iv}", f"$D^*${t_iv}", f"$L^*${t_iv}", f"$D^*/N^*${t_iv}"]
    caption = (
        "Compute-optimal allocations per budget and approach (cf. Hoffmann et al. 2022, Table 3)"
        + (f", each with its {tex_escape(conf)} interval in brackets. " if conf else ". ")
        + ("$^\\dagger$Beyond the largest studied budget (extrapolated). " if frame["extrapolated"].any() else "")
        + "A1, A2, A3: Approaches 1 (envelope), 2 (IsoFLOP profiles), 3 (parametric loss). "
        + f"$N^*$: optimal parameters ({view.n_kind}); $D^*$: optimal {tex_escape(view.unit)}; "
        + f"$L^*$: their loss ({tex_escape(view.loss_unit)}). Conventions: {tex_escape(view.convention)}."
    )
    tex = tex_table(tex_header, groups, "llrrrr", caption, "tab:compute-optimal", wide=True)
    return {"md": md, "tex": tex}
