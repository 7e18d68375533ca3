"""Do predictions hold 10-100x beyond the data?  Fit only the small runs of published studies, predict the big ones.

    .venv/bin/python benchmarks/bench_farout.py                # every study (about 4 minutes on 2 cores)
    .venv/bin/python benchmarks/bench_farout.py --quick        # fewer holdouts and synthetic draws

Studies (tests/data/README.md has their provenance):

* IsoFLOP sweeps, judged on held-out budgets' optima (the vertex of the held-out budget's own
  parabola) and, through Approach 3's surface, on every run of the held-out budgets (L(N, D) off the
  optimum): Porian et al. 2024's 15 configurations (12 budgets x2 apart; the top 2, 4 and 6 held out:
  2-64x); the public IsoFLOP experiments (Chinchilla, Llama 3, (Mis)Fitting) fitted on every point,
  the collector's outlier flags ignored, and judged against the vertices of the collector's cleaned
  runs (the top 2, 4 and 6 budgets whose vertex is usable held out).
* Grids of (N, D), judged on held-out runs' L(N, D): Farseer (Li et al. 2025; its 7 held-out runs,
  5.9e21-1.9e22), Gadre et al. 2024 (C4 validation loss; the 6.9B run and the over-trained 1.4B runs
  held out, as in the paper).
* Synthetic IsoFLOP studies whose true law is not of any fitted form (an exponent that bends with
  scale; an interaction of N and D), the true optimum known at 2-100x, and the true loss of five runs
  +-0.6 decades around it.

Printed per distance bucket (held-out compute / largest fitted budget) and approach, for N* and for L*
(or L(N, D)): n, coverage of the 90% interval, signed median error, median |error|, median half-width,
and the 90th percentile of |error| / half-width (1: the interval is as wide as the errors need).

Priors: each study is judged with priors estimated without it (leave one study out).  The shipped
priors of flops_fit.fitting.predictive were estimated on the public IsoFLOP experiments; each of those
is judged here with priors re-estimated, by the same rules (estimate_priors), from the other two
experiments only.  Porian, Farseer, Gadre and the synthetic studies took no part in the shipped ones.
"""

from __future__ import annotations

import argparse
import copy
import math
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd
from bench_calibration import _optimum, _surface

from flops_fit.fitting import FitError, FitOptions, fit_runs, predict, predict_loss, predictive
from flops_fit.fitting.approach2 import fit_budget

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
BUCKETS = ((0, 3, "<=3x"), (3, 10, "3-10x"), (10, 30, "10-30x"), (30, 100.5, "30-100x"), (100.5, math.inf, ">100x"))
CONFIDENCE = 0.9


def _runs(g: pd.DataFrame) -> pd.DataFrame:
    cols = {"params": g["params"].to_numpy(), "tokens": g["tokens"].to_numpy(), "loss": g["loss"].to_numpy()}
    if "budget" in g:
        cols["budget"] = g["budget"].to_numpy()
    return pd.DataFrame(cols)


def vertices(runs: pd.DataFrame) -> dict[float, tuple[float, float]]:
    """Each budget's optimum (N*, L*): the vertex of its parabola, where inside its sampled sizes."""
    out = {}
    for c, g in runs.groupby("budget"):
        det = fit_budget(g["params"], g["tokens"], g["loss"], float(c), "6ND")
        if det["included"]:
            out[float(c)] = (det["N_opt"], det["L_opt"])
    return out


def isoflop_studies() -> list[dict]:
    """(name, runs to fit, the runs whose vertices are the targets, in-prior) per IsoFLOP study."""
    out = []
    porian = pd.read_csv(DATA / "porian_isoflops.csv")
    for config, g in porian.groupby("config"):
        out.append({"name": f"porian/{config}", "runs": _runs(g), "reference": _runs(g), "in_prior": False})
    public = pd.read_csv(DATA / "public_isoflops.csv")
    for exp, g in public.groupby("experiment"):
        out.append({"name": f"{exp.split('__')[0]}/all", "runs": _runs(g), "reference": _runs(g[~g["outlier"]]),
                    "in_prior": True})
    return out


