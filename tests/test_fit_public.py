"""The fit on published IsoFLOP experiments (tests/data/public_isoflops.csv, see tests/data/README.md)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flops_fit.fitting import FitOptions, fit_runs, predict

DATA = Path(__file__).parent / "data" / "public_isoflops.csv"

# Approach-2 allocation exponents a (N* ~ C^a) of each experiment with the collector's outliers removed
# and the nominal budgets; the published values are 0.50 (Chinchilla's Approach 2: 0.49-0.54 by
# source), Llama 3's 0.53 uses a different fit; these are this implementation's numbers, checked to 0.01.
EXPECTED_A = {
    "epochai_chinchilla__massivetext__chinchilla": 0.541,
    "llama_3__raw_loss": 0.500,
    "misfitting__fineweb_c4__transformer": 0.523,
}


def _runs(experiment: str, qc: bool = True) -> pd.DataFrame:
    d = pd.read_csv(DATA)
    d = d[(d["experiment"] == experiment) & (~d["outlier"] if qc else True)]
    return pd.DataFrame({"params": d["params"], "tokens": d["tokens"], "loss": d["loss"], "budget": d["budget"]})


@pytest.mark.parametrize("experiment", sorted(EXPECTED_A))
def test_approach2_exponent(experiment):
    res = fit_runs(_runs(experiment), None, FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=0))
    block = res["approaches"]["approach2"]
    assert block["a"] == pytest.approx(EXPECTED_A[experiment], abs=0.01)
    assert res["budgets"] == sorted(_runs(experiment)["budget"].unique().tolist())  # nominal budgets, exactly


def test_held_out_budget_within_the_predictive_interval():
    """Chinchilla's largest budget held out: the saturating L*(C) predicts it to 0.5% and the
    predictive intervals cover its observed optimum (the bootstrap's alone did not)."""
    runs = _runs("epochai_chinchilla__massivetext__chinchilla")
    full = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=0))
    last = full["approaches"]["approach2"]["budgets"][-1]
    assert last["budget"] == 1e21 and last["included"]
    res = fit_runs(runs[runs["budget"] < 1e21], None, FitOptions(approaches=(2,), bootstrap=200, backtest_holdout=0))
    row = predict(res, [1e21]).iloc[0]
    assert abs(row["L_opt"] / last["L_opt"] - 1) < 0.005
    assert row["L_opt_lo"] <= last["L_opt"] <= row["L_opt_hi"]
    assert row["N_opt_lo"] <= last["N_opt"] <= row["N_opt_hi"]
    assert row["interval_method"] == "predictive" and row["extrapolation"] == pytest.approx(1e21 / 6e20)
    cal = res["approaches"]["approach2"]["predictive"]
    assert cal["n_errors"] > 0 and cal["lambda_N"] > 0 and np.isfinite(cal["tau_N"])


def test_drift_moves_the_prediction_towards_the_held_out_optimum():
    """Chinchilla's N* exponent bends with scale: fitted below 1e21, the law overpredicts N*(1e21).
    The study's own rolling-origin errors measure that drift (b < 0) and the predicted N* moves
    towards the held-out vertex; the law's parameters stay as fitted."""
    runs = _runs("epochai_chinchilla__massivetext__chinchilla")
    full = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=0))
    n_obs = full["approaches"]["approach2"]["budgets"][-1]["N_opt"]
    res = fit_runs(runs[runs["budget"] < 1e21], None, FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=0))
    block = res["approaches"]["approach2"]
    cal = block["predictive"]
    assert cal["drift_N"] < -cal["drift_sd_N"] < 0  # the drift is clear of zero
    law_n = block["params"]["k_N"] * 1e21 ** block["params"]["a"]
    row = predict(res, [1e21]).iloc[0]
    assert abs(np.log(row["N_opt"] / n_obs)) < 0.7 * abs(np.log(law_n / n_obs))
    assert row["N_opt_lo"] <= n_obs <= row["N_opt_hi"]
    law_d = block["params"]["k_D"] * 1e21 ** block["params"]["b"]
    assert row["D_opt"] * row["N_opt"] == pytest.approx(law_d * law_n, rel=1e-9)  # D* moves against N*
    far = predict(res, [1e24]).iloc[0]  # the drift is not extrapolated beyond where it was measured
    moved = np.exp(cal["offset_N"] + cal["drift_N"] * cal["drift_u_max"])
    assert far["N_opt"] / far["N_opt_law"] == pytest.approx(moved)
    assert 0 < cal["drift_u_max"] < np.log10(1e24 / res["budgets"][-1])
    in_range = predict(res, [res["budgets"][-1]]).iloc[0]  # no extrapolation, no drift
    assert in_range["N_opt"] == pytest.approx(block["params"]["k_N"] * res["budgets"][-1] ** block["params"]["a"])


def test_no_drift_where_the_law_holds():
    """A study drawn from the fitted form itself: its backtest errors show little drift (the parabolas'
    own bias changes slowly with C), far below the drift of the published studies (PRIOR_DRIFT), so a
    prediction 10x beyond the data stays within 10% of the law's."""
    from flops_fit.fitting import synthetic

    runs, _ = synthetic.isoflop_study(
        {"E": 1.8, "A": 400.0, "B": 1500.0, "alpha": 0.34, "beta": 0.3}, np.geomspace(1e18, 1e21, 8), seed=3
    )
    res = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=0))
    cal = res["approaches"]["approach2"]["predictive"]
    assert abs(cal["drift_N"]) < 0.1 < cal["prior_drift"]["N"]


def test_l_scales_only_from_refits_of_the_same_form():
    """Five budgets: the L* law is E + k C^-gamma; refits on three budgets are pure power laws that
    miss far beyond their data.  Their errors speak neither for the drift nor for the scatter of
    the saturating law: one L* error (the four-budget refit) against three for N*, and a law of the
    right form leaves the scatter at or below its prior."""
    from flops_fit.fitting import predictive, synthetic

    runs, _ = synthetic.isoflop_study(
        {"E": 1.8, "A": 400.0, "B": 1500.0, "alpha": 0.34, "beta": 0.3}, np.geomspace(1e18, 1e20, 5), seed=0
    )
    res = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=0))
    cal = res["approaches"]["approach2"]["predictive"]
    assert (cal["n_errors_N"], cal["n_errors_L"]) == (3, 1)
    assert (cal["dof_N"], cal["dof_L"]) == (5 - 2 + 3 + 2, 5 - 3 + 1 + 2)  # m - p + errors + PRIOR_DOF
    assert cal["tau_L"] <= predictive.PRIOR_TAU[2]["L"]


def test_approach3_l_offset_moves_towards_the_held_out_optimum():
    """Approach 3's surface, fitted to every run, sits above the largest budgets' optima of each
    published study: the rolling backtest measures that level offset (a < 0), and the predicted L*
    of the held-out largest budget moves from the surface's towards its vertex and covers it."""
    for experiment in sorted(EXPECTED_A):
        runs = _runs(experiment)
        top = runs["budget"].max()
        full = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=0))
        l_obs = full["approaches"]["approach2"]["budgets"][-1]["L_opt"]
        res = fit_runs(runs[runs["budget"] < top], None, FitOptions(approaches=(3,), bootstrap=0, backtest_holdout=0))
        cal = res["approaches"]["approach3"]["predictive"]
        row = predict(res, [top]).iloc[0]
        assert cal["offset_L"] < 0, experiment
        assert abs(np.log(row["L_opt"] / l_obs)) < abs(np.log(row["L_opt_law"] / l_obs)), experiment
        assert row["L_opt_lo"] <= l_obs <= row["L_opt_hi"], experiment
