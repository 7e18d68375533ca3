"""Approach 2 (IsoFLOP parabolas): vertices, exclusions, off-centre warning, D* conventions."""

import numpy as np
import pandas as pd
import pytest

from flops_fit.fitting import FitError, FitOptions, approach2, fit_runs, predict
from flops_fit.fitting.synthetic import CHINCHILLA, isoflop_study, law

OPTS = FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=0)


def test_parabola_vertex_exact():
    n = np.logspace(8, 10, 7)
    x = np.log10(n)
    loss = 2.0 + 0.3 * (x - 9.2) ** 2
    res = approach2.fit_budget(n, 1e20 / (6 * n), loss, 1e20, "6ND")
    assert res["included"]
    assert res["N_opt"] == pytest.approx(10**9.2, rel=1e-9)
    assert res["L_opt"] == pytest.approx(2.0, rel=1e-9)
    assert res["D_opt"] == pytest.approx(1e20 / (6 * 10**9.2), rel=1e-9)
    assert res["parabola"]["c2"] == pytest.approx(0.3)
    assert res["warnings"] == []


def test_counted_flops_reads_tokens_from_runs():
    n = np.logspace(8, 10, 5)
    d = 1e19 / n  # any monotone tokens-vs-N relation, not C/(6N)
    loss = 2.0 + 0.3 * (np.log10(n) - 9.0) ** 2
    res = approach2.fit_budget(n, d, loss, 1e20, "counted")
    assert res["D_opt"] == pytest.approx(1e10, rel=1e-9)


def test_exclusions_are_recorded():
    n = np.logspace(8, 10, 5)
    out = approach2.fit_budget(n[:2], n[:2], [3.0, 2.9], 1e20, "6ND")
    assert not out["included"] and "distinct model size" in out["reason"]
    out = approach2.fit_budget(n, n, 2.0 + 0.3 * (np.log10(n) - 11) ** 2, 1e20, "6ND")
    assert not out["included"] and "above the largest" in out["reason"]
    out = approach2.fit_budget(n, n, 3.0 - 0.1 * (np.log10(n) - 9) ** 2, 1e20, "6ND")
    assert not out["included"] and "opens downward" in out["reason"]


def test_off_centre_warning():
    n = np.logspace(8, 10, 7)
    out = approach2.fit_budget(n, n, 2.0 + 0.3 * (np.log10(n) - 8.2) ** 2, 1e20, "6ND")
    assert out["included"]
    assert any("off-centre" in w and "Czech" in w for w in out["warnings"])


def test_budget_with_minimum_outside_is_excluded_from_the_fit():
    runs, _ = isoflop_study(CHINCHILLA, np.geomspace(1e18, 1e21, 4), sizes=7, noise=0.0)
    # one more budget whose sizes all lie 1.5-3.5 decades above its optimum: vertex outside
    bad, _ = isoflop_study(CHINCHILLA, [1e17], sizes=7, offset=2.5, noise=0.0)
    res = fit_runs(pd.concat([bad, runs]), None, OPTS)
    block = res["approaches"]["approach2"]
    assert len(block["excluded_budgets"]) == 1
    assert "sampled size" in block["excluded_budgets"][0]["reason"]
    included = [b for b in block["budgets"] if b["included"]]
    assert len(included) == 4
    assert block["params"]["a"] == pytest.approx(law(**CHINCHILLA)["a"], abs=0.02)


def test_fewer_than_two_usable_budgets_is_an_error():
    runs, _ = isoflop_study(CHINCHILLA, [1e18, 1e19, 1e20], sizes=5, noise=0.0)
    keep = runs["budget"] == runs["budget"].min()
    for c in runs["budget"].unique()[1:]:
        sel = runs["budget"] == c
        keep |= sel & (runs["params"] >= runs.loc[sel, "params"].max())  # one size only
    with pytest.raises(FitError, match="Approach 2 needs >= 2 usable budgets"):
        fit_runs(runs[keep], None, OPTS)


def test_per_budget_intervals_and_bootstrap_unit():
    runs, _ = isoflop_study(CHINCHILLA, np.geomspace(1e18, 1e21, 5), sizes=7, noise=0.005, seed=3)
    res = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=50, backtest_holdout=0))
    block = res["approaches"]["approach2"]
    assert "design fixed" in block["bootstrap"]["unit"]
    for b in block["budgets"]:
        assert b["N_opt_lo"] <= b["N_opt"] <= b["N_opt_hi"]
        assert b["L_opt_lo"] <= b["L_opt_hi"]
        assert b["N_min"] < b["N_opt"] < b["N_max"]
        assert len(b["runs"]["N"]) == 7
    lo, hi = block["a_interval"]
    assert lo <= block["a"] <= hi