def grid_studies() -> list[dict]:
    """Grids of (N, D) with held-out big runs: Farseer's 7, Gadre's 6.9B and over-trained 1.4B runs."""
    out = []
    f = pd.read_csv(DATA / "farseer_runs.csv")
    out.append({"name": "farseer", "runs": _runs(f[~f["held_out"]]), "held": _runs(f[f["held_out"]])})
    g = pd.read_csv(DATA / "gadre_overtraining.csv")
    g = g[g["eval_set"] == "c4_val"]
    held = (g["params"] > 5e9) | ((g["params"] > 1e9) & (g["tokens_per_param_multiplier"] > 1))
    for dataset, rows in g.groupby("dataset"):
        out.append({"name": f"gadre/{dataset}", "runs": _runs(rows[~held[rows.index]]),
                    "held": _runs(rows[held[rows.index]])})
    return out


def synthetic_study(seed: int) -> dict:
    """An IsoFLOP study of a law not of any fitted form: 5-8 budgets over 1-2 decades, 7 sizes each,
    0.2-0.8% run noise; the true optima at 2, 5, 10, 30 and 100x the largest."""
    rng = np.random.default_rng(1000 + seed)
    family = ("drifting-exponent", "not-the-fitted-form")[seed % 2]
    loss = _surface(rng, family)
    budgets = np.geomspace(1e17, 1e17 * 10 ** rng.uniform(1.0, 2.0), int(rng.integers(5, 9)))
    noise = rng.uniform(0.002, 0.008)
    rows = []
    for c in budgets:
        n_opt, _ = _optimum(loss, c)
        for x in np.linspace(-0.6, 0.6, 7) + rng.uniform(-0.1, 0.1):
            n = n_opt * 10**x
            rows.append({"params": n, "tokens": c / (6 * n), "budget": c,
                         "loss": loss(n, c / (6 * n)) * (1 + noise * rng.standard_normal())})
    targets = {float(budgets[-1] * k): _optimum(loss, budgets[-1] * k) for k in (2, 5, 10, 30, 100)}
    held = []  # runs a new IsoFLOP profile at each target would train, +-0.6 decades around the optimum
    for c, (n_opt, _) in targets.items():
        for x in np.linspace(-0.6, 0.6, 5):
            n = n_opt * 10**x
            held.append({"params": n, "tokens": c / (6 * n), "budget": c, "loss": loss(n, c / (6 * n))})
    return {"name": f"synthetic/{family}#{seed}", "runs": pd.DataFrame(rows), "targets": targets,
            "held": pd.DataFrame(held), "in_prior": False}


ABLATE = set()  # parts of the fit removed before predicting (--ablate): what each contributes


def _ablated(res: dict) -> dict:
    a3 = res["approaches"].get("approach3", {})
    if "forms" in ABLATE:
        res["approaches"].get("approach2", {}).pop("law_forms", None)
    if "runs" in ABLATE and "predictive_runs" in a3:
        a3["predictive_runs"] = a3.get("predictive")
    return res


def _options(approaches, bootstrap: int) -> FitOptions:
    return FitOptions(approaches=approaches, bootstrap=bootstrap, backtest_holdout=0, confidence=CONFIDENCE)


def _row(study, kind, approach, quantity, distance, pred, lo, hi, obs, in_prior) -> dict:
    err = math.log(pred / obs)  # > 0: the prediction lies above what was observed
    half = math.log(pred / lo) if err > 0 else math.log(hi / pred)
    return {"study": study, "kind": kind, "approach": int(approach), "quantity": quantity, "distance": distance,
            "error": err, "covered": bool(lo <= obs <= hi), "half_width": half,
            "ratio": abs(err) / half if half > 0 else math.inf, "in_prior": in_prior}


