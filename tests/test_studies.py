"""The example studies end to end through Snakemake at toy scale, on offline stand-ins of their
real data: GPT on TinyStories (HF datasets + a BPE trained here), ViT on CIFAR-10 (torchvision's
on-disk format), and a model class defined by the test itself (a user's own model and loader).
No test touches the network (conftest.snakemake runs with the HF libraries offline)."""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ROOT, snakemake, write_config
from fake_data import write_cifar10, write_tinystories

from flops_fit.runs import effective_data, repetition_warnings, with_effective_data

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
TOY_TRAINING = {
    "device": "cpu",
    "dtype": "float32",
    "compile": False,
    "threads": 1,
    "batch_size": 8,
    "lr_scaling": "constant",  # the studies' learning-rate sweep is tested in test_lr_sweep.py
    "eval_points": 6,
    "eval_batches": 2,
    "checkpoint_minutes": 5,
}
# toy losses fall monotonically with size (no IsoFLOP minimum yet), so only Approach 3 is fitted
TOY_FIT = {"bootstrap": 10, "predict_budgets": [1e12], "backtest_holdout": 0, "approaches": [3]}


def study_file(name: str) -> dict:
    """The study's config file, as `snakemake --configfile config/studies/<name>.yaml` merges it."""
    return yaml.safe_load((ROOT / "config" / "studies" / f"{name}.yaml").read_text())


def toy(config: dict, name: str, *, model: dict, grid: dict, data: dict | None = None) -> dict:
    config = copy.deepcopy(config)
    study = config["studies"][name]
    study["model"].update({"n_layer": 1, **model})
    study["grid"] = grid
    study["training"].update(TOY_TRAINING)
    study["fit"].update(TOY_FIT)
    study["figures"]["formats"] = ["png"]
    if data:
        study["data"].update(data)
    return config


def check_results(workdir: Path, study: str, unit: str, runs_expected: int) -> pd.DataFrame:
    results = workdir / "results" / study
    runs = pd.read_csv(results / "runs.csv")
    assert len(runs) == runs_expected and set(runs["status"]) == {"ok"}
    assert ((runs["flops"] / runs["budget"] - 1).abs() < 0.05).all()
    assert (runs["epochs"] > 0).all() and (runs["unique_tokens"] <= runs["tokens"]).all()
    for path in (results / "runs").glob("*.json"):
        run = json.loads(path.read_text())
        assert run["unit"] == unit and len(run["curve"]) >= 5
        assert run["tokens"]["seen"] == run["final"]["step"] * run["spec"]["tokens_per_step"]
    assert (results / "fit" / "fit.json").exists() and any((results / "figures").glob("*.png"))
    return runs


def test_tinystories_gpt(workdir):
    hf = write_tinystories(workdir / "tinystories")
    config = toy(
        study_file("tinystories-gpt"),
        "tinystories-gpt",
        model={"n_ctx": 32, "head_dim": 8, "aspect_ratio": 16},
        grid={"budgets": [1.2e9, 4.8e9], "sizes": [16, 24, 32], "min_steps": 10},
        data={"huggingface": hf, "vocab_size": 512, "name": "tinystories-toy"},
    )
    write_config(workdir, config)
    snakemake(workdir, "--cores", "2")
    meta = json.loads((workdir / "results" / "data" / "tinystories-toy" / "meta.json").read_text())
    assert meta["tokenizer"] == "bpe" and meta["dtype"] == "uint16" and meta["tokenizer_vocab_size"] <= 512
    assert (workdir / "results" / "data" / "tinystories-toy" / "tokenizer.json").exists()
    runs = check_results(workdir, "tinystories-gpt", "tokens", 6)
    assert runs["loss"].between(0.1, math.log(512)).all()  # below the uniform guess


def test_cifar10_vit(workdir):
    write_cifar10(workdir / "cifar", per_batch=60, test=64)
    config = toy(
        study_file("cifar10-vit"),
        "cifar10-vit",
        model={"patch_size": 8, "head_dim": 8, "aspect_ratio": 16},
        grid={"budgets": [3e8, 1.2e9], "sizes": [16, 24, 32], "min_steps": 10},
        data={"cifar10": {"root": str(workdir / "cifar"), "download": False, "verify": False},  # a fake: no md5
              "name": "cifar10-toy"},
    )
    write_config(workdir, config)
    snakemake(workdir, "--cores", "2")
    runs = check_results(workdir, "cifar10-vit", "images", 6)
    run = json.loads(next((workdir / "results" / "cifar10-vit" / "runs").glob("*.json")).read_text())
    assert 0 <= run["final"]["val_accuracy"] <= 1 and "val_accuracy" in run["curve"][-1]
    assert (runs["tokens"] == runs["tokens"].round()).all()  # images seen
    warnings = repetition_warnings(runs, max_epochs=1)
    assert warnings and "Muennighoff" in warnings[0]


