"""The parameters table: every fitted parameter with its interval, per approach (Approaches 1
and 2: N* = k_N C^a, D* = k_D C^b, L* = E_L + k_L C^-gamma; Approach 3: E, A, B, alpha, beta of
L(N, D) = E + A/N^alpha + B/D^beta and the implied a, b, G; Hoffmann et al. 2022, section 3).
A note under the table says what every symbol in it is, so the table reads on its own."""

from __future__ import annotations

from flops_fit.approaches import APPROACH_KEYS, approach_of
from flops_fit.presentation.fitview import FitView, Interval
from flops_fit.presentation.formatting import fmt_param, interval_text, md_escape, sci, tex_escape, tex_param
from flops_fit.tables.render import md_table, tex_table

PARAM_TEX = {
    "E": "$E$",
    "A": "$A$",
    "B": "$B$",
    "alpha": r"$\alpha$",
    "beta": r"$\beta$",
    "a": "$a$",
    "b": "$b$",
    "G": "$G$",
    "k_N": "$k_N$",
    "k_D": "$k_D$",
    "gamma": r"$\gamma$",
    "k_L": "$k_L$",
    "E_L": "$E_L$",
}
PARAM_MD = {"alpha": "α", "beta": "β", "gamma": "γ"}

SYMBOLS = {  # parameter -> (Markdown, LaTeX) explanation; one entry may explain several symbols
    "E": (
        "E, A, B, α, β: L(N, D) = E + A/N^α + B/D^β",
        r"$E, A, B, \alpha, \beta$: $L(N, D) = E + A/N^\alpha + B/D^\beta$",
    ),
    "a": ("a, b: N* ∝ C^a, D* ∝ C^b", r"$a, b$: $N^* \propto C^a$, $D^* \propto C^b$"),
    "G": (
        "G: N* = G (C/6)^a with a = β/(α+β), G = (αA/(βB))^(1/(α+β)) (Hoffmann et al. 2022, eq. 4)",
        r"$G$: $N^* = G\,(C/6)^{a}$ with $a = \beta/(\alpha+\beta)$, $G = (\alpha A/\beta B)^{1/(\alpha+\beta)}$"
        r" (Hoffmann et al.\ 2022, eq.~4)",
    ),
    "k_N": ("k_N, k_D: N* = k_N C^a, D* = k_D C^b", r"$k_N, k_D$: $N^* = k_N C^a$, $D^* = k_D C^b$"),
    "gamma": (
        "γ, k_L, E_L: L* = E_L + k_L C^-γ (E_L = 0: a pure power law)",
        r"$\gamma, k_L, E_L$: $L^* = E_L + k_L C^{-\gamma}$ ($E_L = 0$: a pure power law)",
    ),
}
_SYMBOL_OF = {"A": "E", "B": "E", "alpha": "E", "beta": "E", "b": "a", "k_D": "k_N", "k_L": "gamma", "E_L": "gamma"}


def symbol_notes(names) -> list[tuple[str, str]]:
    """(Markdown, LaTeX) explanations of every symbol among the parameter ``names``, in order, once."""
    keys = []
    for name in names:
        key = _SYMBOL_OF.get(name, name)
        if key in SYMBOLS and key not in keys:
            keys.append(key)
    return [SYMBOLS[k] for k in keys]


def parameters_frame(view: FitView):
    """One row per (approach, parameter): value, lo, hi (from fit.json)."""
    import pandas as pd

    rows = []
    for name in APPROACH_KEYS:
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
    for name in APPROACH_KEYS:
        sel = frame[frame["approach"] == name]
        if sel.empty:
            continue
        group = []
        for r in sel.itertuples():
            iv = Interval(r.value, r.lo, r.hi)
            f = lambda x, p=r.parameter: fmt_param(p, x)  # noqa: E731
            t = lambda x, p=r.parameter: tex_param(p, x)  # noqa: E731
            rows_md.append(
                [
                    approach_of(name).name,
                    PARAM_MD.get(r.parameter) or md_escape(r.parameter),
                    f(r.value),
                    interval_text(iv, f),
                ]
            )
            group.append(
                [
                    approach_of(name).short if not group else "",
                    PARAM_TEX.get(r.parameter, tex_escape(r.parameter)),
                    t(r.value),
                    interval_text(iv, t),
                ]
            )
        groups.append(group)
    md = md_table(header_md, rows_md, ["l", "l", "r", "r"])
    symbols = symbol_notes(frame["parameter"])
    if symbols:
        md += "\nSymbols: " + "; ".join(m for m, _t in symbols) + ".\n"
    notes = [f"Data: {w.strip()}" for w in view.fit.get("warnings") or []]
    if view.fit.get("effective_data"):
        notes.append("Data: D is the effective data of repeated epochs (Muennighoff et al. 2023)")
    for name in APPROACH_KEYS:
        ap = view.approaches[name]
        if not ap.ok and ap.reason:
            notes.append(f"{approach_of(name).name}: not fitted: {ap.reason}")
        for budget, reason in ap.excluded:
            notes.append(f"{approach_of(name).name}: budget {sci(budget, 3)} excluded: {reason}")
        notes += [f"{approach_of(name).name}: warning: {w}" for w in ap.warnings]
    said = " ".join(notes)
    for b in view.isoflop():  # a budget's warning is often an approach warning already
        notes += [f"Approach 2: budget {sci(b.budget, 3)}: {w}" for w in b.warnings if w not in said]
    notes += [f"Design: {d.get('message')}" for d in view.fit.get("diagnostics") or [] if d.get("message")]
    notes = list(dict.fromkeys(notes))  # each once, in order
    if notes:
        md += "\nNotes:\n\n" + "\n".join(f"- {md_escape(n)}" for n in notes) + "\n"
    caption = (
        "Fitted scaling-law parameters per approach"
        + (f" with {tex_escape(conf)} bootstrap intervals ({view.bootstrap} resamples). " if conf else ". ")
        + "A1, A2, A3: Approaches 1 (envelope), 2 (IsoFLOP profiles), 3 (parametric loss). "
        + f"Conventions: {tex_escape(view.convention)}."
    )
    tex = tex_table(
        ["", "Parameter", "Estimate", f"{tex_escape(conf)} interval".strip()],
        groups,
        "llrr",
        caption,
        "tab:scaling-parameters",
        notes=["; ".join(t for _m, t in symbols) + "."] if symbols else (),
    )
    return {"md": md, "tex": tex}
