"""Automatic run quality control (flops_fit.fitting.quality): real fits of synthetic studies with
planted faults; what is flagged, why, and what the fit recovers without it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flops_fit.cli import _fit_options, build_parser
from flops_fit.fitting import FitError, FitOptions, fit_runs
from flops_fit.fitting.api import fit_point
from flops_fit.fitting.runs_table import assign_budgets, prepare_runs
from flops_fit.fitting.summary import summary
from flops_fit.fitting.synthetic import CHINCHILLA, isoflop_study, law

BUDGETS = np.geomspace(1e18, 1e21, 5)
TRUE_A = law(**CHINCHILLA)["a"]


def _opts(**kw) -> FitOptions:
    return FitOptions(**{"approaches": (2,), "bootstrap": 0, "backtest_holdout": 0, **kw})


def _study(seed: int = 1, noise: float = 0.005, **kw) -> pd.DataFrame:
    return isoflop_study(CHINCHILLA, BUDGETS, sizes=7, noise=noise, seed=seed, **kw)[0]


def _plant(runs: pd.DataFrame, budget_rank: int, size_rank: int, factor: float) -> tuple[pd.DataFrame, str]:
    """``runs`` with one run's loss multiplied by ``factor``; (runs, its run_id)."""
    runs = runs.copy()
    c = sorted(runs["budget"].unique())[budget_rank]
    i = runs.index[runs["budget"] == c][size_rank]
    runs.loc[i, "loss"] *= factor
    return runs, runs.loc[i, "run_id"]


def test_planted_outlier_is_excluded_with_its_reason_and_the_exponent_recovers():
    clean = fit_runs(_study(), None, _opts())
    runs, bad = _plant(_study(), 4, 5, 0.9)  # 10% low, above the optimum: drags the largest vertex up
    res = fit_runs(runs, None, _opts())
    q = res["quality"]
    assert [f["run_id"] for f in q["flagged_runs"]] == [bad]
    flag = q["flagged_runs"][0]
    assert flag["rule"] == "off_parabola" and flag["off"] == pytest.approx(-0.10, abs=0.02) and flag["z"] > 8
    assert "off the parabola" in flag["reason"] and q["applied"] and q["n_excluded"] == 1
    assert bad not in res["runs"]["run_id"] and res["n_used"] == len(runs) - 1
    a = res["approaches"]["approach2"]["a"]
    assert a == pytest.approx(clean["approaches"]["approach2"]["a"], abs=0.004)
    assert a == pytest.approx(TRUE_A, abs=0.01)
    kept = fit_runs(runs, None, _opts(keep_flagged=True))  # the outlier moves the exponent
    assert abs(kept["approaches"]["approach2"]["a"] - a) > 0.01
    assert kept["quality"]["flagged_runs"][0]["run_id"] == bad and not kept["quality"]["applied"]
    assert bad in kept["runs"]["run_id"] and kept["quality"]["n_excluded"] == 0


def test_one_outlier_does_not_mask_another_in_the_same_budget():
    runs, first = _plant(_study(seed=2), 2, 1, 1.12)
    runs, second = _plant(runs, 2, 4, 0.93)
    res = fit_runs(runs, None, _opts())
    assert sorted(f["run_id"] for f in res["quality"]["flagged_runs"]) == sorted([first, second])
    assert res["quality"]["flagged_runs"][0]["run_id"] == first  # the worst goes first
    assert not res["quality"]["flagged_budgets"]


