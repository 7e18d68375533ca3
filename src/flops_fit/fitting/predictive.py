"""Prediction intervals calibrated out of sample: what the study's own backtests say it misses.

A bootstrap over the runs carries the noise of the runs only.  Beyond the studied budgets the
larger error is the law's own misspecification (vertices that are not quite a power law in C, a
parabola biased by an asymmetric IsoFLOP curve, an L(N, D) of the wrong form).  Besiroglu et al.
2024 found Chinchilla's own intervals far too narrow for this reason; held-out budgets of
published IsoFLOP studies fell inside percentile-bootstrap "90%" intervals about a third of the
time (benchmarks/bench_calibration.py).

The interval starts from the classical prediction interval of a law fitted to the budgets'
optima (Seber & Lee 2003, §5.3): with ``sigma_v`` the scatter of the studied optima around the
law (log units, ``m - p`` degrees of freedom for a law of p parameters; vertex noise and lack of
fit together, floored by the bootstrap noise of one vertex) and ``h(C) = 1/m + (x - xbar)^2 / Sxx``
the leverage of ``x = log10 C`` among the studied budgets, a new optimum at C lies at

    log q_hat(C) +- t * sigma_v * sqrt(1 + h(C))

Three things make real extrapolations miss by more: the scatter is larger than the in-sample
residuals say (``lambda``); the law drifts -- the published studies' N* exponent bends with scale,
so their errors grow with the decades extrapolated, by study-specific amounts (``b`` per decade);
and what is left of the drift varies (``tau`` per decade).  The study measures all three itself,
by a rolling-origin backtest (Tashman 2000; the "rollout cross-validation" of OLMo's ladder
analysis): for each origin, fit on the budgets up to it and predict every larger one; with ``h_i``
each prediction's leverage within its origin's budgets and ``u_i`` its decades beyond them, the
log errors are modelled as

    r_i = a + b u_i + e_i,    e_i^2 ~ lambda^2 sigma_v^2 (1 + h_i) + tau^2 u_i^2

``lambda^2`` and ``tau^2`` by non-negative least squares of the squared residuals, shrunk towards
a prior worth ``PRIOR_DOF`` errors (lambda = 1: the classical interval is right; ``PRIOR_TAU``);
the offset ``a`` (the level by which the law misses the budgets just beyond its data: Approach 3's
surface, fitted to every run, sits above the largest budgets' optima) and the drift ``b`` by their
joint posterior under the priors ``a ~ N(0, PRIOR_OFFSET^2)``, ``b ~ N(0, PRIOR_DRIFT^2)`` (the spread
of the published studies' offsets and drifts), the errors of one origin counting once (they share
one fitted law), alternated with the scales three times.  A study with few budgets leans on the
priors (no shift, a wide interval); one with many speaks for itself.  The prediction at C,
``u > 0`` decades beyond the largest studied budget, is the law's moved by the offset and the
drift, with the interval

    log q_hat(C) + a + b min(u, u_max)  +-  t * sqrt(lambda^2 sigma_v^2 (1 + h(C)) + var(a + b u) + tau^2 u^2)

where ``u_max`` is the furthest the backtest looked (the drift is not extrapolated beyond the
distances it was measured at; the interval keeps widening there), ``t`` Student's quantile at
``m - p + n + PRIOR_DOF`` degrees of freedom, and the interval never narrower than the
bootstrap's.  D* shares N*'s error with the opposite sign (C fixed), D*/N* twice it.  The
interval is for the optimum a new IsoFLOP profile at C would measure (its own vertex noise
included), the quantity the backtest can check.  The L* law of Approaches 1 and 2 gains its
irreducible term only from 4 budgets on, so its drift and scales are read only from refits of the
same form (a pure power law's errors far beyond its data would otherwise widen every interval of
the saturating law).  Inside the studied budgets (u = 0) nothing moves: the law is the answer
there.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from . import powerlaw

PRIOR_DOF = 2.0
# Drift per decade of extrapolation (natural-log units) that the published IsoFLOP studies of
# tests/data/public_isoflops.csv show (pooled rolling-origin errors; `benchmarks/bench_calibration.py
# --scales`): their N* exponent bends with scale, by study-specific amounts and signs.  PRIOR_DRIFT
# is the spread of that drift between studies (the root mean square of the six studies' b: the
# prior sd of a zero-mean drift), PRIOR_TAU the scatter per decade left around a study's own drift:
# the median of their tau, not the root mean square -- a few large ones (Chinchilla with its flagged
# runs kept, 0.066-0.085) set the rms (0.019-0.037) where most studies show 0.006-0.015; those few
# are left to their own backtest errors and the t's heavy tail.  Each a prior worth PRIOR_DOF
# errors; a study's own backtest errors outweigh it as soon as it has a few.  The values are one
# pass of these rules; rerun with every prior, --scales prints rms drift_N 0.298 / 0.396, drift_L
# 0.020 / 0.015, median tau_N 0.0038 / 0.0030, tau_L 0.0059 / 0.0026 (Approach 2 / 3).  The rules
# are no fixed point -- most studies' own tau is 0, so their posteriors shrink towards whatever the
# prior is; iterated, tau tends to 0.
PRIOR_DRIFT = {1: {"N": 0.3, "L": 0.024}, 2: {"N": 0.3, "L": 0.024}, 3: {"N": 0.42, "L": 0.018}}
PRIOR_TAU = {1: {"N": 0.012, "L": 0.012}, 2: {"N": 0.012, "L": 0.012}, 3: {"N": 0.0095, "L": 0.0065}}
# The level by which a law misses the budgets just beyond its data, between studies: by the method of
# moments (DerSimonian & Laird 1986) -- the mean square of the six studies' offsets fitted without a
# prior less the mean of their squared standard errors (`bench_calibration.py --scales`); the rules
# above shrink towards 0 on rerun when the offsets are mostly noise.  Approach 3's surface,
# fitted to every run, sits above the largest budgets' optima in every public study (a_L -0.3% to
# -2.0%); Approaches 1 and 2's N* laws show no offset beyond their errors' (0; floored at 0.001).
PRIOR_OFFSET = {1: {"N": 0.001, "L": 0.0057}, 2: {"N": 0.001, "L": 0.0057}, 3: {"N": 0.058, "L": 0.0084}}
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
                        "train_budgets": [c_of[b] for b in ids[: m + 1]],
                        "N_pred": float(n[j]),
                        "N_obs": obs["N_obs"],
                        "L_pred": float(loss[j]),
                        "L_obs": obs["L_obs"],
                        "r_N": math.log(obs["N_obs"] / n[j]),
                        "r_L": math.log(obs["L_obs"] / loss[j]),
                    }
                )
    return out


def rolling_run_errors(table, refit, surface) -> list[dict]:
    """The surface's errors on every run of the larger budgets, at every origin: what the loss of a
    given (N, D) beyond the data is calibrated by (:func:`flops_fit.fitting.predict.predict_loss`).

    ``refit(train_table, None) -> {approach: params | Exception}`` (the rolling backtest's cached
    refits); ``surface(params, N, D) -> L``.  One record per (origin, held-out run), in the format of
    :func:`rolling_errors` with ``r_L`` the run's log error (approach 3; no ``r_N``)."""
    ids = sorted(int(b) for b in table["budget_id"].unique())
    c_of = {int(b): float(g["budget"].iloc[0]) for b, g in table.groupby("budget_id")}
    out = []
    for m in origins(ids):
        params = refit(table[table["budget_id"] <= ids[m]], None).get(3)
        if params is None or isinstance(params, Exception):
            continue
        held = table[table["budget_id"] > ids[m]]
        with np.errstate(all="ignore"):
            pred = surface(params, held["N"].to_numpy(), held["D"].to_numpy())
        for bid, l_pred, l_obs in zip(held["budget_id"], pred, held["L"], strict=True):
            if np.isfinite(l_pred) and l_pred > 0:
                out.append({"approach": 3, "origin": c_of[ids[m]], "budget": c_of[int(bid)],
                            "u": math.log10(c_of[int(bid)] / c_of[ids[m]]),
                            "train_budgets": [c_of[b] for b in ids[: m + 1]], "r_L": math.log(l_obs / l_pred)})
    return out


