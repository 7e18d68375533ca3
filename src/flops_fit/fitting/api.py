"""The fit as one call: runs table in, fit.json content out (see ``flops_fit.fitting``)."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial

import numpy as np
import pandas as pd

from flops_fit.approaches import approach_id, approach_key

from . import (
    approach1,
    approach2,
    approach3,
    backtest,
    bootstrap,
    diagnostics,
    forms,
    powerlaw,
    predictive,
    quality,
    vpnls,
)
from . import reach as study_reach
from .allocation import evaluate
from .fitjson import to_jsonable, write_fit
from .options import FitOptions
from .runs_table import PARAMS_COLUMN, FitError, assign_budgets, load_runs, prepare_curves, prepare_runs
from .threads import one_blas_thread

SCHEMA_VERSION = 1
NEGLIGIBLE_E = 1e-6  # Approach 3's E below this fraction of the smallest loss: at its bound 0


def _convention(options: FitOptions) -> dict:
    return {
        "params": options.params,
        "flops": options.flops,
        "params_column": PARAMS_COLUMN[options.params],
        "flops_column": "flops" if options.flops == "counted" else "6 * N * tokens",
    }


def _samples_dict(samples: dict) -> dict:
    return {k: np.asarray(v, dtype=float) for k, v in samples.items()}


def _intervals(samples: dict, names, confidence: float) -> dict:
    out = {}
    for k in names:
        lo, hi = bootstrap.percentile_interval(np.asarray(samples[k], dtype=float)[:, None], confidence)
        out[k] = [float(lo[0]), float(hi[0])]
    return out


def _no_samples(names) -> dict:
    return {k: np.array([]) for k in names}


def _block(status, options, params=None, samples=None, names=(), unit="", **extra) -> dict:
    """One approach's entry of fit.json."""
    block = {"status": status, "convention": _convention(options)}
    if params is not None:
        n_ok = int(np.sum(np.isfinite(samples[names[0]]))) if samples and len(samples[names[0]]) else 0
        intervals = _intervals(samples, names, options.confidence) if n_ok else {k: [None, None] for k in names}
        block.update(
            params=params,
            intervals=intervals,
            a=params["a"],
            b=params["b"],
            a_interval=intervals["a"],
            b_interval=intervals["b"],
            bootstrap={
                "resamples": options.bootstrap,
                "ok": n_ok,
                "unit": unit,
                "seed": options.seed,
                "confidence": options.confidence,
                "samples": {k: samples[k] for k in names},
            },
        )
    block.setdefault("excluded_budgets", [])
    block.setdefault("warnings", [])
    block.update(extra)
    return block


# ---------------------------------------------------------------------------------------------
# the three approaches


def _fit_approach1(curves, options, rng, given: bool, noise: float) -> dict:
    if curves is None and given:
        note = "not enough curve points: no curve point belongs to a usable run (check run_id in both tables)"
        return _block("skipped", options, reason=note, note=note)
    try:
        params, env = approach1.fit(curves)
    except approach1.NotEnoughCurves as exc:
        return _block("skipped", options, reason=str(exc), note=str(exc))
    runs = approach1.curves_by_run(curves)
    if options.bootstrap:
        samples = approach1.bootstrap(runs, noise, options.bootstrap, rng)
    else:
        samples = _no_samples(powerlaw.PARAM_NAMES)
    return _block(
        "ok",
        options,
        params,
        _samples_dict(samples),
        powerlaw.PARAM_NAMES,
        unit=f"design fixed: every run kept, each run's curve scaled by 1 + {noise:.3g} z (run noise)",
        method="envelope of validation-loss curves on a log grid of FLOPs; laws in C through it",
        indicative=approach1.INDICATIVE,
        loss_form=powerlaw.loss_form(params),
        envelope={k: env[k].tolist() for k in ("C", "N", "D", "L", "run_id")},
        n_runs=len(runs),
    )


