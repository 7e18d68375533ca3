"""Synthetic studies for the presentation tests (figures, tables, status).

A runs table drawn from a known law L = E + A / N^alpha + B / D^beta on an IsoFLOP grid (with a
little multiplicative noise), its validation-loss curves, and -- through the real
``flops_fit.fitting`` -- the fit.json and predictions.csv that figures and tables read.
Imported explicitly by the test modules (this is not a conftest.py, which the lead owns).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

TRUTH = {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.37}
BUDGETS = (1e17, 3e17, 1e18, 3e18, 1e19)


def law(n, d, p=TRUTH):
    return p["E"] + p["A"] * np.asarray(n, float) ** -p["alpha"] + p["B"] * np.asarray(d, float) ** -p["beta"]


def optimal_n(c, p=TRUTH):
    s = p["alpha"] + p["beta"]
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / s)
    return g * (np.asarray(c, float) / 6) ** (p["beta"] / s)


def make_runs(budgets=BUDGETS, per_budget=7, span=8.0, noise=0.004, seed=0, study="synthetic") -> pd.DataFrame:
    """One IsoFLOP row per (budget, size): sizes log-spaced over ``span``x around the true N*."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in budgets:
        n_star = optimal_n(c)
        for i, n in enumerate(np.geomspace(n_star / np.sqrt(span), n_star * np.sqrt(span), per_budget)):
            n = float(round(n))
            d = float(round(c / (6 * n)))
            loss = float(law(n, d) * np.exp(rng.normal(0, noise)))
            rows.append({
                "run_id": f"C{c:.0e}-d{i}".replace("+", "").replace(".", ""), "study": study, "status": "ok",
                "budget": c, "size": i, "params": n, "params_non_embedding": n * 0.9,
                "params_embedding": n * 0.1, "tokens": d, "flops": 6 * n * d, "flops_6nd": 6 * n * d,
                "loss": loss, "train_loss": loss * 0.99, "unique_tokens": d, "epochs": 1.0,
                "n_layer": 2, "d_model": 32 * (i + 1), "wall_s": 1.0,
            })
    return pd.DataFrame(rows)


def make_curves(runs: pd.DataFrame, points=12) -> pd.DataFrame:
    rows = []
    for r in runs.itertuples():
        for step, frac in enumerate(np.geomspace(0.02, 1.0, points), start=1):
            d = r.tokens * frac
            rows.append({"run_id": r.run_id, "step": step * 10, "tokens": d, "flops": 6 * r.params * d,
                         "loss": float(law(r.params, d)) * (r.loss / float(law(r.params, r.tokens)))})
    return pd.DataFrame(rows)


def write_study(root: Path, diverged: int = 0, **kwargs) -> dict[str, Path]:
    """Write runs.csv, curves.csv, fit/fit.json and fit/predictions.csv under ``root``; return paths."""
    root.mkdir(parents=True, exist_ok=True)
    runs = make_runs(**kwargs)
    if diverged:
        runs.loc[runs.index[:diverged], "status"] = "diverged"
    paths = {"runs": root / "runs.csv", "curves": root / "curves.csv",
             "fit": root / "fit" / "fit.json", "predictions": root / "fit" / "predictions.csv"}
    runs.to_csv(paths["runs"], index=False)
    make_curves(runs).to_csv(paths["curves"], index=False)
    write_fit(paths["runs"], paths["fit"], paths["predictions"])
    return paths


def write_fit(runs_csv: Path, fit_json: Path, predictions_csv: Path) -> None:
    """The real fit of the runs table (flops_fit.fitting), with few bootstrap replicates for speed."""
    from flops_fit import fitting

    if not hasattr(fitting, "fit_runs"):  # fitting not written yet: a stand-in in the assumed layout
        write_fake_fit(runs_csv, fit_json, predictions_csv)
        return

    opts = fitting.FitOptions(bootstrap=20, seed=0) if _has_field(fitting.FitOptions, "bootstrap") \
        else fitting.FitOptions()
    runs = fitting.load_runs(runs_csv)
    fit = fitting.fit_runs(runs, opts)
    fitting.write_fit(fit, fit_json.parent) if _takes_dir(fitting.write_fit) else fitting.write_fit(
        fit, fit_json, predictions_csv)


