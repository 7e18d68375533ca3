"""Speed of the Approach-3 fit on Chinchilla's 240 points (printed numbers, not a timed test).

    .venv/bin/python benchmarks/bench_fit.py              # fit + 1,000 bootstrap refits
    .venv/bin/python benchmarks/bench_fit.py --full-grid  # also L-BFGS from all 4,500 starts

Targets on the 2-core dev machine: full fit <= 5 s, 1,000 warm-started refits <= 60 s
(Epoch AI's notebook, numerical gradients from all 4,500 starts: ~294 s).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from flops_fit.fitting import FitOptions, fit_runs
from flops_fit.fitting import approach3 as a3
from flops_fit.fitting.bootstrap import approach3_samples, percentile_interval
from flops_fit.fitting.threads import one_blas_thread

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "chinchilla_svg_extracted.csv"
REFERENCE = {"E": 1.8172, "A": 477.8, "B": 2143.0, "alpha": 0.3473, "beta": 0.3672}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--full-grid", action="store_true", help="also run L-BFGS from all 4,500 starts")
    args = ap.parse_args()

    df = pd.read_csv(DATA).sort_values("loss").iloc[:-5]
    n = df["Model Size"].to_numpy()
    d = df["Training FLOP"].to_numpy() / (6 * n)
    log_n, log_d, log_l = np.log(n), np.log(d), np.log(df["loss"].to_numpy())
    print(f"data: {len(n)} points (Epoch AI's Chinchilla extraction, 5 highest-loss dropped)")

    with one_blas_thread():
        t = time.perf_counter()
        theta, f = a3.minimise(log_n, log_d, log_l)
        t_fit = time.perf_counter() - t
        p = a3.params_from_theta(theta)
        print(f"Approach 3 fit (best 64 of 4,500 grid starts): {t_fit:.2f} s   objective {f:.10g}")
        for k, ref in REFERENCE.items():
            print(f"  {k:5s} = {p[k]:10.4f}   reference {ref:10.4f}   ({100 * (p[k] / ref - 1):+.2f}%)")
        print(f"  a = {p['a']:.4f}  b = {p['b']:.4f}  G = {p['G']:.4g}")

        rng = np.random.default_rng(0)
        t = time.perf_counter()
        samples = approach3_samples(theta, log_n, log_d, log_l, 1e-3, args.resamples, rng)
        t_boot = time.perf_counter() - t
        print(f"{args.resamples} bootstrap refits (warm starts): {t_boot:.2f} s")
        for k in ("E", "A", "B", "alpha", "beta", "a"):
            lo, hi = percentile_interval(samples[k][:, None], 0.9)
            print(f"  {k:5s} 90% interval [{lo[0]:.4g}, {hi[0]:.4g}]")

        if args.full_grid:
            t = time.perf_counter()
            theta_all, f_all = a3.minimise(log_n, log_d, log_l, n_starts=None)
            t_all = time.perf_counter() - t
            p_all = a3.params_from_theta(theta_all)
            print(f"all 4,500 starts: {t_all:.1f} s   objective {f_all:.10g}")
            print("  " + "  ".join(f"{k}={p_all[k]:.4f}" for k in REFERENCE))

    runs = pd.DataFrame({"params": n, "tokens": d, "loss": np.exp(log_l)})
    t = time.perf_counter()
    fit_runs(runs, None, FitOptions(approaches=(3,), bootstrap=args.resamples, backtest_holdout=0))
    print(f"fit_runs(approaches=(3,), bootstrap={args.resamples}) end to end: {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