def _optimum_rows(name, res, targets: dict, c_max: float, in_prior: bool) -> list[dict]:
    res = _ablated(res)
    rows = []
    for r in predict(res, sorted(targets)).itertuples():
        n_obs, l_obs = targets[r.budget]
        for q, pred, lo, hi, obs in (("N*", r.N_opt, r.N_opt_lo, r.N_opt_hi, n_obs),
                                     ("L*", r.L_opt, r.L_opt_lo, r.L_opt_hi, l_obs)):
            if all(math.isfinite(v) and v > 0 for v in (pred, lo, hi)):
                rows.append(_row(name, "optimum", r.approach, q, r.budget / c_max, pred, lo, hi, obs, in_prior))
    return rows


def _run_rows(name, res, held: pd.DataFrame, c_max: float, in_prior: bool) -> list[dict]:
    if res["approaches"].get("approach3", {}).get("status") != "ok" or held.empty:
        return []
    res = _ablated(res)
    t = predict_loss(res, held["params"].to_numpy(), held["tokens"].to_numpy())
    return [_row(name, "run", 3, "L(N,D)", 6 * n * d / c_max, p, lo, hi, obs, in_prior)
            for n, d, p, lo, hi, obs in zip(held["params"], held["tokens"], t["L"], t["L_lo"], t["L_hi"],
                                            held["loss"], strict=True)]


SHIPPED = {name: copy.deepcopy(getattr(predictive, name)) for name in ("PRIOR_DRIFT", "PRIOR_TAU", "PRIOR_OFFSET")}


def use_priors(priors: dict | None) -> None:
    """Set this process's predictive priors (None: the shipped ones)."""
    for name, value in (priors or SHIPPED).items():
        getattr(predictive, name).clear()
        getattr(predictive, name).update(copy.deepcopy(value))


def own_calibration(runs: pd.DataFrame) -> dict:
    """A study's own offset, drift and scatter per approach, with flat priors on the offset and drift.  Its
    scatter tau stays shrunk towards the shipped prior (worth two errors): the rules are no fixed point,
    and with a zero prior most studies' own tau is 0 (flops_fit.fitting.predictive)."""
    use_priors(dict(SHIPPED, PRIOR_DRIFT={k: {"N": 1.0, "L": 1.0} for k in (1, 2, 3)},
                    PRIOR_OFFSET={k: {"N": 1.0, "L": 1.0} for k in (1, 2, 3)}))
    try:
        res = fit_runs(runs, None, _options((2, 3), 0))
    finally:
        use_priors(None)
    return {int(key[-1]): block["predictive"] for key, block in res["approaches"].items() if block.get("predictive")}


def estimate_priors(calibrations: list[dict]) -> dict:
    """The priors by the rules of flops_fit.fitting.predictive from other studies' own calibrations: drift
    the root mean square of their drifts, tau the median of their scatters, the offset's spread by the
    method of moments (DerSimonian & Laird 1986), floored at 0.001.  Approach 1 takes Approach 2's."""
    out = {"PRIOR_DRIFT": {}, "PRIOR_TAU": {}, "PRIOR_OFFSET": {}}
    for k in (2, 3):
        cals = [c[k] for c in calibrations if k in c]
        for q in "NL":
            out["PRIOR_DRIFT"].setdefault(k, {})[q] = math.sqrt(np.mean([c[f"drift_{q}"] ** 2 for c in cals]))
            out["PRIOR_TAU"].setdefault(k, {})[q] = float(np.median([c[f"tau_{q}"] for c in cals]))
            spread = np.mean([c[f"offset_{q}"] ** 2 - c[f"offset_sd_{q}"] ** 2 for c in cals])
            out["PRIOR_OFFSET"].setdefault(k, {})[q] = math.sqrt(max(spread, 1e-6))
    for name in out:
        out[name][1] = dict(out[name][2])
    return out


