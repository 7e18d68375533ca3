"""Behaviour kept through refactors (issue 13): the plans, the run JSONs, and a mock study's fit and
tables equal a snapshot taken before the library was restructured.

Compared: ``plan.tsv`` and every planned spec of a GPT, a ViT and a custom-model study; the run
JSON of every mock run; what the mock GPT study's runs give downstream: runs.csv,
fit.json, predictions.csv and the tables (csv, md, tex, numbers.tex); the run JSON of one real
(CPU, deterministic) training run of each model family. Timing and provenance (wall clock, host,
commit) are left out.  Floats of real training and of aggregation are compared to 1e-6 relative
(the same arithmetic; other CPUs or BLAS builds may round differently); those of the fit and the
tables to 1e-4 relative or 1e-12 absolute: the fit's optimisers (L-BFGS from a grid of starts, on
every bootstrap replicate) stop at a tolerance, and a rounding difference of 1e-15 in their input
moves where they stop by ~1e-6 (a CI machine measured 1.5e-6 on Approach 3's ``a`` interval).
Numbers printed in the Markdown and LaTeX tables may differ by one unit of their last printed
digit.  Not compared: the optimiser's own coordinates (``theta``: where a parameter runs to its
bound, e.g. log E -> -inf when the losses show no irreducible term, it stops anywhere from -30 to
-80) and the raw bootstrap replicates (a replicate of this 9-run study may land in another flat
basin on another CPU); the parameters and the intervals they give are compared.  Nor the other
surface forms (``forms``, ``forms_disagreement``): 9 runs leave the no-floor and Kaplan forms in flat
basins too, where another CPU may stop elsewhere or not at all.

A change that SHOULD alter these numbers (a new spec key, a new default, a change of the fit or of
a table) regenerates the snapshot with ``python tests/test_unchanged.py`` and says why in its
commit message.
"""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
import sys
from decimal import Decimal
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from conftest import tiny_study  # noqa: E402

SNAPSHOT = HERE / "fixtures" / "behaviour_snapshot.json"
VOLATILE = ("timing", "provenance")


def _gpt_study(backend: str) -> dict:
    study = tiny_study(backend)
    study["training"].update(device="cpu", dtype="float32", compile=False, threads=1)
    return study


def _vit_study() -> dict:
    return {
        "data": {"source": "cifar10", "name": "fake"},
        "model": {"family": "vit", "aspect_ratio": 32, "head_dim": 16, "patch_size": 8},
        "accounting": {"flops": "chinchilla", "params": "total"},
        "grid": {"budgets": [3e9, 6e9], "sizes": [16, 32], "min_steps": 4},
        "training": {"batch_size": 8, "eval_points": 4, "eval_batches": 2, "device": "cpu", "dtype": "float32",
                     "lr_scaling": "constant"},
    }


def _custom_study() -> dict:
    return {
        "data": {"source": "custom", "name": "points", "custom": {"loader": "mylab:load", "kwargs": {"n": 256}}},
        "model": {"family": "custom", "class": "mylab:MLP", "size_arg": "width", "kwargs": {"depth": 2}},
        "accounting": {"flops": "6N", "params": "total"},
        "grid": {"budgets": [2e6, 4e6], "sizes": [8, 16], "min_steps": 10},
        "training": {"batch_size": 16, "eval_points": 4, "eval_batches": 2, "device": "cpu", "dtype": "float32"},
    }


def _plans() -> dict:
    from flops_fit.config import check_config
    from flops_fit.plan import plan_study, plan_tsv

    studies = {"gpt": _gpt_study("mock"), "vit": _vit_study(), "custom": _custom_study()}
    config = check_config({"active_studies": list(studies), "studies": copy.deepcopy(studies)})
    plans = {name: plan_study(name, config["studies"][name]) for name in studies}
    return {name: {"tsv": plan_tsv(runs), "specs": runs} for name, runs in plans.items()}


def _train(spec: dict, work: Path, data: Path | None = None) -> dict:
    from flops_fit.cli import main

    out = work / "runs" / f"{spec['study']}-{spec['run_id']}.json"
    argv = ["train", "--spec", json.dumps(spec), "--out", str(out), "--checkpoint-dir", str(work / "ckpt")]
    assert main(argv + (["--data", str(data)] if data else [])) == 0
    run = json.loads(out.read_text())
    return {k: v for k, v in run.items() if k not in VOLATILE}


