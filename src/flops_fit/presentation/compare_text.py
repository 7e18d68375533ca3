"""What ``flops-fit compare`` prints: per approach and budget, the compute multiplier of the
variant over the baseline, the L* difference and both allocations, with their intervals."""

from __future__ import annotations

import math

from flops_fit import extrapolation
from flops_fit.approaches import approach_of
from flops_fit.presentation.formatting import human, sci


def fmt_multiplier(x: float) -> str:
    """0.7 -> '0.7x', 12.3 -> '12.3x', inf -> 'inf' (the baseline never reaches that loss)."""
    if x is None or math.isnan(x):
        return "--"
    if math.isinf(x):
        return "inf"
    return f"{x:.3g}x"


def fmt_dloss(x: float) -> str:
    return "--" if x is None or not math.isfinite(x) else f"{x:+.4f}"


def _iv(row: dict, name: str, fmt) -> str:
    lo, hi = row.get(f"{name}_lo"), row.get(f"{name}_hi")
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return ""
    return f" [{fmt(lo)}, {fmt(hi)}]"


def how_far(row: dict) -> str:
    f = row.get("extrapolation", math.nan)
    if not math.isfinite(f) or not extrapolation.extrapolated_factor(f):
        return ""
    return f" ({f:.3g}x beyond the data{': the laws, not the runs, speak here' if row.get('beyond_data') else ''})"


def headline(row: dict, base: str, var: str) -> str:
    """One sentence: 'shakespeare-swiglu at 1e15 FLOPs matches shakespeare with 1.3x the compute'."""
    m = row["multiplier"]
    if math.isinf(m):
        return f"{var} at C = {sci(row['budget'], 3)} reaches a loss that {base} never reaches (below its E)"
    if not math.isfinite(m):
        return f"no multiplier at C = {sci(row['budget'], 3)}"
    lo, hi = row.get("multiplier_lo", math.nan), row.get("multiplier_hi", math.nan)
    if lo <= 1 <= hi:
        saves = "no difference shown (1 lies inside the interval)"
    else:
        saves = "the variant saves compute" if m > 1 else "the variant costs compute"
    return f"{base} needs {fmt_multiplier(m)} the compute to match {var} at C = {sci(row['budget'], 3)}: {saves}"


def format_comparison(result: dict) -> str:
    """Plain text of a :func:`flops_fit.fitting.compare.compare` result."""
    base, var = result["baseline"], result["variant"]
    conf = f"{result['confidence']:.0%}"
    units = base["unit"] if base["unit"] == var["unit"] else f"{base['unit']} / {var['unit']}"
    lines = [
        f"# baseline {base['name']} vs variant {var['name']}; data unit {units}; "
        f"N {base['convention']['params']}, C {base['convention']['flops']}",
        f"# {result['definition']}",
        f"# [{conf} interval] {result['interval_method']}",
    ]
    for key, block in result["approaches"].items():
        lines.append(f"{approach_of(key).name} ({block['pairs']} paired replicates)")
        for r in block["rows"]:
            lines.append(f"  C = {sci(r['budget'], 3)} FLOPs{how_far(r)}")
            lines.append(f"    multiplier {fmt_multiplier(r['multiplier'])}{_iv(r, 'multiplier', fmt_multiplier)}"
                         f"   dL* {fmt_dloss(r['dL'])}{_iv(r, 'dL', fmt_dloss)}")
            for who, tag in ((base["name"], "base"), (var["name"], "var")):
                lines.append(
                    f"    {who}: N* {human(r[f'N_{tag}'])}{_iv(r, f'N_{tag}', human)}"
                    f"  D* {human(r[f'D_{tag}'])}{_iv(r, f'D_{tag}', human)}"
                    f"  L* {r[f'L_{tag}']:.4f}{_iv(r, f'L_{tag}', lambda x: f'{x:.4f}')}"
                )
            lines.append(f"    {headline(r, base['name'], var['name'])}")
        lines.append(f"  {block['sentence']}")
    return "\n".join(lines)