def test_own_model_and_loader(workdir, monkeypatch):
    pkgs = workdir / "pkgs"
    pkgs.mkdir()
    shutil.copy(HERE / "custom_module.py", pkgs / "mylab.py")
    monkeypatch.setenv("PYTHONPATH", str(pkgs))
    study = {
        "description": "my MLP on my data",
        "data": {"source": "custom", "name": "points", "custom": {"loader": "mylab:load", "kwargs": {"n": 256}}},
        "model": {
            "family": "custom",
            "class": "mylab:MLP",
            "size_arg": "width",
            "kwargs": {"depth": 2},
            "loss": "mylab:smooth_loss",
        },
        "accounting": {"flops": "6N", "params": "total"},
        "grid": {"budgets": [2e6, 8e6], "sizes": [8, 16, 32], "min_steps": 10},
        "training": {**TOY_TRAINING, "batch_size": 16, "lr": 0.01},
        "fit": TOY_FIT,
        "figures": {"formats": ["png"]},
    }
    write_config(workdir, {"active_studies": ["mine"], "studies": {"mine": study}})
    snakemake(workdir, "--cores", "2")
    runs = check_results(workdir, "mine", "samples", 6)
    assert not (workdir / "results" / "data" / "points").exists()  # the loader needs no preparation
    assert (runs["epochs"] > 1).any()


@pytest.mark.parametrize("name", ["tinystories-gpt", "cifar10-vit"])
def test_studies_run_with_the_mock_backend(name, tmp_path):
    """training.backend: mock trains every planned run of the real-size study instantly."""
    from flops_fit.config import check_config
    from flops_fit.mock import train_mock
    from flops_fit.plan import plan_study
    from flops_fit.runs import aggregate

    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    extra = study_file(name)
    base["active_studies"] = extra["active_studies"]
    base["studies"].update(extra["studies"])
    base["studies"][name]["training"]["backend"] = "mock"
    specs = plan_study(name, check_config(base)["studies"][name])
    paths = []
    for spec in specs:
        paths.append(str(tmp_path / f"{spec['run_id']}.json"))
        run = train_mock(spec, paths[-1])
        assert run["flops"]["actual"] == pytest.approx(spec["flops"])
        assert run["unit"] == ("images" if name == "cifar10-vit" else "tokens")
    aggregate(paths, str(tmp_path / "runs.csv"), str(tmp_path / "curves.csv"))
    assert len(pd.read_csv(tmp_path / "runs.csv")) == len(specs) == {"tinystories-gpt": 25, "cifar10-vit": 25}[name]


def test_effective_data_and_repetition_warnings():
    runs = pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "study": "s",
            "tokens": [100.0, 400.0, 2000.0],
            "unique_tokens": [100.0, 100.0, 100.0],
            "epochs": [1.0, 4.0, 20.0],
        }
    )
    assert repetition_warnings(runs) == [
        "study s: 1 of 3 runs repeat their data more than 4 epochs (up to 20.0); beyond ~4 epochs repeated "
        "data is worth less than fresh data (Muennighoff et al. 2023), so the fit may be biased; consider "
        "more data or fit.effective_data: true",
        "  c: 20.0 epochs, 100 unique",
    ]
    assert repetition_warnings(runs, max_epochs=50) == []
    # D' = U + U R* (1 - exp(-R/R*)), R = epochs - 1: one epoch is all fresh; repeats are worth less
    assert effective_data(100, 1) == 100
    assert 0.9 * 400 < effective_data(100, 4) < 400  # 4 epochs: almost as good as fresh data
    assert effective_data(100, 1e9) == pytest.approx(100 * (1 + 15.4))  # the asymptote
    fixed = with_effective_data(runs)
    assert fixed["tokens"].iloc[0] == 100 and fixed["tokens"].iloc[2] < 2000 and fixed["tokens_seen"].iloc[2] == 2000
