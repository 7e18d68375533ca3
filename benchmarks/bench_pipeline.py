"""Wall time of the default study split by stage, and the dry-run time of a 1,000-run grid.

    python benchmarks/bench_pipeline.py            # both (the study takes ~10 minutes)
    python benchmarks/bench_pipeline.py --dry-run-only

The study runs in a fresh temporary working directory with config/config.yaml, one stage at a
time (`snakemake --until RULE`), so each stage's wall time includes Snakemake's own start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGES = ["plan", "prepare_data", "train", "aggregate", "fit", "figures", "tables", "all"]


def snakemake(workdir: Path, *args: str) -> float:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    cmd = [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def bench_study(cores: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="flops-fit-bench-"))
    shutil.copy(ROOT / "config" / "config.yaml", workdir / "config.yaml")
    print(f"default study, snakemake --cores {cores}, in {workdir}")
    total = 0.0
    for stage in STAGES:
        args = ["--cores", str(cores)] + ([] if stage == "all" else ["--until", stage])
        seconds = snakemake(workdir, *args)
        total += seconds
        print(f"  {stage:<14} {seconds:8.1f} s")
    print(f"  {'total':<14} {total:8.1f} s  ({total / 60:.1f} min)")


def bench_dry_run(n_budgets: int = 20, n_sizes: int = 50) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="flops-fit-dry-"))
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    study = config["studies"]["shakespeare"]
    study["grid"] = {"budgets": [1e13 * 1.25**i for i in range(n_budgets)],
                     "sizes": [8 * (i + 1) for i in range(n_sizes)], "min_steps": 1}
    study["training"]["backend"] = "mock"
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    times = [snakemake(workdir, "-n", "--cores", "8", "--quiet", "all") for _ in range(3)]
    print(f"dry run of a {n_budgets * n_sizes}-run grid: best {min(times):.2f} s, "
          f"median {sorted(times)[1]:.2f} s (goal <= 8 s)")
    shutil.rmtree(workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run-only", action="store_true")
    parser.add_argument("--cores", type=int, default=8)
    args = parser.parse_args()
    bench_dry_run()
    if not args.dry_run_only:
        bench_study(args.cores)


if __name__ == "__main__":
    main()