def calibration_job(study: dict) -> tuple[str, dict]:
    warnings.filterwarnings("ignore")
    return study["name"], own_calibration(study["runs"])


def loso_priors(studies: list[dict], processes: int) -> dict:
    """Priors for each in-prior study estimated without it (every variant of its experiment left out)."""
    pool_studies = [dict(s, name=f"{s['name'].split('/')[0]}/{v}", runs=r) for s in studies if s["in_prior"]
                    for v, r in (("all", s["runs"]), ("qc", s["reference"]))]
    with Pool(processes) as pool:
        own = dict(pool.map(calibration_job, pool_studies))
    return {s["name"]: estimate_priors([c for name, c in own.items() if name.split("/")[0] != s["name"].split("/")[0]])
            for s in studies if s["in_prior"]}


def _design(res: dict, rows: list[dict]) -> list[dict]:
    """Rows tagged with what the study fitted: its usable budgets and the decades they span."""
    reach = res.get("reach") or {}
    for r in rows:
        r.update(usable_budgets=reach.get("usable_budgets"), span=reach.get("span_decades"))
    return rows


def by_design(rows: list[dict]) -> None:
    """How the errors 10-100x out shrink with more budgets and a wider span (IsoFLOP studies)."""
    t = pd.DataFrame([r for r in rows if r.get("usable_budgets") is not None and 10 < r["distance"] <= 100.5])
    if t.empty:
        return
    t["budgets"] = pd.cut(t["usable_budgets"], [0, 4, 6, 100], labels=["<=4", "5-6", ">=7"])
    t["decades"] = pd.cut(t["span"], [-1, 1.0, 1.5, 100], labels=["<1", "1-1.5", ">1.5"])
    print("\n10-100x beyond the data, by the usable budgets fitted and the decades they span (all IsoFLOP studies)")
    print("  quantity  approach  budgets  decades    n  cover 90%  median |err|")
    for (q, k, b, d), g in t.groupby(["quantity", "approach", "budgets", "decades"], observed=True):
        err = np.median(np.abs(g["error"]))
        text = f"x{math.exp(err):.3f}" if q == "N*" else f"{100 * math.expm1(err):.2f}%"
        print(f"  {q:8s}  {k:8d}  {b:>7s}  {d:>7s} {len(g):4d}  {g['covered'].mean():9.0%}  {text:>12s}")


def isoflop_job(args) -> list[dict]:
    study, holdout, bootstrap = args
    warnings.filterwarnings("ignore")
    use_priors(study.get("priors"))
    targets = vertices(study["reference"])
    usable = sorted(targets)
    if len(usable) <= holdout + 2:
        return []
    first = usable[-holdout]
    train = study["runs"][study["runs"]["budget"] < first * 0.95]
    held = {c: v for c, v in targets.items() if c >= first * 0.95}
    try:
        res = fit_runs(train, None, _options((2, 3), bootstrap))
    except FitError:
        return []
    c_max = max(res["budgets"])
    held_runs = study["reference"][study["reference"]["budget"] >= first * 0.95]
    return _design(res, _optimum_rows(study["name"], res, held, c_max, study["in_prior"])
                   + _run_rows(study["name"], res, held_runs, c_max, study["in_prior"]))


def grid_job(args) -> list[dict]:
    study, bootstrap = args
    warnings.filterwarnings("ignore")
    use_priors(None)
    res = fit_runs(study["runs"], None, _options((3,), bootstrap))
    c_max = float((6 * study["runs"]["params"] * study["runs"]["tokens"]).max())
    return _run_rows(study["name"], res, study["held"], c_max, False)


def synthetic_job(args) -> list[dict]:
    seed, bootstrap = args
    warnings.filterwarnings("ignore")
    use_priors(None)
    study = synthetic_study(seed)
    res = fit_runs(study["runs"], None, _options((2, 3), bootstrap))
    c_max = max(res["budgets"])
    return _design(res, _optimum_rows(study["name"], res, study["targets"], c_max, False)
                   + _run_rows(study["name"], res, study["held"], c_max, False))


