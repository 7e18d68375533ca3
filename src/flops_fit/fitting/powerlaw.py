"""Laws in C shared by Approaches 1 and 2: N* = k_N C^a, D* = k_D C^b, L* = E_L + k_L C^-gamma.

N* and D* are least-squares straight lines in log10 space (Hoffmann et al. 2022, §3.1-3.2).

The loss law has an irreducible term E_L: the compute-optimal loss tends to the entropy of the
data, not to zero, so a pure power law ``k_L C^-gamma`` (a straight line in log-log) bends down
too fast beyond the studied budgets.  Measured on the published IsoFLOP studies of
``tests/data/public_isoflops.csv`` (hold out the largest 1-3 budgets, predict them): median |L*
error| 1.43% with the pure power law, 0.48% with E_L + k_L C^-gamma (benchmarks/
bench_calibration.py).  The saturating form is the L(C) of Hoffmann et al. 2022 (eq. 4 with
N*, D* substituted) and of Kaplan et al. 2020's L(C_min) with an offset.  It is fitted by
variable projection: for each gamma of a log grid, (E_L, k_L) by least squares with E_L >= 0,
then a parabolic refinement around the best grid gamma.  It needs >= 4 budgets (3 parameters);
with fewer, E_L = 0 (the pure power law) and ``loss_form`` says so.

Everything is vectorised over bootstrap replicates: ``fit_many`` takes (replicates x budgets)
arrays with a mask of usable vertices.
"""

from __future__ import annotations

import numpy as np

from .runs_table import FitError

PARAM_NAMES = ("a", "k_N", "b", "k_D", "gamma", "k_L", "E_L")
MIN_BUDGETS_SATURATING = 4
GAMMA_GRID = np.geomspace(1e-3, 3.0, 400)
GRID_ELEMENTS = 1 << 21  # rows x gamma grid x budgets values per temporary of the loss law's grid search (16 MB)


