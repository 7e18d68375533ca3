"""Does the default study measure what it claims? Runs it (`make run`'s Snakemake call) and prints
the acceptance numbers of issue 11, as stated in the README:

* wall time of the whole study (learning-rate stage included), goal <= 10 minutes on 2 cores;
* the learning-rate rule and its held-out size (fitted on the other sizes' bracketed optima): the
  rule's rate within x sqrt(2) of the held-out size's own best, loss penalty <= 0.5% (and each
  fitted size left out in turn);
* the design: fixed depth, steps per run, sizes each side of every IsoFLOP minimum;
* the backtest (largest budget held out) for Approaches 2 and 3, N counted both ways (the
  study's non-embedding convention and total): L* error <= 2%, N* ratio within x1.2, and the
  held-out optimum inside the 90% prediction intervals;
* seed-to-seed noise: the runs of one budget retrained with another seed (same rates), the
  spread of their losses and of that budget's IsoFLOP minimum;
* the learning-rate rule from the sweep's first seed alone (the study averages 2 seeds per rate):
  its held-out check, to show what the second seed buys.

    python benchmarks/bench_study.py                    # ~10 minutes on 2 cores
    python benchmarks/bench_study.py --workdir DIR      # reuse a finished study in DIR
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STUDY = "shakespeare"
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def run_study(workdir: Path, cores: int) -> tuple[float, float]:
    """Wall time and CPU time (all processes) of the whole study."""
    shutil.copy(ROOT / "config" / "config.yaml", workdir / "config.yaml")
    cmd = [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", str(cores)]  # fmt: skip
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start, _children_cpu() - cpu


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def design(results: Path) -> None:
    import pandas as pd

    plan = pd.read_csv(results / "plan.tsv", sep="\t")
    share = plan["params_non_embedding"] / plan["params_total"]
    print(f"  design: {plan['budget'].nunique()} budgets x {plan.groupby('budget').size().min()}+ sizes, "
          f"n_layer {sorted(plan['n_layer'].unique())}, steps {plan['steps'].min()}-{plan['steps'].max()}, "
          f"non-embedding share of N {share.min():.0%}-{share.max():.0%}")  # fmt: skip
    fit = json.loads((results / "fit" / "fit.json").read_text())
    runs = pd.read_csv(results / "runs.csv")
    a2 = (fit.get("approaches") or {}).get("approach2") or {}
    col = (fit.get("convention") or {}).get("params_column", "params")
    for b in a2.get("budgets") or a2.get("per_budget") or []:
        budget, n_opt = b.get("budget"), b.get("N_opt") or b.get("n_opt")
        if budget is None or n_opt is None:
            continue
        sizes = runs.loc[(runs["budget"] / budget - 1).abs() < 0.1, col]
        print(f"    budget {budget:.3g}: N* {n_opt:.3g}, sizes below {int((sizes < n_opt).sum())}, "
              f"above {int((sizes > n_opt).sum())}")


def lr_check(results: Path) -> None:
    """The rule and its held-out check: fitted on the other sizes' bracketed optima, compared with
    the held-out size's own bracketed best (and each fitted size left out in turn)."""
    rule = json.loads((results / "lr" / "rule.json").read_text())
    print(f"  lr rule: lr(N) = {rule['lr_ref']:.4g} (N / {rule['n_ref']:.4g})^{rule['exponent']:.3f} "
          f"(N {rule['params']}, {len(rule.get('seeds') or [0])} seed(s) per rate); per size best: "
          + ", ".join(f"d{b['size']} {b['lr']:.3g}{'' if not b['at_edge'] else ' (not bracketed)'}"
                      for b in rule["sizes"]))  # fmt: skip
    rows = [("held-out", c) for c in rule["check"]] + [("leave-one-out", c) for c in rule.get("leave_one_out") or []]
    for kind, c in rows:
        if not c.get("checked", True):
            print(f"  lr {kind} size d{c['size']}: its best rate is not bracketed by the sweep: no check  FAIL")
            continue
        penalty = c["loss_penalty_pct"]
        print(f"  lr {kind} size d{c['size']}: rule {c['rule_lr']:.4g} / best {c['best_lr']:.4g} = "
              f"x{c['ratio']:.3f} (goal within x1.414), loss penalty {_f(penalty, '.3f')}% "
              f"(goal <= 0.5%)  {'PASS' if c.get('passed') else 'FAIL'}")  # fmt: skip
    for w in rule["warnings"]:
        print(f"  lr warning: {w}")


