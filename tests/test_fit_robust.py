"""The fit never crashes on valid data (issue "Nothing breaks on a user's data", point 1).

Small studies make degenerate bootstrap replicates (a parabola that opens downward, a line over
budgets that nearly coincide); they are counted, never fatal.  Only truly unusable input raises,
and then a FitError with one message.
"""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flops_fit.fitting import FitError, FitOptions, fit_runs
from flops_fit.fitting.synthetic import CHINCHILLA, isoflop_study


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    budgets=st.integers(2, 4),
    sizes=st.integers(2, 5),
    span=st.floats(0.05, 1.5),
    offset=st.floats(-1.0, 1.0),
    noise=st.floats(0.0, 0.05),
    diverged=st.integers(0, 3),
    seed=st.integers(0, 10_000),
)
def test_small_random_studies_fit_or_refuse_clearly(budgets, sizes, span, offset, noise, diverged, seed):
    c = np.geomspace(1e17, 1e17 * 10 ** (0.3 * budgets), budgets)
    runs, curves = isoflop_study(CHINCHILLA, c, sizes=sizes, span=span, offset=offset, noise=noise, seed=seed,
                                 curve_points=4)
    rng = np.random.default_rng(seed)
    for i in rng.choice(len(runs), size=min(diverged, len(runs) - 1), replace=False):
        runs.loc[i, "status"] = "diverged"
        runs.loc[i, "loss"] = np.nan
    try:
        res = fit_runs(runs, curves, FitOptions(bootstrap=20, seed=seed, approach3_starts=4))
    except FitError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for block in res["approaches"].values():
        assert block["status"] in ("ok", "skipped", "failed")


def _study(budgets, sizes, **kw):
    runs, _ = isoflop_study(CHINCHILLA, budgets, sizes=sizes, noise=0.01, seed=3, **kw)
    return runs


def test_reported_crashes_now_fit():
    """The three studies of the report: 2 budgets x 3 runs, 3 x 5, and a noisy (lr 0.1-like) one."""
    for runs in (
        _study([1e17, 2e17], 3),
        _study([1e17, 2e17, 4e17], 5),
        _study([1e17, 1.0005e17 * 1.06, 3e17], 5, span=0.2),  # two budgets 0.05% apart in C
    ):
        res = fit_runs(runs, None, FitOptions(bootstrap=200))
        assert any(b["status"] == "ok" for b in res["approaches"].values())


def test_noisy_study_counts_lost_vertices():
    rows = []
    rng = np.random.default_rng(0)
    for c in (1e17, 3e17, 1e18):
        for n in np.geomspace(1e6, 1e7, 3):
            rows.append({"params": n, "tokens": c / (6 * n), "loss": 3 + 0.3 * rng.standard_normal(), "budget": c})
    try:
        res = fit_runs(pd.DataFrame(rows), None, FitOptions(approaches=(2,), bootstrap=200))
    except FitError as exc:
        assert "Approach 2 needs >= 2 usable budgets" in str(exc)
        return
    losses = res["approaches"]["approach2"]["bootstrap"]["losses"]
    assert losses["replicates"] == 200 and losses["budget_drops"] >= 0
