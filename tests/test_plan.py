"""Planning: budgets become exact step counts, sizes centre on the guessed optimum, run ids
are stable, and the per-run spec is deterministic."""

from __future__ import annotations

import json
import math

import pytest
from conftest import ROOT, tiny_config

from flops_fit.config import ConfigError, check_config, load_config
from flops_fit.plan import plan_study, plan_tsv, run_id


def test_run_ids_are_readable_and_path_safe():
    assert run_id(1e12, 32) == "C1e12-d32"
    assert run_id(2.5e11, 24) == "C2.5e11-d24"
    assert run_id(1.6e12, 8) == "C1.6e12-d8"


def test_steps_match_the_budget_within_one_percent():
    config = load_config(ROOT / "config" / "config.yaml")
    runs = plan_study("shakespeare", config["studies"]["shakespeare"])
    assert len(runs) >= 25
    for run in runs:
        assert run["steps"] == round(run["budget"] / (run["flops_per_unit"] * run["tokens_per_step"]))
        assert abs(run["flops"] / run["budget"] - 1) < 0.01, run["run_id"]
        assert run["tokens"] == run["steps"] * run["batch_size"] * run["model"]["n_ctx"]
        assert run["schedule"]["total_steps"] == run["steps"]


def test_centred_sizes_bracket_the_guessed_optimum():
    config = load_config(ROOT / "config" / "config.yaml")
    study = config["studies"]["shakespeare"]
    centred = study["grid"]["centred"]
    runs = plan_study("shakespeare", study)
    for budget in study["grid"]["budgets"]:
        sizes = [r["params_total"] for r in runs if r["budget"] == budget]
        assert len(sizes) == centred["points"]
        guess = centred["n_opt"] * (budget / centred["budget"]) ** centred["exponent"]
        assert min(sizes) < guess < max(sizes)
        # log-centred: the geometric mean of the extremes is within a factor 1.6 of the guess
        assert abs(math.log(math.sqrt(min(sizes) * max(sizes)) / guess)) < math.log(1.6)


def test_plan_is_deterministic_and_specs_serialise_stably():
    config = check_config(tiny_config())
    a = plan_study("tiny", config["studies"]["tiny"])
    b = plan_study("tiny", check_config(tiny_config())["studies"]["tiny"])
    assert [json.dumps(r, sort_keys=True) for r in a] == [json.dumps(r, sort_keys=True) for r in b]
    assert len(a) == 9 and len({r["run_id"] for r in a}) == 9


def test_a_hyperparameter_changes_only_the_specs_it_applies_to():
    base = check_config(tiny_config())
    changed = tiny_config()
    changed["studies"]["tiny"]["training"]["lr"] = 0.001
    changed = check_config(changed)
    a = {r["run_id"]: r for r in plan_study("tiny", base["studies"]["tiny"])}
    b = {r["run_id"]: r for r in plan_study("tiny", changed["studies"]["tiny"])}
    assert a.keys() == b.keys()
    assert all(a[k]["optimizer"]["lr"] != b[k]["optimizer"]["lr"] for k in a)


def test_too_few_steps_is_a_config_error():
    config = tiny_config()
    config["studies"]["tiny"]["grid"]["budgets"] = [1e6]
    with pytest.raises(ConfigError, match=r"grid.min_steps=20"):
        plan_study("tiny", check_config(config)["studies"]["tiny"])


def test_plan_tsv_has_one_row_per_run():
    config = check_config(tiny_config())
    runs = plan_study("tiny", config["studies"]["tiny"])
    lines = plan_tsv(runs).splitlines()
    assert lines[0].split("\t")[:3] == ["run_id", "budget", "size"]
    assert len(lines) == 1 + len(runs)
