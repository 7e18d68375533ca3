"""Prediction intervals calibrated out of sample: what the study's own backtests say it misses.

A bootstrap over the runs carries the noise of the runs only.  Beyond the studied budgets the
larger error is the law's own misspecification (a vertex that is not quite a power law in C, a
parabola biased by an asymmetric IsoFLOP curve, an L(N, D) of the wrong form), and it grows with
the distance of the extrapolation.  Besiroglu et al. 2024 found Chinchilla's own intervals far
too narrow for this reason; held-out budgets of published IsoFLOP studies fell inside
percentile-bootstrap "90%" intervals about a third of the time (benchmarks/bench_calibration.py).

The study measures it itself, by a rolling-origin backtest (Tashman 2000; the "rollout
cross-validation" of OLMo's ladder analysis): for each origin m, fit on the budgets up to the
m-th and predict every larger one.  With ``u`` the distance in decades of C beyond the origin's
largest budget and ``r`` the log error of N* (or L*) against the budget's own observed optimum,
the errors are modelled as ``r ~ N(0, tau^2 u^2)``: error that grows linearly with the decades
extrapolated.  The scale is estimated with a conjugate prior (a scaled inverse chi-square with
``PRIOR_DOF`` pseudo-observations at the scale measured on the published studies of
tests/data/public_isoflops.csv, ``PRIOR_TAU``), so a study with few budgets leans on the
published ones and a study with many speaks for itself::

    tau^2 = (nu0 tau0^2 + sum r_i^2 / u_i^2) / (nu0 + n)

The predictive interval at budget C, ``u = log10(C / C_max) + u0`` (``u0`` = half the study's
mean budget spacing, the error of a law between its budgets), in log space::

    log q_hat +- t_{(1+conf)/2, nu0 + n} * sqrt(s_boot^2 + tau^2 u^2)

with ``s_boot`` the bootstrap's (run noise) standard error at C, from its percentile interval.
D* shares N*'s error with the opposite sign (C fixed), D*/N* twice it.  ``t`` is Student's
quantile: the scale is estimated from few errors, and a plain normal quantile would undercover.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

# Per decade of extrapolation, in natural-log units, measured on the published IsoFLOP studies
# (tests/data/public_isoflops.csv, all experiments, rolling origins; benchmarks/bench_calibration.py
# --prior prints them).  Used with PRIOR_DOF pseudo-observations.
PRIOR = {
    1: {"sigma0_N": 0.03, "tau_N": 0.35, "sigma0_L": 0.003, "tau_L": 0.03},
    2: {"sigma0_N": 0.03, "tau_N": 0.35, "sigma0_L": 0.003, "tau_L": 0.03},
    3: {"sigma0_N": 0.05, "tau_N": 0.40, "sigma0_L": 0.005, "tau_L": 0.02},
}
PRIOR_DOF = 2.0
MAX_ORIGINS = 6  # the last 6 origins: the errors nearest to the regime of the prediction
MIN_TRAIN_BUDGETS = 3


def origins(budget_ids: list[int]) -> list[int]:
    """Index m of each origin: fit on budget_ids[:m + 1], predict the rest."""
    first = max(MIN_TRAIN_BUDGETS - 1, len(budget_ids) - 1 - MAX_ORIGINS)
    return list(range(first, len(budget_ids) - 1))


def rolling_errors(table, curves, fit_point, predict_point, observed: dict) -> list[dict]:
    """Errors of every approach at every origin (see the module docstring).

    ``fit_point(train_table, train_curves) -> {approach: params | Exception}``;
    ``predict_point(approach, params, budgets) -> (N, D, L)``; ``observed`` maps budget_id to
    ``{N_obs, L_obs}``.  Returns one record per (origin, held-out budget, approach).
    """
    ids = sorted(int(b) for b in table["budget_id"].unique())
    c_of = {int(b): float(g["budget"].iloc[0]) for b, g in table.groupby("budget_id")}
    out = []
    for m in origins(ids):
        train = table[table["budget_id"] <= ids[m]]
        train_curves = None if curves is None else curves[curves["run_id"].isin(set(train["run_id"]))]
        held = ids[m + 1 :]
        c_held = np.array([c_of[b] for b in held])
        for approach, params in fit_point(train, train_curves).items():
            if isinstance(params, Exception):
                continue
            n, _, loss = predict_point(approach, params, c_held)
            for j, bid in enumerate(held):
                obs = observed[bid]
                if not (np.isfinite(n[j]) and np.isfinite(loss[j]) and n[j] > 0 and loss[j] > 0):
                    continue
                out.append(
                    {
                        "approach": int(approach),
                        "origin": c_of[ids[m]],
                        "budget": c_of[bid],
                        "u": math.log10(c_of[bid] / c_of[ids[m]]),
                        "N_pred": float(n[j]),
                        "N_obs": obs["N_obs"],
                        "L_pred": float(loss[j]),
                        "L_obs": obs["L_obs"],
                        "r_N": math.log(obs["N_obs"] / n[j]),
                        "r_L": math.log(obs["L_obs"] / loss[j]),
                    }
                )
    return out


def _scales(r: np.ndarray, u: np.ndarray) -> tuple[float, float]:
    """(sigma0^2, tau^2) of ``r^2 ~ sigma0^2 + tau^2 u^2`` by non-negative least squares."""
    if len(r) == 0:
        return 0.0, 0.0
    design = np.stack([np.ones_like(u), u * u], axis=1)
    if len(np.unique(np.round(u, 6))) < 2:
        return 0.0, float(np.mean(r * r / (u * u)))
    coef, _ = optimize.nnls(design, r * r)
    return float(coef[0]), float(coef[1])


def vertex_noise(budget_details: list[dict], confidence: float) -> dict:
    """Standard error (log units) of one budget's observed optimum, the median over the budgets of
    their bootstrap vertex intervals: a held-out optimum is measured with this noise."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    out = {}
    for q in ("N", "L"):
        with np.errstate(invalid="ignore", divide="ignore"):
            s = [math.log(b[f"{q}_opt_hi"] / b[f"{q}_opt_lo"]) / (2 * z) for b in budget_details
                 if b.get("included") and b.get(f"{q}_opt_lo") and b.get(f"{q}_opt_hi")]
        s = [v for v in s if np.isfinite(v)]
        out[q] = float(np.median(s)) if s else 0.0
    return out


