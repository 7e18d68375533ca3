"""Fitting compute-optimal scaling laws to a table of training runs (no torch; numpy/scipy/pandas).

Three estimators of Hoffmann et al. 2022 ("Training Compute-Optimal Large Language Models",
§3 and App. D), each with a seeded bootstrap, predictive intervals calibrated by the study's own
rolling-origin backtest, and a hold-out backtest:

* Approach 1 (:mod:`.approach1`): the envelope of the loss curves -> N*(C), D*(C), L*(C).
* Approach 2 (:mod:`.approach2`): IsoFLOP parabolas per budget -> N*(C), D*(C), L*(C).
* Approach 3 (:mod:`.approach3`, :mod:`.vpnls`): L(N, D) = E + A/N^alpha + B/D^beta, Huber on
  log L summed over runs as replicated by Besiroglu et al. 2024, or by variable projection.

One module per job: :mod:`.runs_table` (reading, conventions, budgets), :mod:`.options`
(FitOptions, defaults from the config schema), :mod:`.api` (the fit), :mod:`.powerlaw` (laws in
C), :mod:`.bootstrap`, :mod:`.predictive` (calibrated intervals), :mod:`.backtest`,
:mod:`.quality` (flagged runs and budgets), :mod:`.diagnostics` (design faults),
:mod:`.allocation` (N*, D*, L* at C), :mod:`.predict`
(predictions.csv rows), :mod:`flops_fit.extrapolation` (the one place deciding "beyond the data"),
:mod:`.fitjson` (fit.json I/O), :mod:`.summary` (fit.log).  Conventions (N total or
non-embedding; C = 6ND or counted FLOPs) are explicit options recorded next to every number
(Porian et al. 2024).  Usage::

    from flops_fit.fitting import FitOptions, load_runs, fit_runs, write_fit
    runs, curves = load_runs("results/demo/runs.csv", "results/demo/curves.csv")
    result = fit_runs(runs, curves, FitOptions(params="total", flops="6ND", bootstrap=1000))
    write_fit(result, "results/demo/fit")   # fit.json + predictions.csv

fit.json (schema_version 1; fields are only ever added)::

    convention      {params, flops, params_column, flops_column}
    options         the FitOptions used
    intervals_method how predictions.csv's intervals were made (text)
    budgets         studied budgets C (the planned budget when the runs agree with it within 10%,
                    else the geometric mean of the group's C under the convention)
    budget_warnings runs more than 10% from their budget; planned budgets the convention disagrees with
    predict_budgets budgets of predictions.csv
    runs            {run_id, N, D, C, L, budget, budget_id} lists: the usable runs
    excluded_runs   [{run_id, reason}]: status != ok, non-finite values, duplicate rows
    quality         automatic run quality control (fitting/quality.py): {applied, n_excluded, noise,
                    flagged_runs [{rule, run_id, budget, N, L, off, z, reason}] (out of every approach),
                    flagged_budgets [{rule, budget, n_runs, n_sizes, run_ids, reason, ...}] (out of
                    Approach 2: its excluded_budgets), rules, notes}
    run_noise       relative noise of one run's loss (pooled parabola residuals)
    diagnostics     [{code, message, value}]: design faults (fitting/diagnostics.py)
    approaches      {"approach1"|"approach2"|"approach3": block}; every block has
                    status ("ok" | "skipped" | "failed"), reason, convention, params,
                    intervals {name: [lo, hi]}, a, b, a_interval, b_interval,
                    excluded_budgets [{budget, reason}], warnings, method,
                    bootstrap {resamples, ok, unit, seed, confidence, samples {name: [...]}, losses},
                    predictive {sigma_v_N, lambda_N, tau_N, offset_N, offset_sd_N, drift_N,
                                drift_sd_N, offset_drift_cov_N, (same for L), drift_u_max, dof, ...}
      approach1     params a, k_N, b, k_D, gamma, k_L, E_L (N* = k_N C^a, D* = k_D C^b,
                    L* = E_L + k_L C^-gamma); loss_form; envelope {C, N, D, L, run_id}; or
                    status "skipped" with a "not enough curve points" note
      approach2     same params; budgets [{budget, budget_id, n_runs, n_sizes, N_min, N_max,
                    parabola {c2, c1, c0} of L vs log10 N, N_opt, D_opt, L_opt (+ _lo/_hi),
                    included, reason, warnings, runs {run_id, N, D, L}}]; bootstrap.noise
                    {method "residual" | "parametric", sd, budgets, dof, warning}: what the
                    bootstrap drew (parametric, an assumed sd, when no budget has > 3 runs);
                    law_forms {saturating | power | curved: {coefficients, equation}}: the L* law's
                    forms through the optima, whose spread widens L*'s interval beyond the data (forms.py)
      approach3     params E, A, B, alpha, beta, a, b, G; theta; objective; flops_per_6ND (median)
                    and flops_per_6ND_by_size {N, kappa}; predictive_runs (the calibration of L(N, D)
                    for single runs: predict_loss); forms {chinchilla | no_floor | kaplan: {theta,
                    equation}} and forms_disagreement {form: {"10x", "100x": {L_pct, N_ratio}}}
    backtest        {status, holdout, held_out_budgets, approaches {key: {status, params,
                    held_out [{budget, N_pred, N_pred_lo, N_pred_hi, N_obs, N_ratio, L_pred,
                    L_pred_lo, L_pred_hi, L_obs, L_error_pct, observed_from}]}}}
    rolling_backtest every origin's predictions of every larger budget [{approach, origin, budget,
                    u, N_pred, N_obs, L_pred, L_obs, r_N, r_L, train_budgets}]
    reach           what the study cannot know (fitting/reach.py): {span_decades, usable_budgets,
                    tested_factor (how far its own backtest checked), limited, suggested_budgets, message}
    learning_rate_rule  (studies with an lr sweep) the fitted rule the grid trained with: the
                    study's lr/rule.json (formula, lr_ref, n_ref, exponent, held-out check)

predictions.csv: budget, approach (1|2|3), N_opt, N_opt_lo, N_opt_hi, D_opt(_lo/_hi),
L_opt(_lo/_hi), tokens_per_param(_lo/_hi), in_sample, extrapolation, beyond_data,
backtest_L_error_pct, backtest_N_ratio, interval_method, params_convention, flops_convention,
confidence, N_opt_law, L_opt_law (the law's own values: beyond the studied budgets N_opt and L_opt
are moved by the offset and drift the study's backtest measured, see fitting/predictive.py).  NaN in fit.json
is written as null.
"""

from .allocation import evaluate
from .api import fit_files, fit_runs
from .fitjson import read_fit, write_fit
from .options import FitOptions
from .predict import predict, predict_loss
from .runs_table import FitError, load_runs

__all__ = [
    "FitError", "FitOptions", "evaluate", "fit_files", "fit_runs", "load_runs", "predict", "predict_loss", "read_fit",
    "write_fit",
]
