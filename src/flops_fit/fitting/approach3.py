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
``b = alpha / (alpha + beta)``, ``N* = G (C/6)^a``, ``D* = G^-1 (C/6)^b``.
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
    A, B, E = math.exp(a_), math.exp(b_), math.exp(e_)
    s = alpha + beta
    if s <= 0 or alpha <= 0 or beta <= 0:
        a = b = G = math.nan
    else:
        a, b = beta / s, alpha / s
        G = (alpha * A / (beta * B)) ** (1.0 / s)
    return {"E": E, "A": A, "B": B, "alpha": alpha, "beta": beta, "a": a, "b": b, "G": G}


def optimal(params: dict, budgets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N*, D*, L* at FLOP budgets C under C = 6 N D (Hoffmann et al. 2022, eq. 4)."""
    c = np.asarray(budgets, dtype=float)
    n = params["G"] * (c / 6.0) ** params["a"]
    d = (c / 6.0) ** params["b"] / params["G"]
    return n, d, loss(params, n, d)


def loss(params: dict, n, d) -> np.ndarray:
    """L(N, D) = E + A / N^alpha + B / D^beta."""
    n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
    return params["E"] + params["A"] * n ** -params["alpha"] + params["B"] * d ** -params["beta"]
