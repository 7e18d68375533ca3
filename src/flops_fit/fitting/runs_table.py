"""Reading and checking the runs table, choosing the conventions, grouping runs into budgets.

The runs table (``runs.csv``, docs/contracts.md) needs ``params``, ``tokens`` and ``loss``; it may
carry ``params_non_embedding``, ``flops`` (FLOPs counted under the study's convention),
``budget``, ``status`` and ``run_id``.  Conventions (Porian et al. 2024 show that the choice of N
-- total or non-embedding -- and of the FLOP count explains much of the Kaplan/Chinchilla
discrepancy, so the choice is an explicit switch, never hidden):

* ``params="total"`` uses the ``params`` column; ``"non_embedding"`` uses ``params_non_embedding``.
* ``flops="6ND"`` sets C = 6 N D with that N (Kaplan et al. 2020); ``"counted"`` uses ``flops``.

Bad inputs give a :class:`FitError` (a ``ValueError``) that names the column, the offending
value and what is allowed; runs that are merely unusable (status other than ``ok``, a
non-finite loss, an exact duplicate row) are excluded and listed with the reason.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..runs import CURVE_COLUMNS  # the curves.csv that aggregate writes

REQUIRED_RUN_COLUMNS = ("params", "tokens", "loss")
NUMERIC_RUN_COLUMNS = ("params", "params_non_embedding", "tokens", "flops", "loss", "budget")
PARAMS_COLUMN = {"total": "params", "non_embedding": "params_non_embedding"}
FLOPS_CONVENTIONS = ("6ND", "counted")
UNIT_COLUMNS = ("unit", "modality")  # what D counts (runs.csv's ``unit``: tokens, images or samples)
BUDGET_TOLERANCE = 0.05  # runs whose C agree within 5% share a budget
SPREAD_TOLERANCE = 0.10  # a run more than 10% from its budget's C is warned about


class FitError(ValueError):
    """Input the fit cannot use: the message names the column/value and what is allowed."""


def _read_table(src, what: str) -> pd.DataFrame:
    if isinstance(src, pd.DataFrame):
        return src.copy()
    path = Path(src)
    if not path.is_file():
        raise FitError(f"{what} file {str(path)!r} does not exist")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise FitError(f"{what} file {str(path)!r} is not a readable CSV: {exc}") from None
    _check_complete_rows(path, what)
    return table


def _check_complete_rows(path: Path, what: str) -> None:
    """FitError naming the file and line of a row with fewer fields than the header, or of a last
    row cut after a comma: pandas pads a short row with NaN, so a runs.csv cut mid-row (an
    interrupted copy or write) would be read as complete, its last run silently lost or half-read."""
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        last, last_line = None, 0
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise FitError(
                    f"{what} file {str(path)!r} line {reader.line_num}: {len(row)} field(s), the header has "
                    f"{len(header)}: the file is cut or malformed there (an interrupted copy or write?); "
                    "restore the row or remove it"
                )
            last, last_line = row, reader.line_num
    if last is not None and last[-1] == "" and not _ends_with_newline(path):
        raise FitError(
            f"{what} file {str(path)!r} line {last_line}: the last row ends in an empty field without a "
            "newline: the file is cut mid-row (an interrupted copy or write?); restore the row or remove it"
        )


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return True
        fh.seek(-1, 2)
        return fh.read(1) in (b"\n", b"\r")


def _one_unit(runs: pd.DataFrame) -> None:
    """FitError when the rows count different kinds of data (tokens and images, ...) in D: one
    study's law relates N to one kind of data; fitting both as one study gives a law of neither."""
    for col in UNIT_COLUMNS:
        if col not in runs.columns:
            continue
        kinds = runs[col].dropna().astype(str).str.strip()
        counts = kinds[kinds != ""].value_counts()
        if len(counts) > 1:
            found = ", ".join(f"{k!r} ({n} runs)" for k, n in counts.items())
            raise FitError(
                f"runs table: column {col!r} mixes kinds of data ({found}); a scaling law relates N to one kind "
                f"of data: fit each kind separately (keep the rows of one {col})"
            )


def _numeric(df: pd.DataFrame, columns, what: str) -> None:
    for col in columns:
        if col not in df.columns:
            continue
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise FitError(f"{what}: column {col!r} must be numeric; row {i} holds {df[col].iloc[i]!r}")
        df[col] = values.astype(float)


def read_runs_table(path) -> pd.DataFrame:
    """A runs.csv for the tables and the report: read and checked as the fit reads it (a missing,
    cut or non-numeric file is a FitError naming it), without the fit's required columns."""
    runs = _read_table(path, "runs table")
    _numeric(runs, NUMERIC_RUN_COLUMNS, f"runs table {str(path)!r}")
    return runs


