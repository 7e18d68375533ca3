"""Every choice of the fit in one dataclass, whose defaults are the config schema's.

The study config's ``fit:`` block (src/flops_fit/config.schema.yaml, ``$defs.fit``) is the one
place where an option and its default live; :class:`FitOptions` reads them from the packaged
schema, so the pipeline (``scripts/fit.py``), ``flops-fit fit`` and the Python API agree.  A new
option is one schema entry plus one field here::

    FitOptions.from_config(config["studies"]["shakespeare"]["fit"], predict_budgets=[...])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from flops_fit.approaches import APPROACH_IDS
from flops_fit.config import schema_defaults

from .runs_table import PARAMS_COLUMN, FitError


def _default(name: str):
    value = schema_defaults("fit")[name]
    return field(default_factory=lambda: tuple(value)) if isinstance(value, list) else field(default=value)


@dataclass(frozen=True)
class FitOptions:
    """Every choice of the fit; all of it is recorded in fit.json under ``options``.

    params            "total" | "non_embedding": which parameter count is N.
    flops             "6ND" | "counted": C = 6 N D, or the runs' ``flops`` column.
    approaches        subset of (1, 2, 3), Hoffmann et al. 2022 §3.1-3.3.
    bootstrap         resamples for the intervals (0: no bootstrap; predictive intervals remain).
    confidence        central interval mass (0.9: 5th-95th percentile).
    seed              bootstrap seed; same seed, same numbers.
    backtest_holdout  how many of the largest budgets the backtest holds out (0: none).
    intervals         "predictive" (calibrated by the study's own backtests, fitting/predictive.py)
                      or "bootstrap" (run noise only).
    huber_delta       Approach 3's Huber delta (Chinchilla: 1e-3).
    approach3_method  "lbfgs" (Chinchilla's Huber fit, L-BFGS from a grid) or "vpnls" (variable
                      projection, Czech et al. 2026; fitting/vpnls.py).
    max_epochs        warn about runs that repeat their data more than this (Muennighoff et al. 2023).
    effective_data    fit on the effective data D' of repeated epochs (Muennighoff et al. 2023).
    keep_flagged      keep the runs and budgets quality control flags (fitting/quality.py): listed in
                      fit.json's ``quality`` block either way, excluded from the fit unless this is set.
    predict_budgets   budgets of predictions.csv; None: the studied ones, 10x and 100x the largest.
    approach3_starts  L-BFGS runs from this many best starts of Chinchilla's grid (None: all 4,500).
    """

    params: str = _default("params")
    flops: str = _default("flops")
    approaches: tuple[int, ...] = _default("approaches")
    bootstrap: int = _default("bootstrap")
    confidence: float = _default("confidence")
    seed: int = _default("seed")
    backtest_holdout: int = _default("backtest_holdout")
    intervals: str = _default("intervals")
    huber_delta: float = _default("huber_delta")
    approach3_method: str = _default("approach3_method")
    max_epochs: float = _default("max_epochs")
    effective_data: bool = _default("effective_data")
    keep_flagged: bool = _default("keep_flagged")
    predict_budgets: tuple[float, ...] | None = None
    approach3_starts: int | None = 64

    @classmethod
    def from_config(cls, fit: dict, predict_budgets=None) -> FitOptions:
        """Options from a study's ``fit:`` block (schema-validated); ``predict_budgets`` replaces
        the block's extra budgets by the full list the pipeline computed."""
        names = {f.name for f in fields(cls)}
        kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in fit.items() if k in names}
        kwargs["predict_budgets"] = tuple(predict_budgets) if predict_budgets is not None else None
        return cls(**kwargs)

    def check(self) -> None:
        if self.params not in PARAMS_COLUMN:
            raise FitError(f"option params={self.params!r} is not allowed; use 'total' or 'non_embedding'")
        if self.flops not in ("6ND", "counted"):
            raise FitError(f"option flops={self.flops!r} is not allowed; use '6ND' or 'counted'")
        bad = [a for a in self.approaches if a not in APPROACH_IDS]
        if bad or not self.approaches:
            allowed = ", ".join(map(str, APPROACH_IDS))
            raise FitError(f"option approaches={self.approaches!r}: allowed values are {allowed} (at least one)")
        if int(self.bootstrap) != self.bootstrap or self.bootstrap < 0:
            raise FitError(f"option bootstrap={self.bootstrap!r} must be an integer >= 0")
        if not 0 < self.confidence < 1:
            raise FitError(f"option confidence={self.confidence!r} must lie strictly between 0 and 1")
        if int(self.backtest_holdout) != self.backtest_holdout or self.backtest_holdout < 0:
            raise FitError(f"option backtest_holdout={self.backtest_holdout!r} must be an integer >= 0")
        if self.intervals not in ("predictive", "bootstrap"):
            raise FitError(f"option intervals={self.intervals!r} is not allowed; use 'predictive' or 'bootstrap'")
        if self.approach3_method not in ("lbfgs", "vpnls"):
            raise FitError(f"option approach3_method={self.approach3_method!r} is not allowed; use 'lbfgs' or 'vpnls'")
        if not self.huber_delta > 0:
            raise FitError(f"option huber_delta={self.huber_delta!r} must be > 0")
        if not (isinstance(self.max_epochs, int | float) and math.isfinite(self.max_epochs) and self.max_epochs > 0):
            raise FitError(f"option max_epochs={self.max_epochs!r} must be a number > 0")
        if not isinstance(self.keep_flagged, bool):
            raise FitError(f"option keep_flagged={self.keep_flagged!r} must be true or false")
        if self.predict_budgets is not None:
            c = [float(x) for x in self.predict_budgets]
            if not c or not all(math.isfinite(x) and x > 0 for x in c):
                raise FitError(f"option predict_budgets={self.predict_budgets!r} must be positive FLOP values")
