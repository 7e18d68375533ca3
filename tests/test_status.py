"""`flops-fit status`: run states and compute spent, from a hand-made results folder."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from flops_fit.status import STATES, format_status, study_status

PLAN = [
    ("C1e12-d8", 1e12),
    ("C1e12-d16", 1e12),
    ("C2e12-d8", 2e12),
    ("C2e12-d16", 2e12),
    ("C4e12-d8", 4e12),
    ("C4e12-d16", 4e12),
    ("C4e12-d24", 4e12),
]


def _run_json(path: Path, run_id: str, status: str, actual: float, wall_s: float = 100.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "run_id": run_id,
                "status": status,
                "flops": {"planned": actual, "actual": actual},
                "final": {"val_loss": 2.5},
                "timing": {"wall_s": wall_s},
            }
        )
    )


@pytest.fixture
def results(tmp_path: Path) -> Path:
    study = tmp_path / "demo"
    study.mkdir()
    lines = ["run_id\tbudget\tsize\tflops"] + [f"{r}\t{b:g}\t8\t{b * 1.01:g}" for r, b in PLAN]
    (study / "plan.tsv").write_text("\n".join(lines) + "\n")
    _run_json(study / "runs" / "C1e12-d8.json", "C1e12-d8", "ok", 1.0e12)
    _run_json(study / "runs" / "C1e12-d16.json", "C1e12-d16", "ok", 1.02e12)
    _run_json(study / "runs" / "C2e12-d8.json", "C2e12-d8", "diverged", 0.5e12)
    # running: checkpoint folder and a progress line half-way
    (study / "checkpoints" / "C2e12-d16").mkdir(parents=True)
    (study / "checkpoints" / "C2e12-d16" / "state.pt").write_bytes(b"not read")
    logs = study / "logs" / "train"
    logs.mkdir(parents=True)
    (logs / "C2e12-d16.log").write_text("[C2e12-d16] 100 params\n[C2e12-d16] step 50/100 tokens 1e4 loss 3.1\n")
    # failed: a traceback in the log, no JSON
    (logs / "C4e12-d8.log").write_text(
        "[C4e12-d8] step 10/100 tokens 1e3 loss 4\nTraceback (most recent call last):\n"
        "RuntimeError: CUDA error: out of memory\n"
    )
    # preempted: stopped by a signal after a checkpoint -> resumes, not a failure
    (study / "checkpoints" / "C4e12-d16").mkdir(parents=True)
    (logs / "C4e12-d16.log").write_text(
        "[C4e12-d16] step 25/100 tokens 1e3 loss 4\n"
        "[C4e12-d16] signal 15: checkpointed at step 25/100; stopping\n"
        "Traceback (most recent call last):\nflops_fit.train.Preempted: run C4e12-d16 stopped by signal 15\n"
    )
    return tmp_path


def test_states_and_compute(results: Path):
    st = study_status(results, "demo")
    assert st["planned"] == len(PLAN)
    assert {s: st[s] for s in STATES} == {"done": 2, "running": 2, "failed": 1, "diverged": 1, "pending": 1}
    assert sum(st[s] for s in STATES) == st["planned"]
    by_id = {r["run_id"]: r for r in st["runs"]}
    assert by_id["C1e12-d8"]["state"] == "done"
    assert by_id["C2e12-d8"]["state"] == "diverged"
    assert by_id["C2e12-d16"]["state"] == "running"
    assert by_id["C4e12-d8"]["state"] == "failed" and "out of memory" in by_id["C4e12-d8"]["detail"]
    assert by_id["C4e12-d16"]["state"] == "running" and "preempted" in by_id["C4e12-d16"]["detail"]
    assert by_id["C4e12-d24"]["state"] == "pending"
    planned = sum(b * 1.01 for _, b in PLAN)
    assert st["compute_planned"] == pytest.approx(planned)
    spent = 1.0e12 + 1.02e12 + 0.5e12 + 0.5 * 2e12 * 1.01 + 0.1 * 4e12 * 1.01 + 0.25 * 4e12 * 1.01
    assert st["compute_spent"] == pytest.approx(spent)
    assert st["compute_fraction"] == pytest.approx(spent / planned)
    assert st["by_budget"][4e12] == {"done": 0, "running": 1, "failed": 1, "diverged": 0, "pending": 1}


def test_format_status(results: Path):
    text = format_status(study_status(results, "demo", results / "demo" / "plan.tsv"))
    assert text.splitlines()[0] == "study demo: 7 runs planned, 2 done, 2 running, 1 failed, 1 diverged, 1 pending"
    assert "compute:" in text and "%" in text
    assert "C4e12-d8" in text  # failed runs are always listed
    verbose = format_status(study_status(results, "demo"), verbose=True)
    assert "C2e12-d16" in verbose and "C4e12-d24" not in verbose


def test_slurm_logs(tmp_path: Path):
    """On a cluster the newest log may be SLURM's: a cancellation there fails the run, unless it
    hit its time limit with a checkpoint to resume from (Snakemake resubmits it)."""
    import os
    import time

    results = tmp_path / "results"
    study = results / "demo"
    study.mkdir(parents=True)
    (study / "plan.tsv").write_text("run_id\tbudget\tflops\nC1e12-d8\t1e12\t1e12\nC1e12-d16\t1e12\t1e12\n")
    logs = study / "logs" / "train"
    logs.mkdir(parents=True)
    slurm = tmp_path / ".snakemake" / "slurm_logs" / "rule_train"
    for run_id in ("C1e12-d8", "C1e12-d16"):
        (logs / f"{run_id}.log").write_text(f"[{run_id}] step 40/100 tokens 1e3 loss 4\n")
        (slurm / f"demo_{run_id}").mkdir(parents=True)
        (slurm / f"demo_{run_id}" / "123.log").write_text(
            "slurmstepd: error: *** JOB 123 ON node1 CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***\n"
        )
        old = time.time() - 60
        os.utime(logs / f"{run_id}.log", (old, old))
    (study / "checkpoints" / "C1e12-d16").mkdir(parents=True)
    by_id = {r["run_id"]: r for r in study_status(results, "demo")["runs"]}
    assert by_id["C1e12-d8"]["state"] == "failed" and "TIME LIMIT" in by_id["C1e12-d8"]["detail"]
    assert by_id["C1e12-d16"]["state"] == "running" and "preempted" in by_id["C1e12-d16"]["detail"]
    assert by_id["C1e12-d16"]["flops_spent"] == pytest.approx(0.4e12)
    # a resubmitted job writes its own log again: the stale cancellation no longer counts
    (logs / "C1e12-d8.log").write_text("[C1e12-d8] step 5/100 tokens 1e3 loss 4\n")
    assert study_status(results, "demo")["runs"][0]["state"] == "running"


def test_empty_study(tmp_path: Path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "plan.tsv").write_text("run_id\tbudget\tflops\n")
    st = study_status(tmp_path, "s")
    assert st["planned"] == 0 and math.isnan(st["compute_fraction"])
    assert "nothing planned" in format_status(st)


def test_cli_status(results: Path, capsys):
    from flops_fit.cli import main

    assert main(["status", str(results / "demo")]) == 0
    assert "2 done" in capsys.readouterr().out


def test_eta(results: Path):
    """ETA = compute left / (FLOPs per second of one job, from the finished runs x jobs running)."""
    st = study_status(results, "demo")
    rate = (1.0e12 + 1.02e12 + 0.5e12) / 300.0  # three finished runs of 100 s each
    assert st["flops_per_s"] == pytest.approx(rate)
    assert st["eta_jobs"] == 2 and st["eta_from_runs"] == 3
    assert st["eta_s"] == pytest.approx((st["compute_planned"] - st["compute_spent"]) / (2 * rate))
    assert f"ETA: about {st['eta_s'] / 60:.1f} min for the 4 runs left" in format_status(st)
    for run_id in ("C1e12-d8", "C1e12-d16", "C2e12-d8"):
        (results / "demo" / "runs" / f"{run_id}.json").unlink()
    fresh = study_status(results, "demo")
    assert math.isnan(fresh["eta_s"]) and "ETA: unknown until a run finishes" in format_status(fresh)


def test_cli_status_json(results: Path, capsys):
    from flops_fit.cli import main

    assert main(["status", "--json", str(results / "demo")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["done"] == 2 and data["failed"] == 1 and data["planned"] == len(PLAN)
    assert data["by_budget"]["4e12"]["failed"] == 1
    assert data["eta_s"] > 0 and len(data["runs"]) == len(PLAN)
    assert {r["run_id"]: r["state"] for r in data["runs"]}["C4e12-d24"] == "pending"
