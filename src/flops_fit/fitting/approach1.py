"""Approach 1: the envelope of the training curves (Hoffmann et al. 2022, §3.1, Figure 2).

Every run's validation-loss curve is interpolated (linearly in log C) onto a common log grid
of FLOP values; at each grid value the run with the lowest loss gives one envelope point
(C, N of that run, D it has seen at C, its loss).  N* = k_N C^a and D* = k_D C^b (and a loss
power law) are then least-squares lines through the envelope in log space.

Choices, stated: the grid has ``GRID_POINTS`` log-spaced values (Chinchilla used 1,500) over
the FLOP range covered by at least two runs' curves (a one-run "envelope" says nothing about
the optimal size) and not below the smallest run's final FLOPs (below it the envelope would be
made of early, warm-up points only, where the smallest models always lead); fewer than
``MIN_POINTS`` envelope points, or fewer than 2 distinct model sizes on it, skip the approach
with a note.  Caveat (Hoffmann et al. 2022, App. A; Porian et
al. 2024): intermediate points of a run whose cosine schedule is set for its final length are
not compute-optimal for their own FLOPs, so this approach is biased unless runs of several
lengths exist; Approach 2 and 3 use only final losses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import powerlaw

INDICATIVE = (
    "indicative only: the envelope uses intermediate points of runs whose learning-rate schedule is set "
    "for their final length, which are not compute-optimal for their own FLOPs (Hoffmann et al. 2022, App. A); "
    "trust Approaches 2 and 3 (final losses)"
)
"""fit.json's ``approaches.approach1.indicative``: why Approach 1 is a cross-check, not the answer."""
GRID_POINTS = 1500
MIN_POINTS = 5
LAW_POINTS = 150  # the laws are fitted through this many envelope points (spread over log C)


class NotEnoughCurves(Exception):
    """Raised with the note recorded when Approach 1 is skipped."""


def curves_by_run(curves: pd.DataFrame | None) -> list[tuple]:
    """Per run with >= 2 points: (run_id, N, log C, log D, loss), sorted by C."""
    runs = []
    if curves is None or len(curves) == 0:
        return runs
    for rid, grp in curves.groupby("run_id", sort=True):
        grp = grp.sort_values("C").drop_duplicates("C")
        if len(grp) < 2:
            continue
        runs.append(
            (
                str(rid),
                float(grp["N"].iloc[0]),
                np.log(grp["C"].to_numpy()),
                np.log(grp["D"].to_numpy()),
                grp["L"].to_numpy(),
            )
        )
    return runs


def envelope(curves: pd.DataFrame | None, grid_points: int = GRID_POINTS) -> pd.DataFrame:
    """Envelope points ``C, N, D, L, run_id``; raises NotEnoughCurves when too few."""
    if curves is None or len(curves) == 0:
        raise NotEnoughCurves("not enough curve points: no curves table (curves.csv) was given")
    return envelope_from_runs(curves_by_run(curves), grid_points)


def _grid(runs: list[tuple], grid_points: int):
    """The log-C grid and every run's loss and log D on it (NaN outside the run's curve)."""
    if len(runs) < 2:
        raise NotEnoughCurves(f"not enough curve points: {len(runs)} run(s) with >= 2 curve points")
    starts = np.sort([r[2][0] for r in runs])
    ends = np.sort([r[2][-1] for r in runs])
    lo, hi = max(starts[1], ends[0]), ends[-2]  # covered by two runs, from the first finished one
    if not hi > lo:
        raise NotEnoughCurves("not enough curve points: no FLOP range is covered by two runs' curves")
    grid = np.linspace(lo, hi, grid_points)
    losses = np.vstack([np.interp(grid, lc, loss, left=np.nan, right=np.nan) for _, _, lc, _, loss in runs])
    covered = np.isfinite(losses).sum(axis=0) >= 2
    grid, losses = grid[covered], losses[:, covered]
    if len(grid) < MIN_POINTS:
        raise NotEnoughCurves(f"not enough curve points: {len(grid)} envelope points (need {MIN_POINTS})")
    log_d = np.vstack([np.interp(grid, lc, ld) for _, _, lc, ld, _ in runs])
    return grid, losses, log_d


def envelope_from_runs(runs: list[tuple], grid_points: int = GRID_POINTS) -> pd.DataFrame:
    """``envelope`` of pre-split curves."""
    grid, losses, log_d = _grid(runs, grid_points)
    best = np.nanargmin(losses, axis=0)
    cols = np.arange(len(grid))
    env = pd.DataFrame(
        {
            "C": np.exp(grid),
            "N": [runs[k][1] for k in best],
            "D": np.exp(log_d[best, cols]),
            "L": losses[best, cols],
            "run_id": [runs[k][0] for k in best],
        }
    )
    if env["N"].nunique() < 2:
        raise NotEnoughCurves("not enough curve points: one model size is best at every FLOP value")
    return env


def _thin(n_points: int) -> np.ndarray:
    """Indices of at most ``LAW_POINTS`` envelope points, evenly spread over the log-C grid."""
    return np.unique(np.linspace(0, n_points - 1, min(n_points, LAW_POINTS)).round().astype(int))


def laws(env: pd.DataFrame) -> dict:
    """The power laws through the envelope (at most ``LAW_POINTS`` of its points)."""
    e = env.iloc[_thin(len(env))]
    return powerlaw.fit(e["C"], e["N"], e["D"], e["L"])


def fit(curves: pd.DataFrame | None, grid_points: int = GRID_POINTS) -> tuple[dict, pd.DataFrame]:
    """(power-law parameters, envelope)."""
    env = envelope(curves, grid_points)
    return laws(env), env


def bootstrap(runs: list[tuple], noise: float, resamples: int, rng, grid_points: int = GRID_POINTS) -> dict:
    """Law samples from a parametric bootstrap with the design fixed: every run is kept, and each
    replicate scales each run's whole curve by ``1 + noise * z`` (z ~ N(0, 1), one draw per run:
    seed-to-seed noise moves a run's curve as a whole), then takes the envelope and refits (its
    loss reflected about the observed envelope: the minimum of noisier curves is biased low).
    Resampling whole runs with replacement instead would only ever drop runs (a duplicate run
    never changes an envelope): a ~63% subsample, not a bootstrap."""
    grid, losses, log_d = _grid(runs, grid_points)
    cols = _thin(len(grid))
    grid, losses, log_d = grid[cols], losses[:, cols], log_d[:, cols]
    sizes = np.array([r[1] for r in runs])
    z = 1.0 + noise * rng.standard_normal((resamples, len(runs)))
    scaled = np.where(np.isfinite(losses), losses, np.inf)[None, :, :] * z[:, :, None]
    best = np.argmin(scaled, axis=1)  # resamples x points
    rows = np.arange(len(cols))[None, :]
    loss = np.take_along_axis(scaled, best[:, None, :], 1)[:, 0]
    # The minimum over noisier curves is biased low (the observed envelope already took one
    # minimum), so the replicates' envelope loss is reflected about the observed envelope: the
    # basic bootstrap (Davison & Hinkley 1997, §5.2), whose interval holds the point estimate.
    point = np.nanmin(np.where(np.isfinite(losses), losses, np.nan), axis=0)
    loss = 2 * point[None, :] - loss
    out = powerlaw.fit_many(np.exp(grid)[None, :], sizes[best], np.exp(log_d[best, rows]), loss)
    one_size = (best == best[:, :1]).all(axis=1)
    return {k: np.where(one_size, np.nan, v) for k, v in out.items()}