def _rows(path: Path) -> list[dict]:
    """A CSV file's rows, numbers as floats (compared with a tolerance), the rest as text."""
    import csv

    def value(text: str):
        try:
            return float(text)
        except ValueError:
            return text

    with open(path, newline="") as fh:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _downstream(out: Path, run_jsons: list[str]) -> dict:
    """Aggregate, fit (20 bootstrap resamples) and tabulate the mock study as the pipeline does."""
    from flops_fit.fitting import FitOptions, fit_files
    from flops_fit.runs import aggregate
    from flops_fit.tables import make_tables

    aggregate(run_jsons, out / "runs.csv", out / "curves.csv")
    fit_files(out / "runs.csv", out / "curves.csv", out / "fit", FitOptions(bootstrap=20, predict_budgets=(1e12,)))
    make_tables(out / "fit" / "fit.json", out / "fit" / "predictions.csv", out / "tables", out / "runs.csv")
    files = {"fit/fit.json": json.loads((out / "fit" / "fit.json").read_text())}
    for name in ("runs.csv", "fit/predictions.csv", "tables/parameters.csv", "tables/allocations.csv",
                 "tables/runs.csv"):
        files[name] = [{k: v for k, v in row.items() if k != "wall_s"} for row in _rows(out / name)]  # timing
    for table in ("parameters", "allocations", "runs"):
        for fmt in ("md", "tex"):
            files[f"tables/{table}.{fmt}"] = (out / "tables" / f"{table}.{fmt}").read_text()
    files["tables/numbers.tex"] = (out / "tables" / "numbers.tex").read_text()
    return files


def snapshot(work: Path) -> dict:
    """Plans of three studies, every mock run JSON, one real run JSON per model family."""
    import torch
    from fake_data import write_cifar10
    from test_train import make_data

    from flops_fit.data import prepare_dataset

    pkgs = work / "pkgs"
    pkgs.mkdir(parents=True)
    shutil.copy(HERE / "custom_module.py", pkgs / "mylab.py")
    sys.path.insert(0, str(pkgs))
    torch.set_num_threads(1)
    plans = _plans()
    runs = {f"mock/{s['run_id']}": _train(s, work) for s in plans["gpt"]["specs"]}
    study = _downstream(work / "study", sorted(str(p) for p in (work / "runs").glob("gpt-*.json")))

    gpt = copy.deepcopy(plans["gpt"]["specs"][0])
    gpt["training"]["backend"] = "torch"
    gpt["steps"], gpt["tokens"] = 24, 24 * gpt["tokens_per_step"]
    runs["torch/gpt"] = _train(gpt, work, make_data(work / "words"))

    write_cifar10(work / "raw", per_batch=20, test=20)
    raw = {"root": str(work / "raw"), "download": False, "verify": False}  # a fake: no md5 to match
    cifar = {"source": "cifar10", "name": "fake", "cifar10": raw}
    prepare_dataset(cifar, work / "cifar")
    vit = copy.deepcopy(plans["vit"]["specs"][0])
    vit["steps"] = 6
    runs["torch/vit"] = _train(vit, work, work / "cifar")

    custom = copy.deepcopy(plans["custom"]["specs"][0])
    custom["steps"] = 12
    runs["torch/custom"] = _train(custom, work)
    sys.path.remove(str(pkgs))
    return json.loads(json.dumps({"plans": plans, "runs": runs, "study": study}))


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
LATEX_POWER = re.compile(r"(\d(?:\.\d+)?)\\times10\^\{(-?\d+)\}")  # 1.2\times10^{-5} -> 1.2e-5
UNCOMPARED = (".theta", ".bootstrap.samples", ".forms", ".forms_disagreement")


def _rel_tol(where: str) -> float:
    return 1e-4 if where.startswith((".study.fit/", ".study.tables/")) else 1e-6


def _same_text(now: str, before: str, where: str) -> None:
    """Printed tables: the same text, numbers equal to within one unit of their last digit."""
    now, before = LATEX_POWER.sub(r"\1e\2", now), LATEX_POWER.sub(r"\1e\2", before)
    assert NUMBER.split(now) == NUMBER.split(before), f"{where}: text differs"
    for a, b in zip(NUMBER.findall(now), NUMBER.findall(before), strict=True):
        unit = 10.0 ** Decimal(b).as_tuple().exponent  # "1.59e-13" -> 1e-15
        assert abs(float(a) - float(b)) <= max(unit * 1.0001, 1e-12), f"{where}: {a} != {b}"


def _assert_same(now, before, where: str = "") -> None:
    if where.endswith(UNCOMPARED):
        return
    if isinstance(before, dict):
        assert isinstance(now, dict), where
        assert sorted(now) == sorted(before), f"{where}: keys {sorted(now)} != {sorted(before)}"
        for k in before:
            _assert_same(now[k], before[k], f"{where}.{k}")
    elif isinstance(before, list):
        assert isinstance(now, list) and len(now) == len(before), where
        for i, (a, b) in enumerate(zip(now, before, strict=True)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(before, float) and where.startswith((".runs.torch", ".study")):
        assert math.isclose(now, before, rel_tol=_rel_tol(where), abs_tol=1e-12), f"{where}: {now} != {before}"
    elif isinstance(before, str) and where.startswith(".study.tables/"):
        _same_text(now, before, where)
    else:
        assert now == before, f"{where}: {now!r} != {before!r}"


@pytest.mark.filterwarnings("ignore")
def test_plans_run_jsons_fit_and_tables_equal_the_snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    before = json.loads(SNAPSHOT.read_text())
    _assert_same(snapshot(tmp_path), before)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(snapshot(Path(tmp)), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
