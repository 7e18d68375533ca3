"""Public API of flops_fit.fitting: inputs, conventions, outputs, determinism, backtest."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from flops_fit.fitting import FitError, FitOptions, fit_runs, load_runs, predict, read_fit, write_fit
from flops_fit.fitting.synthetic import CHINCHILLA, isoflop_study

FAST = FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=0)


@pytest.fixture(scope="module")
def study():
    return isoflop_study(CHINCHILLA, np.geomspace(1e18, 1e21, 5), sizes=7, noise=0.005, seed=4, curve_points=12)


@pytest.fixture(scope="module")
def full_fit(study):
    runs, curves = study
    return fit_runs(runs, curves, FitOptions(bootstrap=30, seed=7))


def test_defaults():
    o = FitOptions()
    assert (o.params, o.flops, o.approaches, o.bootstrap, o.confidence, o.seed) == (
        "total",
        "6ND",
        (1, 2, 3),
        1000,
        0.9,
        0,
    )
    assert (o.backtest_holdout, o.predict_budgets, o.huber_delta) == (1, None, 1e-3)


def test_import_is_light_and_torch_free():
    code = "import sys, flops_fit.fitting; assert 'torch' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# ---- bad inputs: one clear FitError (a ValueError) or a recorded exclusion, never a traceback


def test_missing_column(study):
    runs, _ = study
    with pytest.raises(FitError, match="lacks column.*'loss'"):
        fit_runs(runs.drop(columns="loss"), None, FAST)
    with pytest.raises(FitError, match="params_non_embedding"):
        fit_runs(runs.drop(columns="params_non_embedding"), None, FitOptions(params="non_embedding"))
    with pytest.raises(FitError, match="'flops'"):
        fit_runs(runs.drop(columns="flops"), None, FitOptions(flops="counted"))
    assert issubclass(FitError, ValueError)


def test_nan_loss_is_an_exclusion(study):
    runs, _ = study
    runs = runs.copy()
    runs.loc[3, "loss"] = np.nan
    res = fit_runs(runs, None, FAST)
    assert res["n_used"] == len(runs) - 1
    assert res["excluded_runs"] == [{"run_id": runs.loc[3, "run_id"], "reason": "non-finite loss (nan)"}]


@pytest.mark.parametrize("col,value", [("params", 0.0), ("tokens", -5.0), ("loss", 0.0)])
def test_zero_or_negative_values(study, col, value):
    runs, _ = study
    runs = runs.copy()
    runs.loc[2, col] = value
    with pytest.raises(FitError, match=f"column '{col}' must be > 0.*{re.escape(runs.loc[2, 'run_id'])}"):
        fit_runs(runs, None, FAST)


def test_non_numeric_value(study):
    runs, _ = study
    runs = runs.astype({"tokens": object})
    runs.loc[1, "tokens"] = "lots"
    with pytest.raises(FitError, match="'tokens' must be numeric.*'lots'"):
        fit_runs(runs, None, FAST)


def test_one_budget(study):
    runs, _ = study
    one = runs[runs["budget"] == runs["budget"].max()]
    with pytest.raises(FitError, match="one compute budget"):
        fit_runs(one, None, FAST)


def test_duplicate_rows(study):
    runs, _ = study
    dup = pd.concat([runs, runs.iloc[[0, 5]]], ignore_index=True)
    res = fit_runs(dup, None, FAST)
    assert res["n_used"] == len(runs)
    assert sum("duplicate" in e["reason"] for e in res["excluded_runs"]) == 2
    clash = dup.copy()
    clash.loc[len(runs), "loss"] += 0.1
    with pytest.raises(FitError, match="appears twice"):
        fit_runs(clash, None, FAST)


def test_status_not_ok_is_excluded(study):
    runs, _ = study
    runs = runs.copy()
    runs.loc[4, "status"] = "diverged"
    res = fit_runs(runs, None, FAST)
    assert {"run_id": runs.loc[4, "run_id"], "reason": "status is 'diverged', not 'ok'"} in res["excluded_runs"]


def test_bad_options_and_files(tmp_path, study):
    runs, _ = study
    with pytest.raises(FitError, match="params='all'"):
        fit_runs(runs, None, FitOptions(params="all"))
    with pytest.raises(FitError, match="approaches"):
        fit_runs(runs, None, FitOptions(approaches=(4,)))
    with pytest.raises(FitError, match="does not exist"):
        load_runs(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(FitError, match="not a readable CSV"):
        load_runs(tmp_path / "empty.csv")


# ---- budgets, conventions


def test_budgets_inferred_without_budget_column(study):
    runs, _ = study
    res = fit_runs(runs.drop(columns="budget"), None, FAST)
    assert len(res["budgets"]) == 5
    np.testing.assert_allclose(res["budgets"], np.geomspace(1e18, 1e21, 5), rtol=1e-6)


def test_budgets_inferred_within_five_percent(study):
    runs, _ = study
    jitter = np.random.default_rng(0).uniform(0.98, 1.02, len(runs))  # C within +-2% of the plan
    res = fit_runs(runs.drop(columns="budget").assign(tokens=runs["tokens"] * jitter), None, FAST)
    assert len(res["budgets"]) == 5
    assert res["approaches"]["approach2"]["budgets"][0]["n_runs"] == 7


def test_non_embedding_convention(study):
    runs, _ = study
    res = fit_runs(runs, None, FitOptions(params="non_embedding", approaches=(2,), bootstrap=0, backtest_holdout=0))
    assert res["convention"]["params"] == "non_embedding"
    assert res["convention"]["params_column"] == "params_non_embedding"
    assert res["approaches"]["approach2"]["convention"]["params"] == "non_embedding"
    # 6ND with 0.9 N: every C is 0.9x the total-parameter one
    np.testing.assert_allclose(res["budgets"], 0.9 * np.geomspace(1e18, 1e21, 5), rtol=1e-6)


# ---- outputs


def test_fit_json_and_predictions(tmp_path, full_fit):
    res = full_fit
    json.dumps(res, allow_nan=False)  # JSON-serialisable as returned
    assert {"approach1", "approach2", "approach3"} == set(res["approaches"])
    for block in res["approaches"].values():
        assert block["status"] == "ok"
        for key in ("params", "intervals", "a", "b", "a_interval", "b_interval", "excluded_budgets", "convention"):
            assert key in block
        for name, (lo, hi) in block["intervals"].items():
            assert lo <= hi, name
    write_fit(res, tmp_path / "fit")
    assert sorted(p.name for p in (tmp_path / "fit").iterdir()) == ["fit.json", "predictions.csv"]
    back = read_fit(tmp_path / "fit")
    assert back["approaches"]["approach3"]["params"] == res["approaches"]["approach3"]["params"]
    table = pd.read_csv(tmp_path / "fit" / "predictions.csv")
    assert len(table) == 3 * (5 + 2)  # studied budgets + 10x and 100x the largest, per approach
    for col in (
        "budget",
        "approach",
        "N_opt",
        "N_opt_lo",
        "N_opt_hi",
        "D_opt",
        "L_opt_hi",
        "tokens_per_param",
        "tokens_per_param_lo",
        "in_sample",
        "params_convention",
        "flops_convention",
    ):
        assert col in table.columns
    assert table.loc[table["budget"] > 2e21, "in_sample"].eq(False).all()
    assert table.loc[table["budget"] < 2e21, "in_sample"].all()
    ok = table.dropna(subset=["N_opt_lo"])
    assert (ok["N_opt_lo"] <= ok["N_opt_hi"]).all()
    # predict() from the re-read file gives the written table
    again = predict(back, back["predict_budgets"])
    np.testing.assert_allclose(again["N_opt_hi"].to_numpy(), table["N_opt_hi"].to_numpy(), rtol=1e-8)


def test_same_seed_same_numbers(study, full_fit):
    runs, curves = study
    again = fit_runs(runs, curves, FitOptions(bootstrap=30, seed=7))
    assert json.dumps(again, sort_keys=True) == json.dumps(full_fit, sort_keys=True)
    other = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=30, seed=8, backtest_holdout=0))
    same = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=30, seed=7, backtest_holdout=0))
    a2 = full_fit["approaches"]["approach2"]
    assert same["approaches"]["approach2"]["intervals"] == a2["intervals"]  # per-approach streams
    assert other["approaches"]["approach2"]["intervals"] != a2["intervals"]


def test_backtest_reports_errors(full_fit):
    bt = full_fit["backtest"]
    assert bt["status"] == "ok" and bt["holdout"] == 1
    assert bt["held_out_budgets"] == pytest.approx([1e21], rel=1e-6)
    for key in ("approach2", "approach3"):
        row = bt["approaches"][key]["held_out"][0]
        assert abs(row["L_error_pct"]) < 5
        assert 0.5 < row["N_ratio"] < 2
        assert row["observed_from"] == "parabola vertex"


def test_backtest_holdout_too_large(study):
    runs, _ = study
    res = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=4))
    assert res["backtest"]["status"] == "skipped"


def test_predict_custom_budgets(full_fit):
    table = predict(full_fit, [1e19, 1e23])
    assert list(table["budget"].unique()) == [1e19, 1e23]
    assert set(table["approach"]) == {1, 2, 3}
    a3 = table[(table["approach"] == 3) & (table["budget"] == 1e23)].iloc[0]
    assert a3["N_opt_lo"] <= a3["N_opt"] <= a3["N_opt_hi"]
    assert a3["D_opt"] * a3["N_opt"] * 6 == pytest.approx(1e23, rel=1e-9)


def test_default_bootstrap_runs_1000_resamples(study):
    """The default (1,000 resamples), on Approach 2 only to stay cheap."""
    runs, _ = study
    res = fit_runs(runs, None, FitOptions(approaches=(2,), backtest_holdout=0))
    boot = res["approaches"]["approach2"]["bootstrap"]
    assert boot["resamples"] == 1000 and len(boot["samples"]["a"]) == 1000
    assert boot["ok"] > 950
    lo, hi = res["approaches"]["approach2"]["a_interval"]
    assert lo < res["approaches"]["approach2"]["a"] < hi
