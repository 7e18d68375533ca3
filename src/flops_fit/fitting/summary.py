"""What was fitted, in a few lines: the text of ``fit.log`` and of ``flops-fit fit``'s output."""

from __future__ import annotations

import math

from flops_fit.approaches import approach_id, approach_of

from . import quality


def _iv(value, interval) -> str:
    lo, hi = (interval or [None, None])[:2]
    if value is None or not math.isfinite(value):
        return "n/a"
    if lo is None or hi is None:
        return f"{value:.4g}"
    return f"{value:.4g} [{lo:.4g}, {hi:.4g}]"


def summary(result: dict) -> str:
    """Exponents with intervals per approach, excluded budgets and runs, warnings, diagnostics."""
    conv = result["convention"]
    conf = result["options"]["confidence"]
    lines = [
        f"fitted {result['n_used']} of {result['n_runs']} runs at {len(result['budgets'])} budgets "
        f"({min(result['budgets']):.3g} to {max(result['budgets']):.3g} FLOPs); N = {conv['params']} parameters, "
        f"C = {conv['flops']}; {conf:.0%} intervals"
    ]
    for key, block in result["approaches"].items():
        name = approach_of(key).name
        if block.get("status") != "ok":
            lines.append(f"  {name}: {block.get('status')} ({block.get('reason')})")
            continue
        iv = block.get("intervals") or {}
        text = f"  {name}: a = {_iv(block.get('a'), iv.get('a'))} (N* ~ C^a), b = {_iv(block.get('b'), iv.get('b'))}"
        if approach_id(key) == 3:
            p = block["params"]
            alpha, beta = _iv(p["alpha"], iv.get("alpha")), _iv(p["beta"], iv.get("beta"))
            text += f"; E = {p['E']:.4g}, alpha = {alpha}, beta = {beta}"
        lines.append(text)
        if block.get("indicative"):
            lines.append(f"    {block['indicative']}")
        for b in block.get("excluded_budgets") or []:
            lines.append(f"    excluded budget C={b['budget']:.3g}: {b['reason']}")
        for w in block.get("warnings") or []:
            lines.append(f"    warning: {w}")
        cal = block.get("predictive")
        if cal:
            lines.append(
                f"    predictive intervals: sigma_v(N*) {cal['sigma_v_N']:.3f}, lambda {cal['lambda_N']:.2f}, "
                f"N* offset {cal.get('offset_N', 0.0):+.3f} +- {cal.get('offset_sd_N', 0.0):.3f} (natural log), drift "
                f"{cal.get('drift_N', 0.0):+.3f} +- {cal.get('drift_sd_N', 0.0):.3f} and scatter {cal['tau_N']:.3f} "
                f"per decade from {cal['n_errors']} backtest errors; L* offset "
                f"{100 * cal.get('offset_L', 0.0):+.2f}%, drift {100 * cal.get('drift_L', 0.0):+.2f}% per decade"
            )
    rule = result.get("learning_rate_rule")
    if rule:
        checks = [c for c in rule.get("check") or [] if c.get("checked")]
        verdict = "; ".join(
            f"held-out N={c['params']:.3g}: rule x{c['ratio']:.2f} of the best, penalty {c['loss_penalty_pct']:.2f}% "
            + ("PASS" if c["passed"] else "FAIL")
            for c in checks
        )
        lines.append(
            f"  learning-rate rule (lr sweep): lr(N) = {rule['lr_ref']:.3g} (N / {rule['n_ref']:.3g})"
            f"^{rule['exponent']:.3f}"
            + (f"; {verdict}" if verdict else "")
        )
    for run in result.get("excluded_runs") or []:
        lines.append(f"  excluded run {run['run_id']}: {run['reason']}")
    lines += [f"  quality control: {line}" for line in quality.messages(result.get("quality"))]
    for w in result.get("budget_warnings") or []:
        lines.append(f"  warning: {w}")
    for d in result.get("diagnostics") or []:
        lines.append(f"  design: {d['message']}")
    bt = result.get("backtest") or {}
    for key, entry in (bt.get("approaches") or {}).items():
        name = approach_of(key).name
        for row in entry.get("held_out") or []:
            lines.append(
                f"  backtest {name} at C={row['budget']:.3g} (held out): L* {row['L_error_pct']:+.2f}%, "
                f"N* x{row['N_ratio']:.3f}"
            )
    return "\n".join(lines)
