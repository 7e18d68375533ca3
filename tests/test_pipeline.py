"""End to end: the real Snakefile on a tiny study (real byte-level training on Shakespeare),
then the rerun semantics on a mock study (instant runs, same rules)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess

import pandas as pd
import pytest
from conftest import BIN, ROOT, planned_jobs, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A tiny real study run to completion once for the tests of this module."""
    workdir = tmp_path_factory.mktemp("e2e")
    write_config(workdir, tiny_config("torch"))
    snakemake(workdir, "--cores", "8")
    return workdir


def test_every_output_exists_with_sane_numbers(finished):
    results = finished / "results" / "tiny"
    plan = pd.read_csv(results / "plan.tsv", sep="\t")
    runs = pd.read_csv(results / "runs.csv")
    assert len(plan) == len(runs) == 9
    assert set(runs["status"]) == {"ok"}
    # byte-level loss starts at ln(256) = 5.55 and must have dropped below it
    assert runs["loss"].between(1.0, math.log(256)).all()
    assert ((runs["flops"] / runs["budget"] - 1).abs() < 0.01).all()
    for run_id in plan["run_id"]:
        run = json.loads((results / "runs" / f"{run_id}.json").read_text())
        assert run["schema_version"] == 1 and run["status"] == "ok"
        assert run["spec"]["run_id"] == run_id
        assert len(run["curve"]) >= 10
        assert run["params"]["total"] == run["params"]["embedding"] + run["params"]["non_embedding"]
        assert run["provenance"]["git_commit"] is None or len(run["provenance"]["git_commit"]) == 40
    fit = json.loads((results / "fit" / "fit.json").read_text())
    assert fit["approaches"]["approach2"]["status"] in {"ok", "skipped"}
    predictions = pd.read_csv(results / "fit" / "predictions.csv")
    assert len(predictions) > 0 and (predictions["N_opt"] > 0).all()
    budgets = set(predictions["budget"].round(-3))
    assert {1e11, 1e12} <= budgets  # 10x and 100x the largest (1e12 is also the configured extra)
    for name in ("isoflop", "allocation"):
        assert any((results / "figures").glob(f"*{name}*.png")), name
    tables = {p.suffix for p in (results / "tables").iterdir()}
    assert {".md", ".tex", ".csv"} <= tables
    assert (finished / "results" / "data" / "shakespeare" / "meta.json").exists()


def test_no_more_busy_training_processes_than_cores(finished):
    """`--cores 8` on a smaller machine: at most as many training jobs at once as it has cores."""
    log = sorted((finished / ".snakemake" / "log").glob("*.snakemake.log"))[0]  # the run that trained
    running = peak = 0
    for line in log.read_text().splitlines():
        if line.strip() in ("rule train:", "localrule train:"):
            running += 1
            peak = max(peak, running)
        elif "(Rule: train)" in line and line.startswith("Finished"):
            running -= 1
    cores = len(os.sched_getaffinity(0))
    assert 1 <= peak <= cores
    assert "Provided cores: 8" in log.read_text()