def test_counted_flops_option_uses_flops_column():
    runs, _ = isoflop_study(CHINCHILLA, np.geomspace(1e18, 1e21, 4), sizes=7, noise=0.005)
    runs["flops"] = runs["flops"] * 1.2  # e.g. attention FLOPs on top of 6ND
    res = fit_runs(runs, None, FitOptions(approaches=(2, 3), flops="counted", bootstrap=0, backtest_holdout=0))
    assert res["convention"]["flops"] == "counted"
    b = res["approaches"]["approach2"]["budgets"][0]
    assert b["budget"] == pytest.approx(1.2e18, rel=1e-6)
    assert res["approaches"]["approach3"]["flops_per_6ND"] == pytest.approx(1.2)
    assert res["approaches"]["approach3"]["flops_per_6ND_by_size"]["kappa"] == pytest.approx([1.2] * 28)
    assert isinstance(res["approaches"]["approach2"]["budgets"], list)
    assert pd.notna(b["D_opt"])


def test_failed_approach2_is_recorded_when_another_approach_fits():
    runs, _ = isoflop_study(CHINCHILLA, [1e18, 1e19, 1e20], sizes=5, noise=0.0)
    keep = runs["budget"] == runs["budget"].min()
    for c in runs["budget"].unique()[1:]:
        sel = runs["budget"] == c
        keep |= sel & (runs["params"] >= runs.loc[sel, "params"].max())
    res = fit_runs(runs[keep], None, FitOptions(approaches=(2, 3), bootstrap=0, backtest_holdout=0))
    assert res["approaches"]["approach2"]["status"] == "failed"
    assert "Approach 2 needs >= 2 usable budgets" in res["approaches"]["approach2"]["reason"]
    assert res["approaches"]["approach3"]["status"] == "ok"


def test_bootstrap_keeps_the_design_and_counts_lost_vertices():
    """Every replicate refits every budget the point fit used (no budget silently dropped): with
    3 sizes per budget the old resampling of runs lost a budget in many replicates."""
    runs, _ = isoflop_study(CHINCHILLA, np.geomspace(1e18, 1e21, 4), sizes=3, span=0.6, noise=0.004, seed=2)
    res = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=400, backtest_holdout=0, seed=1))
    block = res["approaches"]["approach2"]
    losses = block["bootstrap"]["losses"]
    assert losses["replicates"] == 400
    assert block["bootstrap"]["ok"] == 400 - losses["failed"]
    # the replicates' vertices exist for every used budget unless counted as lost
    for b in block["budgets"]:
        assert np.isfinite(b["N_opt_lo"]) and np.isfinite(b["N_opt_hi"])
    for name in ("a", "b"):
        lo, hi = block[f"{name}_interval"]
        assert lo <= block[name] <= hi, name
    if losses["replicates_with_drops"]:
        assert any("bootstrap:" in w for w in block["warnings"])


def test_bootstrap_of_exact_data_is_the_point_estimate():
    """Residual bootstrap: exact parabolas have zero residuals, so every replicate equals the point
    fit (a resampling of runs would not: it changes the design)."""
    rows = []
    for c in np.geomspace(1e18, 1e21, 4):
        xstar = 0.5 * np.log10(c) - 0.3
        for x in xstar + np.linspace(-0.6, 0.6, 5):
            rows.append({"params": 10**x, "tokens": c / (6 * 10**x), "loss": 2 + 0.3 * (x - xstar) ** 2, "budget": c})
    runs = pd.DataFrame(rows)
    res = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=20, backtest_holdout=0))
    block = res["approaches"]["approach2"]
    np.testing.assert_allclose(block["bootstrap"]["samples"]["a"], block["a"], rtol=1e-9)


def test_counted_flops_with_size_dependent_kappa_predicts_with_intervals():
    """Approach 3 under counted FLOPs whose per-6ND factor depends on size: every replicate's
    allocation solves kappa(N) 6 N D = C (the pipeline's default convention)."""
    runs, _ = isoflop_study(CHINCHILLA, np.geomspace(1e18, 1e21, 4), sizes=5, noise=0.003)
    runs["flops"] = runs["flops"] * (1 + 3e4 / runs["params"] ** 0.5)  # overhead shrinking with size
    res = fit_runs(runs, None, FitOptions(approaches=(3,), flops="counted", bootstrap=10, backtest_holdout=0))
    table = predict(res, [1e21, 1e22])
    assert table["N_opt_lo"].notna().all()
    assert (table["N_opt_lo"] <= table["N_opt"]).all() and (table["N_opt"] <= table["N_opt_hi"]).all()
    kappa = res["approaches"]["approach3"]["flops_per_6ND_by_size"]
    assert kappa["kappa"][0] > kappa["kappa"][-1] > 1
