"""The learning-rate stage: best rate per size, the rule eta*(N), planning from it, and (mock
backend, a known best rate) the whole sweep recovering its answer; plus the design warnings."""

from __future__ import annotations

import copy
import json
import math

import pytest
from conftest import tiny_config

from flops_fit.config import check_config
from flops_fit.design import design_warnings
from flops_fit.hparams import swept_lr
from flops_fit.lr_sweep import SweepError, best_lr, check_size, fit_rule, plan_sweep, sweep_settings, write_rule
from flops_fit.mock import train_mock
from flops_fit.plan import plan_study, plan_tsv

LRS = [1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2]


def rows_for(size, params, best, curvature=0.05, holdout=False, lrs=LRS):
    return [
        {"size": size, "params": params, "lr": lr, "loss": 2.0 + curvature * math.log(lr / best) ** 2,
         "holdout": holdout, "status": "ok", "run_id": f"d{size}-lr{lr}"}
        for lr in lrs
    ]  # fmt: skip


def test_best_rate_is_the_parabola_vertex():
    best = best_lr(rows_for(8, 1000, 0.0055))
    assert best["lr"] == pytest.approx(0.0055, rel=1e-9) and not best["at_edge"]
    assert best["loss"] == pytest.approx(2.0)


def test_unbracketed_best_rate_is_flagged_warned_and_left_out():
    rows = rows_for(8, 1000, 0.05) + rows_for(12, 2000, 0.005) + rows_for(16, 4000, 0.004)
    edge = best_lr(rows[:5])
    assert edge["at_edge"] and edge["edge"] == "high" and edge["lr"] == 1.6e-2 and edge["loss"] == rows[4]["loss"]
    low = best_lr(rows_for(8, 1000, 1e-4))
    assert low["at_edge"] and low["edge"] == "low"
    rule = fit_rule(rows)
    (warning,) = rule["warnings"]
    assert "size 8" in warning and "add rates above 0.016 in lr_sweep.lrs" in warning
    # the rule goes through the two bracketed sizes only (exactly: their bests are 0.005 and 0.004)
    assert swept_lr(rule, 2000) == pytest.approx(0.005) and swept_lr(rule, 4000) == pytest.approx(0.004)


def test_no_curvature_is_not_bracketed():
    """Rates x sqrt(2) apart: the parabola goes through the 5 rates within x2 of the best. When the
    noise outweighs the curvature (a W shape) it opens downwards: no best rate to read."""
    lrs = [0.004 * 2 ** (k / 2) for k in range(-3, 4)]
    rows = rows_for(8, 1000, 0.004, lrs=lrs)
    best = best_lr(rows)
    assert not best["at_edge"] and best["lr"] == pytest.approx(0.004) and len(best["window"]) == 5
    for r, loss in zip(rows, [2.3, 1.995, 2.05, 1.99, 2.05, 1.995, 2.3], strict=True):
        r["loss"] = loss
    flat = best_lr(rows)
    assert flat["at_edge"] and flat["edge"] == "flat" and flat["lr"] == pytest.approx(0.004)


def test_seeds_are_averaged_per_rate():
    """Two seeds whose noise points different ways: each alone picks a wrong best, the mean the right one."""
    truth = rows_for(8, 1000, 0.004)
    a = [dict(r, seed=0, loss=r["loss"] + (0.03 if r["lr"] == 4e-3 else 0.0)) for r in truth]
    b = [dict(r, seed=1, loss=r["loss"] - (0.03 if r["lr"] == 4e-3 else 0.0)) for r in truth]
    assert best_lr(a)["lr"] != pytest.approx(0.004, rel=0.05)
    mean = best_lr(a + b)
    assert mean["lr"] == pytest.approx(0.004, rel=1e-6) and mean["loss"] == pytest.approx(2.0)
    diverged = [dict(r, loss=math.nan) if r["lr"] == 1.6e-2 and r["seed"] == 1 else r for r in a + b]
    assert best_lr(diverged)["lr"] == pytest.approx(0.004, rel=1e-6)  # a diverged rate bounds from above


def test_rule_refuses_without_two_bracketed_sizes():
    rows = rows_for(8, 1000, 0.05) + rows_for(16, 4000, 0.004)
    with pytest.raises(SweepError, match="whose best rate the sweep brackets, got 1: size 8: .*add rates above"):
        fit_rule(rows)