def _fit_approach2(table, options, rng, details) -> dict:
    params = approach2.laws(details)
    if options.bootstrap:
        samples, vertices, counts = bootstrap.approach2_samples(table, details, options.flops, options.bootstrap, rng)
    else:
        samples, vertices = _no_samples(powerlaw.PARAM_NAMES), np.full((0, len(details), 3), np.nan)
        counts = {}
    noise = counts.pop("noise", None)  # the noise the bootstrap drew and its source (bootstrap.study_noise)
    lo, hi = bootstrap.percentile_interval(vertices, options.confidence)
    budgets = []
    for j, det in enumerate(details):
        grp = table[table["budget_id"] == det["budget_id"]].sort_values("N")
        det = dict(det)
        for i, name in enumerate(("N_opt", "D_opt", "L_opt")):
            det[f"{name}_lo"], det[f"{name}_hi"] = float(lo[j, i]), float(hi[j, i])
        det["runs"] = {k: grp[k].tolist() for k in ("run_id", "N", "D", "L")}
        budgets.append(det)
    excluded = [{"budget": b["budget"], "reason": b["reason"]} for b in budgets if not b["included"]]
    warnings = [f"C={b['budget']:.3g}: {w}" for b in budgets for w in b["warnings"]]
    if counts.get("replicates_with_drops"):
        warnings.append(
            f"bootstrap: in {counts['replicates_with_drops']} of {counts['replicates']} replicates a budget's "
            f"parabola opened downward ({counts['budget_drops']} vertices lost); those replicates were fitted "
            "without it"
        )
    if noise and noise["warning"]:
        warnings.append(f"bootstrap: {noise['warning']}")
    block = _block(
        "ok",
        options,
        params,
        _samples_dict(samples),
        powerlaw.PARAM_NAMES,
        unit=noise["unit"] if noise else "design fixed: every budget and size kept (no bootstrap)",
        method="parabola of loss vs log10 N per budget; laws in C through the vertices",
        loss_form=powerlaw.loss_form(params),
        excluded_budgets=excluded,
        warnings=warnings,
        budgets=budgets,
    )
    if counts:
        block["bootstrap"]["losses"] = counts
    if noise:
        block["bootstrap"]["noise"] = {k: v for k, v in noise.items() if k != "unit"}
    return block


def _fit_approach3(table, options, rng) -> dict:
    if len(table) < 6:
        raise FitError(f"Approach 3 fits 5 parameters and needs >= 6 usable runs; got {len(table)}")
    log_n, log_d, log_l = (np.log(table[k].to_numpy()) for k in ("N", "D", "L"))
    theta = _approach3_theta(log_n, log_d, log_l, options)
    f = float(approach3.objective(theta, log_n, log_d, log_l, options.huber_delta)[0])
    params = approach3.params_from_theta(theta)
    if options.bootstrap:
        samples = bootstrap.approach3_samples(
            theta, log_n, log_d, log_l, options.huber_delta, options.bootstrap, rng, options.approach3_method
        )
    else:
        samples = _no_samples(approach3.PARAM_NAMES)
    warnings = []
    if not (params["alpha"] > 0 and params["beta"] > 0):
        warnings.append("alpha or beta <= 0: the allocation exponents are undefined")
    if params["E"] < NEGLIGIBLE_E * float(np.exp(log_l.min())):
        warnings.append(
            f"E = {params['E']:.2g} is at its bound 0: the losses show no irreducible term, so L* falls as a "
            "pure power law beyond the data (towards 0: optimistic far out)"
        )
    return _block(
        "ok",
        options,
        params,
        _samples_dict(samples),
        approach3.PARAM_NAMES,
        unit="runs, with replacement; L-BFGS warm-started from the point estimate",
        method=(
            "L(N,D) = E + A/N^alpha + B/D^beta; Huber (delta={}) on log L vs LSE form, summed over runs; "
            "L-BFGS-B from the best {} of Chinchilla's 4,500 grid starts"
        ).format(options.huber_delta, options.approach3_starts or "all")
        if options.approach3_method == "lbfgs"
        else "L(N,D) = E + A/N^alpha + B/D^beta by variable projection (VPNLS, Czech et al. 2026): E, A, B by "
        "non-negative least squares of the relative error for each (alpha, beta), grid then Nelder-Mead",
        theta={"a": theta[0], "b": theta[1], "e": theta[2], "alpha": theta[3], "beta": theta[4]},
        objective=f,
        n_runs=len(table),
        flops_per_6ND=float(np.median(_kappa(table)["kappa"])),
        flops_per_6ND_by_size=_kappa(table),
        warnings=warnings,
    )


def _approach3_theta(log_n, log_d, log_l, options: FitOptions) -> np.ndarray:
    """Approach 3's point estimate by the chosen method (``approach3_method``)."""
    if options.approach3_method == "vpnls":
        return vpnls.vpnls(log_n, log_d, log_l)
    return approach3.minimise(log_n, log_d, log_l, options.huber_delta, options.approach3_starts)[0]


def _kappa(table) -> dict:
    """Counted FLOPs per 6ND by model size (all 1 under the 6ND convention): Approach 3's allocation
    at a budget C solves kappa(N) 6 N D = C with kappa interpolated between the studied sizes."""
    ratio = (table["C"] / (6.0 * table["N"] * table["D"])).groupby(table["N"]).median()
    return {"N": ratio.index.to_numpy(float).tolist(), "kappa": ratio.to_numpy(float).tolist()}


