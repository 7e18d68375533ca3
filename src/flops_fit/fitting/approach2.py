"""Approach 2: IsoFLOP profiles (Hoffmann et al. 2022, §3.2).

For each budget C, fit a parabola of the final loss against x = log10 N over the budget's runs;
its vertex is N*(C) and L*(C).  Then N* = k_N C^a and D* = k_D C^b by least squares in log space
(:mod:`flops_fit.fitting.powerlaw`).

* A budget with fewer than 3 distinct sizes, a parabola that opens downward, or a vertex outside
  its sampled sizes is excluded (recorded with the reason): extrapolating the parabola is what
  makes IsoFLOP fits unreliable.
* A vertex that is inside but off-centre (in the outer ``OFFCENTRE`` fraction of the sampled
  log-range at either end) keeps the budget with a warning: loss is not symmetric in log N, so
  a parabola over an off-centre window biases N* (Czech et al. 2026, Open-Athena; also
  Besiroglu et al. 2024 on sensitivity to the sampled window).
* D*(C): under C = 6ND, D* = C / (6 N*).  Under counted FLOPs (whose per-token cost is not 6N)
  that identity is wrong, so D* is read off the budget's own runs: log tokens interpolated
  linearly against log N at N* (the vertex lies inside the sampled sizes).
* Fewer than 2 usable budgets -> FitError, no output.
"""

from __future__ import annotations

import numpy as np

from . import powerlaw
from .runs_table import FitError

OFFCENTRE = 0.2  # warn when the vertex lies in the outer 20% of the sampled log10 N range


def fit_budget(n, d, loss, c, flops: str) -> dict:
    """Parabola L(x = log10 N) of one budget's runs and its vertex (N*, D*, L*), or why not."""
    x = np.log10(np.asarray(n, dtype=float))
    loss = np.asarray(loss, dtype=float)
    sizes = np.unique(x)
    out = {
        "n_runs": len(x),
        "n_sizes": len(sizes),
        "N_min": float(10 ** sizes[0]),
        "N_max": float(10 ** sizes[-1]),
        "parabola": None,
        "N_opt": np.nan,
        "D_opt": np.nan,
        "L_opt": np.nan,
        "included": False,
        "reason": None,
        "warnings": [],
    }
    if len(sizes) < 3:
        out["reason"] = f"only {len(sizes)} distinct model size(s); a parabola needs >= 3"
        return out
    c2, c1, c0 = np.polyfit(x, loss, 2)
    out["parabola"] = {"c2": float(c2), "c1": float(c1), "c0": float(c0), "x": "log10 N"}
    if not c2 > 0:
        out["reason"] = "the parabola opens downward (no minimum): loss does not turn up over the sizes"
        return out
    xs = -c1 / (2 * c2)
    out["N_opt"] = float(10**xs)
    out["L_opt"] = float(c0 - c1 * c1 / (4 * c2))
    if not sizes[0] < xs < sizes[-1]:
        side = "below the smallest" if xs <= sizes[0] else "above the largest"
        out["reason"] = (
            f"minimum N*={10**xs:.3g} lies {side} sampled size "
            f"[{10 ** sizes[0]:.3g}, {10 ** sizes[-1]:.3g}]; sample around the optimum"
        )
        return out
    if flops == "6ND":
        out["D_opt"] = float(c / (6.0 * out["N_opt"]))
    else:
        logd = np.log10(np.asarray(d, dtype=float))
        mean_logd = np.array([logd[x == s].mean() for s in sizes])
        out["D_opt"] = float(10 ** np.interp(xs, sizes, mean_logd))
    out["included"] = True
    pos = (xs - sizes[0]) / (sizes[-1] - sizes[0])
    if pos < OFFCENTRE or pos > 1 - OFFCENTRE:
        out["warnings"].append(
            f"sampled sizes are off-centre around the minimum (vertex at {pos:.0%} of the sampled "
            "log10 N range): a parabola over an asymmetric window biases N* (Czech et al. 2026)"
        )
    return out


def vertex_bias(log10_n, alpha: float, beta: float, centre: float) -> float:
    """log10 of vertex / optimum for a parabola through the noise-free IsoFLOP curve of the loss
    L = E + A / N^alpha + B / D^beta sampled at ``log10_n`` (C = 6ND fixed), whose optimum is
    near ``centre`` (a first guess: the observed vertex).  Along an IsoFLOP line, with x = ln(N / N*),
    L = E + G (exp(-alpha x) / alpha + exp(beta x) / beta): asymmetric unless alpha = beta, so a
    parabola's vertex leans towards the flatter side, more the wider the sampled sizes (Czech et al.
    2026, "Problems with Chinchilla Approach 2").  The optimum is solved for, the vertex being
    ``optimum + bias``."""
    x = np.asarray(log10_n, dtype=float)
    optimum = centre
    for _ in range(4):
        z = (x - optimum) * np.log(10.0)
        shape = np.exp(-alpha * z) / alpha + np.exp(beta * z) / beta
        c2, c1, _ = np.polyfit(x - optimum, shape, 2)
        bias = -c1 / (2 * c2)
        optimum = centre - bias
    return float(bias)


def minima(table, flops: str) -> list[dict]:
    """``fit_budget`` for every budget of ``table`` (columns N, D, C, L, budget_id, budget)."""
    out = []
    for bid, grp in table.groupby("budget_id", sort=True):
        res = fit_budget(grp["N"], grp["D"], grp["L"], float(grp["budget"].iloc[0]), flops)
        res["budget_id"] = int(bid)
        res["budget"] = float(grp["budget"].iloc[0])
        out.append(res)
    return out


def laws(budgets: list[dict]) -> dict:
    """Power laws through the included vertices; FitError when fewer than 2 budgets are usable."""
    used = [b for b in budgets if b["included"]]
    if len(used) < 2:
        reasons = "; ".join(f"C={b['budget']:.3g}: {b['reason']}" for b in budgets if not b["included"])
        raise FitError(
            f"Approach 2 needs >= 2 usable budgets; {len(used)} of {len(budgets)} usable"
            + (f" ({reasons})" if reasons else "")
        )
    c = [b["budget"] for b in used]
    return powerlaw.fit(c, [b["N_opt"] for b in used], [b["D_opt"] for b in used], [b["L_opt"] for b in used])


def fit(table, flops: str) -> tuple[dict, list[dict]]:
    """(power-law parameters, per-budget details) for the whole table."""
    budgets = minima(table, flops)
    return laws(budgets), budgets