def test_rule_recovers_a_power_law_and_checks_a_held_out_size():
    def true_lr(n):
        return 0.006 * (n / 1e4) ** -0.4

    rows = [r for size, n in ((8, 3000), (12, 7000), (16, 12000)) for r in rows_for(size, n, true_lr(n))]
    rows += rows_for(24, 30000, true_lr(30000), holdout=True)
    rule = fit_rule(rows)
    assert rule["exponent"] == pytest.approx(-0.4, abs=1e-9)
    assert swept_lr(rule, 5e4) == pytest.approx(true_lr(5e4), rel=2e-3)  # 3 significant figures
    (check,) = rule["check"]
    assert check["size"] == 24 and check["within_sqrt2"] and check["ratio"] == pytest.approx(1.0, rel=2e-3)
    assert 0 <= check["loss_penalty_pct"] < 1e-3 and check["passed"]
    assert len(rule["leave_one_out"]) == 3 and all(c["passed"] for c in rule["leave_one_out"])
    # a rule off by x2 at the held-out size: outside x sqrt(2), and the penalty read off its parabola
    rule2 = {**rule, "lr_ref": rule["lr_ref"] * 2}
    off = check_size(rule2, best_lr(rows_for(24, 30000, true_lr(30000), holdout=True)) | {"size": 24, "params": 30000})
    assert not off["within_sqrt2"] and not off["passed"]
    assert off["loss_penalty_pct"] == pytest.approx(100 * 0.05 * math.log(2) ** 2 / 2.0, rel=0.02)


def test_rule_needs_two_sizes():
    with pytest.raises(SweepError, match="at least 2 sizes outside holdout_sizes"):
        fit_rule(rows_for(8, 1000, 0.004) + rows_for(16, 4000, 0.003, holdout=True))


def sweep_study(**sweep) -> dict:
    config = tiny_config("mock")
    study = config["studies"]["tiny"]
    study["training"]["lr_scaling"] = "sweep"
    study["training"]["mock"].update(lr_penalty=0.02, lr_optimum=0.004, lr_exponent=0.5)
    study["lr_sweep"] = sweep
    return check_config(config)["studies"]["tiny"]


def test_sweep_plan_defaults_and_ids():
    study = sweep_study()
    settings = sweep_settings(study)
    assert settings["lrs"] == [0.00106, 0.0015, 0.00212, 0.003, 0.00424, 0.006, 0.00849]  # x sqrt(2)
    assert settings["sizes"] == [4, 8, 12] and settings["budget"] == 2.5e9 and settings["seeds"] == 1
    runs = plan_sweep("tiny", study)
    assert len(runs) == 21 and len({r["run_id"] for r in runs}) == 21
    assert runs[0]["run_id"] == "C2.5e9-d4-lr0.00106" and runs[0]["optimizer"]["lr"] == 0.00106
    two = plan_sweep("tiny", sweep_study(seeds=2))
    assert len(two) == 42 and [r["run_id"] for r in two[:21]] == [r["run_id"] for r in runs]  # ids kept
    assert two[21]["run_id"] == "C2.5e9-d4-lr0.00106-s1" and two[21]["seed"] == 1 and runs[0]["seed"] == 0


def test_grid_is_planned_from_the_rule():
    study = sweep_study()
    pending = plan_study("tiny", study)
    assert {r["optimizer"]["lr"] for r in pending} == {None} and "\tpending\n" in plan_tsv(pending)
    rule = {"lr_ref": 0.004, "n_ref": 2000.0, "exponent": -0.5}
    runs = plan_study("tiny", study, rule)
    for r in runs:
        assert r["optimizer"]["lr"] == float(f"{0.004 * (r['params_total'] / 2000) ** -0.5:.3g}")
    assert len({r["optimizer"]["lr"] for r in runs}) == 3  # one rate per size


def test_mock_sweep_recovers_the_known_best_rate(tmp_path):
    """A mock law whose best rate is lr_optimum (N / 1e5)^-0.5: the sweep's rule finds the
    exponent and, on a held-out size, a rate within x sqrt(2) at a negligible loss penalty."""
    study = sweep_study(lrs=[0.01 * 2.0**k for k in range(-1, 5)], sizes=[4, 8, 12], holdout_sizes=[16])
    study["training"]["mock"]["noise"] = 0.0
    paths = []
    for spec in plan_sweep("tiny", study):
        paths.append(str(tmp_path / f"{spec['run_id']}.json"))
        train_mock(spec, paths[-1])
    rule = write_rule(paths, "total", str(tmp_path / "rule.json"), str(tmp_path / "sweep.csv"))
    assert rule["exponent"] == pytest.approx(-0.5, abs=0.02) and not rule["warnings"]
    (check,) = rule["check"]
    assert check["within_sqrt2"] and check["loss_penalty_pct"] < 0.5
    assert json.loads((tmp_path / "rule.json").read_text())["exponent"] == pytest.approx(rule["exponent"])
    assert (tmp_path / "sweep.csv").read_text().count("\n") == 1 + 24