def backtest(results: Path, params: str) -> None:
    out = results / f"fit-{params}"
    cmd = [str(BIN / "flops-fit"), "fit", str(results / "runs.csv"), "--curves", str(results / "curves.csv"),
           "--out", str(out), "--params", params, "--flops", "counted", "--bootstrap", "200"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if proc.returncode != 0:
        print(f"  backtest (N {params}): flops-fit fit failed: {proc.stderr.strip()[-300:]}")
        return
    fit = json.loads((out / "fit.json").read_text())
    approaches = (fit.get("backtest") or {}).get("approaches") or {}
    for name in ("approach2", "approach3"):
        for row in (approaches.get(name) or {}).get("held_out") or []:
            l_err, n_ratio = _get(row, "L_error_pct", "loss_error_pct"), _get(row, "N_ratio", "n_ratio")
            inside = _inside(row)
            ok = l_err is not None and abs(l_err) <= 2 and n_ratio is not None and 1 / 1.2 <= n_ratio <= 1.2
            print(f"  backtest N {params:<13} {name}: budget {row.get('budget', math.nan):.3g}: L* error "
                  f"{_f(l_err, '+.2f')}% (goal within 2%), N* ratio x{_f(n_ratio, '.3f')} (goal within x1.2), "
                  f"inside 90% intervals: {inside}  {'PASS' if ok and inside != 'no' else 'FAIL'}")  # fmt: skip


def _get(row: dict, *keys):
    return next((row[k] for k in keys if row.get(k) is not None), None)


def _f(x, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def _inside(row: dict) -> str:
    """Whether the held-out optimum lies inside the predicted intervals (issue 10's fields)."""
    checks = []
    for q, obs in (("N", _get(row, "N_observed", "N_obs")), ("L", _get(row, "L_observed", "L_obs"))):
        lo, hi = row.get(f"{q}_pred_lo"), row.get(f"{q}_pred_hi")
        if obs is not None and lo is not None and hi is not None:
            checks.append(lo <= obs <= hi)
    return "n/a" if not checks else ("yes" if all(checks) else "no")


def seed_noise(workdir: Path, budget_index: int = 0, seed: int = 1, cores: int = 2) -> None:
    """Retrain one budget's runs with another seed (same spec otherwise) and compare."""
    import numpy as np

    from flops_fit.config import load_config
    from flops_fit.lr_sweep import read_rule
    from flops_fit.plan import plan_study

    results = workdir / "results" / STUDY
    cfg = load_config(workdir / "config.yaml")["studies"][STUDY]
    budget = sorted(cfg["grid"]["budgets"])[budget_index]
    first_seed, cfg["seed"] = cfg["seed"], seed
    specs = [r for r in plan_study(STUDY, cfg, read_rule(results / "lr" / "rule.json")) if r["budget"] == budget]
    out = workdir / "seed"
    out.mkdir(exist_ok=True)

    def train(spec):
        path = out / f"{spec['run_id']}.json"
        subprocess.run([str(BIN / "flops-fit"), "train", "--spec", json.dumps(spec), "--data",
                        str(workdir / "results" / "data" / cfg["data"]["name"]), "--out", str(path),
                        "--checkpoint-dir", str(out / "ckpt" / spec["run_id"])],
                       check=True, capture_output=True, env=ENV)  # fmt: skip
        return json.loads(path.read_text())

    with ThreadPoolExecutor(cores) as pool:
        again = list(pool.map(train, specs))
    first = [json.loads((results / "runs" / f"{s['run_id']}.json").read_text()) for s in specs]
    conv = cfg["fit"]["params"]
    n = np.array([r["params"][conv] for r in first], float)
    l0 = np.array([r["final"]["val_loss"] for r in first])
    l1 = np.array([r["final"]["val_loss"] for r in again])
    rel = 100 * (l1 - l0) / l0
    v0, v1 = _vertex(n, l0), _vertex(n, l1)
    print(f"  seed noise at budget {budget:.3g} (seed {first_seed} vs {seed}, {len(specs)} sizes): "
          f"loss difference mean |{np.abs(rel).mean():.2f}|%, max |{np.abs(rel).max():.2f}|%; IsoFLOP N* "
          f"{v0:.4g} vs {v1:.4g} (x{max(v0, v1) / min(v0, v1):.3f}); min loss {l0.min():.4f} vs {l1.min():.4f}")


def lr_one_seed(results: Path) -> None:
    """What the sweep's first seed alone gives (the study averages ``lr_sweep.seeds`` seeds): the
    same rule fit and held-out check on half the runs, to show what the second seed buys."""
    from flops_fit.lr_sweep import fit_rule, sweep_table

    rule = json.loads((results / "lr" / "rule.json").read_text())
    seeds = rule.get("seeds") or [0]
    if len(seeds) < 2:
        return
    runs = [json.loads(p.read_text()) for p in sorted((results / "lr" / "runs").glob("*.json"))]
    rows = [r for r in sweep_table(runs, rule["params"]) if r["seed"] == seeds[0]]
    one = fit_rule(rows, rule["params"])
    print(f"  lr rule from seed {seeds[0]} alone: lr(N) = {one['lr_ref']:.4g} (N / {one['n_ref']:.4g})^"
          f"{one['exponent']:.3f}; per size best: "
          + ", ".join(f"d{b['size']} {b['lr']:.3g}{'' if not b['at_edge'] else ' (not bracketed)'}"
                      for b in one["sizes"]))  # fmt: skip
    for kind, c in [("held-out", c) for c in one["check"]] + [("leave-one-out", c) for c in one["leave_one_out"]]:
        if c["checked"]:
            print(f"  lr (1 seed) {kind} size d{c['size']}: rule {c['rule_lr']:.4g} / best {c['best_lr']:.4g} = "
                  f"x{c['ratio']:.3f}, loss penalty {c['loss_penalty_pct']:.3f}%  {'PASS' if c['passed'] else 'FAIL'}")
        else:
            print(f"  lr (1 seed) {kind} size d{c['size']}: best rate not bracketed: no check  FAIL")


def _vertex(n, loss) -> float:
    import numpy as np

    a, b, _ = np.polyfit(np.log10(n), loss, 2)
    return float(10 ** (-b / (2 * a))) if a > 0 else math.nan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", help="a working directory holding a finished default study")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    if args.workdir:
        workdir = Path(args.workdir)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="flops-fit-study-"))
        seconds, cpu = run_study(workdir, args.cores)
        load = os.getloadavg()[1]
        print(f"default study (snakemake --cores {args.cores}, lr stage included): {seconds:.0f} s "
              f"({seconds / 60:.1f} min; goal <= 10 min on 2 cores) in {workdir}; CPU time {cpu:.0f} s "
              f"(= {cpu / 2 / 60:.1f} min on 2 idle cores); load average {load:.1f}")  # fmt: skip
    results = workdir / "results" / STUDY
    design(results)
    lr_check(results)
    lr_one_seed(results)
    for params in ("non_embedding", "total"):
        backtest(results, params)
    seed_noise(workdir, cores=args.cores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
