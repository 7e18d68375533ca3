"""Collect the run JSONs of a study into ``runs.csv`` (one row per run) and ``curves.csv``.

``runs.csv`` is also the format in which runs trained elsewhere enter ``flops-fit fit``
(docs/contracts.md); ``curves.csv`` holds each run's validation-loss curve for Approach 1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .record import SCHEMA_VERSION

RUN_COLUMNS = [
    "run_id",
    "study",
    "status",
    "budget",
    "size",
    "params",
    "params_non_embedding",
    "params_embedding",
    "tokens",
    "flops",
    "flops_6nd",
    "loss",
    "train_loss",
    "unique_tokens",
    "epochs",
    "n_layer",
    "d_model",
    "wall_s",
    "unit",
]
CURVE_COLUMNS = ["run_id", "step", "tokens", "flops", "loss"]


class RunFileError(ValueError):
    """A run JSON that cannot be read: corrupt (moved aside, retrained next time) or of another version."""


def read_run(path: str | Path) -> dict:
    """One run JSON, checked for the schema version this code understands."""
    with open(path) as fh:
        run = json.load(fh)
    if run.get("schema_version") != SCHEMA_VERSION:
        raise RunFileError(
            f"{path}: run JSON schema_version {run.get('schema_version')!r} (this code reads {SCHEMA_VERSION})"
        )
    return run


def read_runs(paths: list[str]) -> list[dict]:
    """Every run JSON of ``paths``, sorted by path. A corrupt one (truncated, not JSON, fields
    missing) is renamed to ``<name>.corrupt`` -- kept for inspection, never deleted -- so that
    its run counts as not trained and the next ``snakemake`` retrains it; then RunFileError
    names every such file in one line."""
    runs, corrupt = [], []
    for path in sorted(paths):
        try:
            run = read_run(path)
            run_row(run)  # every field the tables need is there
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as err:
            moved = f"{path}.corrupt"
            os.replace(path, moved)
            corrupt.append(f"{path} is corrupt ({type(err).__name__}: {err}), moved to {moved}")
            continue
        runs.append(run)
    if corrupt:
        raise RunFileError(
            "; ".join(corrupt) + f"; run snakemake again to retrain {'these runs' if len(corrupt) > 1 else 'it'}"
        )
    return runs


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
        "unit": run.get("unit", "tokens"),  # what `tokens` counts: tokens, images or samples
    }


MUENNIGHOFF_R_STAR = 15.4  # Muennighoff et al. 2023, eq. 5: the decay constant of repeated epochs' value


def repetition_warnings(runs, max_epochs: float | None = None) -> list[str]:
    """One line per run that repeats its data more than ``max_epochs`` epochs, and a summary.

    Muennighoff et al. 2023 ("Scaling Data-Constrained Language Models") find up to ~4 epochs of
    repeated data are almost as good as fresh data, and that the value of further repetitions
    decays quickly; a law fitted to such runs underestimates what fresh data would give.
    ``runs``: a runs.csv DataFrame (columns run_id, epochs; optional unique_tokens, study);
    ``max_epochs``: None takes the config schema's ``fit.max_epochs``.
    """
    if max_epochs is None:
        from .config import schema_defaults

        max_epochs = schema_defaults("fit")["max_epochs"]
    if "epochs" not in runs.columns or runs.empty:
        return []
    over = runs[runs["epochs"] > max_epochs].sort_values("epochs", ascending=False)
    if over.empty:
        return []
    study = f"study {runs['study'].iloc[0]}: " if "study" in runs.columns else ""
    lines = [
        f"{study}{len(over)} of {len(runs)} runs repeat their data more than {max_epochs:g} epochs "
        f"(up to {over['epochs'].max():.1f}); beyond ~4 epochs repeated data is worth less than fresh data "
        "(Muennighoff et al. 2023), so the fit may be biased; consider more data or fit.effective_data: true"
    ]
    for _, row in over.iterrows():
        unique = f", {row['unique_tokens']:.3g} unique" if "unique_tokens" in over.columns else ""
        lines.append(f"  {row['run_id']}: {row['epochs']:.1f} epochs{unique}")
    return lines


def effective_data(unique, epochs, r_star: float = MUENNIGHOFF_R_STAR):
    """Effective data D' = U + U R* (1 - exp(-R / R*)) with R = max(epochs - 1, 0) repetitions
    (Muennighoff et al. 2023, eq. 5): a run that saw U unique tokens ``epochs`` times counts as
    D' tokens of fresh data. Works on numbers, numpy arrays and pandas Series."""
    import numpy as np

    unique = np.asarray(unique, dtype=float)
    repeats = np.maximum(np.asarray(epochs, dtype=float) - 1.0, 0.0)
    return unique + unique * r_star * (1.0 - np.exp(-repeats / r_star))


def with_effective_data(runs):
    """A copy of a runs table whose ``tokens`` are the effective data D' (the raw count kept as
    ``tokens_seen``), for ``fit.effective_data: true``. Runs without epochs/unique counts keep D."""
    out = runs.copy()
    if not {"unique_tokens", "epochs"} <= set(out.columns):
        return out
    out["tokens_seen"] = out["tokens"]
    known = out["unique_tokens"].notna() & out["epochs"].notna() & (out["epochs"] > 1)
    out.loc[known, "tokens"] = effective_data(out.loc[known, "unique_tokens"], out.loc[known, "epochs"])
    return out


PROVENANCE_COLUMNS = [
    "run_id", "status", "git_commit", "git_dirty", "config_hash", "code_version", "backend", "device", "host",
    "slurm_job_id", "cuda_visible_devices", "threads", "resumed_from_step", "wall_s", "torch", "flops_fit",
]


def provenance_row(run: dict) -> dict:
    """Where, when and with what code one run was trained (issue 7: every number auditable)."""
    prov = run.get("provenance", {})
    versions = prov.get("versions", {})
    row = {k: prov.get(k) for k in PROVENANCE_COLUMNS}
    row.update(run_id=run["run_id"], status=run["status"], wall_s=run["timing"]["wall_s"],
               torch=versions.get("torch"), flops_fit=versions.get("flops_fit"))
    return row


def aggregate(
    run_jsons: list[str], runs_csv: str, curves_csv: str, max_epochs: float | None = None,
    provenance_csv: str | None = None,
) -> list[str]:
    """Write runs.csv, curves.csv and (optionally) provenance.csv atomically from the given run
    JSONs; return the :func:`repetition_warnings` of the runs (empty when no run repeats data
    more than ``max_epochs`` epochs; None: the schema's ``fit.max_epochs``)."""
    import pandas as pd

    from .io import atomic_write_csv

    runs = read_runs(run_jsons)
    rows = [run_row(r) for r in runs]
    curves = [
        {"run_id": r["run_id"], "step": p["step"], "tokens": p["tokens"], "flops": p["flops"], "loss": p["val_loss"]}
        for r in runs
        for p in r["curve"]
    ]
    table = pd.DataFrame(rows, columns=RUN_COLUMNS).sort_values(["budget", "params"], kind="stable")
    atomic_write_csv(runs_csv, table)
    atomic_write_csv(curves_csv, pd.DataFrame(curves, columns=CURVE_COLUMNS))
    if provenance_csv:
        atomic_write_csv(provenance_csv, pd.DataFrame([provenance_row(r) for r in runs], columns=PROVENANCE_COLUMNS))
    return repetition_warnings(table, max_epochs)