def _has_field(cls, name) -> bool:
    import dataclasses

    return dataclasses.is_dataclass(cls) and any(f.name == name for f in dataclasses.fields(cls))


def _takes_dir(fn) -> bool:
    import inspect

    return len(inspect.signature(fn).parameters) == 2


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())


def _iv(v, rel=0.05):
    return {"value": float(v), "lo": float(v) * (1 - rel), "hi": float(v) * (1 + rel)}


def write_fake_fit(runs_csv: Path, fit_json: Path, predictions_csv: Path) -> None:
    """A stand-in fit.json/predictions.csv (only while flops_fit.fitting is unavailable)."""
    runs = pd.read_csv(runs_csv)
    budgets = []
    mins = []
    for c, grp in runs.groupby("budget"):
        x = np.log10(grp["params"])
        coef = np.polyfit(x, grp["loss"], 2)
        xo = -coef[1] / (2 * coef[0])
        n_opt = 10**xo
        included = c != max(runs["budget"])
        budgets.append({"budget": c, "coefficients": list(coef), "x": "log10", "y": "loss",
                        "n_opt": _iv(n_opt), "d_opt": _iv(c / 6 / n_opt), "l_opt": _iv(np.polyval(coef, xo), 0.01),
                        "included": bool(included), "reason": "" if included else "minimum at the edge"})
        if included:
            mins.append((c, n_opt))
    cs, ns = np.array(mins).T
    a = np.polyfit(np.log(cs), np.log(ns), 1)[0]
    s = TRUTH["alpha"] + TRUTH["beta"]
    fit = {"schema_version": 1, "convention": {"flops": "6N", "params": "total"},
           "approaches": {
               "approach1": {"status": "ok", "parameters": {"a": _iv(0.48), "b": _iv(0.52)},
                             "envelope": [{"flops": c, "params": optimal_n(c), "tokens": c / 6 / optimal_n(c),
                                           "loss": float(law(optimal_n(c), c / 6 / optimal_n(c)))}
                                          for c in np.geomspace(1e16, 1e19, 10)],
                             "excluded_budgets": [], "warnings": []},
               "approach2": {"status": "ok", "parameters": {"a": _iv(a), "b": _iv(1 - a)}, "budgets": budgets,
                             "excluded_budgets": [{"budget": b["budget"], "reason": b["reason"]}
                                                  for b in budgets if not b["included"]],
                             "warnings": []},
               "approach3": {"status": "ok", "parameters": {
                   **{k: _iv(v) for k, v in TRUTH.items()}, "a": _iv(TRUTH["beta"] / s),
                   "b": _iv(TRUTH["alpha"] / s)}},
           },
           "backtest": {"approach3": [{"budget": 1e19, "predicted_loss": _iv(2.9, 0.01), "actual_loss": 2.92}],
                        "approach2": [{"budget": 1e19, "predicted_loss": _iv(2.95, 0.02), "actual_loss": 2.92}]}}
    fit_json.parent.mkdir(parents=True, exist_ok=True)
    fit_json.write_text(json.dumps(fit, indent=2))
    rows = []
    for c in (*BUDGETS, 1e20, 1e21):
        n = optimal_n(c)
        d = c / 6 / n
        for ap in ("approach1", "approach2", "approach3"):
            f = {"approach1": 1.1, "approach2": 0.9, "approach3": 1.0}[ap]
            rows.append({"approach": ap, "budget": c, "params": n * f, "params_lo": n * f * 0.8,
                         "params_hi": n * f * 1.2, "tokens": d / f, "tokens_lo": d / f * 0.8,
                         "tokens_hi": d / f * 1.2, "loss": float(law(n, d)), "loss_lo": float(law(n, d)) - 0.02,
                         "loss_hi": float(law(n, d)) + 0.02, "extrapolated": c > max(BUDGETS)})
    pd.DataFrame(rows).to_csv(predictions_csv, index=False)
