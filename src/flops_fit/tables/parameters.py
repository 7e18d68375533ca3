"""The parameters table: every fitted parameter with its interval, per approach (Approaches 1
and 2: N* = k_N C^a, D* = k_D C^b, L* = k_L C^-gamma; Approach 3: E, A, B, alpha, beta of
L(N, D) = E + A/N^alpha + B/D^beta and the implied a, b; Hoffmann et al. 2022, section 3)."""

from __future__ import annotations

from flops_fit.presentation.fitview import APPROACH_NAMES, APPROACHES, FitView, Interval
from flops_fit.presentation.formatting import fmt_param, interval_text, sci, tex_escape
from flops_fit.tables.render import md_table, tex_table

PARAM_TEX = {
    "E": "$E$",
    "A": "$A$",
    "B": "$B$",
    "alpha": r"$\alpha$",
    "beta": r"$\beta$",
    "a": "$a$ ($N^* \\propto C^a$)",
    "b": "$b$ ($D^* \\propto C^b$)",
    "G": "$G$",
    "k_N": "$k_N$",
    "k_D": "$k_D$",
    "gamma": r"$\gamma$ ($L^* \propto C^{-\gamma}$)",
    "k_L": "$k_L$",
}
PARAM_MD = {"alpha": "α", "beta": "β", "gamma": "γ (L* ∝ C^-γ)", "a": "a (N* ∝ C^a)", "b": "b (D* ∝ C^b)"}


def parameters_frame(view: FitView):
    """One row per (approach, parameter): value, lo, hi (from fit.json)."""
    import pandas as pd

    rows = []
    for name in APPROACHES:
        ap = view.approaches[name]
        if not ap.parameters:
            continue
        for pname, iv in ap.parameters.items():
            rows.append({"approach": name, "parameter": pname, "value": iv.value, "lo": iv.lo, "hi": iv.hi})
    return pd.DataFrame(rows, columns=["approach", "parameter", "value", "lo", "hi"])


def render_parameters(frame, view: FitView) -> dict[str, str]:
    conf = view.interval_level
    header_md = ["Approach", "Parameter", "Estimate", f"{conf} interval".strip()]
    rows_md, groups = [], []
    for name in APPROACHES:
        sel = frame[frame["approach"] == name]
        if sel.empty:
            continue
        group = []
        for r in sel.itertuples():
            iv = Interval(r.value, r.lo, r.hi)
            f = lambda x, p=r.parameter: fmt_param(p, x)  # noqa: E731
            rows_md.append(
                [
                    APPROACH_NAMES[name],
                    PARAM_MD.get(r.parameter, r.parameter),
                    f(r.value),
                    interval_text(iv, f),
                ]
            )
            group.append(
                [
                    APPROACH_NAMES[name] if not group else "",
                    PARAM_TEX.get(r.parameter, tex_escape(r.parameter)),
                    f(r.value),
                    interval_text(iv, f),
                ]
            )
        groups.append(group)
    md = md_table(header_md, rows_md, ["l", "l", "r", "r"])
    notes = [f"Data: {w.strip()}" for w in view.fit.get("warnings") or []]
    if view.fit.get("effective_data"):
        notes.append("Data: D is the effective data of repeated epochs (Muennighoff et al. 2023)")
    for name in APPROACHES:
        ap = view.approaches[name]
        if not ap.ok and ap.reason:
            notes.append(f"{APPROACH_NAMES[name]}: not fitted: {ap.reason}")
        for budget, reason in ap.excluded:
            notes.append(f"{APPROACH_NAMES[name]}: budget {sci(budget, 3)} excluded: {reason}")
        notes += [f"{APPROACH_NAMES[name]}: warning: {w}" for w in ap.warnings]
    if name_budgets := [b for b in view.isoflop() if b.warnings]:
        for b in name_budgets:
            notes += [f"Approach 2: budget {sci(b.budget, 3)}: {w}" for w in b.warnings]
    if notes:
        md += "\nNotes:\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    caption = (
        "Fitted scaling-law parameters per approach"
        + (f" with {tex_escape(conf)} bootstrap intervals ({view.bootstrap} resamples). " if conf else ". ")
        + f"Conventions: {tex_escape(view.convention)}."
    )
    tex = tex_table(
        ["Approach", "Parameter", "Estimate", f"{tex_escape(conf)} interval".strip()],
        groups,
        "llrr",
        caption,
        "tab:scaling-parameters",
    )
    return {"md": md, "tex": tex}
