"""Seeded nonparametric bootstrap (Efron 1979; as used by Besiroglu et al. 2024 for Approach 3).

What is resampled, per approach:

* Approach 1: runs (whole curves), with replacement; the envelope of the distinct runs drawn.
* Approach 2: runs *within each budget*, with replacement (a stratified bootstrap: every
  replicate keeps the design's budgets, so the spread reflects the noise of each IsoFLOP
  profile).  A budget that becomes unusable in a replicate (< 3 distinct sizes, vertex outside)
  is dropped from that replicate; a replicate with < 2 usable budgets counts as failed.
* Approach 3: runs, with replacement; each refit is one L-BFGS run warm-started from the point
  estimate (Besiroglu et al. 2024 refit from the point estimate too).

Each approach draws from its own child of ``numpy.random.SeedSequence(seed)``, so the same
seed gives identical numbers whichever approaches are switched on.  Intervals are percentile
intervals of the successful replicates.
"""

from __future__ import annotations

import numpy as np

from . import approach1, approach2, approach3, powerlaw


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


def approach3_samples(theta_hat, log_n, log_d, log_l, delta, resamples, rng) -> dict[str, np.ndarray]:
    """Named parameter samples (one value per replicate) from warm-started refits."""
    n = len(log_l)
    out = {k: np.full(resamples, np.nan) for k in approach3.PARAM_NAMES}
    for r in range(resamples):
        idx = rng.integers(0, n, n)
        theta = approach3.refit(theta_hat, log_n[idx], log_d[idx], log_l[idx], delta)
        for k, v in approach3.params_from_theta(theta).items():
            out[k][r] = v
    return out


def approach2_samples(table, flops: str, resamples: int, rng) -> tuple[dict, np.ndarray]:
    """(law parameter samples, per-budget vertex samples of shape (resamples, n_budgets, 3))."""
    groups = [g for _, g in table.groupby("budget_id", sort=True)]
    arrays = [(g["N"].to_numpy(), g["D"].to_numpy(), g["L"].to_numpy(), float(g["budget"].iloc[0])) for g in groups]
    laws = {k: np.full(resamples, np.nan) for k in powerlaw.PARAM_NAMES}
    vertices = np.full((resamples, len(groups), 3), np.nan)
    for r in range(resamples):
        budgets = []
        for j, (n, d, loss, c) in enumerate(arrays):
            idx = rng.integers(0, len(n), len(n))
            res = approach2.fit_budget(n[idx], d[idx], loss[idx], c, flops)
            res["budget"] = c
            budgets.append(res)
            if res["included"]:
                vertices[r, j] = res["N_opt"], res["D_opt"], res["L_opt"]
        if sum(b["included"] for b in budgets) < 2:
            continue
        for k, v in approach2.laws(budgets).items():
            laws[k][r] = v
    return laws, vertices


def approach1_samples(runs: list[tuple], resamples: int, rng, grid_points: int) -> dict:
    """Law parameter samples from envelopes of resampled runs (failed replicates stay NaN)."""
    laws = {k: np.full(resamples, np.nan) for k in powerlaw.PARAM_NAMES}
    for r in range(resamples):
        idx = np.unique(rng.integers(0, len(runs), len(runs)))
        try:
            env = approach1.envelope_from_runs([runs[i] for i in idx], grid_points)
        except approach1.NotEnoughCurves:
            continue
        for k, v in powerlaw.fit(env["C"], env["N"], env["D"], env["L"]).items():
            laws[k][r] = v
    return laws