def test_budget_with_its_minimum_at_an_edge_leaves_approach2_only():
    good = _study(seed=3)
    # sizes from 0.05 below to 0.95 decades above its optimum: the lowest loss at the smallest size, the
    # parabola's vertex just inside (Approach 2 alone keeps it, with an off-centre warning)
    edge = isoflop_study(CHINCHILLA, [3e17], sizes=7, span=0.5, offset=0.45, noise=0.005, seed=9)[0]
    runs = pd.concat([edge, good])
    res = fit_runs(runs, None, _opts(approaches=(2, 3)))
    [flag] = res["quality"]["flagged_budgets"]
    assert flag["rule"] == "edge_minimum" and flag["budget"] == 3e17 and flag["n_runs"] == 7
    assert "smallest" in flag["reason"] and "not bracketed" in flag["reason"]
    assert sorted(flag["run_ids"]) == sorted(edge["run_id"])
    a2 = res["approaches"]["approach2"]
    [excluded] = a2["excluded_budgets"]
    assert excluded["budget"] == 3e17 and excluded["reason"].startswith("quality control (edge_minimum)")
    assert a2["a"] == pytest.approx(TRUE_A, abs=0.01)
    assert res["n_used"] == len(runs) and res["approaches"]["approach3"]["n_runs"] == len(runs)  # its runs stay
    assert "quality control: budget C=3e+17 excluded from Approach 2 (edge_minimum, 7 runs)" in summary(res)
    kept = fit_runs(runs, None, _opts(keep_flagged=True))  # Approach 2's own rule keeps it (vertex inside)
    assert kept["approaches"]["approach2"]["excluded_budgets"] == []
    assert any("off-centre" in w for w in kept["approaches"]["approach2"]["warnings"])


def test_budget_with_too_few_sizes_is_flagged():
    good = _study(seed=4)
    two = isoflop_study(CHINCHILLA, [3e17], sizes=2, span=0.3, noise=0.005, seed=4)[0]
    res = fit_runs(pd.concat([two, good]), None, _opts())
    [flag] = res["quality"]["flagged_budgets"]
    assert flag["rule"] == "too_few_sizes" and flag["n_sizes"] == 2
    assert res["approaches"]["approach2"]["excluded_budgets"][0]["reason"].startswith("quality control (too_few")


def test_minimum_at_the_largest_size_of_every_budget_fails_approach2_with_the_reason():
    """Issue 25: such a study was fitted (a = 0 [-0.18, 0.22]) with only off-centre warnings.
    Approach 2 now fails naming the budgets; Approach 3 still fits every run."""
    runs = isoflop_study(CHINCHILLA, BUDGETS, sizes=5, span=0.5, offset=-1.0, noise=0.005, seed=5)[0]
    with pytest.raises(FitError, match=r"Approach 2 needs >= 2 usable budgets; 0 of 5 .*edge_minimum.*largest"):
        fit_runs(runs, None, _opts())
    res = fit_runs(runs, None, _opts(approaches=(2, 3)))
    assert len(res["quality"]["flagged_budgets"]) == 5 and res["n_used"] == len(runs)
    a2 = res["approaches"]["approach2"]
    assert a2["status"] == "failed" and len(a2["excluded_budgets"]) == 5 and "not bracketed" in a2["reason"]
    assert res["approaches"]["approach3"]["status"] == "ok"


def test_backtest_refits_leave_the_flagged_budget_out_too():
    """The backtests' refits of Approach 2 (api.fit_point) judge each budget by the same rules."""
    good = _study(seed=9)
    edge = isoflop_study(CHINCHILLA, [3e17], sizes=7, span=0.5, offset=0.45, noise=0.005, seed=9)[0]

    def a(runs, **kw):
        table = assign_budgets(prepare_runs(runs, "total", "6ND")[0])[0]
        return fit_point(table, None, _opts(**kw))[2]["a"]

    assert a(pd.concat([edge, good])) == pytest.approx(a(good), rel=1e-9)
    assert abs(a(pd.concat([edge, good]), keep_flagged=True) - a(good)) > 1e-3


@pytest.mark.parametrize("seed", range(6))
def test_clean_studies_lose_nothing(seed):
    offset = [0.0, 0.25, -0.25][seed % 3]  # centred and off-centre (the optimum still inside)
    runs = isoflop_study(CHINCHILLA, BUDGETS, sizes=7, span=0.8, offset=offset, noise=0.008, seed=seed)[0]
    q = fit_runs(runs, None, _opts())["quality"]
    assert q["flagged_runs"] == [] and q["flagged_budgets"] == [] and q["n_excluded"] == 0
    assert 0.004 < q["noise"] < 0.012  # the pooled robust noise scale finds the planted 0.8%


