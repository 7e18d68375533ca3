"""The loss of any run: ``predict_loss`` / ``flops-fit predict --params N --tokens D`` (issue 22, point 5).

A study drawn from a known L(N, D) (Chinchilla's published coefficients) is fitted; the loss of runs
the study never trained -- on the optimum, over-trained 10x, far beyond the data -- must come back
near the true surface, inside its interval, with the interval widening with distance."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from flops_fit.fitting import FitOptions, fit_runs, predict_loss, write_fit
from flops_fit.fitting.approach3 import loss as true_loss
from flops_fit.fitting.synthetic import isoflop_study, law

TRUE = law(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


@pytest.fixture(scope="module")
def fit():
    runs, _ = isoflop_study(TRUE, np.geomspace(1e18, 1e20, 6), noise=0.003, seed=3)
    return fit_runs(runs, None, FitOptions(approaches=(2, 3), bootstrap=50, backtest_holdout=0))


def test_loss_of_unseen_runs_is_the_surface_within_its_interval(fit):
    n = np.array([1e9, 1e9, 3e10])
    d = np.array([2e10, 1e11, 6e11])  # ~ optimal at 1.2e20, 5x over-trained at 6x, ~1000x the largest budget
    t = predict_loss(fit, n, d)
    truth = true_loss(TRUE, n, d)
    assert np.all(np.abs(t["L"] / truth - 1) < 0.01)
    assert np.all((t["L_lo"] <= truth) & (truth <= t["L_hi"]))
    assert list(t["beyond_data"]) == [False, False, True]
    assert t["extrapolation"].iloc[2] == pytest.approx(6 * 3e10 * 6e11 / 1e20)
    widths = np.log(t["L_hi"] / t["L_lo"])
    assert widths.iloc[2] > widths.iloc[0]


def test_needs_approach_3_and_matching_counts(fit):
    only2 = fit_runs(*isoflop_study(TRUE, np.geomspace(1e18, 1e20, 4), seed=1)[:1], None,
                     FitOptions(approaches=(2,), bootstrap=0, backtest_holdout=0))
    with pytest.raises(ValueError, match="Approach 3"):
        predict_loss(only2, 1e9, 2e10)
    with pytest.raises(ValueError, match="one tokens value, or one per params value"):
        predict_loss(fit, [1e9, 2e9], [1e10, 2e10, 3e10])
    with pytest.raises(ValueError, match="positive and finite"):
        predict_loss(fit, 0, 1e10)


def test_cli(fit, tmp_path):
    write_fit(fit, tmp_path)
    cmd = [sys.executable, "-m", "flops_fit.cli", "predict", "--params", "7e9", "--tokens", "1.4e11", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "N = 7B, D = 140B" in out and "L = " in out
    rows = json.loads(subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=True).stdout)
    value = rows["predictions"][0]
    assert value["L_lo"] < value["L"] < value["L_hi"]
    assert abs(value["L"] / float(true_loss(TRUE, 7e9, 1.4e11)) - 1) < 0.01
    bad = subprocess.run(cmd[:-3] + [str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "needs both --params and --tokens" in bad.stderr
