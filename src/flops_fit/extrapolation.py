"""The one place that decides how far a budget lies beyond the data.

``factor`` = budget / largest studied budget.  A budget is ``in_sample`` when it lies within the
studied range (5% tolerance for budgets recomputed from counted FLOPs), "extrapolated" when it
is not, and ``beyond_data`` when the factor exceeds ``FAR`` (10x): there a prediction rests on
the law's form more than on the runs, and the CLI, tables and report say so.  Figures draw at
most ``PLOT_LIMIT`` (100x) past the largest budget so that a far extrapolation does not hide
the data.  Light (numpy only): the fit, the tables, the figures and the text outputs import it.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 0.05
FAR = 10.0
PLOT_LIMIT = 100.0


def factor(budgets, studied) -> np.ndarray:
    return np.asarray(budgets, dtype=float) / float(np.max(studied))


def in_sample(budgets, studied) -> np.ndarray:
    c = np.asarray(budgets, dtype=float)
    return (c >= np.min(studied) * (1 - TOLERANCE)) & (c <= np.max(studied) * (1 + TOLERANCE))


def extrapolated(budgets, studied) -> np.ndarray:
    return np.asarray(budgets, dtype=float) > np.max(studied) * (1 + TOLERANCE)


def beyond_data(budgets, studied) -> np.ndarray:
    return far(factor(budgets, studied))


def extrapolated_factor(f) -> np.ndarray:
    """:func:`extrapolated` for a budget given as its ``factor`` (a predictions.csv column)."""
    return np.asarray(f, dtype=float) > 1 + TOLERANCE


def far(f) -> np.ndarray:
    """Whether a budget ``f`` times the largest studied one lies far beyond the data (> ``FAR``)."""
    return np.asarray(f, dtype=float) > FAR