def leverage(budgets, studied) -> np.ndarray:
    """``1/m + (x - xbar)^2 / Sxx`` of x = log10 C among the studied budgets' log10 C."""
    x0 = np.log10(np.asarray(studied, dtype=float))
    x = np.log10(np.asarray(budgets, dtype=float))
    sxx = float(((x0 - x0.mean()) ** 2).sum())
    return 1.0 / len(x0) + ((x - x0.mean()) ** 2 / sxx if sxx > 0 else 0.0)


def vertex_noise(budget_details: list[dict], confidence: float) -> dict:
    """Standard error (log units) of one budget's observed optimum, the median over the budgets of
    their bootstrap vertex intervals: no law can be trusted to better than this."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    out = {}
    for q in ("N", "L"):
        with np.errstate(invalid="ignore", divide="ignore"):
            s = [math.log(b[f"{q}_opt_hi"] / b[f"{q}_opt_lo"]) / (2 * z) for b in budget_details
                 if b.get("included") and b.get(f"{q}_opt_lo") and b.get(f"{q}_opt_hi")]
        s = [v for v in s if np.isfinite(v)]
        out[q] = float(np.median(s)) if s else 0.0
    return out


def _excess(r2: np.ndarray, base: np.ndarray, u: np.ndarray) -> tuple[float, float]:
    """(lambda^2, tau^2) of ``r^2 ~ lambda^2 base + tau^2 u^2`` by non-negative least squares."""
    if len(r2) < 2:
        return (float(np.mean(r2 / base)) if len(r2) else 1.0), 0.0
    coef, _ = optimize.nnls(np.stack([base, u * u], axis=1), r2)
    return float(coef[0]), float(coef[1])


def in_sample_errors(budgets, observed: list[dict], n_pred, l_pred) -> list[dict]:
    """Log errors ``{budget, r_N, r_L}`` of a law's N*, L* at studied budgets against their observed
    optima (``observed[i]`` of ``budgets[i]``), where the optimum is a parabola's vertex."""
    return [
        {"budget": float(c), "r_N": math.log(o["N_obs"] / n), "r_L": math.log(o["L_obs"] / loss)}
        for c, o, n, loss in zip(budgets, observed, n_pred, l_pred, strict=True)
        if o["observed_from"] == "parabola vertex" and n > 0 and loss > 0
    ]