def bucket(distance: float) -> str:
    return next(label for lo, hi, label in BUCKETS if lo < distance <= hi)


def summary(rows: list[dict], title: str) -> pd.DataFrame:
    t = pd.DataFrame(rows)
    print(f"\n{title}: {len(t)} predictions")
    if t.empty:
        return t
    t["bucket"] = pd.Categorical(t["distance"].map(bucket), [b[2] for b in BUCKETS], ordered=True)
    agg = t.groupby(["quantity", "approach", "bucket"], observed=True).agg(
        n=("covered", "size"), coverage=("covered", "mean"),
        signed=("error", "median"), abs_err=("error", lambda x: np.median(np.abs(x))),
        half=("half_width", "median"), p90_ratio=("ratio", lambda x: np.quantile(x, 0.9)))
    print("  quantity  approach  distance    n  cover 90%  signed median err  median |err|  median half-width"
          "  p90 |err|/half")
    for (q, k, b), r in agg.iterrows():
        unit = (lambda v: f"x{math.exp(v):.3f}") if q == "N*" else (lambda v: f"{100 * math.expm1(v):+.2f}%")
        absu = (lambda v: f"x{math.exp(v):.3f}") if q == "N*" else (lambda v: f"{100 * math.expm1(v):.2f}%")
        print(f"  {q:8s}  {k:8d}  {b:8s} {int(r['n']):4d}  {r['coverage']:9.0%}  {unit(r['signed']):>17s}"
              f"  {absu(r['abs_err']):>12s}  {absu(r['half']):>17s}  {r['p90_ratio']:14.2f}")
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", type=int, default=100)
    ap.add_argument("--draws", type=int, default=40, help="synthetic studies")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="holdout 6 only and 10 synthetic draws")
    ap.add_argument("--csv", help="write every prediction's row here")
    ap.add_argument("--ablate", nargs="*", default=[], choices=["forms", "runs"],
                    help="without Approach 2's L* law forms' spread / with L*'s calibration for runs' L(N, D)")
    args = ap.parse_args()
    ABLATE.update(args.ablate)
    holdouts = (6,) if args.quick else (2, 4, 6)
    draws = 10 if args.quick else args.draws
    t0 = time.perf_counter()
    studies = isoflop_studies()
    priors = loso_priors(studies, args.processes)
    for s in studies:
        s["priors"] = priors.get(s["name"])
    iso = [(s, h, args.bootstrap) for s in studies for h in holdouts]
    with Pool(args.processes) as pool:
        iso_rows = [r for chunk in pool.map(isoflop_job, iso) for r in chunk]
        grid_rows = [r for chunk in pool.map(grid_job, [(s, args.bootstrap) for s in grid_studies()]) for r in chunk]
        synth_rows = [r for chunk in pool.map(synthetic_job, [(s, args.bootstrap) for s in range(draws)])
                      for r in chunk]
    porian = [r for r in iso_rows if r["study"].startswith("porian")]
    public = [r for r in iso_rows if r["in_prior"]]
    summary(porian, f"Porian et al. 2024, 15 configurations, top {holdouts} budgets held out (out of sample)")
    summary(public, "public IsoFLOP experiments, collector's flags ignored (priors estimated without each)")
    summary(grid_rows, "Farseer's 7 and Gadre's held-out runs: L(N, D) of the held-out runs (out of sample)")
    summary(synth_rows, f"synthetic studies, {draws} draws, law not of any fitted form (vs the true optimum)")
    every = summary(iso_rows + grid_rows + synth_rows, "every prediction (each study judged with priors estimated "
                    "without it)")
    by_design(iso_rows + synth_rows)
    if args.csv and not every.empty:
        pd.DataFrame(iso_rows + grid_rows + synth_rows).to_csv(args.csv, index=False)
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
