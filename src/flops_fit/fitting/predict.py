"""Predictions at any budgets from a fit (fit.json content): the rows of predictions.csv."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from flops_fit import extrapolation
from flops_fit.approaches import approach_id, approach_key

from . import approach3, bootstrap, forms, predictive
from .allocation import evaluate


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def predict(result: dict, budgets) -> pd.DataFrame:
    """Rows per (budget, approach): N*, D*, L*, D*/N* with interval bounds, the extrapolation
    factor (budget / largest studied budget), the study's one-budget-out backtest error of that
    approach, in_sample and the conventions.  Beyond the data N* and L* are the law's moved by the
    drift the study's backtest measured; ``N_opt_law``, ``L_opt_law`` keep the law's own values.
    Intervals are predictive (see :mod:`flops_fit.fitting.predictive`) unless the fit was made with
    ``intervals="bootstrap"``."""
    c = np.atleast_1d(np.asarray(budgets, dtype=float))
    studied = np.asarray(result["budgets"], dtype=float)
    conf = result["options"]["confidence"]
    conv = result["convention"]
    method = result.get("options", {}).get("intervals", "bootstrap")
    frames = []
    for key, block in result["approaches"].items():
        if block.get("status") != "ok":
            continue
        k = approach_id(key)
        params = {p: (math.nan if v is None else v) for p, v in block["params"].items()}
        n, d, loss = (np.broadcast_to(x, c.shape).astype(float) for x in evaluate(k, params, c, block))
        samples = {p: _arr(v)[:, None] for p, v in block["bootstrap"]["samples"].items()}
        nan = np.full(c.shape, np.nan)
        boot = {name: (nan, nan) for name in ("N", "L")}
        if samples and len(next(iter(samples.values()))):
            with np.errstate(all="ignore"):
                ns, _, ls = evaluate(k, samples, c[None, :], block)
            boot = {"N": bootstrap.percentile_interval(ns, conf), "L": bootstrap.percentile_interval(ls, conf)}
        cal = block.get("predictive")
        n_law, l_law = n, loss
        if method == "predictive" and cal:
            # Approach 2's L* law forms (the others carry none): their spread beyond the furthest budget
            # the study's backtest reached, where its calibration stops measuring how the law errs
            tested = float(studied.max()) * 10 ** cal.get("drift_u_max", 0.0)
            spread = forms.spread_law(block.get("law_forms"), np.maximum(c, tested), tested)
            n, n_lo, n_hi = predictive.prediction(n, *boot["N"], c, cal, "N", conf)
            loss, l_lo, l_hi = predictive.prediction(loss, *boot["L"], c, cal, "L", conf, spread)
            d = d * n_law / n
        else:
            (n_lo, n_hi), (l_lo, l_hi) = boot["N"], boot["L"]
        with np.errstate(all="ignore"):
            # C fixed: D* moves against N*, and D*/N* twice as far (in log space)
            frame = {
                "budget": c,
                "approach": k,
                "N_opt": n, "N_opt_lo": n_lo, "N_opt_hi": n_hi,
                "D_opt": d, "D_opt_lo": d * n / n_hi, "D_opt_hi": d * n / n_lo,
                "L_opt": loss, "L_opt_lo": l_lo, "L_opt_hi": l_hi,
                "tokens_per_param": d / n,
                "tokens_per_param_lo": d / n * (n / n_hi) ** 2,
                "tokens_per_param_hi": d / n * (n / n_lo) ** 2,
                "N_opt_law": n_law, "L_opt_law": l_law,
            }
        bt = _one_budget_out(result, key)
        frame.update(
            in_sample=extrapolation.in_sample(c, studied),
            extrapolation=extrapolation.factor(c, studied),
            beyond_data=extrapolation.beyond_data(c, studied),
            backtest_L_error_pct=bt[0],
            backtest_N_ratio=bt[1],
            interval_method=method if (method == "bootstrap" or cal) else "bootstrap",
            params_convention=conv["params"],
            flops_convention=conv["flops"],
            confidence=conf,
        )
        frames.append(pd.DataFrame(frame))
    if not frames:
        return pd.DataFrame(columns=["budget", "approach", "N_opt", "D_opt", "L_opt", "tokens_per_param"])
    return pd.concat(frames, ignore_index=True).sort_values(["budget", "approach"], ignore_index=True)


def _one_budget_out(result: dict, key: str) -> tuple[float, float]:
    """(L* error %, N* ratio) of the approach predicting the largest budget from the others: the
    backtest's prediction (drift included) when it held out one budget, else the rolling backtest's
    law from the last origin."""
    bt = result.get("backtest") or {}
    block = (bt.get("approaches") or {}).get(key) or {}
    if bt.get("holdout") == 1 and block.get("status") == "ok" and block.get("held_out"):
        row = block["held_out"][0]
        return row["L_error_pct"], row["N_ratio"]
    rows = [e for e in result.get("rolling_backtest") or [] if approach_key(e["approach"]) == key]
    if not rows:
        return math.nan, math.nan
    last = max(rows, key=lambda e: (e["origin"], -e["budget"]))
    last = min((e for e in rows if e["origin"] == last["origin"]), key=lambda e: e["budget"])
    return 100 * (last["L_pred"] / last["L_obs"] - 1), last["N_pred"] / last["N_obs"]


def predict_loss(result: dict, params, tokens) -> pd.DataFrame:
    """The loss a run of ``params`` parameters trained on ``tokens`` tokens should reach: Approach 3's
    surface L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, eq. 2) with an interval built like
    L*'s (:mod:`.predictive`) from the surface's own rolling backtest on single runs (fit.json's
    ``predictive_runs``: every run of the larger budgets, on and off their optimum, predicted from the
    smaller ones): the surface's L moved by the offset and drift measured ``u`` decades beyond the
    studied compute (u from the run's own C = 6 N D, times the counted-FLOPs factor of its size when the
    fit counted FLOPs), the runs' scatter, one run's noise as its floor.  The bootstrap interval of
    L(N, D) is the floor of the interval.

    Rows per (N, D) pair (the two broadcast): params, tokens, compute, approach, L, L_lo, L_hi,
    L_surface (the surface's own value), tokens_per_param, extrapolation, beyond_data.  Only the
    surface gives L off the compute-optimal line: Approaches 1 and 2 have no L(N, D).
    """
    block = (result.get("approaches") or {}).get(approach_key(3)) or {}
    if block.get("status") != "ok":
        why = block.get("reason") or "Approach 3 was not requested"
        raise ValueError(f"the loss of a given (N, D) needs Approach 3's surface L(N, D); this fit has none ({why})")
    n, d = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (params, tokens))
    if n.shape != d.shape and 1 not in (n.size, d.size):
        raise ValueError(f"give one tokens value, or one per params value: got {n.size} params and {d.size} tokens")
    n, d = np.broadcast_arrays(n, d)
    if not (np.all(np.isfinite(n)) and np.all(n > 0) and np.all(np.isfinite(d)) and np.all(d > 0)):
        raise ValueError(f"params and tokens must be positive and finite; got params={params!r}, tokens={tokens!r}")
    coefficients = {p: (math.nan if v is None else v) for p, v in block["params"].items()}
    loss = approach3.loss(coefficients, n, d)
    compute = 6.0 * n * d * _kappa(block, n)
    conf = result["options"]["confidence"]
    samples = {p: _arr(v)[:, None] for p, v in block["bootstrap"]["samples"].items()}
    boot_lo = boot_hi = np.full(n.shape, np.nan)
    if samples and len(next(iter(samples.values()))):
        with np.errstate(all="ignore"):
            boot_lo, boot_hi = bootstrap.percentile_interval(approach3.loss(samples, n[None, :], d[None, :]), conf)
    cal = block.get("predictive_runs")
    lo, hi, point = boot_lo, boot_hi, loss
    if result.get("options", {}).get("intervals") == "predictive" and cal:
        point, lo, hi = predictive.prediction(loss, boot_lo, boot_hi, compute, cal, "L", conf)
    studied = np.asarray(result["budgets"], dtype=float)
    return pd.DataFrame({
        "params": n, "tokens": d, "compute": compute, "approach": 3,
        "L": point, "L_lo": lo, "L_hi": hi, "L_surface": loss, "tokens_per_param": d / n,
        "extrapolation": extrapolation.factor(compute, studied),
        "beyond_data": extrapolation.beyond_data(compute, studied),
        "confidence": conf,
    })


def _kappa(block: dict, n: np.ndarray) -> np.ndarray:
    """Counted FLOPs per 6ND at sizes ``n`` (1 under the 6ND convention)."""
    by_size = block.get("flops_per_6ND_by_size") or {}
    if len(by_size.get("N", ())) and not np.allclose(by_size["kappa"], 1.0):
        return approach3.kappa_at(n, by_size["N"], by_size["kappa"])
    return np.ones_like(n)
