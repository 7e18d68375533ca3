"""Approach 3 on big tables: rows vs seconds vs peak memory (printed numbers, not a timed test).

Methods: ``lbfgs`` (Chinchilla's Huber/L-BFGS, ``approach3.minimise``) and ``vpnls`` (variable
projection, relative least squares, ``vpnls.vpnls``).  First, both (and VPNLS with the Huber
loss) on Chinchilla's 240 points, against Epoch AI's published refit.

    .venv/bin/python benchmarks/bench_fit_scale.py                  # 10k, 30k, 100k, 300k rows
    .venv/bin/python benchmarks/bench_fit_scale.py --rows 1000 300000

Goal (issue 16 point 2): 100k rows fit in <= 60 s and <= 1 GB peak memory, memory linear in rows
(before: 20k rows 153 s and 5.9 GB, 100k rows killed at 24 GB).  Last, ``--end-to-end``: the whole
default ``flops-fit fit`` of 100k rows (every approach, bootstrap, backtests) against <= 1 GB peak
(issue 25 point 5); ``--end-to-end`` alone runs only that.

Every (method, rows) runs in its own process, so its peak resident memory (getrusage ru_maxrss;
it includes ~200 MB of numpy/scipy/pandas imports, printed as "base") is its own.  "fit MB" is
the fit's own peak allocation (tracemalloc, a second, traced run of the same fit).  The rows are
drawn from Chinchilla's law (Hoffmann et al. 2022) at log-uniform N in [1e7, 1e10] and D in
[1e9, 1e12] with 1% multiplicative noise; the errors of the fitted alpha and beta are printed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

METHODS = ("lbfgs", "vpnls")
GOAL_S, GOAL_MB = 60.0, 1024.0
REFERENCE = (1.8172, 477.8, 2143.0, 0.3473, 0.3672)  # E, A, B, alpha, beta (Besiroglu et al. 2024)


def synthetic(rows: int, seed: int = 0):
    """(log N, log D, log L) of ``rows`` runs from Chinchilla's law with 1% noise."""
    from flops_fit.fitting import approach3
    from flops_fit.fitting.synthetic import CHINCHILLA, law

    rng = np.random.default_rng(seed)
    log_n = rng.uniform(np.log(1e7), np.log(1e10), rows)
    log_d = rng.uniform(np.log(1e9), np.log(1e12), rows)
    loss = approach3.loss(law(**CHINCHILLA), np.exp(log_n), np.exp(log_d)) * (1 + 0.01 * rng.standard_normal(rows))
    return log_n, log_d, np.log(loss)


def fit(method: str, data):
    from flops_fit.fitting import approach3, vpnls

    if method == "lbfgs":
        return approach3.minimise(*data)[0]
    if method == "vpnls":
        return vpnls.vpnls(*data)
    raise ValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")


def child(method: str, rows: int) -> None:
    """One measurement; prints one JSON line."""
    from flops_fit.fitting import approach3
    from flops_fit.fitting.synthetic import CHINCHILLA
    from flops_fit.fitting.threads import one_blas_thread

    data = synthetic(rows)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with one_blas_thread():
        t = time.perf_counter()
        theta = fit(method, data)
        seconds = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tracemalloc.start()
        fit(method, data)
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    p = approach3.params_from_theta(theta)
    err = {k: 100 * (p[k] / CHINCHILLA[k] - 1) for k in ("E", "alpha", "beta")}
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "base_mb": base, "fit_mb": traced, "err": err}))


