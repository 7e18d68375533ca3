"""Fitting compute-optimal scaling laws to a table of training runs (no torch; numpy/scipy/pandas).

Three estimators of Hoffmann et al. 2022 ("Training Compute-Optimal Large Language Models",
§3 and App. D), each with seeded bootstrap intervals and a hold-out backtest:

* Approach 1 (:mod:`.approach1`): the envelope of the loss curves -> N*(C), D*(C).
* Approach 2 (:mod:`.approach2`): IsoFLOP parabolas per budget -> N*(C), D*(C).
* Approach 3 (:mod:`.approach3`): L(N, D) = E + A/N^alpha + B/D^beta, Huber on log L summed
  over runs, as replicated by Besiroglu et al. 2024 (epoch-research/analyzing-chinchilla).

Conventions (N total or non-embedding; C = 6ND or counted FLOPs) are explicit options and are
recorded next to every number (Porian et al. 2024).  Usage::

    from flops_fit.fitting import FitOptions, load_runs, fit_runs, write_fit
    runs, curves = load_runs("results/demo/runs.csv", "results/demo/curves.csv")
    result = fit_runs(runs, curves, FitOptions(params="total", flops="6ND", bootstrap=1000))
    write_fit(result, "results/demo/fit")   # fit.json + predictions.csv

fit.json (schema_version 1)::

    convention      {params, flops, params_column, flops_column}
    options         the FitOptions used
    budgets         studied budgets C (geometric mean of each group's C under the convention)
    predict_budgets budgets of predictions.csv
    runs            {run_id, N, D, C, L, budget, budget_id} lists: the usable runs
    excluded_runs   [{run_id, reason}]: status != ok, non-finite values, duplicate rows
    approaches      {"approach1"|"approach2"|"approach3": block}; every block has
                    status ("ok" | "skipped"), reason (when skipped), convention, params,
                    intervals {name: [lo, hi]}, a, b, a_interval, b_interval,
                    excluded_budgets [{budget, reason}], warnings, method,
                    bootstrap {resamples, ok, unit, seed, confidence, samples {name: [...]}}
      approach1     params a, k_N, b, k_D, gamma, k_L (N* = k_N C^a, D* = k_D C^b, L* = k_L C^-gamma);
                    envelope {C, N, D, L, run_id}; or status "skipped" with a "not enough curve
                    points" note
      approach2     same params; budgets [{budget, budget_id, n_runs, n_sizes, N_min, N_max,
                    parabola {c2, c1, c0} of L vs log10 N, N_opt, D_opt, L_opt (+ _lo/_hi),
                    included, reason, warnings, runs {run_id, N, D, L}}]
      approach3     params E, A, B, alpha, beta, a, b, G; theta; objective; flops_per_6ND
    backtest        {status, holdout, held_out_budgets, approaches {key: {status, params,
                    held_out [{budget, N_pred, N_obs, N_ratio, L_pred, L_obs, L_error_pct,
                    observed_from}]}}}

predictions.csv: budget, approach (1|2|3), N_opt, N_opt_lo, N_opt_hi, D_opt(_lo/_hi),
L_opt(_lo/_hi), tokens_per_param(_lo/_hi), in_sample, params_convention, flops_convention,
confidence.  NaN in fit.json is written as null.
"""

from .api import evaluate, fit_files, fit_runs, predict, read_fit, write_fit
from .io import FitError, load_runs
from .options import FitOptions

__all__ = [
    "FitError", "FitOptions", "evaluate", "fit_files", "fit_runs", "load_runs", "predict", "read_fit", "write_fit",
]
