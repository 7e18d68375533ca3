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
BUDGETS = (1e17, 3e17, 1e18, 3e18)


def law(n, d, p=TRUTH):
    return p["E"] + p["A"] * np.asarray(n, float) ** -p["alpha"] + p["B"] * np.asarray(d, float) ** -p["beta"]


def optimal_n(c, p=TRUTH):
    s = p["alpha"] + p["beta"]
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / s)
    return g * (np.asarray(c, float) / 6) ** (p["beta"] / s)


def make_runs(
    budgets=BUDGETS, per_budget=6, span=8.0, noise=0.004, seed=0, study="synthetic", truth=TRUTH
) -> pd.DataFrame:
    """One IsoFLOP row per (budget, size): sizes log-spaced over ``span``x around the true N*."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in budgets:
        n_star = optimal_n(c, truth)
        for i, n in enumerate(np.geomspace(n_star / np.sqrt(span), n_star * np.sqrt(span), per_budget)):
            n = float(round(n))
            d = float(round(c / (6 * n)))
            loss = float(law(n, d, truth) * np.exp(rng.normal(0, noise)))
            rows.append(
                {
                    "run_id": f"C{c:.0e}-d{i}".replace("+", "").replace(".", ""),
                    "study": study,
                    "status": "ok",
                    "budget": c,
                    "size": i,
                    "params": n,
                    "params_non_embedding": n * 0.9,
                    "params_embedding": n * 0.1,
                    "tokens": d,
                    "flops": 6 * n * d,
                    "flops_6nd": 6 * n * d,
                    "loss": loss,
                    "train_loss": loss * 0.99,
                    "unique_tokens": d,
                    "epochs": 1.0,
                    "n_layer": 2,
                    "d_model": 32 * (i + 1),
                    "wall_s": 1.0,
                }
            )
    return pd.DataFrame(rows)


def make_curves(runs: pd.DataFrame, points=12) -> pd.DataFrame:
    rows = []
    for r in runs.itertuples():
        for step, frac in enumerate(np.geomspace(0.02, 1.0, points), start=1):
            d = r.tokens * frac
            rows.append(
                {
                    "run_id": r.run_id,
                    "step": step * 10,
                    "tokens": d,
                    "flops": 6 * r.params * d,
                    "loss": float(law(r.params, d)) * (r.loss / float(law(r.params, r.tokens))),
                }
            )
    return pd.DataFrame(rows)


def write_study(
    root: Path,
    diverged: int = 0,
    curves: bool = True,
    bootstrap: int = 10,
    approaches=(1, 2, 3),
    predict_budgets=None,
    unit: str | None = None,
    **kwargs,
) -> dict[str, Path]:
    """Write runs.csv, curves.csv, fit/fit.json and fit/predictions.csv under ``root``; return paths.

    The fit is the real one (flops_fit.fitting), with few bootstrap resamples for speed.
    ``predict_budgets`` adds budgets to predictions.csv (e.g. far beyond the studied ones, as the
    default study's 1e21); ``unit`` sets runs.csv's optional data unit (e.g. "images").
    """
    from flops_fit import fitting

    root.mkdir(parents=True, exist_ok=True)
    runs = make_runs(**kwargs)
    if diverged:
        runs.loc[runs.index[:diverged], "status"] = "diverged"
    if unit:
        runs["unit"] = unit
    paths = {
        "root": root,
        "runs": root / "runs.csv",
        "curves": root / "curves.csv",
        "fit": root / "fit" / "fit.json",
        "predictions": root / "fit" / "predictions.csv",
    }
    runs.to_csv(paths["runs"], index=False)
    make_curves(runs).to_csv(paths["curves"], index=False)
    if not curves:
        paths["curves"] = None
    table, curve_table = fitting.load_runs(paths["runs"], paths["curves"])
    studied = kwargs.get("budgets", BUDGETS)
    extra = None  # as the pipeline asks: the studied budgets, 10x and 100x the largest, and these
    if predict_budgets:
        extra = sorted({*studied, 10 * max(studied), 100 * max(studied), *predict_budgets})
    opts = fitting.FitOptions(
        bootstrap=bootstrap, seed=0, approaches=tuple(approaches), approach3_starts=16, predict_budgets=extra
    )
    fitting.write_fit(fitting.fit_runs(table, curve_table, opts), paths["fit"].parent)
    return paths


_CACHE: dict = {}


def cached_study(tmp_path_factory, key: str = "default", **kwargs) -> dict[str, Path]:
    """``write_study`` once per test session and key (the fit is the slow part)."""
    if key not in _CACHE:
        _CACHE[key] = write_study(tmp_path_factory.mktemp(f"study-{key}"), **kwargs)
    return _CACHE[key]


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())
