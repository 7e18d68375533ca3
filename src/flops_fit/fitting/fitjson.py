"""fit.json and predictions.csv: strict JSON (NaN written as null), written atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..io import atomic_write_text
from .predict import predict
from .runs_table import FitError


def to_jsonable(obj):
    """numpy scalars/arrays -> Python; NaN/inf -> None (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        x = float(obj)
        return x if math.isfinite(x) else None
    return obj


def dump_json(result: dict) -> str:
    return json.dumps(to_jsonable(result), indent=1, allow_nan=False) + "\n"


def write_fit(result: dict, out_dir) -> None:
    """Write ``out_dir/fit.json`` and ``out_dir/predictions.csv`` atomically."""
    out = Path(out_dir)
    table = predict(result, result["predict_budgets"])
    atomic_write_text(out / "predictions.csv", table.to_csv(index=False, float_format="%.10g"))
    atomic_write_text(out / "fit.json", dump_json(result))


def read_fit(path_or_dir) -> dict:
    """Read a fit.json (or the fit.json inside a folder)."""
    path = Path(path_or_dir)
    if path.is_dir():
        path = path / "fit.json"
    if not path.is_file():
        raise FitError(f"no fit.json at {str(path)!r}")
    return json.loads(path.read_text())


def find_fit(path, hint: str) -> Path:
    """The fit.json at ``path``, ``path/fit.json`` or ``path/fit/fit.json`` (a study's results
    folder); FitError naming the places looked at, then ``hint``."""
    p = Path(path)
    for candidate in (p, p / "fit.json", p / "fit" / "fit.json"):
        if candidate.is_file():
            return candidate
    raise FitError(f"no fit.json at {p} (looked for {p}/fit.json and {p}/fit/fit.json); {hint}")