def test_design_warnings_name_the_problems():
    study = check_config(tiny_config("torch"))["studies"]["tiny"]
    study = copy.deepcopy(study)
    study["model"]["aspect_ratio"] = 8  # widths 4, 8, 12 -> 1, 1, 2 layers
    lines = design_warnings("tiny", study, plan_study("tiny", study))
    assert any("depth jumps inside budget" in w and "model.n_layer" in w for w in lines)
    assert any("fewer than 300 optimiser steps" in w for w in lines)
    assert any("embeddings are up to" in w for w in lines)
    study["model"]["n_layer"] = 1
    assert not any("depth jumps" in w for w in design_warnings("tiny", study, plan_study("tiny", study)))


def test_design_warns_about_minima_at_the_edge():
    study = check_config(tiny_config("mock"))["studies"]["tiny"]
    lines = design_warnings("tiny", study, plan_study("tiny", study))
    assert any("best size has fewer than 2 sizes" in w for w in lines)


@pytest.mark.slow
def test_grid_reruns_only_when_the_rule_moves_its_rates(tmp_path):
    """Snakemake: the grid waits for the rule (a checkpoint); refitting the same rule retrains
    nothing; a rule that moves some rates retrains exactly those runs."""
    from conftest import snakemake, write_config

    config = tiny_config("mock")
    study = config["studies"]["tiny"]
    study["grid"]["budgets"] = [2.5e9, 5e9]
    study["training"]["lr_scaling"] = "sweep"
    study["training"]["mock"].update(lr_penalty=0.02, lr_optimum=0.004, lr_exponent=0.5)
    study["lr_sweep"] = {"lrs": [0.01, 0.02, 0.04, 0.08], "sizes": [4, 8]}
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2", "--until", "aggregate")
    results = tmp_path / "results" / "tiny"
    rule = json.loads((results / "lr" / "rule.json").read_text())

    def grid():
        return {p.stem: (p.stat().st_mtime_ns, json.loads(p.read_text())["spec"]["optimizer"]["lr"])
                for p in (results / "runs").glob("*.json")}  # fmt: skip

    before = grid()
    assert len(before) == 6
    for run_id, (_, lr) in before.items():
        spec = json.loads((results / "runs" / f"{run_id}.json").read_text())["spec"]
        assert lr == swept_lr(rule, spec["params_total"])

    (results / "lr" / "rule.json").unlink()  # refit: the same rule, so the grid stays
    snakemake(tmp_path, "--cores", "2", "--until", "aggregate")
    assert grid() == before

    study["lr_sweep"]["sizes"] = [4, 12]  # another fit: some rates move
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2", "--until", "aggregate")
    after = grid()
    moved = {r for r in before if before[r][1] != after[r][1]}
    retrained = {r for r in before if before[r][0] != after[r][0]}
    assert moved and retrained == moved

    snakemake(tmp_path, "--cores", "2")  # the whole study: the rule is recorded beside the law
    recorded = json.loads((results / "fit" / "fit.json").read_text())["learning_rate_rule"]
    assert recorded == json.loads((results / "lr" / "rule.json").read_text())
    assert "learning-rate rule (lr sweep): lr(N) = " in (results / "logs" / "fit.log").read_text()


@pytest.mark.parametrize("name", ["shakespeare", "tinystories-gpt", "cifar10-vit"])
def test_built_in_studies_follow_the_design_rules(name):
    """Fixed depth, a swept learning rate, >= 300 steps, N without a dominant embedding: no warning."""
    import yaml
    from conftest import ROOT

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    if name != "shakespeare":
        extra = yaml.safe_load((ROOT / "config" / "studies" / f"{name}.yaml").read_text())
        config["active_studies"] = extra["active_studies"]
        config["studies"].update(extra["studies"])
    study = check_config(config)["studies"][name]
    runs = plan_study(name, study)
    assert study["training"]["lr_scaling"] == "sweep" and len(plan_sweep(name, study)) >= 9
    assert len({r["model"]["n_layer"] for r in runs}) == 1 and min(r["steps"] for r in runs) >= 300
    assert design_warnings(name, study, runs) == []


def test_sweep_is_the_default_for_built_in_families():
    """training.lr_scaling not given: sweep for gpt/vit trained by torch (not in adaptive grids)."""
    def resolved(backend="torch", family=None, mode=None, lr_scaling=None):
        config = tiny_config(backend)
        study = config["studies"]["tiny"]
        del study["training"]["lr_scaling"]
        if family:
            study["model"]["family"] = family
        if mode:
            study["grid"] = {**study["grid"], "mode": mode}
            study["training"].update(schedule="wsd")
        if lr_scaling:
            study["training"]["lr_scaling"] = lr_scaling
        return check_config(config)["studies"]["tiny"]["training"]["lr_scaling"]

    assert resolved() == "sweep" and resolved(family="vit") == "sweep"
    assert resolved(backend="mock") == "constant" and resolved(family="custom") == "constant"
    assert resolved(mode="branches") == "sweep"  # trunks wait for the rule
    assert resolved(lr_scaling="inverse_width") == "inverse_width"  # by hand or muP-style
