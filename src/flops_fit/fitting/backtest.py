"""Backtest: refit without the k largest budgets and predict them (Choshen et al. 2025, "A
Hitchhiker's Guide to Scaling Law Estimation", judge a law by how well it extrapolates).

For each approach the fit is redone (no bootstrap) on the runs of the smaller budgets, and its
N*(C) and L*(C) at each held-out budget C are compared with what that budget observed: the
vertex of its own IsoFLOP parabola (Approach 2's per-budget fit on all data) when that budget
is usable, else its lowest-loss run.  Reported: ``L_error_pct`` = 100 (L_pred - L_obs) / L_obs
and ``N_ratio`` = N_pred / N_obs.
"""

from __future__ import annotations

import numpy as np

from flops_fit.approaches import approach_key

from . import predictive


def observed(table, budget_details: list[dict]) -> dict[int, dict]:
    """Per budget_id: the observed optimum (N, L) and where it came from."""
    by_id = {b["budget_id"]: b for b in budget_details}
    out = {}
    for bid, grp in table.groupby("budget_id", sort=True):
        det = by_id.get(int(bid))
        if det is not None and det["included"]:
            out[int(bid)] = {"N_obs": det["N_opt"], "L_obs": det["L_opt"], "observed_from": "parabola vertex"}
        else:
            best = grp.loc[grp["L"].idxmin()]
            out[int(bid)] = {
                "N_obs": float(best["N"]),
                "L_obs": float(best["L"]),
                "observed_from": "best run",
            }
    return out


def run(table, curves, holdout: int, fit_point, predict_point, observed: dict, errors: list[dict],
        confidence: float) -> dict:
    """Refit without the ``holdout`` largest budgets and predict them.

    ``fit_point(table, curves) -> {approach: params or Exception}`` refits every approach;
    ``predict_point(approach, params, budgets) -> (N, D, L)`` evaluates a refit; ``observed`` is
    :func:`observed`.  Each prediction carries a predictive interval made only from what was
    known at the time: the errors of the rolling-origin folds whose budgets were all below the
    held-out ones (plus the prior of :mod:`.predictive`); the bootstrap term is left out.
    """
    ids = sorted(table["budget_id"].unique())
    if holdout <= 0:
        return {"status": "skipped", "reason": "backtest_holdout is 0", "holdout": holdout}
    if len(ids) - holdout < 2:
        return {
            "status": "skipped",
            "reason": f"holding out {holdout} of {len(ids)} budgets leaves fewer than 2 to fit",
            "holdout": holdout,
        }
    held = ids[-holdout:]
    train = table[~table["budget_id"].isin(held)]
    train_curves = None
    if curves is not None:
        train_curves = curves[curves["run_id"].isin(set(train["run_id"]))]
    held_c = [float(table.loc[table["budget_id"] == b, "budget"].iloc[0]) for b in held]
    train_budgets = sorted(train["budget"].unique())
    out = {"status": "ok", "holdout": holdout, "held_out_budgets": held_c, "approaches": {}}
    for approach, params in fit_point(train, train_curves).items():
        key = approach_key(approach)
        if isinstance(params, Exception):
            out["approaches"][key] = {"status": "skipped", "reason": str(params)}
            continue
        n, _, loss = predict_point(approach, params, np.array(held_c))
        known = [e for e in errors if e["budget"] <= train_budgets[-1] * (1 + 1e-9)]
        n_in, _, l_in = predict_point(approach, params, np.array(train_budgets))
        train_obs = [observed[b] for b in sorted(train["budget_id"].unique())]
        in_sample = predictive.in_sample_errors(train_budgets, train_obs, n_in, l_in)
        cal = predictive.calibrate(known, approach, train_budgets, in_sample)
        nan = np.full(len(held_c), np.nan)
        n, n_lo, n_hi = predictive.prediction(n, nan, nan, held_c, cal, "N", confidence)
        loss, l_lo, l_hi = predictive.prediction(loss, nan, nan, held_c, cal, "L", confidence)
        rows = []
        for j, bid in enumerate(held):
            o = observed[bid]
            rows.append(
                {
                    "budget": held_c[j],
                    "N_pred": float(n[j]),
                    "N_pred_lo": float(n_lo[j]),
                    "N_pred_hi": float(n_hi[j]),
                    "N_obs": o["N_obs"],
                    "N_ratio": float(n[j] / o["N_obs"]),
                    "L_pred": float(loss[j]),
                    "L_pred_lo": float(l_lo[j]),
                    "L_pred_hi": float(l_hi[j]),
                    "L_obs": o["L_obs"],
                    "L_error_pct": float(100 * (loss[j] - o["L_obs"]) / o["L_obs"]),
                    "observed_from": o["observed_from"],
                }
            )
        params = {k: v for k, v in params.items() if k != "flops_per_6ND_by_size"}
        out["approaches"][key] = {"status": "ok", "params": params, "held_out": rows}
    return out
