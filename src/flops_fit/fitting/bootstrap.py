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
BLOCK_ELEMENTS = 1 << 18  # replicates x runs values per temporary of Approach 2's bootstrap (2 MB)
LAW_ELEMENTS = 1 << 21  # replicates x gamma grid x budgets values per block of the laws' refits (16 MB)
PRIOR_RUN_NOISE = 0.005  # relative noise of one run's loss assumed when a study cannot measure it


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
    the noise of one run (Davison & Hinkley 1997, Algorithm 6.1).  Runs of leverage 1 (the only run
    of its size beside a repeated size among 3) have a residual of 0 by construction: left out."""
    design = np.vander(x, 3)
    coef, *_ = np.linalg.lstsq(design, loss, rcond=None)
    hat = np.einsum("ij,ji->i", design, np.linalg.pinv(design))
    fitted = design @ coef
    free = hat < 1 - 1e-9
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (loss[free] / fitted[free] - 1) / np.sqrt(1 - hat[free])
    return np.where(np.isfinite(r), r, 0.0)


def _residual_budgets(details: list[dict]) -> list[int]:
    """Indices of the used budgets whose parabola leaves residual degrees of freedom (more runs than
    its 3 coefficients): only their residuals measure the noise (a 3-run parabola fits exactly)."""
    return [j for j, det in enumerate(details) if det["included"] and det["n_runs"] > 3]


def study_noise(groups: dict, details: list[dict]) -> dict:
    """The noise Approach 2's bootstrap draws, and where it comes from (fit.json
    ``approaches.approach2.bootstrap.noise``).

    * ``residual``: the pooled, leverage-corrected relative residuals of every used budget with
      residual degrees of freedom, resampled (Davison & Hinkley 1997, Algorithm 6.1);
    * ``parametric``: when no budget has any (3 sizes each, one run per size), normal draws of sd
      ``PRIOR_RUN_NOISE``: three points fix a parabola, leave nothing to resample, and resampling
      zeros gave intervals of zero width.  The width is then an assumption, said in a warning.
    """
    with_dof = _residual_budgets(details)
    if with_dof:
        res = [_standardised_residuals(np.log10(groups[details[j]["budget_id"]]["N"].to_numpy()),
                                       groups[details[j]["budget_id"]]["L"].to_numpy()) for j in with_dof]
        pooled = np.concatenate(res)
        pooled = pooled - pooled.mean()
        dof = int(sum(details[j]["n_runs"] - 3 for j in with_dof))
        return {
            "method": "residual",
            "sd": float(np.std(pooled)),
            "budgets": len(with_dof),
            "dof": dof,
            "residuals": pooled,
            "unit": "design fixed: every budget and size kept; residual bootstrap of the parabolas (relative "
            f"residuals pooled over the {len(with_dof)} budget(s) with more than 3 runs, {dof} residual dof)",
            "warning": None,
        }
    return {
        "method": "parametric",
        "sd": PRIOR_RUN_NOISE,
        "budgets": 0,
        "dof": 0,
        "residuals": None,
        "unit": "design fixed: every budget and size kept; parametric bootstrap of the parabolas, each loss "
        f"times 1 + {PRIOR_RUN_NOISE:g} z (an assumed run noise: no budget has more than 3 runs)",
        "warning": (
            f"no budget has more runs than a parabola's 3 coefficients, so the runs' noise cannot be measured; "
            f"the intervals assume a run noise of {PRIOR_RUN_NOISE:.1%} of the loss (sample >= 4 sizes per "
            "budget, or repeat a size, to measure it)"
        ),
    }


def approach2_samples(table, details: list[dict], flops: str, resamples: int, rng) -> tuple[dict, np.ndarray, dict]:
    """Residual (or parametric) bootstrap of Approach 2 with the design fixed.

    Every replicate keeps every budget the point fit used and every size of it: the loss of each
    run is its budget's fitted parabola times one plus a noise draw (:func:`study_noise`: a residual
    pooled over the budgets that have residuals, so a budget of 3 sizes, whose own residuals are 0,
    still gets noise; or a normal draw of an assumed noise when none has).  Each budget's parabola
    is refitted (a linear map of the replicate's losses), in blocks of replicates so that no
    temporary holds more than ``BLOCK_ELEMENTS`` values, and the laws refitted through the
    vertices.  A replicate whose parabola of some budget opens downward has no vertex there; the law
    of that replicate is fitted without it and the losses are counted (``budget_drops``), never
    silent.  Returns (law samples, vertex samples (resamples x budgets x 3, NaN for unused budgets),
    counts, with ``noise``: the noise drawn and its source).
    """
    groups = dict(tuple(table.groupby("budget_id", sort=True)))
    used = [j for j, det in enumerate(details) if det["included"]]
    vertices = np.full((resamples, len(details), 3), np.nan)
    counts = {"replicates": resamples, "budget_drops": 0, "replicates_with_drops": 0, "vertex_outside_sizes": 0,
              "failed": 0}
    if not used:
        counts["failed"] = resamples
        return {k: np.full(resamples, np.nan) for k in powerlaw.PARAM_NAMES}, vertices, counts
    noise = study_noise(groups, details)
    pooled = noise.pop("residuals")
    dropped = np.zeros(resamples, dtype=bool)
    for j in used:
        grp = groups[details[j]["budget_id"]]
        x, loss = np.log10(grp["N"].to_numpy()), grp["L"].to_numpy()
        design = np.vander(x, 3)
        fitted = design @ np.linalg.lstsq(design, loss, rcond=None)[0]
        solve = np.linalg.pinv(design).T  # runs x 3: a replicate's losses -> its coefficients
        step = max(1, BLOCK_ELEMENTS // len(x))
        coef = np.empty((resamples, 3))
        for r0 in range(0, resamples, step):
            shape = (min(step, resamples - r0), len(x))
            draw = rng.choice(pooled, size=shape) if pooled is not None else noise["sd"] * rng.standard_normal(shape)
            coef[r0 : r0 + shape[0]] = (fitted[None, :] * (1 + draw)) @ solve
        c2, c1, c0 = coef.T
        up = c2 > 0
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            xs = np.where(up, -c1 / (2 * c2), np.nan)
            lstar = np.where(up, c0 - c1 * c1 / (4 * c2), np.nan)
        counts["budget_drops"] += int((~up).sum())
        counts["vertex_outside_sizes"] += int((up & ((xs <= x.min()) | (xs >= x.max()))).sum())
        dropped |= ~up
        c = float(details[j]["budget"])
        with np.errstate(over="ignore", invalid="ignore"):
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
    laws = laws_of_vertices(np.array([det["budget"] for det in details], dtype=float), vertices)
    counts["failed"] = int((~np.isfinite(laws["a"])).sum())
    counts["noise"] = noise
    return laws, vertices, counts


def laws_of_vertices(c: np.ndarray, vertices: np.ndarray) -> dict[str, np.ndarray]:
    """``powerlaw.fit_many`` of every replicate's vertices (replicates x budgets x (N, D, L)), in
    blocks of replicates: the loss law's grid search holds replicates x gamma grid x budgets values
    at once (1,000 replicates of 280 budgets: 0.9 GB a temporary), a block at most ``LAW_ELEMENTS``.
    Rows are independent, so the samples equal those of one call."""
    rows = max(1, LAW_ELEMENTS // (len(powerlaw.GAMMA_GRID) * max(1, len(c))))
    out: dict[str, list] = {k: [] for k in powerlaw.PARAM_NAMES}
    for r0 in range(0, len(vertices), rows):
        v = vertices[r0 : r0 + rows]
        laws = powerlaw.fit_many(c[None, :], v[:, :, 0], v[:, :, 1], v[:, :, 2])
        for k in powerlaw.PARAM_NAMES:
            out[k].append(np.asarray(laws[k], dtype=float))
    return {k: np.concatenate(v) if v else np.array([]) for k, v in out.items()}


def run_noise(table, details: list[dict]) -> float:
    """Relative noise of one run's final loss: pooled leverage-corrected residual sd of the used
    IsoFLOP parabolas with residual degrees of freedom (NaN when no budget has more than 3 runs)."""
    with_dof = _residual_budgets(details)
    if not with_dof:
        return float("nan")
    return float(study_noise(dict(tuple(table.groupby("budget_id", sort=True))), details)["sd"])