def fit_point(train, train_curves, options: FitOptions) -> dict:
    """Every requested approach refitted without bootstrap (the backtests' refits):
    ``{approach: params or the exception that stopped it}``."""
    out = {}
    for k in sorted(set(options.approaches)):
        try:
            if k == 1:
                out[k] = approach1.fit(train_curves)[0]
            elif k == 2:
                out[k] = approach2.laws(quality.approach2_minima(train, options.flops, options.keep_flagged))
            else:
                if len(train) < 6:
                    raise FitError(f"Approach 3 needs >= 6 runs; {len(train)} left")
                ln, ld, ll = (np.log(train[c].to_numpy()) for c in ("N", "D", "L"))
                out[k] = approach3.params_from_theta(_approach3_theta(ln, ld, ll, options))
                out[k]["flops_per_6ND_by_size"] = _kappa(train)
        except (FitError, approach1.NotEnoughCurves, FloatingPointError) as exc:
            out[k] = exc
    return out


def _run_calibration(table, refit, params: dict, budgets, noise: float) -> dict:
    """The predictive calibration of Approach 3's L(N, D) for single runs (:func:`predictive.rolling_run_errors`):
    in-sample errors are the surface's residuals on every run, floored by one run's noise."""
    residuals = np.log(table["L"].to_numpy() / approach3.loss(params, table["N"].to_numpy(), table["D"].to_numpy()))
    errors = predictive.rolling_run_errors(table, refit, approach3.loss)
    floor = {"L": noise if np.isfinite(noise) else DEFAULT_RUN_NOISE}
    return predictive.calibrate(errors, 3, budgets, [{"r_L": float(r)} for r in residuals if np.isfinite(r)], floor,
                               quantities=("L",))  # a surface NaN at a run (degenerate fit): no residual


def _cached(refit):
    """``refit`` remembered by the training budgets: the backtest's fold is one of the rolling ones."""
    memo = {}

    def call(train, train_curves):
        key = tuple(sorted(train["budget_id"].unique().tolist()))
        if key not in memo:
            memo[key] = refit(train, train_curves)
        return memo[key]

    return call


def _predict_point(k, params, c):
    return evaluate(k, params, c, {"flops_per_6ND_by_size": params.get("flops_per_6ND_by_size")} if k == 3 else None)


# ---------------------------------------------------------------------------------------------
# public API


def fit_runs(runs_df: pd.DataFrame, curves_df: pd.DataFrame | None = None, options: FitOptions | None = None):
    """Fit every requested approach; returns the fit.json content (JSON-serialisable dict).

    Raises FitError for unusable input: a missing column, a value <= 0, fewer than 2 budgets,
    Approach 2 with fewer than 2 usable budgets, Approach 3 with fewer than 6 runs.
    """
    options = options or FitOptions()
    options.check()
    with one_blas_thread():  # tiny BLAS problems: extra threads only spin (see threads.py)
        return _fit_runs(runs_df, curves_df, options)


