"""Approach 1 (envelope of training curves)."""

import numpy as np
import pytest

from flops_fit.fitting import FitOptions, approach1, fit_runs
from flops_fit.fitting.runs_table import assign_budgets, prepare_curves, prepare_runs
from flops_fit.fitting.synthetic import CHINCHILLA, isoflop_study, law


def _study(**kw):
    return isoflop_study(CHINCHILLA, np.geomspace(1e17, 1e21, 5), sizes=9, span=1.2, curve_points=25, **kw)


def test_envelope_recovers_allocation_exponent():
    runs, curves = _study(noise=0.0)
    table = assign_budgets(prepare_runs(runs, "total", "6ND")[0])[0]
    params, env = approach1.fit(prepare_curves(curves, table, "6ND"))
    assert len(env) > 100 and env["N"].nunique() >= 3
    # the envelope picks the best of a discrete set of sizes: a within 0.05 of the law's
    assert params["a"] == pytest.approx(law(**CHINCHILLA)["a"], abs=0.05)
    assert params["a"] + params["b"] == pytest.approx(1.0, abs=1e-9)  # D = C / 6N on curves
    assert np.all(np.diff(env["C"]) > 0)


def test_skipped_without_curves():
    runs, _ = _study()
    res = fit_runs(runs, None, FitOptions(approaches=(1, 2), bootstrap=0, backtest_holdout=0))
    block = res["approaches"]["approach1"]
    assert block["status"] == "skipped"
    assert "not enough curve points" in block["reason"]
    assert res["approaches"]["approach2"]["status"] == "ok"


def test_one_run_of_curves_is_not_enough():
    runs, curves = _study()
    one = curves[curves["run_id"] == curves["run_id"].iloc[0]]
    res = fit_runs(runs, one, FitOptions(approaches=(1,), bootstrap=0, backtest_holdout=0))
    assert res["approaches"]["approach1"]["status"] == "skipped"


def test_fit_json_has_envelope_and_intervals():
    runs, curves = _study(noise=0.005, seed=2)
    res = fit_runs(runs, curves, FitOptions(approaches=(1,), bootstrap=20, backtest_holdout=1))
    block = res["approaches"]["approach1"]
    assert block["status"] == "ok"
    assert set(block["envelope"]) == {"C", "N", "D", "L", "run_id"}
    assert block["bootstrap"]["ok"] > 0
    lo, hi = block["a_interval"]
    assert lo <= hi
    assert res["backtest"]["approaches"]["approach1"]["status"] == "ok"


def test_curves_that_match_no_run_are_reported():
    runs, curves = _study()
    curves = curves.assign(run_id="someone-else")
    res = fit_runs(runs, curves, FitOptions(approaches=(1,), bootstrap=0, backtest_holdout=0))
    assert res["approaches"]["approach1"]["status"] == "skipped"
    assert "run_id" in res["approaches"]["approach1"]["reason"]


def test_bootstrap_keeps_every_run():
    """Approach 1's replicate is a parametric bootstrap with every run kept, not a subsample: with
    no noise every replicate is the point estimate."""
    from flops_fit.fitting import approach1

    _, curves = isoflop_study(CHINCHILLA, np.geomspace(1e18, 1e20, 3), sizes=5, noise=0.0, curve_points=15)
    runs, _ = isoflop_study(CHINCHILLA, np.geomspace(1e18, 1e20, 3), sizes=5, noise=0.0, curve_points=15)
    table = assign_budgets(prepare_runs(runs, "total", "6ND")[0])[0]
    cv = prepare_curves(curves, table, "6ND")
    params, _ = approach1.fit(cv)
    by_run = approach1.curves_by_run(cv)
    same = approach1.bootstrap(by_run, 0.0, 5, np.random.default_rng(0))
    np.testing.assert_allclose(same["a"], params["a"], rtol=1e-9)
    noisy = approach1.bootstrap(by_run, 0.01, 50, np.random.default_rng(0))
    assert np.nanstd(noisy["a"]) > 0
