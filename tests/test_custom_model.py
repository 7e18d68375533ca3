"""Your own model: named by import path, checked up front (at plan time, so at Snakefile parse
time), each broken contract one clear error naming the culprit."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from flops_fit.config import ConfigError, check_config
from flops_fit.plan import plan_study

HERE = Path(__file__).parent


@pytest.fixture
def mylab(tmp_path, monkeypatch):
    """The test's model module, importable as ``mylab`` (as a user's package on PYTHONPATH)."""
    folder = tmp_path / "pkgs"
    folder.mkdir()
    shutil.copy(HERE / "custom_module.py", folder / "mylab.py")
    monkeypatch.syspath_prepend(str(folder))
    return folder


def custom_study(**model) -> dict:
    return {
        "data": {"source": "custom", "name": "points", "custom": {"loader": "mylab:load", "kwargs": {"n": 512}}},
        "model": {"family": "custom", "class": "mylab:MLP", "size_arg": "width", "kwargs": {"depth": 2}, **model},
        "accounting": {"flops": "6N", "params": "total"},
        "grid": {"budgets": [2e7, 4e7], "sizes": [8, 16, 32], "min_steps": 10},
        "training": {"batch_size": 16, "eval_batches": 2},
    }


def plan(study: dict) -> list[dict]:
    config = check_config({"active_studies": ["mine"], "studies": {"mine": copy.deepcopy(study)}})
    return plan_study("mine", config["studies"]["mine"])


def test_custom_model_plans_with_its_own_counts(mylab):
    import mylab as lab

    runs = plan(custom_study())
    assert len(runs) == 6
    for run in runs:
        n = lab.MLP(run["size"], depth=2).num_params()
        assert run["params_total"] == n and run["flops_per_unit"] == 6.0 * n
        assert run["unit"] == "samples" and run["units_per_sample"] == 1 and run["flop_convention"] == "6N"
        assert run["model"] == {
            "family": "custom",
            "class": "mylab:MLP",
            "size_arg": "width",
            "kwargs": {"depth": 2},
            "loss": None,
        }
        assert run["data"]["custom"]["loader"] == "mylab:load"
        assert abs(run["flops"] / run["budget"] - 1) < 0.05


@pytest.mark.parametrize(
    ("change", "culprit"),
    [
        ({"model": {"class": "mylab:NoCount"}}, r"model.class: mylab:NoCount\(width=8\) has no num_params\(\)"),
        ({"model": {"size_arg": "hidden"}}, r"model.size_arg: mylab:MLP does not accept an argument 'hidden'"),
        ({"model": {"kwargs": {"layers": 3}}}, r"model.kwargs: mylab:MLP does not accept an argument 'layers'"),
        (
            {"data": {"loader": "mylab:load_wrong"}},
            r"mylab:MLP\(width=8\) failed on a batch from "
            r"data.custom.loader mylab:load_wrong, inputs tensor\(2, 5\)",
        ),
        ({"model": {"class": "nolab:MLP"}}, r"model.class: cannot import module 'nolab'"),
        ({"model": {"class": "mylab:Missing"}}, r"module 'mylab' has no 'Missing'"),
        ({"model": {"loss": "mylab:load"}}, r"model.loss: the loss"),
        ({"model": {"class": "mylab:load"}}, r"model.class: mylab:load is not a torch.nn.Module subclass$"),
        ({"model": {"loss": "mylab:torch"}}, r"model.loss: mylab:torch is not callable$"),
    ],
)
def test_broken_contracts_are_one_clear_error(mylab, change, culprit):
    study = custom_study()
    study["model"].update(change.get("model", {}))
    study["data"]["custom"].update(change.get("data", {}))
    with pytest.raises(ConfigError, match=culprit):
        plan(study)


def test_custom_loss_and_task_train(mylab):
    import torch

    from flops_fit.tasks import build

    run = plan(custom_study(loss="mylab:smooth_loss"))[0]
    torch.manual_seed(0)
    task = build(run, None)
    opt = torch.optim.AdamW(task.model.parameters(), lr=1e-2)
    first = task.evaluate(task.model, "cpu", 16)
    for _ in range(60):
        loss, _ = task.forward(task.model, task.next_batch())
        opt.zero_grad()
        loss.backward()
        opt.step()
    last = task.evaluate(task.model, "cpu", 16)
    assert last["val_loss"] < first["val_loss"] and last["val_accuracy"] > 0.5
    assert task.data_record(60 * 16)["epochs"] == 60 * 16 / 512


def test_snakemake_stops_before_any_job(mylab, workdir):
    """A broken model is reported when Snakemake parses the workflow: one line, nothing runs."""
    import os

    from conftest import snakemake, write_config

    study = custom_study()
    study["model"]["class"] = "mylab:NoCount"
    write_config(workdir, {"active_studies": ["mine"], "studies": {"mine": study}})
    os.environ["PYTHONPATH"] = f"{mylab}:{os.environ.get('PYTHONPATH', '')}"
    try:
        proc = snakemake(workdir, "-n", "--cores", "1", check=False)
    finally:
        os.environ["PYTHONPATH"] = os.environ["PYTHONPATH"].split(":", 1)[1]
    assert proc.returncode != 0
    assert "has no num_params()" in proc.stderr and "Traceback" not in proc.stderr
    assert not (workdir / "results").exists()
    assert ROOT.exists()
