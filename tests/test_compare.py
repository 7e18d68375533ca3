"""Compute multipliers between studies (flops_fit.fitting.compare, `flops-fit compare`).

Synthetic pairs from a known L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022): a variant
whose N and D count s_N, s_D times as much (A' = A s_N^-alpha, B' = B s_D^-beta) reaches at C the
baseline's L* at s_N s_D C, so its compute-optimal loss is E + k_var C^-gamma with the baseline's
gamma = alpha beta / (alpha + beta) and k_var = k_base (s_N s_D)^-gamma: a prefactor ratio
r = k_base / k_var and the multiplier r^(1/gamma) at every budget.  A variant with another alpha
has another gamma: its multiplier is the curve C'(C)/C solved from the true laws.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy.optimize import brentq

from flops_fit.cli import main
from flops_fit.fitting import FitOptions, approach3, fit_runs, write_fit
from flops_fit.fitting.compare import CompareError, Study, baseline_budget, compare, load_study
from flops_fit.fitting.synthetic import CHINCHILLA, isoflop_study, law

BUDGETS = np.geomspace(1e17, 1e20, 5)
ASKED = [1e18, 1e19, 1e20]  # inside the studied budgets and at their top
DRAWS = 40
FAST = FitOptions(approaches=(2,), bootstrap=200, backtest_holdout=0, intervals="bootstrap")
GAMMA = CHINCHILLA["alpha"] * CHINCHILLA["beta"] / (CHINCHILLA["alpha"] + CHINCHILLA["beta"])


def scaled(params: dict, m: float) -> dict:
    """The law whose N and D each count sqrt(m) times as much: multiplier m at every budget."""
    s = math.sqrt(m)
    return dict(params, A=params["A"] * s ** -params["alpha"], B=params["B"] * s ** -params["beta"])


def true_multiplier(base: dict, var: dict, c: float) -> float:
    pb, pv = law(**base), law(**var)
    target = approach3.optimal(pv, [c])[2][0]
    x = brentq(lambda lc: approach3.optimal(pb, [10**lc])[2][0] - target, math.log10(c) - 8, math.log10(c) + 8)
    return 10**x / c


def study(params: dict, seed: int, options=FAST, unit="tokens", name="s") -> Study:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a replicate's parabola opening downward
        fit = fit_runs(isoflop_study(params, BUDGETS, span=0.5, seed=seed)[0], None, options)
    return Study(name, fit, unit, name)


def coverage(variant: dict, truth: list[float]) -> tuple[np.ndarray, list[str]]:
    hits, verdicts = [], []
    for s in range(DRAWS):
        res = compare(study(CHINCHILLA, 2 * s), study(variant, 2 * s + 1), ASKED)["approaches"]["approach2"]
        hits.append([r["multiplier_lo"] <= t <= r["multiplier_hi"] for r, t in zip(res["rows"], truth, strict=True)])
        verdicts.append(res["verdict"])
    return np.array(hits), verdicts


def test_constant_multiplier_recovered_within_its_intervals():
    r = 1.1  # prefactor ratio k_base / k_var of the loss laws, same exponent
    m = r ** (1 / GAMMA)
    variant = scaled(CHINCHILLA, m)
    truth = [true_multiplier(CHINCHILLA, variant, c) for c in ASKED]
    assert np.allclose(truth, m, rtol=1e-6)  # r^(1/gamma) at every budget
    hits, verdicts = coverage(variant, truth)
    rate = hits.mean(axis=0)
    print(f"constant multiplier {m:.3f}: coverage per budget {rate}, all budgets {hits.all(axis=1).mean():.2f}, "
          f"'constant' in {verdicts.count('constant')}/{DRAWS}")
    # >= 85% of (draw, budget) pairs; no budget far below (40 draws: a rate's sd is ~0.05)
    assert hits.mean() >= 0.85 and np.all(rate >= 0.8)
    assert verdicts.count("constant") >= 0.85 * DRAWS


def test_changing_multiplier_recovered_within_its_intervals():
    variant = dict(CHINCHILLA, alpha=0.37)  # another alpha: another gamma, M grows with C
    truth = [true_multiplier(CHINCHILLA, variant, c) for c in ASKED]
    assert truth[0] < truth[1] < truth[2]
    hits, _ = coverage(variant, truth)
    rate = hits.mean(axis=0)
    print(f"changing multiplier {np.round(truth, 3)}: coverage per budget {rate}, all {hits.all(axis=1).mean():.2f}")
    assert hits.mean() >= 0.85 and np.all(rate >= 0.8)


def test_strongly_different_exponents_said_to_change_with_scale():
    res = compare(study(CHINCHILLA, 0), study(dict(CHINCHILLA, alpha=0.45, A=CHINCHILLA["A"] * 3), 1),
                  [1e17, 1e20])["approaches"]["approach2"]
    assert res["verdict"] == "changes"
    assert res["slope"]["lo"] > 0 and "changes with scale" in res["sentence"]


def test_identical_studies_give_one_inside_the_interval():
    one = study(CHINCHILLA, 3)
    res = compare(one, Study("same", one.fit, "tokens", "same"), [1e17, 1e19, 1e21])["approaches"]["approach2"]
    for row in res["rows"]:
        assert row["multiplier"] == pytest.approx(1.0, abs=1e-9)
        assert row["multiplier_lo"] < 1.0 < row["multiplier_hi"]  # paired independently: a real interval
        assert row["dL_lo"] < 0 < row["dL_hi"]
        assert row["N_base"] == row["N_var"]
    assert res["verdict"] == "constant"


def test_approach3_inverted_numerically_matches_the_closed_form():
    p = law(**CHINCHILLA)
    target = approach3.optimal(p, [3e19])[2][None, :]
    c_prime = baseline_budget(3, p, {}, target, (1e17, 1e21))
    assert c_prime[0, 0] == pytest.approx(3e19, rel=1e-3)
    unreachable = baseline_budget(3, p, {}, np.array([[p["E"] * 0.99]]), (1e17, 1e21))
    assert np.isposinf(unreachable[0, 0])


def _write_study(folder, params, seed, unit, options=FAST):
    runs, _ = isoflop_study(params, BUDGETS, span=0.5, seed=seed)
    runs["unit"] = unit
    folder.mkdir(parents=True)
    runs.to_csv(folder / "runs.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        write_fit(fit_runs(runs, None, options), folder / "fit")
    return folder


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    _write_study(root / "base", CHINCHILLA, 0, "tokens")
    _write_study(root / "better", scaled(CHINCHILLA, 2.0), 1, "tokens")
    _write_study(root / "vit", CHINCHILLA, 2, "images")
    _write_study(root / "counted", CHINCHILLA, 3, "tokens", FitOptions(approaches=(2,), bootstrap=50, flops="counted",
                                                                        backtest_holdout=0, intervals="bootstrap"))
    return root


def test_different_units_refused(results):
    base, vit = load_study(results / "base"), load_study(results / "vit" / "fit" / "fit.json")
    assert (base.name, base.unit, vit.name, vit.unit) == ("base", "tokens", "vit", "images")
    with pytest.raises(CompareError, match="data unit 'tokens'.*data unit 'images'"):
        compare(base, vit, [1e18])


def test_different_conventions_refused(results):
    with pytest.raises(CompareError, match="flops='6ND'.*flops='counted'"):
        compare(load_study(results / "base"), load_study(results / "counted"), [1e18])


def test_cli_compare(results, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", str(results / "base"), str(results / "better"), "--budget", "1e18", "--budget", "1e19"]
    assert main([*argv, "--out", str(out), "--formats", "png"]) == 0
    text = capsys.readouterr().out
    assert "multiplier 2" in text and "joint bootstrap" in text and "constant across budgets" in text
    for name in ("compare.json", "comparison.csv", "comparison.md", "comparison.tex", "comparison.html",
                 "multiplier.png"):
        assert (out / name).stat().st_size > 0
    assert "\\begin{table*}" in (out / "comparison.tex").read_text()
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = data["approaches"]["approach2"]["rows"]
    assert [r["budget"] for r in rows] == [1e18, 1e19]
    assert all(r["multiplier_lo"] < 2.0 < r["multiplier_hi"] for r in rows)
    assert data["interval_method"].startswith("joint bootstrap")

    assert main(["compare", str(results / "base"), str(results / "vit"), "--budget", "1e18"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data unit 'tokens'" in err[0] and "data unit 'images'" in err[0]
    assert main(["compare", str(results / "base"), str(tmp_path / "nowhere"), "--budget", "1e18"]) == 2
    assert "no fit.json" in capsys.readouterr().err


def test_workflow_compares_two_mock_studies(tmp_path):
    """The compare rule end to end: two mock studies (the variant `like` the baseline, its law's N
    and D worth sqrt(2) as much: M = 2 under C = 6ND; C is counted FLOPs here, whose per-token
    cost grows with N, so M is near 2, not exactly), fitted, compared, the figure drawn."""
    from conftest import snakemake, tiny_config, tiny_study, write_config

    base = tiny_study("mock")
    base["fit"] = {"bootstrap": 100, "approaches": [2], "backtest_holdout": 0}
    mock = base["training"]["mock"]
    better = {"like": "tiny", "training": {"mock": dict(mock, A=mock["A"] * 2 ** (-mock["alpha"] / 2),
                                                         B=mock["B"] * 2 ** (-mock["beta"] / 2))}}
    config = tiny_config("mock", tiny=base, better=better)
    config["compare"] = [{"baseline": "tiny", "variant": "better", "budgets": [5e9]}]
    write_config(tmp_path, config)
    rel = "results/comparison/tiny-vs-better"
    snakemake(tmp_path, "--cores", "2", f"{rel}/compare.json", f"{rel}/multiplier.png")
    out = tmp_path / rel
    row = json.loads((out / "compare.json").read_text())["approaches"]["approach2"]["rows"][0]
    assert row["budget"] == 5e9 and 1.0 < row["multiplier_lo"] < row["multiplier"] < row["multiplier_hi"]
    assert 1.6 < row["multiplier"] < 2.5, row
    assert (out / "comparison.tex").is_file() and (out / "multiplier.png").stat().st_size > 0


def test_make_compare_configs_are_the_default_study_with_swiglu():
    """config/studies/shakespeare-swiglu.yaml + config/compare.yaml merged over config/config.yaml
    (as `make compare` passes them): both studies active, the same data, grid and training."""
    import yaml
    from conftest import ROOT

    from flops_fit.config import _merged, check_config

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for name in ("studies/shakespeare-swiglu.yaml", "compare.yaml"):
        config = _merged(config, yaml.safe_load((ROOT / "config" / name).read_text()))
    out = check_config(config)
    base, var = out["studies"]["shakespeare"], out["studies"]["shakespeare-swiglu"]
    assert out["active_studies"] == ["shakespeare", "shakespeare-swiglu"]
    assert out["compare"] == [{"baseline": "shakespeare", "variant": "shakespeare-swiglu"}]
    assert (base["model"]["mlp"], var["model"]["mlp"]) == ("gelu", "swiglu")
    assert {k: v for k, v in var.items() if k not in ("model", "description")} == \
        {k: v for k, v in base.items() if k not in ("model", "description")}


@pytest.mark.skipif(__import__("shutil").which("pdflatex") is None, reason="pdflatex not installed")
def test_comparison_table_compiles_in_a_two_column_paper(results, tmp_path):
    import subprocess

    from flops_fit.tables.comparison import comparison_tables

    result = compare(load_study(results / "base"), load_study(results / "better"), [1e18, 1e21])
    (tmp_path / "t.tex").write_text(comparison_tables(result)["tex"])
    (tmp_path / "doc.tex").write_text("\\documentclass[twocolumn]{article}\\usepackage{booktabs}\n"
                                      "\\begin{document}Text.\n\\input{t.tex}\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Overfull \\hbox" not in (tmp_path / "doc.log").read_text(errors="replace")
