"""Collect the run JSONs of a study into ``runs.csv`` (one row per run) and ``curves.csv``.

``runs.csv`` is also the format in which runs trained elsewhere enter ``flops-fit fit``
(docs/contracts.md); ``curves.csv`` holds each run's validation-loss curve for Approach 1.
"""

from __future__ import annotations

import json
from pathlib import Path

RUN_COLUMNS = [
    "run_id", "study", "status", "budget", "size", "params", "params_non_embedding", "params_embedding",
    "tokens", "flops", "flops_6nd", "loss", "train_loss", "unique_tokens", "epochs", "n_layer", "d_model",
    "wall_s",
]
CURVE_COLUMNS = ["run_id", "step", "tokens", "flops", "loss"]


def read_run(path: str | Path) -> dict:
    """One run JSON, checked for the schema version this code understands."""
    with open(path) as fh:
        run = json.load(fh)
    if run.get("schema_version") != 1:
        raise ValueError(f"{path}: run JSON schema_version {run.get('schema_version')!r} (this code reads 1)")
    return run


def run_row(run: dict) -> dict:
    spec, params = run["spec"], run["params"]
    tokens = run["tokens"]["seen"]
    return {
        "run_id": run["run_id"],
        "study": run["study"],
        "status": run["status"],
        "budget": spec["budget"],
        "size": spec["size"],
        "params": params["total"],
        "params_non_embedding": params["non_embedding"],
        "params_embedding": params["embedding"],
        "tokens": tokens,
        "flops": run["flops"]["actual"],
        "flops_6nd": 6.0 * params["total"] * tokens,
        "loss": run["final"]["val_loss"],
        "train_loss": run["final"]["train_loss"],
        "unique_tokens": run["tokens"]["unique"],
        "epochs": run["tokens"]["epochs"],
        "n_layer": spec["model"].get("n_layer"),
        "d_model": spec["model"].get("d_model"),
        "wall_s": run["timing"]["wall_s"],
    }


def aggregate(run_jsons: list[str], runs_csv: str, curves_csv: str) -> None:
    """Write runs.csv and curves.csv (atomically) from the given run JSONs."""
    import pandas as pd

    from .io import atomic_write_csv

    runs = [read_run(p) for p in sorted(run_jsons)]
    rows = [run_row(r) for r in runs]
    curves = [
        {"run_id": r["run_id"], "step": p["step"], "tokens": p["tokens"], "flops": p["flops"], "loss": p["val_loss"]}
        for r in runs
        for p in r["curve"]
    ]
    table = pd.DataFrame(rows, columns=RUN_COLUMNS).sort_values(["budget", "params"], kind="stable")
    atomic_write_csv(runs_csv, table)
    atomic_write_csv(curves_csv, pd.DataFrame(curves, columns=CURVE_COLUMNS))
