"""N*, D*, L* of a fitted approach at FLOP budgets (the laws in C, or Approach 3's L(N, D)).

Approach 3 under counted FLOPs: the allocation solves ``kappa(N) 6 N D = C`` with ``kappa`` the
counted FLOPs per 6ND of each studied size (``flops_per_6ND_by_size``), interpolated between them
(:func:`flops_fit.fitting.approach3.optimal_counted`), not one median factor at every scale.
"""

from __future__ import annotations

import numpy as np

from . import approach3, powerlaw


def evaluate(approach: int, params: dict, budgets, block: dict | None = None):
    """N*, D*, L* of one approach's parameters at FLOP budgets C (arrays broadcast)."""
    if approach == 3:
        block = block or {}
        return approach3_allocation(params, budgets, block.get("flops_per_6ND_by_size") or block.get("flops_per_6ND"))
    return powerlaw.evaluate(params, budgets)


def approach3_allocation(params: dict, budgets, kappa) -> tuple:
    """Approach 3's N*, D*, L* at C; with counted FLOPs, under C = kappa(N) 6 N D."""
    c = np.asarray(budgets, dtype=float)
    if isinstance(kappa, dict) and len(kappa.get("N", ())) and not np.allclose(kappa["kappa"], 1.0):
        ks = np.asarray(kappa["kappa"], dtype=float)
        if ks.size > 1:
            return _counted(params, c, np.asarray(kappa["N"], dtype=float), ks)
        k = float(np.median(ks))
    else:
        k = float(kappa) if isinstance(kappa, int | float) and kappa else 1.0
    n, d, _ = approach3.optimal(params, c / k)
    return n, d, approach3.loss(params, n, d)


def _counted(params: dict, c: np.ndarray, kappa_n: np.ndarray, kappa: np.ndarray) -> tuple:
    """``approach3.optimal_counted`` for one parameter set, or row by row for bootstrap samples
    (parameters of shape (replicates, 1) against budgets of shape (1, budgets))."""
    if all(np.ndim(v) == 0 for v in params.values()):
        return approach3.optimal_counted(params, c, kappa_n, kappa)
    rows = max(np.shape(v)[0] for v in params.values() if np.ndim(v))
    c_row = np.broadcast_to(c, (rows, np.shape(c)[-1]))
    out = np.full((3, rows, c_row.shape[1]), np.nan)
    for r in range(rows):
        p = {k: float(np.ravel(v)[r] if np.ndim(v) else v) for k, v in params.items()}
        if not all(np.isfinite(p[k]) for k in ("E", "A", "B", "alpha", "beta", "G")):
            continue
        try:
            out[:, r] = approach3.optimal_counted(p, c_row[r], kappa_n, kappa)
        except (ValueError, FloatingPointError):
            continue  # a replicate whose optimum leaves the search range: NaN, ignored by the percentiles
    return out[0], out[1], out[2]
