"""Are the 90% intervals calibrated out of sample?  Rolling-origin backtests, printed per approach.

    .venv/bin/python benchmarks/bench_calibration.py                 # public data + 200 synthetic draws
    .venv/bin/python benchmarks/bench_calibration.py --draws 40      # quicker
    .venv/bin/python benchmarks/bench_calibration.py --scales        # each public study's sigma_v, lambda

For each study: hold out the largest 1, then 2 budgets; fit the rest (bootstrap, predictive
intervals, exactly as `flops-fit fit`); predict the held-out budgets.  Printed per approach:
how often the nominal 90% interval of N* and of L* covers the held-out optimum, the median
interval width (N*: hi/lo; L*: % of L*) and the median error of the point prediction.

* Public: the IsoFLOP experiments of tests/data/public_isoflops.csv (Chinchilla, Llama 3,
  (Mis)Fitting), each fitted with the collector's outliers removed ("qc") and with every point
  ("all"); the held-out optimum is the vertex of that budget's parabola through the collector's
  cleaned runs in both cases (an optimum measured on flagged runs is no yardstick: the largest
  budgets of every experiment, 3e21 / 1e22 / 1.4-2.2e19, hold only flagged runs), itself uncertain
  (6-17 runs; bootstrap standard errors of N* from 2% to 12%): also printed, how often it agrees with
  the interval given what its own bootstrap error has beyond a typical vertex's (the interval is
  for a vertex measured as well as the studied ones).
* Synthetic: draws of a known loss surface, the optimum known exactly (minimised on the IsoFLOP
  line).  Families: the Chinchilla form (the fitted form) with a centred grid; the same with an
  off-centre grid (+-0.3 decades); a surface NOT of the fitted form (an interaction term
  I / (N^(alpha/2) D^(beta/2))); a size exponent that bends with scale (alpha (1 - delta log10(N /
  1e8)), delta 0.01-0.03: the drift the published studies show); and per-budget seed noise on top of
  per-run noise.  Approach 3 (the slow one) runs on every 4th draw.  Also printed, how often the
  interval covers the held-out budget's own measured vertex (the parabola through its noisy runs):
  that is what the interval is for, the vertex a new IsoFLOP profile would measure; against the
  true optimum it over-covers by that vertex's noise.  Also printed by the number
  of budgets fitted: with few, the study has few backtest errors of its own and the priors (from
  the public studies, flops_fit.fitting.predictive) set the width.
Goal (issue "Predictions you can trust"): coverage 80-95% everywhere, widths no wider than needed.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from multiprocessing import Pool
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from flops_fit.fitting import FitOptions, fit_runs, predict, predictive

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "public_isoflops.csv"
FAMILIES = ("chinchilla-form", "off-centre", "not-the-fitted-form", "seed-noise", "drifting-exponent")


def public_studies() -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """(name, runs fitted, runs whose vertices are the held-out optima): both variants of an experiment
    are judged against the vertices of the collector's cleaned runs ("qc")."""
    d = pd.read_csv(DATA)
    out = []
    for exp, g in d.groupby("experiment"):
        clean = _runs(g[~g["outlier"]])
        out.append((f"{exp.split('__')[0]}/qc", clean, clean))
        out.append((f"{exp.split('__')[0]}/all", _runs(g), clean))
    return out


def _runs(g: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"params": g["params"].to_numpy(), "tokens": g["tokens"].to_numpy(),
                         "loss": g["loss"].to_numpy(), "budget": g["budget"].to_numpy()})


def _surface(rng, family: str):
    p = {"E": rng.uniform(1.6, 2.5), "A": rng.uniform(200, 800), "B": rng.uniform(300, 3000),
         "alpha": rng.uniform(0.26, 0.42), "beta": rng.uniform(0.26, 0.42)}
    inter = rng.uniform(20, 80) if family == "not-the-fitted-form" else 0.0
    drift = rng.uniform(0.01, 0.03) if family == "drifting-exponent" else 0.0

    def loss(n, d):
        alpha = p["alpha"] * (1 - drift * (np.log10(n) - 8))  # the size exponent bends with scale
        return (p["E"] + p["A"] * n ** -alpha + p["B"] * d ** -p["beta"]
                + inter * n ** (-p["alpha"] / 2) * d ** (-p["beta"] / 2))

    return loss