def load_runs(runs_csv, curves_csv=None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read ``runs.csv`` (and optionally ``curves.csv``) and check columns and types.

    Accepts paths or DataFrames.  Raises :class:`FitError` for a missing file, a missing
    required column (runs: params, tokens, loss; curves: run_id, step, tokens, flops, loss) or
    a non-numeric value.  Value checks that depend on the conventions happen in ``fit_runs``.
    """
    runs = _read_table(runs_csv, "runs table")
    if runs.empty:
        raise FitError("runs table has no rows; need at least params, tokens, loss per run")
    missing = [c for c in REQUIRED_RUN_COLUMNS if c not in runs.columns]
    if missing:
        raise FitError(
            f"runs table lacks column(s) {missing}; required: {list(REQUIRED_RUN_COLUMNS)} "
            f"(optional: params_non_embedding, flops, budget, status, run_id); has {list(runs.columns)}"
        )
    _numeric(runs, NUMERIC_RUN_COLUMNS, "runs table")
    _one_unit(runs)
    curves = None
    if curves_csv is not None:
        curves = _read_table(curves_csv, "curves table")
        missing = [c for c in CURVE_COLUMNS if c not in curves.columns]
        if missing:
            raise FitError(f"curves table lacks column(s) {missing}; required: {list(CURVE_COLUMNS)}")
        _numeric(curves, ("step", "tokens", "flops", "loss"), "curves table")
        curves["run_id"] = curves["run_id"].astype(str)
    return runs, curves


def _run_ids(runs: pd.DataFrame) -> pd.Series:
    if "run_id" in runs.columns:
        return runs["run_id"].astype(str)
    return pd.Series([f"row{i}" for i in range(len(runs))], index=runs.index)


def prepare_runs(runs: pd.DataFrame, params: str, flops: str) -> tuple[pd.DataFrame, list[dict]]:
    """The usable runs as a table ``run_id, N, D, C, L, budget_label`` plus the excluded runs.

    Raises FitError for a convention whose column is missing, or a value <= 0.
    """
    if params not in PARAMS_COLUMN:
        raise FitError(f"params convention {params!r} is not allowed; use one of {list(PARAMS_COLUMN)}")
    if flops not in FLOPS_CONVENTIONS:
        raise FitError(f"flops convention {flops!r} is not allowed; use one of {list(FLOPS_CONVENTIONS)}")
    runs = runs.reset_index(drop=True).copy()
    _numeric(runs, NUMERIC_RUN_COLUMNS, "runs table")
    n_col = PARAMS_COLUMN[params]
    needed = [n_col, "tokens", "loss"] + (["flops"] if flops == "counted" else [])
    for col in needed:
        if col not in runs.columns:
            raise FitError(
                f"runs table lacks column {col!r}, needed by params={params!r}, flops={flops!r}; "
                f"choose another convention or add the column"
            )
    ids = _run_ids(runs)
    excluded: list[dict] = []
    keep = np.ones(len(runs), dtype=bool)

    if "status" in runs.columns:
        status = runs["status"].astype(str).str.strip()
        for i in np.flatnonzero((status != "ok").to_numpy()):
            excluded.append({"run_id": ids[i], "reason": f"status is {status[i]!r}, not 'ok'"})
            keep[i] = False

    for col in needed:
        values = runs[col].to_numpy(dtype=float)
        for i in np.flatnonzero(keep & ~np.isfinite(values)):
            excluded.append({"run_id": ids[i], "reason": f"non-finite {col} ({float(values[i])})"})
            keep[i] = False
        bad = keep & (values <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise FitError(
                f"runs table: column {col!r} must be > 0; run {ids[i]!r} has {float(values[i])!r} "
                f"({int(bad.sum())} such run(s))"
            )

    if "run_id" in runs.columns:
        first: dict[str, int] = {}
        for i in np.flatnonzero(keep):
            rid = ids[i]
            if rid in first:
                j = first[rid]
                same = runs.iloc[i].equals(runs.iloc[j])
                if not same:
                    raise FitError(
                        f"runs table: run_id {rid!r} appears twice with different values; "
                        "run_id must be unique (or the rows identical)"
                    )
            else:
                first[rid] = i
    dup = runs.duplicated(keep="first").to_numpy()
    for i in np.flatnonzero(keep & dup):
        excluded.append({"run_id": ids[i], "reason": "duplicate row (identical to an earlier row)"})
        keep[i] = False

    n = runs[n_col].to_numpy(float)
    d = runs["tokens"].to_numpy(float)
    c = 6.0 * n * d if flops == "6ND" else runs["flops"].to_numpy(float)
    table = pd.DataFrame({"run_id": ids, "N": n, "D": d, "C": c, "L": runs["loss"].to_numpy(float)})
    if "budget" in runs.columns:
        table["budget_label"] = runs["budget"].to_numpy(float)
        for i in np.flatnonzero(keep & ~np.isfinite(table["budget_label"].to_numpy())):
            excluded.append({"run_id": ids[i], "reason": "non-finite budget"})
            keep[i] = False
    table = table[keep].reset_index(drop=True)
    if table.empty:
        raise FitError(f"no usable runs: all {len(runs)} were excluded ({excluded[0]['reason']}, ...)")
    return table, excluded


def assign_budgets(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Add ``budget_id`` (0, 1, ... by increasing C) and ``budget`` (the budget's C); warnings.

    With a ``budget`` column (the planned grid), runs are grouped by it and the budget's C is the
    planned value -- not the geometric mean of whichever sizes ran, which moves when a size fails
    -- as long as the runs' C under the chosen convention agree with it (median within 10%).
    When they do not (e.g. C = 6ND on a grid planned with counted FLOPs) the budget's C is the
    geometric mean of its runs' C, and a warning says why.  Without the column, runs whose C
    agree within 5% are grouped (sorted log C, a new group whenever C exceeds the group's first C
    by more than 5%) and the budget's C is their geometric mean.  Runs more than 10% away from
    their budget's C are warned about.
    """
    table = table.copy()
    warnings: list[str] = []
    planned = None
    if "budget_label" in table.columns:
        labels = table["budget_label"].to_numpy()
        keys = np.unique(labels)
        gid = np.searchsorted(keys, labels)
        planned = keys
    else:
        order = np.argsort(table["C"].to_numpy(), kind="stable")
        logc = np.log(table["C"].to_numpy()[order])
        gid_sorted = np.zeros(len(order), dtype=int)
        start = logc[0] if len(logc) else 0.0
        for k in range(1, len(order)):
            if logc[k] - start > math.log1p(BUDGET_TOLERANCE):
                gid_sorted[k] = gid_sorted[k - 1] + 1
                start = logc[k]
            else:
                gid_sorted[k] = gid_sorted[k - 1]
        gid = np.empty(len(order), dtype=int)
        gid[order] = gid_sorted
    logc = np.log(table["C"].to_numpy())
    groups = range(gid.max() + 1)
    level = np.array([logc[gid == g].mean() for g in groups])
    if planned is not None:
        for g in groups:
            off = np.median(logc[gid == g]) - math.log(planned[g])
            if abs(off) <= math.log(1 + SPREAD_TOLERANCE):
                level[g] = math.log(planned[g])
            else:
                warnings.append(
                    f"budget {planned[g]:.3g}: its runs' C under this convention is x{math.exp(off):.3g} the planned "
                    f"budget; using their geometric mean {math.exp(level[g]):.3g} as the budget's C"
                )
    for g in groups:
        spread = np.abs(logc[gid == g] - level[g])
        far = int((spread > math.log(1 + SPREAD_TOLERANCE)).sum())
        if far:
            warnings.append(
                f"budget {math.exp(level[g]):.3g}: {far} of {int((gid == g).sum())} runs lie more than "
                f"{SPREAD_TOLERANCE:.0%} from it (up to x{math.exp(spread.max()):.3g}); "
                "their IsoFLOP curve mixes budgets"
            )
    rank = np.argsort(np.argsort(level, kind="stable"), kind="stable")
    table["budget_id"] = rank[gid]
    value = np.exp(level)
    if planned is not None:  # the planned value itself, not exp(log(value)) one ulp away from it
        value = np.where(np.isclose(value, planned, rtol=1e-9), planned, value)
    table["budget"] = value[gid]
    return table, warnings


def prepare_curves(curves: pd.DataFrame | None, table: pd.DataFrame, flops: str) -> pd.DataFrame | None:
    """Curve points of the usable runs as ``run_id, N, D, C, L`` (C under the chosen convention)."""
    if curves is None or curves.empty:
        return None
    per_run = table.drop_duplicates("run_id").set_index("run_id")["N"]
    cv = curves[curves["run_id"].astype(str).isin(per_run.index)].copy()
    if cv.empty:
        return None
    n = per_run.loc[cv["run_id"].astype(str)].to_numpy(float)
    d = cv["tokens"].to_numpy(float)
    c = 6.0 * n * d if flops == "6ND" else cv["flops"].to_numpy(float)
    out = pd.DataFrame(
        {
            "run_id": cv["run_id"].astype(str).to_numpy(),
            "N": n,
            "D": d,
            "C": c,
            "L": cv["loss"].to_numpy(float),
        }
    )
    ok = np.isfinite(out[["N", "D", "C", "L"]]).all(axis=1) & (out[["N", "D", "C", "L"]] > 0).all(axis=1)
    out = out[ok.to_numpy()]
    return out.reset_index(drop=True) if len(out) else None