def _lines(logc: np.ndarray, logy: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masked least-squares lines ``logy = slope * logc + intercept`` per row (NaN: < 2 points)."""
    w = mask.astype(float)
    n = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (w * logc).sum(axis=1) / n
        my = (w * np.where(mask, logy, 0.0)).sum(axis=1) / n
        dx = np.where(mask, logc - mx[:, None], 0.0)
        dy = np.where(mask, logy - my[:, None], 0.0)
        sxx = (dx * dx).sum(axis=1)
        slope = (dx * dy).sum(axis=1) / sxx
        intercept = my - slope * mx
    bad = (n < 2) | ~(sxx > 0)
    slope[bad], intercept[bad] = np.nan, np.nan
    return slope, intercept


def _loss_law(logc: np.ndarray, loss: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gamma, k_L, E_L) per row of L* = E_L + k_L C^-gamma, C in FLOPs (see the module docstring)."""
    rows = loss.shape[0]
    w = mask.astype(float)
    n = w.sum(axis=1)
    # Pure power law first: the answer for rows with < MIN_BUDGETS_SATURATING vertices.
    slope, icpt = _lines(logc, np.log10(np.where(mask, loss, 1.0)), mask)
    gamma, k_l, e_l = -slope, 10.0**icpt, np.zeros(rows)
    sat = n >= MIN_BUDGETS_SATURATING
    if not sat.any():
        return gamma, k_l, e_l
    ln_c = logc * np.log(10.0)
    ref = (w * ln_c).sum(axis=1) / np.maximum(n, 1)  # centre log C: z = (C / C_ref)^-gamma stays O(1)
    ys = np.where(mask, loss, 0.0)[sat]
    ws, xs, r0 = w[sat], (ln_c - ref[:, None])[sat], ref[sat]

    def sse(g: np.ndarray, at=slice(None)):
        ys_, ws_, xs_ = ys[at], ws[at], xs[at]
        z = np.exp(-g[..., None] * xs_[:, None, :]) * ws_[:, None, :]  # rows x grid x budgets
        sw, sz, szz = ws_.sum(axis=1)[:, None], z.sum(axis=2), (z * z).sum(axis=2)
        sy, szy = (ws_ * ys_).sum(axis=1)[:, None], (z * ys_[:, None, :]).sum(axis=2)
        det = sw * szz - sz * sz
        with np.errstate(invalid="ignore", divide="ignore"):
            e = (szz * sy - sz * szy) / det
            k = (sw * szy - sz * sy) / det
            k0 = szy / szz  # E_L = 0 when the free fit wants E_L < 0
        neg = ~(e >= 0)
        e, k = np.where(neg, 0.0, e), np.where(neg, k0, k)
        resid = ys_[:, None, :] - e[..., None] - k[..., None] * z
        return (ws_[:, None, :] * resid * resid).sum(axis=2), e, k

    # the grid search holds rows x grid x budgets values per temporary: in blocks of rows (1,000
    # bootstrap replicates of 150 envelope points would hold 0.5 GB a temporary); rows are independent
    step = max(1, GRID_ELEMENTS // (len(GAMMA_GRID) * max(1, ys.shape[1])))
    grid = np.broadcast_to(GAMMA_GRID, (len(ys), len(GAMMA_GRID)))
    s = np.concatenate([sse(grid[r : r + step], slice(r, r + step))[0] for r in range(0, len(ys), step)])
    s = np.where(np.isfinite(s), s, np.inf)
    i = np.clip(np.argmin(s, axis=1), 1, len(GAMMA_GRID) - 2)
    lg = np.log(GAMMA_GRID)
    s0, s1, s2 = (s[np.arange(len(i)), i + d] for d in (-1, 0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        step = 0.5 * (s0 - s2) / (s0 - 2 * s1 + s2) * (lg[1] - lg[0])
    step = np.where(np.isfinite(step), np.clip(step, -(lg[1] - lg[0]), lg[1] - lg[0]), 0.0)
    g = np.exp(lg[i] + step)
    s_best, e, k = sse(g[:, None])
    e, k = e[:, 0], k[:, 0]
    ok = np.isfinite(s_best[:, 0]) & (k > 0)
    # k multiplies (C / C_ref)^-gamma; as a coefficient of C^-gamma it is k C_ref^gamma.
    gamma[np.flatnonzero(sat)[ok]] = g[ok]
    k_l[np.flatnonzero(sat)[ok]] = k[ok] * np.exp(g[ok] * r0[ok])
    e_l[np.flatnonzero(sat)[ok]] = e[ok]
    return gamma, k_l, e_l


def fit_many(c: np.ndarray, n: np.ndarray, d: np.ndarray, loss: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """The laws per row of (replicates x budgets) arrays of optimal points; ``mask`` marks usable ones."""
    c, n, d, loss = (np.atleast_2d(np.asarray(v, dtype=float)) for v in (c, n, d, loss))
    c = np.broadcast_to(c, n.shape)
    ok = np.isfinite(n) & np.isfinite(d) & np.isfinite(loss) & (n > 0) & (d > 0) & (loss > 0)
    mask = ok if mask is None else (np.asarray(mask, dtype=bool) & ok)
    logc = np.log10(c)
    a, log_kn = _lines(logc, np.log10(np.where(mask, n, 1.0)), mask)
    b, log_kd = _lines(logc, np.log10(np.where(mask, d, 1.0)), mask)
    gamma, k_l, e_l = _loss_law(logc, loss, mask)
    with np.errstate(over="ignore", invalid="ignore"):
        out = {"a": a, "k_N": 10**log_kn, "b": b, "k_D": 10**log_kd, "gamma": gamma, "k_L": k_l, "E_L": e_l}
    # budgets too close in C for a slope (a line over 0.05% of C): NaN, a degenerate row, not inf
    bad = ~np.all(np.isfinite(np.stack(list(out.values()))), axis=0)
    return {k: np.where(bad, np.nan, v) for k, v in out.items()}


def fit(c, n, d, loss) -> dict:
    """Fit the three laws to optimal points (C, N*, D*, L*); needs >= 2 distinct C."""
    out = {k: float(v[0]) for k, v in fit_many(c, n, d, loss).items()}
    if not np.isfinite(out["a"]):
        span = np.ptp(np.log10(np.asarray(c, dtype=float)))
        raise FitError(f"the optima's budgets span {span:.2g} decades of C: too little for a power law in C")
    return out


def loss_form(params: dict) -> str:
    return "E_L + k_L C^-gamma" if (params.get("E_L") or 0) > 0 else "k_L C^-gamma"


def evaluate(params: dict, budgets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N*, D*, L* of the laws at FLOP budgets C (parameters may be arrays: they broadcast)."""
    c = np.asarray(budgets, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        n = params["k_N"] * c ** params["a"]
        d = params["k_D"] * c ** params["b"]
        loss = params.get("E_L", 0.0) + params["k_L"] * c ** -params["gamma"]
    return n, d, loss