def test_noise_free_study_loses_nothing_to_the_parabolas_lack_of_fit():
    runs = isoflop_study(CHINCHILLA, BUDGETS, sizes=9, span=1.2, noise=0.0)[0]
    q = fit_runs(runs, None, _opts())["quality"]
    assert q["noise"] < 0.003 and q["flagged_runs"] == []  # its lack of fit sets the noise scale


def test_without_a_budget_column_only_runs_are_judged():
    """Budgets inferred from C may be accidental (a grid of N x D): only rule 1 applies."""
    runs, bad = _plant(_study(seed=6), 3, 2, 1.1)
    edge = isoflop_study(CHINCHILLA, [3e17], sizes=7, span=0.5, offset=1.0, noise=0.005, seed=6)[0]
    res = fit_runs(pd.concat([edge, runs]).drop(columns="budget"), None, _opts())
    q = res["quality"]
    assert [f["run_id"] for f in q["flagged_runs"]] == [bad] and q["flagged_budgets"] == []
    assert any("no budget column" in note for note in q["notes"])


def test_small_studies_skip_the_outlier_rule_with_a_note():
    runs = isoflop_study(CHINCHILLA, BUDGETS[:3], sizes=4, noise=0.005, seed=7)[0]
    q = fit_runs(runs, None, _opts())["quality"]
    assert q["flagged_runs"] == [] and "off_parabola not checked" in q["notes"][0]


def test_keep_flagged_is_checked_and_reaches_the_cli():
    with pytest.raises(FitError, match="keep_flagged='yes'"):
        FitOptions(keep_flagged="yes").check()
    args = build_parser().parse_args(["fit", "runs.csv", "--out", "o", "--keep-flagged"])
    assert _fit_options(args).keep_flagged is True
    assert _fit_options(build_parser().parse_args(["fit", "runs.csv", "--out", "o"])).keep_flagged is False


def test_a_flagged_budget_is_no_yardstick_for_the_rolling_backtest():
    """The rolling backtest that calibrates the predictive intervals has no measured optimum at a
    flagged budget (its best run would stand in): its errors there are left out."""
    top = isoflop_study(CHINCHILLA, [3e21], sizes=7, span=0.5, offset=0.45, noise=0.005, seed=9)[0]
    runs = pd.concat([_study(seed=10), top])
    res = fit_runs(runs, None, _opts())
    assert res["quality"]["flagged_budgets"][0]["budget"] == 3e21
    targets = {r["budget"] for r in res["rolling_backtest"]}
    assert 3e21 not in targets and BUDGETS[-1] in targets
    kept = fit_runs(runs, None, _opts(keep_flagged=True))
    assert 3e21 in {r["budget"] for r in kept["rolling_backtest"]}


def test_budget_whose_vertex_is_not_resolved_from_the_edge_leaves_approach2():
    """Sizes from 0.1 below to 0.5 decades above the optimum: the lowest run is inside, but the
    vertex lies within 2 standard errors of the smallest size, so only rule 4 sees it."""
    near = isoflop_study(CHINCHILLA, [3e21], sizes=7, span=0.3, offset=0.2, noise=0.005, seed=21)[0]
    res = fit_runs(pd.concat([_study(seed=12), near]), None, _opts())
    [flag] = res["quality"]["flagged_budgets"]
    assert flag["rule"] == "unresolved_minimum" and flag["budget"] == 3e21
    assert "not resolved from the edge" in flag["reason"]
    assert res["approaches"]["approach2"]["excluded_budgets"][0]["budget"] == 3e21
    assert res["approaches"]["approach2"]["a"] == pytest.approx(TRUE_A, abs=0.01)


def test_flat_but_centred_budget_is_kept():
    """A weak curvature alone (sizes within 0.15 decades of the optimum) makes a noisy vertex, which
    Approach 2's bootstrap carries, not a biased one: kept."""
    flat = isoflop_study(CHINCHILLA, [3e21], sizes=7, span=0.15, noise=0.005, seed=13)[0]
    res = fit_runs(pd.concat([_study(seed=12), flat]), None, _opts())
    assert res["quality"]["flagged_budgets"] == []