def calibrate(errors: list[dict], approach: int, budgets, vertex: dict | None = None) -> dict:
    """The approach's error scales for log N* and log L* (see the module docstring) and their dof.
    ``vertex`` (:func:`vertex_noise`) floors sigma0: no prediction beats the noise of a vertex."""
    rows = [e for e in errors if e["approach"] == approach and e["u"] > 0]
    c = np.log10(np.sort(np.asarray(budgets, dtype=float)))
    u = np.array([e["u"] for e in rows])
    n = len(rows)
    prior = PRIOR.get(approach, PRIOR[2])
    out = {"n_errors": n, "prior": prior, "prior_dof": PRIOR_DOF, "dof": PRIOR_DOF + n, "c_max": float(10 ** c[-1])}
    for q in ("N", "L"):
        s0, t2 = _scales(np.array([e[f"r_{q}"] for e in rows]), u)
        p0, pt = prior[f"sigma0_{q}"] ** 2, prior[f"tau_{q}"] ** 2
        out[f"sigma0_{q}"] = max(math.sqrt((PRIOR_DOF * p0 + n * s0) / (PRIOR_DOF + n)), (vertex or {}).get(q, 0.0))
        out[f"tau_{q}"] = math.sqrt((PRIOR_DOF * pt + n * t2) / (PRIOR_DOF + n))
    return out


def distance(budgets, cal: dict) -> np.ndarray:
    """Decades of extrapolation beyond the largest studied budget (0 inside the studied range)."""
    return np.maximum(np.log10(np.asarray(budgets, dtype=float) / cal["c_max"]), 0.0)


def interval(point, boot_lo, boot_hi, budgets, cal: dict, quantity: str, confidence: float):
    """Predictive interval (lo, hi) of N* or L* around ``point`` (see the module docstring)."""
    point = np.asarray(point, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        s_boot = (np.log(np.asarray(boot_hi, dtype=float)) - np.log(np.asarray(boot_lo, dtype=float))) / (2 * z)
    s_boot = np.where(np.isfinite(s_boot), s_boot, 0.0)
    u = distance(budgets, cal)
    s = np.sqrt(s_boot**2 + cal[f"sigma0_{quantity}"] ** 2 + (cal[f"tau_{quantity}"] * u) ** 2)
    t = stats.t.ppf(0.5 + confidence / 2, cal["dof"])
    return point * np.exp(-t * s), point * np.exp(t * s)


METHOD = (
    "predictive: bootstrap of the runs (run noise) combined in quadrature with the error the study's own "
    "rolling-origin backtest measured per decade of extrapolation (pooled with a prior from published "
    "IsoFLOP studies), Student-t quantile; see flops_fit.fitting.predictive"
)
