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

GRID_POINTS = 1500
MIN_POINTS = 5


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


def envelope_from_runs(runs: list[tuple], grid_points: int = GRID_POINTS) -> pd.DataFrame:
    """``envelope`` of pre-split curves (the bootstrap resamples this list)."""
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
    best = np.nanargmin(losses, axis=0)
    cols = np.arange(len(grid))
    log_d = np.vstack([np.interp(grid, lc, ld) for _, _, lc, ld, _ in runs])[best, cols]
    env = pd.DataFrame(
        {
            "C": np.exp(grid),
            "N": [runs[k][1] for k in best],
            "D": np.exp(log_d),
            "L": losses[best, cols],
            "run_id": [runs[k][0] for k in best],
        }
    )
    if env["N"].nunique() < 2:
        raise NotEnoughCurves("not enough curve points: one model size is best at every FLOP value")
    return env


def fit(curves: pd.DataFrame | None, grid_points: int = GRID_POINTS) -> tuple[dict, pd.DataFrame]:
    """(power-law parameters, envelope)."""
    env = envelope(curves, grid_points)
    return powerlaw.fit(env["C"], env["N"], env["D"], env["L"]), env