def _fit_runs(runs_df, curves_df, options: FitOptions) -> dict:
    runs_df, curves_df = load_runs(runs_df, curves_df)
    table, excluded = prepare_runs(runs_df, options.params, options.flops)
    table, budget_warnings = assign_budgets(table)
    table, qc = quality.apply(table, options.keep_flagged)  # runs off their parabola out (quality.py)
    budgets = sorted(table["budget"].unique().tolist())
    if len(budgets) < 2:
        raise FitError(
            f"all {len(table)} usable runs share one compute budget (C={budgets[0]:.3g}); scaling laws "
            "need runs at >= 2 budgets (C agreeing within 5% counts as one budget)"
        )
    curves = prepare_curves(curves_df, table, options.flops)
    rngs = bootstrap.rngs(options.seed)
    details = quality.approach2_minima(table, options.flops, options.keep_flagged)  # flagged budgets out
    noise = bootstrap.run_noise(table, details)

    approaches, errors = {}, []
    for k in sorted(set(options.approaches)):
        try:
            if k == 1:
                a1_noise = noise if np.isfinite(noise) else DEFAULT_RUN_NOISE
                approaches[approach_key(1)] = _fit_approach1(curves, options, rngs[1], curves_df is not None, a1_noise)
            elif k == 2:
                approaches[approach_key(2)] = _fit_approach2(table, options, rngs[2], details)
            else:
                approaches[approach_key(3)] = _fit_approach3(table, options, rngs[3])
        except (FitError, FloatingPointError) as exc:
            # One approach that cannot fit (e.g. Approach 2 with < 2 usable budgets) is recorded
            # with its reason and leaves the others; when none fits, the error stands, no output.
            errors.append(str(exc))
            block = _block("failed", options, reason=str(exc), note=str(exc))
            if k == 2:
                block["budgets"] = [dict(d, runs={}) for d in details]
                block["excluded_budgets"] = [{"budget": d["budget"], "reason": d["reason"]}
                                             for d in details if not d["included"]]
            approaches[approach_key(k)] = block
    if errors and not any(block["status"] == "ok" for block in approaches.values()):
        raise FitError("no approach could be fitted: " + " | ".join(errors))

    observed = backtest.observed(table, details)
    refit = _cached(partial(fit_point, options=options))
    errs = quality.measured_only(predictive.rolling_errors(table, curves, refit, _predict_point, observed), qc)
    a2 = approaches.get(approach_key(2), {})
    vertex = predictive.vertex_noise(a2.get("budgets") or [], options.confidence) if a2.get("status") == "ok" else None
    for key, block in approaches.items():
        if block["status"] == "ok":
            k = approach_id(key)
            n_fit, _, l_fit = evaluate(k, block["params"], np.array(budgets), block)
            in_sample = predictive.in_sample_errors(budgets, [observed[b] for b in sorted(observed)], n_fit, l_fit)
            block["predictive"] = predictive.calibrate(errs, k, budgets, in_sample, vertex)
    if a2.get("status") == "ok":
        used = [b for b in a2["budgets"] if b["included"]]
        a2["law_forms"] = forms.fit_law_forms([b["budget"] for b in used], [b["L_opt"] for b in used])
    a3 = approaches.get(approach_key(3), {})
    if a3.get("status") == "ok":
        a3["predictive_runs"] = _run_calibration(table, refit, a3["params"], budgets, noise)
        a3["forms"] = forms.fit(table, [a3["theta"][k] for k in ("a", "b", "e", "alpha", "beta")], options.huber_delta)
        a3["forms_disagreement"] = forms.disagreement(a3["forms"], max(budgets))
    bt = backtest.run(
        table, curves, options.backtest_holdout, refit, _predict_point, observed, errs, options.confidence
    )
    bt["convention"] = _convention(options)
    for k in list(bt.get("approaches", {})):
        if approaches.get(k, {}).get("status") != "ok":
            bt["approaches"][k] = {"status": "skipped", "reason": "approach not fitted on all data"}

    predict_budgets = (
        list(options.predict_budgets)
        if options.predict_budgets is not None
        else budgets + [10 * budgets[-1], 100 * budgets[-1]]
    )
    result = {
        "schema_version": SCHEMA_VERSION,
        "convention": _convention(options),
        "options": asdict(options),
        "intervals_method": predictive.METHOD if options.intervals == "predictive" else BOOTSTRAP_METHOD,
        "n_runs": int(len(runs_df)),
        "n_used": int(len(table)),
        "budgets": budgets,
        "predict_budgets": predict_budgets,
        "runs": {k: table[k].tolist() for k in ("run_id", "N", "D", "C", "L", "budget", "budget_id")},
        "excluded_runs": excluded,
        "budget_warnings": budget_warnings,
        "quality": qc,
        "run_noise": noise,
        "approaches": approaches,
        "backtest": bt,
        "rolling_backtest": errs,
        "references": REFERENCES,
    }
    usable = [d["budget"] for d in details if d["included"]]
    result["reach"] = study_reach.assess(budgets, usable, max((e["u"] for e in errs), default=0.0))
    result["diagnostics"] = diagnostics.check(runs_df, table, curves_df, result)
    return to_jsonable(result)


DEFAULT_RUN_NOISE = 0.005
BOOTSTRAP_METHOD = "bootstrap: percentile intervals of the bootstrap replicates (run noise only)"


REFERENCES = [
    "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, §3 and App. D",
    "Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt (epoch-research/analyzing-chinchilla)",
    "Porian et al. 2024, Resolving Discrepancies in Compute-Optimal Scaling of Language Models",
    "Choshen et al. 2025, A Hitchhiker's Guide to Scaling Law Estimation",
    "Czech et al. 2026 (Open-Athena), bias of IsoFLOP parabola fits with off-centre sampling",
]


def fit_files(runs_csv, curves_csv, out_dir, options: FitOptions | None = None, lr_rule: dict | None = None) -> dict:
    """The fit of a runs table on disk (what the fit rule and ``flops-fit fit`` run): repetition
    warnings, the effective data when asked, :func:`fit_runs`, :func:`write_fit`.  ``lr_rule``: the
    study's fitted learning-rate rule (its lr/rule.json), recorded in fit.json as
    ``learning_rate_rule`` beside the law the runs trained with it gave.  Returns the result."""
    from ..runs import repetition_warnings, with_effective_data

    options = options or FitOptions()
    runs, curves = load_runs(runs_csv, curves_csv)
    warnings = repetition_warnings(runs, options.max_epochs)
    if options.effective_data:
        runs = with_effective_data(runs)
    result = fit_runs(runs, curves, options)
    result["warnings"] = warnings
    result["effective_data"] = bool(options.effective_data)
    if lr_rule is not None:
        result["learning_rate_rule"] = lr_rule
    write_fit(result, out_dir)
    return result
