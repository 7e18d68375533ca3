"""Forms of the law beside the one fitted, and how much the answer far from the data depends on them.

Every form below fits a study's runs about equally well; beyond them they part.  Chinchilla's form
over-predicts far runs on Farseer's data (Li et al. 2025, "Farseer"), Kaplan's under-predicts Porian
et al.'s (2024).  What was measured (benchmarks/bench_farout.py, ``--ablate forms``) decides what
each form is used for:

* Approach 3's surface, L(N, D): ``chinchilla`` E + A/N^alpha + B/D^beta (Hoffmann et al. 2022,
  eq. 2, Approach 3's own fit), ``no_floor`` A/N^alpha + B/D^beta (no irreducible term), ``kaplan``
  E + ((N_c/N)^(alpha_N/alpha_D) + D_c/D)^alpha_D (Kaplan et al. 2020, eq. 1.5, with an irreducible
  term: N and D interact).  Weighting them by a study's own rolling backtest (stacking, Yao et al.
  2018) did not pick the form that held 10-100x further out, and their spread, added to the
  interval as model uncertainty (Draper 1995), made the intervals of L* and L(N, D) 3-5x wider than
  their errors on three of four sources while still missing Porian's far runs.  So the surface stays
  Chinchilla's and its interval the calibrated one; the other forms are fitted and their
  disagreement at 10x and 100x the largest budget is recorded (fit.json, fit.log): how much the answer
  there rests on the choice of form.
* The L* law of Approach 2 through the budgets' optima: ``saturating`` E_L + k_L C^-gamma (the law),
  ``power`` k_L C^-gamma, ``curved`` (ln L* quadratic in log10 C: the exponent changes with scale).
  Their spread -- the sd, equal weights, of each form's change of L* beyond the furthest budget the
  study's own backtest reached (up to there its calibration measured how the law errs) -- enters
  Approach 2's L* interval: untested model uncertainty, where synthetic studies' far L* coverage
  fell short of the nominal level.

Surfaces are fitted like Approach 3: Huber loss on log L (delta as Approach 3's), least squares from
the best of a grid of starts (``scipy.optimize.least_squares``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import least_squares

from .approach3 import _huber

NAMES = ("chinchilla", "no_floor", "kaplan")
EQUATIONS = {
    "chinchilla": "E + A/N^alpha + B/D^beta",
    "no_floor": "A/N^alpha + B/D^beta",
    "kaplan": "E + ((N_c/N)^(alpha_N/alpha_D) + D_c/D)^alpha_D",
}
N_POLISH = 4  # least squares from the best grid starts
GRID_POINTS = 801  # log N grid of the optimum on C = 6ND


def log_loss(form: str, theta, log_n, log_d) -> np.ndarray:
    """log L of a form at log N, log D (``theta`` in log space, see :data:`EQUATIONS`)."""
    if form == "chinchilla":
        a, b, e, alpha, beta = theta
        return np.logaddexp(np.logaddexp(a - alpha * log_n, b - beta * log_d), e)
    if form == "no_floor":
        a, b, alpha, beta = theta
        return np.logaddexp(a - alpha * log_n, b - beta * log_d)
    e, log_nc, log_dc, alpha_n, alpha_d = theta
    return np.logaddexp(e, alpha_d * np.logaddexp(alpha_n / alpha_d * (log_nc - log_n), log_dc - log_d))


def _starts(form: str, chinchilla_theta) -> np.ndarray:
    a, b, e, alpha, beta = chinchilla_theta
    if form == "no_floor":
        grid = itertools.product((0, 5, 10, a), (0, 5, 10, b), (0.1, 0.3, alpha), (0.1, 0.3, beta))
    else:
        grid = itertools.product((-1, 0.5, e), (10, 20, 30), (15, 25, 35), (0.1, 0.3), (0.1, 0.3))
    return np.array(list(grid), dtype=float)


def _fit_form(form: str, log_n, log_d, log_l, chinchilla_theta, delta: float) -> np.ndarray | None:
    starts = _starts(form, chinchilla_theta)
    with np.errstate(all="ignore"):
        cost = np.array([np.sum(_huber(log_loss(form, s, log_n, log_d) - log_l, delta)[0]) for s in starts])
    best = None
    for s in starts[np.argsort(np.where(np.isfinite(cost), cost, np.inf), kind="stable")[:N_POLISH]]:
        with np.errstate(all="ignore"):
            try:
                res = least_squares(lambda th: log_loss(form, th, log_n, log_d) - log_l, s, loss="huber",
                                    f_scale=delta, max_nfev=2000)
            except ValueError:  # a start whose residuals are not finite
                continue
        if np.all(np.isfinite(res.x)) and (best is None or res.cost < best.cost):
            best = res
    return None if best is None else best.x


def fit(table, chinchilla_theta, delta: float) -> dict:
    """``{form: {theta, equation} | {status: failed}}`` of every form on the runs (N, D, L); the
    Chinchilla form is Approach 3's own ``chinchilla_theta``."""
    log_n, log_d, log_l = (np.log(table[k].to_numpy(dtype=float)) for k in ("N", "D", "L"))
    out = {"chinchilla": {"theta": [float(x) for x in chinchilla_theta], "equation": EQUATIONS["chinchilla"]}}
    for form in NAMES[1:]:
        theta = _fit_form(form, log_n, log_d, log_l, chinchilla_theta, delta)
        out[form] = ({"status": "failed"} if theta is None
                     else {"theta": [float(x) for x in theta], "equation": EQUATIONS[form]})
    return out