def _optimum(loss, c: float) -> tuple[float, float]:
    """True (N*, L*) on the IsoFLOP line C = 6ND: dense grid, then a parabola through the best 3."""
    x = np.linspace(math.log10(c) / 2 - 6, math.log10(c) / 2 + 3, 20001)
    values = loss(10**x, c / (6 * 10**x))
    i = int(np.clip(np.argmin(values), 1, len(x) - 2))
    y0, y1, y2 = values[i - 1 : i + 2]
    h = x[1] - x[0]
    shift = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) * h
    xs = x[i] + shift
    return 10**xs, float(loss(10**xs, c / (6 * 10**xs)))


def synthetic_study(seed: int) -> tuple[str, pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    family = FAMILIES[seed % len(FAMILIES)]
    loss = _surface(rng, family)
    n_budgets = int(rng.integers(5, 9))
    budgets = np.geomspace(1e18, 1e18 * 10 ** rng.uniform(1.5, 3.0), n_budgets)
    sizes = int(rng.integers(5, 9))
    span = rng.uniform(0.5, 0.9)
    noise = rng.uniform(0.002, 0.008)
    rows, truth = [], {}
    for c in budgets:
        n_opt, l_opt = _optimum(loss, c)
        truth[float(c)] = (n_opt, l_opt)
        offset = rng.uniform(-0.3, 0.3) if family == "off-centre" else rng.uniform(-0.05, 0.05)
        shared = rng.standard_normal() * noise if family == "seed-noise" else 0.0
        for x in np.linspace(-span, span, sizes) + offset:
            n = n_opt * 10**x
            d = c / (6 * n)
            value = loss(n, d) * (1 + shared + noise * rng.standard_normal())
            rows.append({"params": n, "tokens": d, "loss": value, "budget": c})
    return family, pd.DataFrame(rows), truth


def _observed(runs: pd.DataFrame, bootstrap: int) -> tuple[dict, dict]:
    """Each budget's vertex (N*, L*) and its own bootstrap standard error (log units)."""
    full = fit_runs(runs, None, FitOptions(approaches=(2,), bootstrap=bootstrap, backtest_holdout=0,
                                           keep_flagged=True))  # the yardstick: every run given
    z = 2 * NormalDist().inv_cdf(0.95)
    used = [b for b in full["approaches"]["approach2"]["budgets"] if b["included"]]
    se = {b["budget"]: (math.log(b["N_opt_hi"] / b["N_opt_lo"]) / z, math.log(b["L_opt_hi"] / b["L_opt_lo"]) / z)
          for b in used}
    return {b["budget"]: (b["N_opt"], b["L_opt"]) for b in used}, se


def _within(pred, lo, hi, obs, se, typical) -> bool:
    """The held-out vertex agrees with the interval given its own noise.  The interval is for the
    vertex a new IsoFLOP profile would measure, so it already holds a typical vertex's noise (the
    median of the studied budgets' bootstrap errors, ``typical``); only what the held-out vertex's
    own bootstrap error has beyond that widens it."""
    half = math.log(hi / pred) if obs > pred else math.log(pred / lo)
    excess = math.sqrt(max(se * se - typical * typical, 0.0))
    return abs(math.log(obs / pred)) <= math.hypot(half, NormalDist().inv_cdf(0.95) * excess)


def backtests(name: str, runs: pd.DataFrame, truth: dict | None, approaches, bootstrap: int,
              reference: pd.DataFrame | None = None, keep_flagged: bool = False) -> list[dict]:
    """Hold out the largest 1, then 2 budgets whose optimum is known (``truth``, or the vertices of
    ``reference``'s budgets); one row per (holdout, budget, approach).  ``keep_flagged``: fit the
    runs that quality control flags too (benchmarks/bench_quality.py compares)."""
    warnings.filterwarnings("ignore")
    target, se = (truth, {}) if truth is not None else _observed(runs if reference is None else reference, bootstrap)
    measured = _observed(runs, bootstrap)[0] if truth is not None else {}  # what a new IsoFLOP profile measures
    usable = sorted(target)  # budgets whose optimum is known (public: a vertex inside its sizes)
    rows = []
    for h in (1, 2):
        held = usable[-h:]
        train = runs[runs["budget"] < held[0] * 0.95]  # everything below the first held-out budget
        try:
            res = fit_runs(train, None, FitOptions(approaches=approaches, bootstrap=bootstrap, backtest_holdout=0,
                                                   keep_flagged=keep_flagged))
        except ValueError as exc:
            rows.append({"study": name, "holdout": h, "error": str(exc)})
            continue
        studied = [v for c, v in se.items() if c < held[0] * 0.95]
        typical = np.median(studied, axis=0) if studied else (0.0, 0.0)
        for _, r in predict(res, held).iterrows():
            near = [c for c in target if abs(math.log(c / r["budget"])) < math.log(1.1)]
            if not near:
                continue
            n_obs, l_obs = target[near[0]]
            own = se.get(near[0], (0.0, 0.0))
            row = {
                "study": name, "holdout": h, "budget": r["budget"], "approach": int(r["approach"]),
                "train_budgets": int(train["budget"].nunique()),
                "covers_N": bool(r["N_opt_lo"] <= n_obs <= r["N_opt_hi"]),
                "covers_L": bool(r["L_opt_lo"] <= l_obs <= r["L_opt_hi"]),
                "agrees_N": _within(r["N_opt"], r["N_opt_lo"], r["N_opt_hi"], n_obs, own[0], typical[0]),
                "agrees_L": _within(r["L_opt"], r["L_opt_lo"], r["L_opt_hi"], l_obs, own[1], typical[1]),
                "width_N": r["N_opt_hi"] / r["N_opt_lo"], "width_L_pct": 100 * (r["L_opt_hi"] / r["L_opt_lo"] - 1),
                "N_ratio": r["N_opt"] / n_obs, "L_error_pct": 100 * (r["L_opt"] / l_obs - 1),
            }
            if near[0] in measured:
                n_vertex, l_vertex = measured[near[0]]
                row["covers_N_vertex"] = bool(r["N_opt_lo"] <= n_vertex <= r["N_opt_hi"])
                row["covers_L_vertex"] = bool(r["L_opt_lo"] <= l_vertex <= r["L_opt_hi"])
            rows.append(row)
    return rows


def _synthetic_job(args) -> list[dict]:
    seed, bootstrap = args
    family, runs, truth = synthetic_study(seed)
    approaches = (2, 3) if seed % 4 == 1 else (2,)
    return backtests(f"{family}#{seed}", runs, truth, approaches, bootstrap)


def summary(rows: list[dict], title: str) -> None:
    t = pd.DataFrame([r for r in rows if "error" not in r])
    failed = sum("error" in r for r in rows)
    print(f"\n{title}: {len(t)} predictions" + (f" ({failed} fits refused with a FitError)" if failed else ""))
    if t.empty:
        return
    agg = t.groupby("approach").agg(
        n=("covers_N", "size"),
        cover_N=("covers_N", "mean"),
        cover_L=("covers_L", "mean"),
        agree_N=("agrees_N", "mean"),
        agree_L=("agrees_L", "mean"),
        width_N=("width_N", "median"),
        width_L_pct=("width_L_pct", "median"),
        N_ratio=("N_ratio", lambda x: math.exp(np.median(np.abs(np.log(x))))),
        L_err_pct=("L_error_pct", lambda x: np.median(np.abs(x))),
    )
    noisy = not t["agrees_N"].eq(t["covers_N"]).all() or not t["agrees_L"].eq(t["covers_L"]).all()
    vertex = "covers_N_vertex" in t
    if vertex:
        agg = agg.join(t.groupby("approach")[["covers_N_vertex", "covers_L_vertex"]].mean())
    print("  approach     n  cover N*  cover L*" + ("  (given the vertex's noise: N*  L*)" if noisy else "")
          + ("  (its measured vertex: N*  L*)" if vertex else "")
          + "  width N* (hi/lo)  width L* (%)  median N* off  median |L* err| %")
    for k, r in agg.iterrows():
        given = f"  {'':23s}{r['agree_N']:5.0%} {r['agree_L']:4.0%}" if noisy else ""
        given += f"  {'':17s}{r['covers_N_vertex']:5.0%} {r['covers_L_vertex']:4.0%}" if vertex else ""
        print(f"  {k:>8d} {int(r['n']):5d}  {r['cover_N']:7.0%}  {r['cover_L']:7.0%}{given}  {r['width_N']:16.3f}"
              f"  {r['width_L_pct']:12.2f}  x{r['N_ratio']:12.3f}  {r['L_err_pct']:16.3f}")


def scales() -> None:
    """Each public study's own sigma_v, lambda, offset a, drift b and tau per approach
    (flops_fit.fitting.predictive): the root mean square of b over the studies is the prior
    PRIOR_DRIFT, the median of tau PRIOR_TAU; PRIOR_OFFSET is the method-of-moments spread of the offsets
    fitted without a prior (their mean square less their mean squared standard error)."""
    seen: dict[str, list[dict]] = {}
    for name, runs, _ in public_studies():
        res = fit_runs(runs, None, FitOptions(approaches=(2, 3), bootstrap=100, backtest_holdout=0))
        for key, block in res["approaches"].items():
            p = block.get("predictive") or {}
            seen.setdefault(key, []).append(p)
            cells = [f"{q}*: sigma_v {p.get(f'sigma_v_{q}', math.nan):.4f} lambda {p.get(f'lambda_{q}', math.nan):.2f}"
                     f" offset {p.get(f'offset_{q}', math.nan):+.4f} +- {p.get(f'offset_sd_{q}', math.nan):.4f}"
                     f" drift {p.get(f'drift_{q}', math.nan):+.3f} +- {p.get(f'drift_sd_{q}', math.nan):.3f}"
                     f" tau {p.get(f'tau_{q}', math.nan):.3f}" for q in ("N", "L")]
            print(f"  {name:24s} {key}: " + " | ".join(cells) + f" | {p.get('n_errors')} backtest errors")
    for key, ps in seen.items():
        rms = {f"drift_{q}": math.sqrt(np.mean([p[f"drift_{q}"] ** 2 for p in ps])) for q in "NL"}
        median = {f"tau_{q}": float(np.median([p[f"tau_{q}"] for p in ps])) for q in "NL"}
        print(f"  over the studies, {key}: root mean square " + ", ".join(f"{k} {v:.3f}" for k, v in rms.items())
              + "; median " + ", ".join(f"{k} {v:.4f}" for k, v in median.items()))
    saved = dict(predictive.PRIOR_OFFSET)
    predictive.PRIOR_OFFSET.update({k: {"N": 1.0, "L": 1.0} for k in saved})  # flat: each study's own offset
    try:
        flat: dict[str, list[dict]] = {}
        for _, runs, _ in public_studies():
            res = fit_runs(runs, None, FitOptions(approaches=(2, 3), bootstrap=0, backtest_holdout=0))
            for key, block in res["approaches"].items():
                flat.setdefault(key, []).append(block["predictive"])
    finally:
        predictive.PRIOR_OFFSET.update(saved)
    for key, ps in flat.items():
        spread = {q: math.sqrt(max(np.mean([p[f"offset_{q}"] ** 2 - p[f"offset_sd_{q}"] ** 2 for p in ps]), 0.0))
                  for q in "NL"}
        print(f"  offsets' spread between the studies (method of moments), {key}: "
              + ", ".join(f"offset_{q} {v:.4f}" for q, v in spread.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--scales", action="store_true", help="print each public study's sigma_v and lambda")
    args = ap.parse_args()
    if args.scales:
        scales()
        return
    t0 = time.perf_counter()
    rows = []
    for name, runs, clean in public_studies():
        rows += backtests(name, runs, None, (2, 3), args.bootstrap, clean)
    summary(rows, "public IsoFLOP studies (6 studies x holdouts 1, 2; vs each held-out budget's vertex)")
    summary([r for r in rows if r.get("holdout") == 1], "  of these, the largest budget held out")
    with Pool(args.processes) as pool:
        jobs = [(s, args.bootstrap) for s in range(args.draws)]
        synth = [r for chunk in pool.map(_synthetic_job, jobs) for r in chunk]
    summary(synth, f"synthetic studies ({args.draws} draws; vs the true optimum)")
    t = pd.DataFrame([r for r in synth if "error" not in r])
    if not t.empty:
        t["family"] = t["study"].str.split("#").str[0]
        for fam, g in t.groupby("family"):
            summary(g.to_dict("records"), f"  family {fam}")
        # Few budgets leave few backtest errors of the final law's form: the priors speak for them.
        for n, g in t.groupby("train_budgets"):
            summary(g.to_dict("records"), f"  studies fitted on {n} budgets")
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
