"""Approach 3 by variable projection: L(N, D) = E + A / N^alpha + B / D^beta (VPNLS).

For fixed exponents (alpha, beta) the law is linear in (E, A, B), so the best non-negative
(E, A, B) is one non-negative least-squares problem (Lawson & Hanson 1974, scipy's ``nnls``)
and the search runs over (alpha, beta) only: variable projection (Golub & Pereyra 1973), as
Czech et al. 2026 ("Open-Athena" scaling-law analysis, VPNLS) apply it to scaling laws.  Two
parameters instead of five and no log-parametrisation of E, A, B: the problem is well
conditioned where the 5-parameter L-BFGS of :mod:`.approach3` has long flat valleys.

* ``weights="relative"`` (default): residuals ``(prediction - L) / L``, the first-order
  approximation of a least-squares fit of ``log L`` (the quantity Approach 3's Huber fit uses);
  ``weights="none"``: least squares on L itself.
* ``huber_delta``: the Huber loss of those residuals instead of their squares (Huber 1964, as
  Hoffmann et al. 2022 fit Approach 3), each profile by iteratively reweighted NNLS.
* the profiled objective ``r(alpha, beta) = min over E, A, B >= 0`` is evaluated on a coarse
  grid (alpha, beta in 0.05 ... 2.0, step 0.05; always least squares, which is 30x cheaper than
  Huber and only picks the basin), then minimised by Nelder-Mead (bounded) from the best grid
  point.  With more than ``approach3.SCREEN_ROWS`` runs the grid sees a seeded
  subsample of them; the refinement always sees all runs.
* each NNLS is solved on the 3 x 3 triangle of a QR factorisation of the (column-normalised)
  design, so memory is a few row-length arrays.

``vpnls`` returns ``theta = (log A, log B, log E, alpha, beta)``, the layout of
:func:`approach3.minimise`, so :func:`approach3.params_from_theta` applies.  NNLS may set a
coefficient to exactly 0 (e.g. no irreducible loss E in the data); its logarithm would be
-inf, so coefficients are floored at ``COEF_FLOOR`` (1e-12) before the log: such an E reads
as 1e-12 ("no irreducible term"), far below any loss.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, nnls

from .approach3 import SCREEN_ROWS, _huber, screen_rows

GRID = np.round(np.arange(0.05, 2.001, 0.05), 10)  # alpha and beta values of the coarse grid
BOUNDS = ((1e-3, 4.0), (1e-3, 4.0))  # (alpha, beta) for the refinement
COEF_FLOOR = 1e-12
WEIGHTS = ("relative", "none")
IRLS_MAX_ITER, IRLS_RTOL = 200, 1e-12  # Huber: reweighting steps until the objective stalls


def profile(alpha, beta, log_n, log_d, loss, w, delta=None) -> tuple[np.ndarray, float]:
    """Best ``(E, A, B) >= 0`` at fixed exponents and its objective: the weighted residual sum
    of squares, or with ``delta`` the summed Huber loss of the weighted residuals (iteratively
    reweighted NNLS, each step the least-squares majoriser of the Huber loss, so it descends)."""
    x = np.column_stack([np.ones_like(loss), np.exp(-alpha * log_n), np.exp(-beta * log_d)])
    x *= w[:, None]
    y = loss * w
    scale = np.linalg.norm(x, axis=0)
    x /= scale
    u, f_old = None, np.inf
    for _ in range(IRLS_MAX_ITER if delta else 1):
        sq = np.ones_like(y) if u is None else np.sqrt(u)
        q, r = np.linalg.qr(x * sq[:, None])
        c, _ = nnls(r, q.T @ (y * sq))
        resid = x @ c - y
        if not delta:
            return c / scale, float(resid @ resid)
        f = float(_huber(resid, delta)[0].sum())
        if f_old - f <= IRLS_RTOL * f:
            break
        f_old = f
        u = np.minimum(1.0, delta / np.maximum(np.abs(resid), delta * 1e-12))
    return c / scale, f


def _weights(loss, weights: str) -> np.ndarray:
    if weights == "relative":
        return 1.0 / loss
    if weights == "none":
        return np.ones_like(loss)
    raise ValueError(f"vpnls: weights={weights!r}; allowed: {', '.join(WEIGHTS)}")


def grid_search(log_n, log_d, loss, w, grid=GRID, delta=None) -> tuple[float, float, float]:
    """(rss, alpha, beta) of the best point of the exponent grid (the first of ties)."""
    best = (np.inf, np.nan, np.nan)
    for alpha in grid:
        for beta in grid:
            rss = profile(alpha, beta, log_n, log_d, loss, w, delta)[1]
            if rss < best[0]:
                best = (rss, float(alpha), float(beta))
    return best


def vpnls(
    log_n,
    log_d,
    log_l,
    weights: str = "relative",
    huber_delta=None,
    grid=GRID,
    screen=SCREEN_ROWS,
    seed: int = 0,
    start=None,
) -> np.ndarray:
    """``theta = (log A, log B, log E, alpha, beta)`` of the variable-projection fit.

    ``huber_delta``: None for least squares, a number for the Huber loss of the weighted
    residuals (with relative weights and 1e-3, close to Approach 3's Huber loss on log L).
    ``screen``: above this many runs the grid is searched on a seeded subsample of that many
    (``None``: always all runs).  ``start=(alpha, beta)`` skips the grid (warm-started refits,
    e.g. bootstrap replicates from the point estimate: ~100 profile evaluations each).
    Raises ValueError for an unknown ``weights``.
    """
    log_n, log_d, log_l = (np.asarray(x, dtype=float) for x in (log_n, log_d, log_l))
    loss = np.exp(log_l)
    w = _weights(loss, weights)
    if start is None:
        idx = screen_rows(len(loss), len(loss) if screen is None else screen, seed)
        rss0, alpha0, beta0 = grid_search(log_n[idx], log_d[idx], loss[idx], w[idx], grid)
        if not np.isfinite(rss0):
            raise FloatingPointError("VPNLS: no grid point gave a finite residual")
    else:
        alpha0, beta0 = (float(x) for x in start)

    def rss(x):
        return profile(x[0], x[1], log_n, log_d, loss, w, huber_delta)[1]

    f0 = rss([alpha0, beta0])  # the tolerance on f is relative, with a floor for exact data:
    res = minimize(
        rss,
        [alpha0, beta0],
        method="Nelder-Mead",
        bounds=BOUNDS,
        options={"xatol": 1e-9, "fatol": 1e-13 * f0 + 1e-24 * len(loss), "maxiter": 2000},
    )
    alpha, beta = (res.x if res.fun <= f0 else (alpha0, beta0))
    (e, a, b), _ = profile(alpha, beta, log_n, log_d, loss, w, huber_delta)
    a_, b_, e_ = np.log(np.maximum([a, b, e], COEF_FLOOR))
    return np.array([a_, b_, e_, alpha, beta])