def optimum(form: str, theta, budgets) -> tuple[np.ndarray, np.ndarray]:
    """(N*, L*) of a form on the IsoFLOP line C = 6ND: a grid in log N from (C/6)^0.15 to (C/6)^0.85,
    refined by a parabola through the best point and its neighbours; NaN where the minimum is at
    the grid's edge."""
    c = np.atleast_1d(np.asarray(budgets, dtype=float))
    log_c6 = np.log(c / 6.0)[:, None]
    u = log_c6 * np.linspace(0.15, 0.85, GRID_POINTS)[None, :]
    with np.errstate(all="ignore"):
        f = log_loss(form, theta, u, log_c6 - u)
    f = np.where(np.isfinite(f), f, np.inf)
    i = np.argmin(f, axis=1)
    rows = np.arange(len(c))
    inner = np.clip(i, 1, GRID_POINTS - 2)
    y0, y1, y2 = f[rows, inner - 1], f[rows, inner], f[rows, inner + 1]
    h = u[:, 1] - u[:, 0]
    with np.errstate(all="ignore"):
        step = np.nan_to_num(0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)) * h
    best = u[rows, inner] + np.clip(step, -h, h)
    with np.errstate(all="ignore"):
        loss = np.exp(log_loss(form, theta, best, log_c6[:, 0] - best))
    edge = (i == 0) | (i == GRID_POINTS - 1) | ~np.isfinite(f[rows, i])
    return np.where(edge, np.nan, np.exp(best)), np.where(edge, np.nan, loss)


def _fitted(forms: dict) -> list[tuple[str, list]]:
    return [(k, v["theta"]) for k, v in (forms or {}).items() if v.get("theta") is not None]


def disagreement(surfaces: dict, c_max: float, factors=(10.0, 100.0)) -> dict:
    """``{form: {"10x": {"L_pct", "N_ratio"}, ...}}``: each surface form's L* and N* at ``factor`` x
    ``c_max`` against Chinchilla's (the fitted surface), under C = 6ND."""
    fitted = dict(_fitted(surfaces))
    if "chinchilla" not in fitted:
        return {}
    c = c_max * np.asarray(factors, dtype=float)
    n0, l0 = optimum("chinchilla", fitted["chinchilla"], c)
    out = {}
    for form, theta in fitted.items():
        if form != "chinchilla":
            n, loss = optimum(form, theta, c)
            out[form] = {f"{k:g}x": {"L_pct": float(100 * (lf / lc - 1)), "N_ratio": float(nf / nc)}
                         for k, nf, nc, lf, lc in zip(factors, n, n0, loss, l0, strict=True)}
    return out


def _sd(values: list, shape) -> np.ndarray:
    if len(values) < 2:
        return np.zeros(shape)
    stack = np.stack(values)
    with np.errstate(all="ignore"):
        sd = np.nanstd(stack, axis=0, ddof=1)
    return np.where(np.isfinite(sd), sd, 0.0)


# ---------------------------------------------------------------------------------------------
# forms of the L* law in C (Approaches 1 and 2): through the studied optima

LAW_FORMS = {
    "saturating": "E_L + k_L C^-gamma",
    "power": "k_L C^-gamma",
    "curved": "log L* quadratic in log C (the exponent changes with scale)",
}


def fit_law_forms(c, loss) -> dict:
    """``{form: {coefficients, equation}}`` of the L* law's forms through optima (C, L*), fit.json-ready:
    ``power`` and ``curved`` as polynomial coefficients of ln L* in log10 C (highest power first),
    ``saturating`` as (E_L, k_L, gamma).  The saturating and curved forms from 4 optima on (3
    parameters each, one left to judge them)."""
    x, y = np.log10(np.asarray(c, dtype=float)), np.asarray(loss, dtype=float)
    if len(x) < 2 or np.ptp(x) <= 0:
        return {}
    out = {"power": np.polyfit(x, np.log(y), 1).tolist()}
    if len(x) >= 4:
        from .powerlaw import _loss_law

        gamma, k, e = (float(v[0]) for v in _loss_law(x[None, :], y[None, :], np.ones((1, len(x)), dtype=bool)))
        out["saturating"] = [e, k, gamma]
        out["curved"] = np.polyfit(x, np.log(y), 2).tolist()
    return {form: {"coefficients": coef, "equation": LAW_FORMS[form]} for form, coef in out.items()}


def _law_value(form: str, coefficients, log10_c) -> np.ndarray:
    if form == "saturating":
        e, k, gamma = coefficients
        return e + k * 10.0 ** (-gamma * np.asarray(log10_c))
    return np.exp(np.polyval(coefficients, log10_c))


def spread_law(law_forms: dict, budgets, c_max: float) -> np.ndarray:
    """The sd (log units) across the L* law's forms (:func:`fit_law_forms`) of their change from ``c_max``
    to each budget."""
    target = np.log10(np.atleast_1d(np.asarray(budgets, dtype=float)))
    changes = []
    for form, entry in (law_forms or {}).items():
        with np.errstate(all="ignore"):
            change = np.log(_law_value(form, entry["coefficients"], target)
                            / _law_value(form, entry["coefficients"], math.log10(c_max)))
        if np.all(np.isfinite(change)):
            changes.append(change)
    return _sd(changes, target.shape)
