"""Far beyond the data (issue 22): the loss of held-out big runs, the forms of the law, what a study
cannot know.  Real fits on the published data of tests/data (see its README)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flops_fit.fitting import FitOptions, approach3, fit_runs, forms, predict, predict_loss, reach
from flops_fit.fitting.synthetic import isoflop_study, law

DATA = Path(__file__).parent / "data"
TRUE = law(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


@pytest.fixture(scope="module")
def farseer():
    runs = pd.read_csv(DATA / "farseer_runs.csv")
    fit = fit_runs(runs[~runs["held_out"]], None, FitOptions(approaches=(3,), bootstrap=0, backtest_holdout=0))
    return fit, runs[runs["held_out"]]


def test_farseer_held_out_runs_inside_their_intervals(farseer):
    """Farseer's 7 held-out runs (5.9e21-1.9e22 FLOPs, 2.3B-25B parameters) from the 404 smaller ones."""
    fit, held = farseer
    t = predict_loss(fit, held["params"].to_numpy(), held["tokens"].to_numpy())
    error = t["L"].to_numpy() / held["loss"].to_numpy() - 1
    assert np.all(np.abs(error) < 0.02), error
    assert np.all((t["L_lo"].to_numpy() <= held["loss"].to_numpy()) & (held["loss"].to_numpy() <= t["L_hi"].to_numpy()))
    assert t["extrapolation"].max() > 5
    cal = fit["approaches"]["approach3"]["predictive_runs"]
    assert cal["n_errors_L"] > 100  # every run of the larger budgets, at every origin


def test_surface_forms_fitted_and_their_disagreement_recorded(farseer):
    fit, _ = farseer
    block = fit["approaches"]["approach3"]
    assert set(block["forms"]) == set(forms.NAMES)
    assert all(len(block["forms"][f]["theta"]) in (4, 5) for f in forms.NAMES)
    assert set(block["forms_disagreement"]) == {"no_floor", "kaplan"}
    assert set(block["forms_disagreement"]["kaplan"]) == {"10x", "100x"}
    # the fitted surface's optimum by the forms' grid equals Approach 3's closed form
    c = np.array([1e21, 1e23])
    n_grid, l_grid = forms.optimum("chinchilla", block["forms"]["chinchilla"]["theta"], c)
    n_exact, _, l_exact = approach3.optimal(block["params"], c)
    assert np.allclose(n_grid, n_exact, rtol=0.01) and np.allclose(l_grid, l_exact, rtol=1e-4)


def test_law_forms_of_approach_2_widen_only_beyond_the_data():
    c = np.geomspace(1e18, 1e20, 6)
    loss = 1.8 + 40 * c**-0.08
    fitted = forms.fit_law_forms(c, loss)
    assert set(fitted) == {"power", "saturating", "curved"}
    e, k, gamma = fitted["saturating"]["coefficients"]
    assert e == pytest.approx(1.8, rel=1e-2) and gamma == pytest.approx(0.08, rel=2e-2)
    sd = forms.spread_law(fitted, [1e20, 1e21, 1e22], 1e20)
    assert sd[0] == pytest.approx(0.0, abs=1e-12) and 0 < sd[1] < sd[2]
    assert set(forms.fit_law_forms(c[:3], loss[:3])) == {"power"}  # 3 optima: one form, no spread
    assert np.all(forms.spread_law(forms.fit_law_forms(c[:3], loss[:3]), [1e22], 1e20) == 0)


def test_approach2_interval_carries_the_law_forms_spread():
    runs, _ = isoflop_study(TRUE, np.geomspace(1e18, 1e20, 6), noise=0.003, seed=5)
    fit = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=0))
    with_forms = predict(fit, [1e22]).iloc[0]
    fit["approaches"]["approach2"].pop("law_forms")
    without = predict(fit, [1e22]).iloc[0]
    assert with_forms["L_opt"] == pytest.approx(without["L_opt"])
    width = {k: math.log(r["L_opt_hi"] / r["L_opt_lo"]) for k, r in (("forms", with_forms), ("none", without))}
    assert width["forms"] > width["none"]


def test_a_narrow_study_says_how_far_it_can_be_trusted():
    runs, _ = isoflop_study(TRUE, [1e18, 2e18, 4e18], seed=2)
    fit = fit_runs(runs, None, FitOptions(approaches=(2, 3), bootstrap=0, backtest_holdout=0))
    r = fit["reach"]
    assert r["limited"] and r["usable_budgets"] == 3
    assert r["span_decades"] == pytest.approx(math.log10(4), rel=1e-6)
    assert r["suggested_budgets"] == pytest.approx([8e18, 1.6e19, 3.2e19])
    assert "add budgets at 8e+18, 1.6e+19, 3.2e+19 FLOPs" in r["message"]
    assert reach.beyond_tested(100.0, r).startswith("100x is beyond")
    wide = reach.assess(np.geomspace(1e17, 1e20, 8), np.geomspace(1e17, 1e20, 8), 2.0)
    assert not wide["limited"] and wide["tested_factor"] == pytest.approx(100.0)
    assert reach.beyond_tested(50.0, wide) == ""
