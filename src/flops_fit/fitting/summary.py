"""What was fitted, in a few lines: the text of ``fit.log`` and of ``flops-fit fit``'s output."""

from __future__ import annotations

import math

from flops_fit.approaches import approach_id, approach_of

from . import quality


def _n(value, spec: str = ".4g") -> str:
    """``value`` formatted, or "n/a" when fit.json holds null (a NaN) or no number there: a summary
    of a degenerate fit (a backtest whose refit failed, a loss that rises with N) still prints."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "n/a"
    return format(value, spec)


def _pct(value):
    return 100 * value if _n(value) != "n/a" else None


def _iv(value, interval) -> str:
    lo, hi = (interval or [None, None])[:2]
    if _n(value) == "n/a":
        return "n/a"
    if _n(lo) == "n/a" or _n(hi) == "n/a":
        return _n(value)
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
    reach = result.get("reach") or {}
    if reach.get("limited"):
        lines.append(f"  warning: {reach['message']}")
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
            text += f"; E = {_n(p['E'])}, alpha = {alpha}, beta = {beta}"
        lines.append(text)
        noise = (block.get("bootstrap") or {}).get("noise")
        if noise:  # Approach 2: what its bootstrap drew (bootstrap.study_noise)
            source = (f"residuals pooled over {noise.get('budgets')} budget(s), {noise.get('dof')} dof"
                      if noise.get("method") == "residual" else "assumed: no budget has residuals")
            lines.append(f"    bootstrap: {noise.get('method')} run noise, sd {_n(_pct(noise.get('sd')), '.2f')}% "
                         f"of the loss ({source})")
        if block.get("indicative"):
            lines.append(f"    {block['indicative']}")
        for b in block.get("excluded_budgets") or []:
            lines.append(f"    excluded budget C={_n(b['budget'], '.3g')}: {b['reason']}")
        for w in block.get("warnings") or []:
            lines.append(f"    warning: {w}")
        for form, at in (block.get("forms_disagreement") or {}).items():
            lines.append(f"    form {form} against this surface: " + ", ".join(
                f"L* {_n(v.get('L_pct'), '+.1f')}%, N* x{_n(v.get('N_ratio'), '.2f')} at {k}" for k, v in at.items())
                + " the largest budget (how much the answer there rests on the form; fitting/forms.py)")
        cal = block.get("predictive")
        if cal:
            lines.append(
                f"    predictive intervals: sigma_v(N*) {_n(cal.get('sigma_v_N'), '.3f')}, lambda "
                f"{_n(cal.get('lambda_N'), '.2f')}, N* offset {_n(cal.get('offset_N', 0.0), '+.3f')} +- "
                f"{_n(cal.get('offset_sd_N', 0.0), '.3f')} (natural log), drift "
                f"{_n(cal.get('drift_N', 0.0), '+.3f')} +- "
                f"{_n(cal.get('drift_sd_N', 0.0), '.3f')} and scatter {_n(cal.get('tau_N'), '.3f')} per decade from "
                f"{cal.get('n_errors')} backtest errors; L* offset {_n(_pct(cal.get('offset_L', 0.0)), '+.2f')}%, "
                f"drift {_n(_pct(cal.get('drift_L', 0.0)), '+.2f')}% per decade"
            )
    rule = result.get("learning_rate_rule")
    if rule:
        checks = [c for c in rule.get("check") or [] if c.get("checked")]
        verdict = "; ".join(
            f"held-out N={_n(c['params'], '.3g')}: rule x{_n(c['ratio'], '.2f')} of the best, penalty "
            f"{_n(c['loss_penalty_pct'], '.2f')}% "
            + ("PASS" if c["passed"] else "FAIL")
            for c in checks
        )
        lines.append(
            f"  learning-rate rule (lr sweep): lr(N) = {_n(rule['lr_ref'], '.3g')} (N / {_n(rule['n_ref'], '.3g')})"
            f"^{_n(rule['exponent'], '.3f')}"
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
                f"  backtest {name} at C={_n(row['budget'], '.3g')} (held out): L* {_n(row['L_error_pct'], '+.2f')}%, "
                f"N* x{_n(row['N_ratio'], '.3f')}"
            )
    return "\n".join(lines)
