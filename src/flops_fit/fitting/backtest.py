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


def run(table, curves, holdout: int, fit_point, predict_point, budget_details) -> dict:
    """Refit without the ``holdout`` largest budgets.

    ``fit_point(table, curves) -> {approach: params or Exception}`` refits every approach;
    ``predict_point(approach, params, budgets) -> (N, D, L)`` evaluates a refit.
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
    obs = observed(table, budget_details)
    held_c = [float(table.loc[table["budget_id"] == b, "budget"].iloc[0]) for b in held]
    out = {"status": "ok", "holdout": holdout, "held_out_budgets": held_c, "approaches": {}}
    for approach, params in fit_point(train, train_curves).items():
        key = f"approach{approach}"
        if isinstance(params, Exception):
            out["approaches"][key] = {"status": "skipped", "reason": str(params)}
            continue
        n, _, loss = predict_point(approach, params, np.array(held_c))
        rows = []
        for j, bid in enumerate(held):
            o = obs[bid]
            rows.append(
                {
                    "budget": held_c[j],
                    "N_pred": float(n[j]),
                    "N_obs": o["N_obs"],
                    "N_ratio": float(n[j] / o["N_obs"]),
                    "L_pred": float(loss[j]),
                    "L_obs": o["L_obs"],
                    "L_error_pct": float(100 * (loss[j] - o["L_obs"]) / o["L_obs"]),
                    "observed_from": o["observed_from"],
                }
            )
        out["approaches"][key] = {"status": "ok", "params": params, "held_out": rows}
    return out