def end_to_end(rows: int = 100_000) -> None:
    """``flops-fit fit``'s whole fit with the default options (every approach the schema turns on,
    1,000 bootstrap replicates: Approach 2's over every budget the rows fall into, Approach 3's m out
    of n; rolling-origin backtests), in this process: seconds and peak RSS against the goal (issue 25
    point 5: <= 1 GB peak, time no worse)."""
    import pandas as pd

    from flops_fit.fitting import FitOptions, fit_runs

    log_n, log_d, log_l = synthetic(rows)
    runs = pd.DataFrame({"params": np.exp(log_n), "tokens": np.exp(log_d), "loss": np.exp(log_l)})
    options = FitOptions()
    t = time.perf_counter()
    result = fit_runs(runs, None, options)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"end to end: fit_runs(default options: approaches {options.approaches}, bootstrap {options.bootstrap}) "
          f"on {rows} rows ({len(result['budgets'])} budgets): {seconds:.1f} s, peak RSS {peak:.0f} MB; "
          f"goal <= {GOAL_MB:.0f} MB {'met' if peak <= GOAL_MB else 'NOT met'}")


def chinchilla() -> None:
    """The three fits on Epoch AI's extraction of Chinchilla's Figure 4 (5 highest-loss dropped)."""
    from pathlib import Path

    import pandas as pd

    from flops_fit.fitting import approach3, vpnls
    from flops_fit.fitting.threads import one_blas_thread

    df = pd.read_csv(Path(__file__).resolve().parents[1] / "tests" / "data" / "chinchilla_svg_extracted.csv")
    df = df.sort_values("loss").iloc[:-5]
    n = df["Model Size"].to_numpy()
    data = np.log(n), np.log(df["Training FLOP"].to_numpy() / (6 * n)), np.log(df["loss"].to_numpy())
    fits = {
        "Huber/L-BFGS": lambda: approach3.minimise(*data)[0],
        "VPNLS Huber": lambda: vpnls.vpnls(*data, huber_delta=1e-3),
        "VPNLS LS": lambda: vpnls.vpnls(*data),
    }
    names = ("E", "A", "B", "alpha", "beta", "a")
    print(f"Chinchilla, 240 points     {'seconds':>8s} " + " ".join(f"{k:>8s}" for k in names))
    print(f"{'Besiroglu et al. 2024':26s} {'':8s} " + " ".join(f"{v:8.4g}" for v in REFERENCE) + f" {'':>8s}")
    with one_blas_thread():
        for name, run in fits.items():
            t = time.perf_counter()
            p = approach3.params_from_theta(run())
            print(f"{name:26s} {time.perf_counter() - t:8.2f} " + " ".join(f"{p[k]:8.4g}" for k in names))
    print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "ROWS"), help=argparse.SUPPRESS)
    ap.add_argument("--end-to-end", action="store_true", help="only the default fit of 100k rows (time, peak RSS)")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    if args.end_to_end:
        end_to_end()
        return 0

    chinchilla()
    print(f"{'method':8s} {'rows':>8s} {'seconds':>8s} {'peak MB':>8s} {'base MB':>8s} {'fit MB':>8s}   "
          "error % (E, alpha, beta)")
    status = 0
    for method in args.methods:
        for rows in args.rows:
            out = subprocess.run([sys.executable, __file__, "--child", method, str(rows)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{method:8s} {rows:8d}   failed (exit {out.returncode}): {out.stderr.strip()[-300:]}")
                status = 1
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            e = r["err"]
            print(f"{method:8s} {rows:8d} {r['seconds']:8.2f} {r['peak_mb']:8.0f} {r['base_mb']:8.0f} "
                  f"{r['fit_mb']:8.1f}   {e['E']:+.2f} {e['alpha']:+.2f} {e['beta']:+.2f}", flush=True)
            if rows == 100_000:
                ok = r["seconds"] <= GOAL_S and r["peak_mb"] <= GOAL_MB
                print(f"{'':8s} goal at 100k rows (<= {GOAL_S:.0f} s, <= {GOAL_MB:.0f} MB): "
                      f"{'met' if ok else 'NOT met'}")
    out = subprocess.run([sys.executable, __file__, "--end-to-end"], capture_output=True, text=True)
    print(out.stdout.strip() or f"end to end failed: {out.stderr.strip()[-300:]}")
    return status | out.returncode


if __name__ == "__main__":
    sys.exit(main())
