"""Approach 3: fit the parametric loss L(N, D) = E + A / N^alpha + B / D^beta to every run.

Following Hoffmann et al. 2022 (§3.3 and Appendix D.2) as replicated by Besiroglu et al. 2024
("Chinchilla Scaling: A replication attempt", epoch-research/analyzing-chinchilla):

* parameters ``theta = (a, b, e, alpha, beta)`` with ``A = exp(a)``, ``B = exp(b)``, ``E = exp(e)``;
* the prediction of ``log L`` is ``LSE(a - alpha log N, b - beta log D, e)`` (log-sum-exp);
* the objective is the Huber loss (``delta = 1e-3``) of ``prediction - log L``, **summed** over
  runs.  Averaging it instead scales the gradient down by the number of runs, and L-BFGS-B's
  absolute stopping tests (``ftol``, ``gtol``) then end the search far from the optimum -- the
  trap Besiroglu et al. 2024 describe (``tests/test_fit_approach3.py`` demonstrates it);
* L-BFGS from Chinchilla's grid of starts: alpha, beta in {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1},
  a, b in {0, 5, ..., 25} (4,500 starts).

Speed.  Epoch's notebook runs L-BFGS from all 4,500 starts with numerical gradients (~5 min).
Here the objective and its analytic gradient are vectorised numpy, the objective is first
evaluated at every start of the grid (in blocks of starts, so memory is O(rows)), and L-BFGS runs
from the ``n_starts`` best starts (default 64); the best end point wins.  Porian et al. 2024
("Resolving discrepancies in compute-optimal scaling of language models", formll/resolving-
scaling-law-discrepancies) likewise pick initialisations by evaluating the grid.  The benchmark
(``benchmarks/bench_fit.py --full-grid``) checks that the answer equals the full 4,500-start
search on the Chinchilla data.  Bootstrap refits start from the point estimate (warm starts).

Big tables.  With more than ``SCREEN_ROWS`` runs, the whole search above runs on a fixed, seeded
subsample of ``SCREEN_ROWS`` runs, and L-BFGS on every run then starts from the ``n_polish``
best end points of that search (``benchmarks/bench_fit_scale.py``: 100k runs in a few seconds,
memory linear in the rows).  Tables up to ``SCREEN_ROWS`` runs (Chinchilla's 240) are fitted
exactly as before.

Compute-optimal allocation under C = 6 N D (Hoffmann et al. 2022, eq. 4 and App. D.3):
``G = (alpha A / (beta B))^(1 / (alpha + beta))``, ``a = beta / (alpha + beta)``,
``b = alpha / (alpha + beta)``, ``N* = G (C/6)^a``, ``D* = G^-1 (C/6)^b``.  When C counts
FLOPs and the counted FLOPs per 6ND (kappa) depend on the model size, :func:`optimal_counted`
minimises L(N, D) subject to kappa(N) 6 N D = C numerically.  Variable projection (VPNLS), a
second way to fit the same law, lives in :mod:`.vpnls`.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import minimize

from .threads import one_blas_thread

PARAM_NAMES = ("E", "A", "B", "alpha", "beta", "a", "b", "G")

# Tighter than scipy's defaults: the summed objective is ~1e-3 at the optimum, and L-BFGS-B's
# relative-reduction test divides by max(|f|, 1), so the default ftol (2.2e-9) would end warm-
# started bootstrap refits after a few steps and make the intervals far too narrow.
LBFGS_OPTIONS = {"ftol": 1e-14, "gtol": 1e-10, "maxiter": 5000}

# Chinchilla's grid of initialisations (Hoffmann et al. 2022, App. D.2).
GRID_ALPHA = GRID_BETA = np.arange(0.0, 2.01, 0.5)
GRID_E = np.arange(-1.0, 1.01, 0.5)
GRID_A = GRID_B = np.arange(0.0, 25.01, 5.0)

# Memory and time on big tables (see "Big tables" above).
BLOCK_ELEMENTS = 1 << 18  # starts x rows values per block of the grid evaluation (2 MB a temporary)
SCREEN_ROWS = 4096  # more runs than this: search the grid on a seeded subsample of this many
N_POLISH = 4  # ... then L-BFGS on all runs from this many best end points of that search


def chinchilla_grid() -> np.ndarray:
    """All 4,500 starts as rows ``(a, b, e, alpha, beta)``."""
    rows = itertools.product(GRID_A, GRID_B, GRID_E, GRID_ALPHA, GRID_BETA)
    return np.array(list(rows), dtype=float)


def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss of residuals and its derivative (same form as torch.nn.HuberLoss)."""
    absr = np.abs(r)
    quad = absr <= delta
    loss = np.where(quad, 0.5 * r * r, delta * (absr - 0.5 * delta))
    return loss, np.clip(r, -delta, delta)


