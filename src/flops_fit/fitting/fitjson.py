"""fit.json and predictions.csv: strict JSON (NaN written as null), written atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from flops_fit.approaches import APPROACH_KEYS

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
    """Read a fit.json (or the fit.json inside a folder), checked (:func:`check_fit`): an empty,
    corrupt (truncated, not JSON, not UTF-8) or foreign file is a FitError of one line naming it."""
    path = Path(path_or_dir)
    if path.is_dir():
        path = path / "fit.json"
    if not path.is_file():
        raise FitError(f"no fit.json at {str(path)!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as exc:
        raise FitError(f"{path}: cannot be read as a fit.json ({type(exc).__name__}: {exc}); rerun the fit") from None
    if not text.strip():
        raise FitError(f"{path}: the file is empty, not a fit.json (an interrupted copy?); rerun the fit")
    try:
        fit = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FitError(
            f"{path}: not valid JSON ({_one_line(exc)}): a corrupt or truncated fit.json; rerun the fit"
        ) from None
    check_fit(fit, str(path))
    return fit


READS_SCHEMA = 1  # the schema_version fit_runs writes (api.SCHEMA_VERSION; fields are only ever added)
REQUIRED_KEYS = ("schema_version", "convention", "options", "budgets", "approaches")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _is_number(x, none_ok: bool = True) -> bool:
    return (x is None and none_ok) or (isinstance(x, int | float) and not isinstance(x, bool))


def check_fit(fit, where: str = "fit.json") -> None:
    """FitError (one line naming ``where``) unless ``fit`` has the layout flops-fit writes
    (``flops_fit.fitting``'s docstring): the keys and types that predictions, tables and figures read,
    then a prediction at its largest budget as a last check.  A file of another program or version
    is refused here, not deep inside a table with a KeyError."""

    def bad(what: str):
        return FitError(f"{where}: not a flops-fit fit.json ({what}); give the fit.json that `flops-fit fit` or "
                        "the pipeline wrote, or rerun the fit")

    if not isinstance(fit, dict):
        raise bad(f"it holds a JSON {type(fit).__name__}, not an object")
    missing = [k for k in REQUIRED_KEYS if k not in fit]
    if missing:
        raise bad(f"it lacks {', '.join(missing)}")
    if fit["schema_version"] != READS_SCHEMA:
        raise bad(f"schema_version {fit['schema_version']!r}; this version reads {READS_SCHEMA}")
    conv, opts = fit["convention"], fit["options"]
    if not (isinstance(conv, dict) and all(isinstance(conv.get(k), str) for k in ("params", "flops"))):
        raise bad("convention must hold the texts params and flops")
    if not (isinstance(opts, dict) and _is_number(opts.get("confidence"), False) and 0 < opts["confidence"] < 1):
        raise bad("options.confidence must be a number between 0 and 1")
    budgets = fit["budgets"]
    if not (isinstance(budgets, list) and budgets and all(_is_number(c, False) and math.isfinite(c) and c > 0
                                                          for c in budgets)):
        raise bad("budgets must be a non-empty list of FLOP values > 0")
    if not isinstance(fit["approaches"], dict):
        raise bad("approaches must be an object")
    for key, block in fit["approaches"].items():
        _check_block(key, block, bad)
    try:
        predict(fit, [max(budgets)])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError) as exc:
        raise bad(f"its numbers give no prediction: {type(exc).__name__}: {_one_line(exc)}") from None


def _check_block(key, block, bad) -> None:
    if key not in APPROACH_KEYS:
        raise bad(f"approaches holds {key!r}; allowed: {', '.join(APPROACH_KEYS)}")
    if not isinstance(block, dict) or block.get("status") not in ("ok", "skipped", "failed"):
        raise bad(f"approaches.{key}.status must be ok, skipped or failed")
    if block["status"] != "ok":
        return
    params = block.get("params")
    if not (isinstance(params, dict) and params and all(isinstance(k, str) and _is_number(v)
                                                        for k, v in params.items())):
        raise bad(f"approaches.{key}.params must map names to numbers")
    for name in ("intervals",):
        ivs = block.get(name) or {}
        if not (isinstance(ivs, dict) and all(isinstance(v, list) and len(v) == 2 and all(map(_is_number, v))
                                              for v in ivs.values())):
            raise bad(f"approaches.{key}.intervals must map names to [low, high]")
    boot = block.get("bootstrap")
    samples = boot.get("samples") if isinstance(boot, dict) else None
    if not (isinstance(samples, dict) and all(isinstance(v, list) and all(map(_is_number, v))
                                              for v in samples.values())):
        raise bad(f"approaches.{key}.bootstrap.samples must map names to lists of numbers")
    for name in ("predictive", "budgets", "flops_per_6ND_by_size"):
        value = block.get(name)
        if value is not None and not isinstance(value, dict | list):
            raise bad(f"approaches.{key}.{name} must be an object or a list")


def find_fit(path, hint: str) -> Path:
    """The fit.json at ``path``, ``path/fit.json`` or ``path/fit/fit.json`` (a study's results
    folder); FitError naming the places looked at, then ``hint``."""
    p = Path(path)
    for candidate in (p, p / "fit.json", p / "fit" / "fit.json"):
        if candidate.is_file():
            return candidate
    raise FitError(f"no fit.json at {p} (looked for {p}/fit.json and {p}/fit/fit.json); {hint}")
