"""Seeded nonparametric bootstrap (Efron 1979; as used by Besiroglu et al. 2024 for Approach 3).

What is resampled, per approach:

* Approach 1: the design fixed, every run kept; each run's curve scaled by its own noise draw
  (:func:`flops_fit.fitting.approach1.bootstrap`).
* Approach 2: the design fixed, every budget and size kept; residual bootstrap of the IsoFLOP
  parabolas with pooled residuals (:func:`approach2_samples`); vertices lost in a replicate are
  counted and reported.
* Approach 3: runs, with replacement; each refit is one L-BFGS run warm-started from the point
  estimate (Besiroglu et al. 2024 refit from the point estimate too).

These intervals carry the noise of the runs only.  What an extrapolation adds (the laws' own
misspecification) is measured by the study's rolling-origin backtest and added in
:mod:`flops_fit.fitting.predictive`.

Each approach draws from its own child of ``numpy.random.SeedSequence(seed)``, so the same
seed gives identical numbers whichever approaches are switched on.  Intervals are percentile
intervals of the successful replicates.
"""

from __future__ import annotations

import math

import numpy as np

from . import approach3, powerlaw, vpnls

SUBSAMPLE_ROWS = 4096


def rngs(seed: int) -> dict[int, np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(3)
    return {k: np.random.default_rng(child) for k, child in zip((1, 2, 3), children, strict=True)}


def percentile_interval(samples, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper percentile bounds along axis 0, ignoring NaN (all-NaN -> NaN)."""
    x = np.asarray(samples, dtype=float)
    q = 100 * np.array([(1 - confidence) / 2, (1 + confidence) / 2])
    if x.shape[0] == 0:
        nan = np.full(x.shape[1:], np.nan)
        return nan, nan.copy()
    with np.errstate(all="ignore"):
        ok = np.isfinite(x).any(axis=0)
        filled = np.where(np.isfinite(x), x, np.nan)
        lo = np.full(x.shape[1:], np.nan)
        hi = np.full(x.shape[1:], np.nan)
        if np.any(ok):
            lo_hi = np.nanpercentile(filled[:, ok], q, axis=0)
            lo[ok], hi[ok] = lo_hi[0], lo_hi[1]
    return lo, hi


def approach3_samples(theta_hat, log_n, log_d, log_l, delta, resamples, rng, method="lbfgs") -> dict[str, np.ndarray]:
    """Named parameter samples (one value per replicate) from warm-started refits; a refit that
    fails (a degenerate replicate of a tiny study) stays NaN and is counted by ``ok``.

    Tables of more than ``SUBSAMPLE_ROWS`` runs are bootstrapped m out of n (Bickel, Goetze & van
    Zwet 1997): each replicate draws m = SUBSAMPLE_ROWS rows with replacement and its deviation from
    the point estimate is shrunk by sqrt(m / n), the spread a replicate of all n rows would have
    (the estimator is smooth, its variance ~ 1/n): 100,000 runs cost what 4,096 do."""
    n = len(log_l)
    m = min(n, SUBSAMPLE_ROWS)
    scale = math.sqrt(m / n)
    out = {k: np.full(resamples, np.nan) for k in approach3.PARAM_NAMES}
    for r in range(resamples):
        idx = rng.integers(0, n, m)
        try:
            if method == "vpnls":
                theta = vpnls.vpnls(log_n[idx], log_d[idx], log_l[idx], start=theta_hat[3:5])
            else:
                theta = approach3.refit(theta_hat, log_n[idx], log_d[idx], log_l[idx], delta)
        except (FloatingPointError, ValueError):
            continue
        theta = theta_hat + scale * (np.asarray(theta) - theta_hat)  # m-out-of-n: the spread of n rows
        for k, v in approach3.params_from_theta(theta).items():
            out[k][r] = v
    return out


def _standardised_residuals(x: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Relative residuals of one budget's parabola (L / fitted - 1; run noise is relative, so budgets
    of different loss share it), leverage-corrected (r / sqrt(1 - h)), so that their spread estimates
    the noise of one run (Davison & Hinkley 1997, Algorithm 6.1)."""
    design = np.vander(x, 3)
    coef, *_ = np.linalg.lstsq(design, loss, rcond=None)
    hat = np.einsum("ij,ji->i", design, np.linalg.pinv(design))
    fitted = design @ coef
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (loss / fitted - 1) / np.sqrt(np.clip(1 - hat, 1e-12, None))
    return np.where(np.isfinite(r), r, 0.0)


def approach2_samples(table, details: list[dict], flops: str, resamples: int, rng) -> tuple[dict, np.ndarray, dict]:
    """Residual bootstrap of Approach 2 with the design fixed.

    Every replicate keeps every budget the point fit used and every size of it: the loss of each
    run is its budget's fitted parabola times one plus a residual drawn from the pooled, leverage-corrected
    relative residuals of all used budgets (one noise level for the study, so a budget of 3 sizes, whose
    own residuals are 0, still gets noise).  Each budget's parabola is refitted (a linear map of
    the replicate's losses: all replicates at once) and the laws refitted through the vertices.
    A replicate whose parabola of some budget opens downward has no vertex there; the law of that
    replicate is fitted without it and the losses are counted (``budget_drops``), never silent.
    Returns (law samples, vertex samples (resamples x budgets x 3, NaN for unused budgets), counts).
    """
    groups = dict(tuple(table.groupby("budget_id", sort=True)))
    used = [j for j, det in enumerate(details) if det["included"]]
    vertices = np.full((resamples, len(details), 3), np.nan)
    counts = {"replicates": resamples, "budget_drops": 0, "replicates_with_drops": 0, "vertex_outside_sizes": 0,
              "failed": 0}
    if not used:
        counts["failed"] = resamples
        return {k: np.full(resamples, np.nan) for k in powerlaw.PARAM_NAMES}, vertices, counts
    pooled = np.concatenate(
        [_standardised_residuals(np.log10(groups[details[j]["budget_id"]]["N"].to_numpy()),
                                 groups[details[j]["budget_id"]]["L"].to_numpy()) for j in used]
    )
    pooled = pooled - pooled.mean()
    dropped = np.zeros(resamples, dtype=bool)
    for j in used:
        grp = groups[details[j]["budget_id"]]
        x, loss = np.log10(grp["N"].to_numpy()), grp["L"].to_numpy()
        design = np.vander(x, 3)
        fitted = design @ np.linalg.lstsq(design, loss, rcond=None)[0]
        y = fitted[None, :] * (1 + rng.choice(pooled, size=(resamples, len(x))))
        c2, c1, c0 = (y @ np.linalg.pinv(design).T).T
        up = c2 > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            xs = np.where(up, -c1 / (2 * c2), np.nan)
            lstar = np.where(up, c0 - c1 * c1 / (4 * c2), np.nan)
        counts["budget_drops"] += int((~up).sum())
        counts["vertex_outside_sizes"] += int((up & ((xs <= x.min()) | (xs >= x.max()))).sum())
        dropped |= ~up
        c = float(details[j]["budget"])
        if flops == "6ND":
            dstar = c / (6.0 * 10**xs)
        else:
            sizes = np.unique(x)
            logd = np.log10(grp["D"].to_numpy())
            mean_logd = np.array([logd[x == s].mean() for s in sizes])
            slope = np.polyfit(sizes, mean_logd, 1)[0]
            # inside the sizes: interpolate; a replicate's vertex beyond them: extend the end slope
            dstar = 10 ** (np.interp(xs, sizes, mean_logd) + slope * (xs - np.clip(xs, sizes[0], sizes[-1])))
        vertices[:, j] = np.stack([10**xs, dstar, lstar], axis=1)
    counts["replicates_with_drops"] = int(dropped.sum())
    c = np.array([det["budget"] for det in details], dtype=float)
    laws = powerlaw.fit_many(c[None, :], vertices[:, :, 0], vertices[:, :, 1], vertices[:, :, 2])
    laws = {k: np.asarray(v, dtype=float) for k, v in laws.items()}
    counts["failed"] = int((~np.isfinite(laws["a"])).sum())
    return laws, vertices, counts


def run_noise(table, details: list[dict]) -> float:
    """Relative noise of one run's final loss: pooled leverage-corrected residual sd of the used
    IsoFLOP parabolas over the mean loss (NaN when no budget has > 3 sizes)."""
    res = []
    for det in details:
        if not det["included"] or det["n_sizes"] <= 3:
            continue
        grp = table[table["budget_id"] == det["budget_id"]]
        res.append(_standardised_residuals(np.log10(grp["N"].to_numpy()), grp["L"].to_numpy()))
    if not res:
        return float("nan")
    return float(np.std(np.concatenate(res)))