def objective(theta, log_n, log_d, log_l, delta=1e-3, reduce="sum"):
    """Huber objective and its gradient at ``theta = (a, b, e, alpha, beta)``.

    ``reduce="sum"`` is Chinchilla's objective; ``"mean"`` exists only to demonstrate the trap.
    """
    a, b, e, alpha, beta = theta
    u = a - alpha * log_n
    v = b - beta * log_d
    m = np.maximum(np.maximum(u, v), e)
    eu, ev, ee = np.exp(u - m), np.exp(v - m), np.exp(e - m)
    s = eu + ev + ee
    r = m + np.log(s) - log_l
    loss, dr = _huber(r, delta)
    wu, wv, we = dr * eu / s, dr * ev / s, dr * ee / s
    grad = np.array([wu.sum(), wv.sum(), we.sum(), -(wu * log_n).sum(), -(wv * log_d).sum()])
    f = loss.sum()
    if reduce == "mean":
        return f / len(r), grad / len(r)
    return f, grad


def objective_batch(thetas: np.ndarray, log_n, log_d, log_l, delta=1e-3, block_elements=BLOCK_ELEMENTS) -> np.ndarray:
    """Summed Huber objective at many ``thetas`` (k x 5) -> k values.

    Evaluated in blocks of starts so that no temporary holds more than ``block_elements``
    values (a few blocks x rows matrices, never k x rows).
    """
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    step = max(1, block_elements // max(1, len(log_l)))
    out = np.empty(len(thetas))
    for i in range(0, len(thetas), step):
        a, b, e, alpha, beta = (thetas[i : i + step, j : j + 1] for j in range(5))
        u = a - alpha * log_n[None, :]
        v = b - beta * log_d[None, :]
        pred = np.logaddexp(np.logaddexp(u, v), e)
        loss, _ = _huber(pred - log_l[None, :], delta)
        out[i : i + step] = loss.sum(axis=1)
    return out


def _lbfgs(theta0, log_n, log_d, log_l, delta, reduce="sum", options=None):
    with one_blas_thread():
        return _minimize(theta0, log_n, log_d, log_l, delta, reduce, options)


def _minimize(theta0, log_n, log_d, log_l, delta, reduce, options):
    res = minimize(
        objective,
        np.asarray(theta0, dtype=float),
        args=(log_n, log_d, log_l, delta, reduce),
        jac=True,
        method="L-BFGS-B",
        options=LBFGS_OPTIONS if options is None else options,
    )
    return res


def _search(grid, log_n, log_d, log_l, delta, n_starts, reduce, options) -> list[tuple[float, np.ndarray]]:
    """L-BFGS from the ``n_starts`` best starts of ``grid``: finite (objective, theta) end points, best first."""
    if n_starts is not None and len(grid) > n_starts:
        with np.errstate(over="ignore", invalid="ignore"):
            f0 = objective_batch(grid, log_n, log_d, log_l, delta)
        f0 = np.where(np.isfinite(f0), f0, np.inf)
        grid = grid[np.argsort(f0, kind="stable")[:n_starts]]
    ends = []
    for theta0 in grid:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            res = _lbfgs(theta0, log_n, log_d, log_l, delta, reduce, options)
            f = float(objective(res.x, log_n, log_d, log_l, delta)[0])
        if np.isfinite(f):
            ends.append((f, res.x.copy()))
    ends.sort(key=lambda end: end[0])  # stable: ties keep the grid's order
    return ends


def screen_rows(n_rows: int, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of a fixed, seeded subsample of ``size`` of ``n_rows`` runs (all if fewer)."""
    if n_rows <= size:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size, replace=False))


def minimise(
    log_n,
    log_d,
    log_l,
    delta=1e-3,
    n_starts=64,
    starts=None,
    reduce="sum",
    options=None,
    screen=SCREEN_ROWS,
    n_polish=N_POLISH,
    seed=0,
):
    """Best L-BFGS end point (``theta``, summed objective) over the ``n_starts`` best grid starts.

    ``starts`` (k x 5) overrides the grid; ``n_starts=None`` runs from every start.
    ``reduce`` and ``options`` (scipy's L-BFGS-B options) exist to demonstrate the mean trap.
    With more than ``screen`` runs (``None``: never), the search runs on a seeded subsample of
    ``screen`` runs and L-BFGS on all runs starts from its ``n_polish`` best end points.
    """
    log_n, log_d, log_l = (np.asarray(x, dtype=float) for x in (log_n, log_d, log_l))
    grid = chinchilla_grid() if starts is None else np.atleast_2d(np.asarray(starts, dtype=float))
    if screen is not None and len(log_l) > screen:
        idx = screen_rows(len(log_l), screen, seed)
        ends = _search(grid, log_n[idx], log_d[idx], log_l[idx], delta, n_starts, reduce, options)
        grid = np.array([theta for _, theta in ends[:n_polish]]).reshape(-1, 5)
        ends = _search(grid, log_n, log_d, log_l, delta, None, reduce, options)
    else:
        ends = _search(grid, log_n, log_d, log_l, delta, n_starts, reduce, options)
    if not ends:
        raise FloatingPointError("Approach 3: no start gave a finite objective")
    best_f, best_theta = ends[0]
    return best_theta, best_f


def refit(theta0, log_n, log_d, log_l, delta=1e-3) -> np.ndarray:
    """One warm-started L-BFGS refit (bootstrap replicates start from the point estimate)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _lbfgs(theta0, log_n, log_d, log_l, delta).x


def params_from_theta(theta) -> dict:
    """Named parameters (E, A, B, alpha, beta) and the allocation exponents a, b and G."""
    a_, b_, e_, alpha, beta = (float(x) for x in theta)
    # a degenerate refit (a bootstrap replicate of a tiny study) may run off to log A = 700+ or
    # log B = -800 (B = 0): inf or 0, then NaN allocation, counted as a failed replicate -- never an
    # OverflowError or ZeroDivisionError; G is computed in log space for the same reason
    A, B, E = (math.exp(x) if x < 700 else math.inf for x in (a_, b_, e_))
    s = alpha + beta
    if s <= 0 or alpha <= 0 or beta <= 0 or not (math.isfinite(A * B) and math.isfinite(a_ - b_)):
        a = b = G = math.nan
    else:
        a, b = beta / s, alpha / s
        log_g = (math.log(alpha) + a_ - math.log(beta) - b_) / s
        G = math.exp(log_g) if -700 < log_g < 700 else math.nan
    return {"E": E, "A": A, "B": B, "alpha": alpha, "beta": beta, "a": a, "b": b, "G": G}


def optimal(params: dict, budgets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N*, D*, L* at FLOP budgets C under C = 6 N D (Hoffmann et al. 2022, eq. 4)."""
    c = np.asarray(budgets, dtype=float)
    n = params["G"] * (c / 6.0) ** params["a"]
    d = (c / 6.0) ** params["b"] / params["G"]
    return n, d, loss(params, n, d)


def kappa_at(n, kappa_n, kappa) -> np.ndarray:
    """Counted FLOPs per 6ND at sizes ``n``, from observed sizes ``kappa_n`` and their factors
    ``kappa``: linear in log N -- log kappa between observed sizes, held constant beyond them.
    Repeated sizes count once, with the geometric mean of their factors."""
    knots, log_k = _kappa_knots(kappa_n, kappa)
    return np.exp(np.interp(np.log(np.asarray(n, dtype=float)), knots, log_k))


def _kappa_knots(kappa_n, kappa) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique log sizes and the mean log factor at each."""
    log_n = np.log(np.asarray(kappa_n, dtype=float)).ravel()
    log_k = np.log(np.asarray(kappa, dtype=float)).ravel()
    if log_n.size == 0 or log_n.shape != log_k.shape or not (np.isfinite(log_n).all() and np.isfinite(log_k).all()):
        raise ValueError(
            f"kappa_n ({log_n.size} values) and kappa ({log_k.size} values) must be equally long, "
            "non-empty, positive and finite"
        )
    knots, inverse = np.unique(log_n, return_inverse=True)
    return knots, np.bincount(inverse, weights=log_k) / np.bincount(inverse)


def optimal_counted(params: dict, budgets, kappa_n, kappa, span: float = 3.0, points: int = 601):
    """N*, D*, L* at budgets C of *counted* FLOPs, where a size-N run costs kappa(N) * 6 N D.

    ``kappa(N)`` is :func:`kappa_at` of the observed sizes ``kappa_n`` and their counted-FLOPs /
    6ND factors ``kappa`` (attention and embeddings make it depend on the size, so one median
    factor misplaces N*).  For each budget, ``u = log N`` minimises
    ``f(u) = L(N, D(u))`` with ``D(u) = C / (6 kappa(N) N)``: a grid of ``points`` values of u,
    from ``span`` decades below the closed-form N*(C / max kappa) to ``span`` decades above
    N*(C / min kappa), then bisection on the sign of
    ``f'(u) = -alpha A N^-alpha + beta B D^-beta (1 + dlog kappa / du)`` between the grid
    neighbours of the best grid point.  With a constant kappa this is ``optimal(params, C / kappa)``
    (Hoffmann et al. 2022, eq. 4).  A budget whose optimum lies at the grid's edge (kappa(N) changes
    too fast with N, or a degenerate law: a refit of the rolling backtest, a bootstrap replicate) gets
    NaN there, which every caller counts as "no prediction", never a fatal error.
    """
    knots, log_k = _kappa_knots(kappa_n, kappa)
    slopes = np.diff(log_k) / np.diff(knots)
    c = np.asarray(budgets, dtype=float)
    shape, c = c.shape, c.ravel()
    E, A, B, alpha, beta = (params[k] for k in ("E", "A", "B", "alpha", "beta"))

    def log_d(u):
        return np.log(c[:, None] / 6.0) - np.interp(u, knots, log_k) - u

    def f(u):
        return E + A * np.exp(-alpha * u) + B * np.exp(-beta * log_d(u))

    def slope(u):  # d log kappa / d log N: the segment's slope inside the observed sizes, else 0
        j = np.clip(np.searchsorted(knots, u, side="right") - 1, 0, max(len(slopes) - 1, 0))
        inside = (u > knots[0]) & (u < knots[-1])
        return np.where(inside, slopes[j] if len(slopes) else 0.0, 0.0)

    def df(u):
        return -alpha * A * np.exp(-alpha * u) + beta * B * np.exp(-beta * log_d(u)) * (1.0 + slope(u))

    lo_n = optimal(params, c / np.exp(log_k.max()))[0]
    hi_n = optimal(params, c / np.exp(log_k.min()))[0]
    frac = np.linspace(0.0, 1.0, points)[None, :]
    u_lo, u_hi = np.log(lo_n)[:, None] - span * np.log(10), np.log(hi_n)[:, None] + span * np.log(10)
    grid = u_lo + frac * (u_hi - u_lo)  # budgets x points
    with np.errstate(over="ignore", invalid="ignore"):
        values = f(grid)
    i = np.argmin(np.where(np.isfinite(values), values, np.inf), axis=1)
    lost = (i == 0) | (i == points - 1) | ~np.isfinite(values[np.arange(len(c)), i])
    i = np.clip(i, 1, points - 2)
    rows = np.arange(len(c))
    lo, hi = grid[rows, i - 1][:, None], grid[rows, i + 1][:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(80):  # 80 halvings take the bracket (two grid steps) below float precision
            mid = 0.5 * (lo + hi)
            up = df(mid) > 0
            lo, hi = np.where(up, lo, mid), np.where(up, mid, hi)
        u = np.where(lost[:, None], np.nan, 0.5 * (lo + hi))
        n = np.exp(u[:, 0])
        d = np.exp(log_d(u)[:, 0])
        return n.reshape(shape), d.reshape(shape), loss(params, n, d).reshape(shape)


def loss(params: dict, n, d) -> np.ndarray:
    """L(N, D) = E + A / N^alpha + B / D^beta."""
    n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
    return params["E"] + params["A"] * n ** -params["alpha"] + params["B"] * d ** -params["beta"]