def _offset_and_drift(r, u, var, per_origin: float, prior_sd: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and covariance of (a, b) in ``r = a + b u + e``, ``e ~ N(0, var)``, under the
    prior ``a ~ N(0, prior_sd[0]^2)``, ``b ~ N(0, prior_sd[1]^2)`` (Gelman et al. 2013, §14.8).  Errors of
    one origin share one fitted law, so their information counts once per origin (``per_origin`` errors each)."""
    x = np.stack([np.ones_like(u), u], axis=1)
    precision = np.diag(1.0 / np.asarray(prior_sd, dtype=float) ** 2) + (x.T / var) @ x / per_origin
    cov = np.linalg.inv(precision)
    return cov @ ((x.T / var) @ r) / per_origin, cov


def _saturating(approach: int, quantity: str, n_budgets: int) -> bool:
    """Whether the law fitted to ``n_budgets`` optima has an irreducible term: only the L* law of
    Approaches 1 and 2, from MIN_BUDGETS_SATURATING budgets on (:mod:`.powerlaw`); the others are
    lines in log-log."""
    return quantity == "L" and approach != 3 and n_budgets >= powerlaw.MIN_BUDGETS_SATURATING


def _same_form(rows: list[dict], approach: int, quantity: str, n_studied: int) -> np.ndarray:
    """Which backtest errors speak for the final law: those of refits of the same form."""
    final = _saturating(approach, quantity, n_studied)
    return np.array([_saturating(approach, quantity, len(e["train_budgets"])) == final for e in rows], dtype=bool)


def _law_parameters(approach: int, quantity: str, n_studied: int) -> int:
    """Parameters the law of an approach's N* or L* fits to the studied optima: E + k C^-gamma or a line."""
    return 3 if _saturating(approach, quantity, n_studied) else 2


def calibrate(errors: list[dict], approach: int, budgets, in_sample: list[dict], vertex: dict | None = None,
              quantities=("N", "L")) -> dict:
    """sigma_v, lambda, the offset a and drift b (posterior means, sds, covariance), tau and the dof of one approach
    (see the module docstring).

    ``in_sample``: ``{budget, r_N, r_L}`` log errors of the approach's law at the studied budgets
    against their observed optima; ``errors``: :func:`rolling_errors`; ``vertex``:
    :func:`vertex_noise` (a floor of sigma_v).
    """
    studied = sorted(float(b) for b in budgets)
    m = len(in_sample)
    every = [e for e in errors if e["approach"] == approach and e["u"] > 0]
    prior, prior_drift = PRIOR_TAU.get(approach, PRIOR_TAU[2]), PRIOR_DRIFT.get(approach, PRIOR_DRIFT[2])
    prior_offset = PRIOR_OFFSET.get(approach, PRIOR_OFFSET[2])
    out = {"budgets": studied, "c_max": studied[-1], "n_in_sample": m, "n_errors": len(every), "prior_dof": PRIOR_DOF,
           "prior_tau": prior, "prior_drift": prior_drift, "prior_offset": prior_offset}
    out["drift_u_max"] = max((e["u"] for e in every), default=0.0)
    for q in quantities:
        rows = [e for e, same in zip(every, _same_form(every, approach, q, len(studied)), strict=True) if same]
        n = len(rows)
        u = np.array([e["u"] for e in rows])
        lev = np.array([leverage([e["budget"]], e["train_budgets"])[0] for e in rows])
        per_origin = n / max(len({e["origin"] for e in rows}), 1)
        r_in = np.array([e[f"r_{q}"] for e in in_sample], dtype=float)
        dof_v = max(m - _law_parameters(approach, q, len(studied)), 1)
        sigma = math.sqrt(float((r_in**2).sum()) / dof_v) if m else 0.0
        sigma = max(sigma, (vertex or {}).get(q, 0.0), 1e-6)
        r = np.array([e[f"r_{q}"] for e in rows])
        base = sigma**2 * (1 + lev)
        ab, cov = np.zeros(2), np.diag([prior_offset[q] ** 2, prior_drift[q] ** 2])
        for _ in range(3):  # scales given the drift, the drift given the scales
            lam2, tau2 = _excess((r - ab[0] - ab[1] * u) ** 2, base, u)
            lam = math.sqrt((PRIOR_DOF + n * lam2) / (PRIOR_DOF + n))
            tau = math.sqrt((PRIOR_DOF * prior[q] ** 2 + n * tau2) / (PRIOR_DOF + n))
            if n:
                var = lam**2 * base + (tau * u) ** 2
                ab, cov = _offset_and_drift(r, u, var, per_origin, (prior_offset[q], prior_drift[q]))
        b, var_b = float(ab[1]), float(cov[1, 1])
        out[f"offset_{q}"] = float(ab[0])
        out[f"offset_sd_{q}"] = math.sqrt(cov[0, 0])
        out[f"offset_drift_cov_{q}"] = float(cov[0, 1])
        out[f"n_errors_{q}"] = n
        out[f"dof_{q}"] = dof_v + n + PRIOR_DOF
        out.setdefault("dof", out[f"dof_{q}"])  # N*'s, the key fit.json had before dof_L
        out[f"sigma_v_{q}"] = sigma
        out[f"lambda_{q}"] = lam
        out[f"tau_{q}"] = tau
        out[f"drift_{q}"] = b
        out[f"drift_sd_{q}"] = math.sqrt(var_b)
    return out


def distance(budgets, cal: dict) -> np.ndarray:
    """Decades of C beyond the largest studied budget (0 inside the studied range)."""
    return np.maximum(np.log10(np.asarray(budgets, dtype=float) / cal["c_max"]), 0.0)


def _shift(u: np.ndarray, cal: dict, quantity: str) -> np.ndarray:
    """``exp(a + b u)`` at ``u`` decades beyond the studied budgets (1 inside them), with u no further
    than the backtest measured the drift (``drift_u_max``)."""
    a = np.where(u > 0, cal.get(f"offset_{quantity}", 0.0), 0.0)
    return np.exp(a + cal.get(f"drift_{quantity}", 0.0) * np.minimum(u, cal.get("drift_u_max", 0.0)))


def prediction(point, boot_lo, boot_hi, budgets, cal: dict, quantity: str, confidence: float, form_sd=0.0):
    """(prediction, lo, hi) of N* or L* at ``budgets`` from the law's ``point``: the point moved by
    the study's offset and drift (:func:`_shift`) and the predictive interval around it (see the module
    docstring).  The bootstrap bounds, moved with the point, enter only as a floor: the interval
    is never narrower than they are.  ``form_sd``: the spread of other forms' extrapolations
    (:mod:`.forms`), added to the variance as model uncertainty."""
    u = distance(budgets, cal)
    shift = _shift(u, cal, quantity)
    point = np.asarray(point, dtype=float) * shift
    h = leverage(budgets, cal["budgets"])
    drift_var = cal[f"tau_{quantity}"] ** 2 + cal.get(f"drift_sd_{quantity}", 0.0) ** 2
    offset_var = np.where(u > 0, cal.get(f"offset_sd_{quantity}", 0.0) ** 2
                          + 2 * cal.get(f"offset_drift_cov_{quantity}", 0.0) * u, 0.0)  # var(a) + 2 cov(a, b) u
    s = np.sqrt((cal[f"lambda_{quantity}"] * cal[f"sigma_v_{quantity}"]) ** 2 * (1 + h) + drift_var * u**2
                + offset_var + np.square(form_sd))
    t = stats.t.ppf(0.5 + confidence / 2, cal.get(f"dof_{quantity}", cal.get("dof", 1.0)))
    lo, hi = point * np.exp(-t * s), point * np.exp(t * s)
    with np.errstate(invalid="ignore"):
        lo = np.where(np.isfinite(boot_lo), np.fmin(lo, boot_lo * shift), lo)
        hi = np.where(np.isfinite(boot_hi), np.fmax(hi, boot_hi * shift), hi)
    return point, lo, hi


METHOD = (
    "predictive: prediction interval of the law through the studied optima (their scatter sigma_v, the "
    "leverage of C) scaled by lambda, plus an offset a and a drift b per decade beyond the data (the law's "
    "prediction moved by them) with their uncertainty and a scatter tau per decade; lambda, a, b and tau "
    "measured by the study's own rolling-origin backtest, shrunk to priors worth 2 errors; Student-t quantile; "
    "never narrower than the bootstrap; see flops_fit.fitting.predictive"
)