def test_complete_run_has_nothing_to_do(finished):
    proc = snakemake(finished, "-n", "--cores", "8")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_cli_predict_prints_the_answer(finished):
    proc = subprocess.run([str(BIN / "flops-fit"), "predict", "--budget", "1e15", str(finished / "results" / "tiny")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "N*" in proc.stdout and "D*" in proc.stdout and "L*" in proc.stdout


def test_report_builds(finished):
    report = finished / "results" / "report.html"
    snakemake(finished, "--report", str(report), "--cores", "1")
    assert report.exists() and report.stat().st_size > 10_000


def test_lint_is_clean():
    env_path = f"{BIN}:{subprocess.os.environ['PATH']}"
    proc = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=ROOT, capture_output=True, text=True,
                          env={**subprocess.os.environ, "PATH": env_path})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Lints for" not in out, out


# --- rerun semantics (mock backend: the same rules, instant runs) -------------------------


@pytest.fixture(scope="module")
def mock_done(tmp_path_factory):
    """A mock study run to completion once; each test gets a copy (mtimes and metadata kept)."""
    workdir = tmp_path_factory.mktemp("mock")
    write_config(workdir, tiny_config("mock"))
    snakemake(workdir, "--cores", "2")
    return workdir


@pytest.fixture
def mock_study(mock_done, tmp_path):
    workdir = tmp_path / "study"
    shutil.copytree(mock_done, workdir, symlinks=True)
    return workdir, tiny_config("mock")


def test_new_budget_plans_only_its_runs(mock_study):
    workdir, config = mock_study
    config["studies"]["tiny"]["grid"]["budgets"].append(2e10)
    write_config(workdir, config)
    jobs = planned_jobs(snakemake(workdir, "-n", "--cores", "2"))
    assert jobs["train"] == 3  # the new budget's three sizes, nothing else retrains
    assert jobs["aggregate"] == 1 and jobs["fit"] == 1 and "prepare_data" not in jobs


def test_changed_hyperparameter_reruns_exactly_its_runs(mock_study):
    workdir, config = mock_study
    config["studies"]["tiny"]["training"]["lr"] = 0.001
    write_config(workdir, config)
    assert planned_jobs(snakemake(workdir, "-n", "--cores", "2"))["train"] == 9
    config["studies"]["tiny"]["training"]["lr"] = 0.003
    config["studies"]["tiny"]["grid"]["sizes"] = [4, 8, 12, 16]
    write_config(workdir, config)
    assert planned_jobs(snakemake(workdir, "-n", "--cores", "2"))["train"] == 3


def test_deleted_run_reruns_only_that_run(mock_study):
    workdir, _ = mock_study
    (workdir / "results" / "tiny" / "runs" / "C5e9-d8.json").unlink()
    proc = snakemake(workdir, "-n", "--cores", "2")
    jobs = planned_jobs(proc)
    assert jobs["train"] == 1 and "C5e9-d8" in proc.stdout + proc.stderr


def test_figure_style_reruns_only_figures(mock_study):
    workdir, config = mock_study
    config["studies"]["tiny"]["figures"]["width"] = "double"
    write_config(workdir, config)
    jobs = planned_jobs(snakemake(workdir, "-n", "--cores", "2"))
    assert set(jobs) - {"all", "study_config"} == {"figures"}, jobs


def test_mock_study_is_deterministic(mock_study, tmp_path_factory):
    workdir, config = mock_study
    again = tmp_path_factory.mktemp("again")
    write_config(again, config)
    snakemake(again, "--cores", "2", "--until", "aggregate")
    a = pd.read_csv(workdir / "results" / "tiny" / "runs.csv")
    b = pd.read_csv(again / "results" / "tiny" / "runs.csv")
    assert a["loss"].tolist() == b["loss"].tolist()
    shutil.rmtree(again)


def test_two_studies_rerun_only_the_changed_study(tmp_path):
    """A changed hyper-parameter of one study retrains only that study; bumping its
    code_version (after editing library training code) retrains all of its runs."""
    from conftest import tiny_study

    studies = {"alpha": tiny_study("mock"), "beta": tiny_study("mock")}
    studies["beta"]["seed"] = 1
    config = tiny_config("mock", **studies)
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2", "--until", "aggregate")
    assert planned_jobs(snakemake(tmp_path, "-n", "--cores", "2", "--until", "aggregate")) == {}

    config["studies"]["beta"]["training"]["weight_decay"] = 0.0
    write_config(tmp_path, config)
    proc = snakemake(tmp_path, "-n", "--cores", "2", "--until", "aggregate")
    assert planned_jobs(proc)["train"] == 9
    assert "results/alpha/runs/" not in proc.stdout + proc.stderr

    config["studies"]["beta"]["training"]["weight_decay"] = 0.1
    config["studies"]["alpha"]["code_version"] = 2
    write_config(tmp_path, config)
    proc = snakemake(tmp_path, "-n", "--cores", "2", "--until", "aggregate")
    assert planned_jobs(proc)["train"] == 9
    assert "results/beta/runs/" not in proc.stdout + proc.stderr
