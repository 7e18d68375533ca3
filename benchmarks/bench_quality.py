"""Automatic run quality control against a collector's hand flags (issue 22, "automatic run quality control").

    .venv/bin/python benchmarks/bench_quality.py                        # public studies + 40 synthetic draws
    .venv/bin/python benchmarks/bench_quality.py --draws 0 --bootstrap 100   # public studies only, quicker

1. Flags: per experiment of tests/data/public_isoflops.csv, how many of the collector's flagged points
   quality control (flops_fit.fitting.quality, applied by fit_runs) flags too, by the collector's reason,
   and how many of the collector's clean points it flags (false positives).  A point counts as flagged
   when it is off its budget's parabola (out of every approach) or in a flagged budget (out of Approach 2).
2. Coverage: bench_calibration.py's rolling-origin backtests (the largest 1, then 2 budgets held out,
   judged against the vertices of the collector's cleaned runs) of the collector's cleaned runs ("qc") and
   of every point ("all"), fitted with quality control and with its flags kept (``keep_flagged``: the fit
   before quality control).  Goal: "all" with quality control as close to "qc" as "qc" is to itself.
3. Synthetic: bench_calibration.py's synthetic studies (clean by construction, some off-centre): runs and
   budgets quality control removes per family, and the backtests' coverage with and without it.
"""

from __future__ import annotations

import argparse
import time
from multiprocessing import Pool

import pandas as pd
from bench_calibration import DATA, FAMILIES, backtests, public_studies, summary, synthetic_study

from flops_fit.fitting import FitOptions, fit_runs

NO_INTERVALS = {"approaches": (2,), "bootstrap": 0, "backtest_holdout": 0, "keep_flagged": True}


def flags(runs: pd.DataFrame) -> tuple[set[str], dict]:
    """Run ids quality control flags (run rules and every run of a flagged budget) and its block."""
    block = fit_runs(runs, None, FitOptions(**NO_INTERVALS))["quality"]
    ids = {f["run_id"] for f in block["flagged_runs"]}
    ids |= {rid for f in block["flagged_budgets"] for rid in f["run_ids"]}
    return ids, block


def flag_agreement() -> None:
    d = pd.read_csv(DATA)
    print("collector's flags vs quality control's (every point of each experiment given to the fit)")
    print(f"  {'experiment':24s} {'points':>6s} {'collector':>9s} {'both':>5s} {'false pos.':>10s}  "
          "flagged by quality control / by the collector, per collector's reason")
    for exp, g in d.groupby("experiment"):
        g = g.reset_index(drop=True)
        runs = pd.DataFrame({"run_id": [f"r{i}" for i in range(len(g))], "params": g["params"],
                             "tokens": g["tokens"], "loss": g["loss"], "budget": g["budget"]})
        ours, block = flags(runs)
        mine = runs["run_id"].isin(ours).to_numpy()
        theirs = g["outlier"].to_numpy(bool)
        per_reason = ", ".join(f"{r} {int((mine & (g['reason'] == r)).sum())}/{int((g['reason'] == r).sum())}"
                               for r in sorted(g.loc[theirs, "reason"].unique()))
        print(f"  {exp.split('__')[0]:24s} {len(g):6d} {int(theirs.sum()):9d} {int((mine & theirs).sum()):5d} "
              f"{int((mine & ~theirs).sum()):10d}  {per_reason} (noise scale {100 * block['noise']:.2f}%)")


def coverage(bootstrap: int) -> None:
    rows = []
    for name, runs, clean in public_studies():
        for keep in (True, False):
            for r in backtests(name, runs, None, (2, 3), bootstrap, clean, keep_flagged=keep):
                r["variant"] = name.split("/")[1] + (" (flags kept)" if keep else " (quality control)")
                rows.append(r)
    for variant in ("qc (flags kept)", "qc (quality control)", "all (flags kept)", "all (quality control)"):
        summary([r for r in rows if r["variant"] == variant], f"public studies, {variant}")


def _synthetic(args) -> dict:
    seed, bootstrap = args
    family, runs, truth = synthetic_study(seed)
    ids, block = flags(runs.assign(run_id=[f"r{i}" for i in range(len(runs))]))
    rows = []
    for keep in (True, False):
        for r in backtests(f"{family}#{seed}", runs, truth, (2,), bootstrap, keep_flagged=keep):
            r["variant"] = "flags kept" if keep else "quality control"
            rows.append(r)
    return {"family": family, "runs": len(runs), "flagged": len(ids), "budgets": len(block["flagged_budgets"]),
            "rows": rows}


def synthetic(draws: int, bootstrap: int, processes: int) -> None:
    with Pool(processes) as pool:
        out = pool.map(_synthetic, [(s, bootstrap) for s in range(draws)])
    t = pd.DataFrame([{k: v for k, v in o.items() if k != "rows"} for o in out])
    print(f"\nsynthetic studies ({draws} draws): runs quality control removes")
    for fam in FAMILIES:
        g = t[t["family"] == fam]
        if len(g):
            print(f"  {fam:22s} {len(g):3d} studies: {int(g['flagged'].sum())} of {int(g['runs'].sum())} runs flagged "
                  f"({int(g['budgets'].sum())} budgets); studies with any flag: {int((g['flagged'] > 0).sum())}")
    rows = [r for o in out for r in o["rows"]]
    for variant in ("flags kept", "quality control"):
        summary([r for r in rows if r.get("variant") == variant], f"synthetic studies, {variant} (Approach 2)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=40)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    t0 = time.perf_counter()
    flag_agreement()
    coverage(args.bootstrap)
    if args.draws:
        synthetic(args.draws, args.bootstrap, args.processes)
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
