"""`make bench`: every benchmark of the project, one after the other, printing numbers.

    python benchmarks/run_all.py              # all (the default study takes ~10 minutes)
    python benchmarks/run_all.py fit train    # a subset (names: the keys of BENCHES below)

Speed goals live here, not in timed tests (the machine's load varies).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {
    "fit": "bench_fit.py",
    "fit_scale": "bench_fit_scale.py",
    "calibration": "bench_calibration.py",
    "farout": "bench_farout.py",
    "quality": "bench_quality.py",
    "train": "bench_train.py",
    "startup": "bench_startup.py",
    "pipeline": "bench_pipeline.py",
    "reliability": "bench_reliability.py",
    "study": "bench_study.py",
    "branches": "bench_branches.py",
    "adaptive": "bench_adaptive.py",
}


def main() -> int:
    names = sys.argv[1:] or list(BENCHES)
    status = 0
    for name in names:
        script = HERE / BENCHES[name]
        print(f"\n=== {name}: {script.name} ===", flush=True)
        if not script.exists():
            print(f"(missing: {script})")
            status = 1
            continue
        status |= subprocess.call([sys.executable, str(script)])
    return status


if __name__ == "__main__":
    sys.exit(main())
