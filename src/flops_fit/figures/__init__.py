"""Paper figures of one study, read from runs.csv, curves.csv, fit.json and predictions.csv.

    from flops_fit.figures import make_figures
    make_figures("results/tiny/runs.csv", "results/tiny/fit/fit.json",
                 "results/tiny/fit/predictions.csv", "results/tiny/figures",
                 curves_csv="results/tiny/curves.csv", width="single")

Presentation never recomputes a fit (design note: restyling a figure never refits), so every
number drawn comes from those files; :mod:`flops_fit.presentation.fitview` is the one module that
knows their layout.
Importing this package is cheap (no matplotlib, no pandas): the Snakefile imports
:data:`FIGURES` (through :func:`flops_fit.report.presentation_files`) at parse time to declare
each figure as an output.

Figures (``FIGURES``; each written as ``<name>.pdf`` and ``<name>.png``):

* ``isoflop``    -- IsoFLOP curves with fitted parabolas and minima (Approach 2);
* ``allocation`` -- N* and D* against compute per approach, extrapolated, with interval bands;
* ``frontier``   -- loss against compute with the compute-efficient frontier;
* ``contours``   -- contours of the Approach-3 L(N, D) with the efficient frontier and the runs;
* ``backtest``   -- predictions for held-out budgets against what was measured.

A figure whose data are missing (e.g. Approach 3 failed) is still written, with a short note in
place of the plot, so the declared outputs always exist.
"""

from __future__ import annotations

import os

from flops_fit import extrapolation

FIGURES = ("isoflop", "allocation", "frontier", "contours", "backtest")
"""In reading order (the report shows them so): the data, the answer, then how far to trust it."""
TITLES = {
    "isoflop": "IsoFLOP curves",
    "allocation": "Optimal N* and D* against compute",
    "frontier": "Loss against compute",
    "contours": "Fitted L(N, D)",
    "backtest": "Backtest",
}
FORMATS = ("pdf", "png")
WIDTHS = ("single", "double")
MAX_EXTRAPOLATION = extrapolation.PLOT_LIMIT
"""Figures draw fitted laws to at most this multiple of the largest studied budget (issue: a far
extrapolation squeezes the data into a corner; the tables list every requested budget)."""


def _read_csv(path):
    """A CSV file as a DataFrame (a DataFrame passes through); None when absent or empty."""
    import pandas as pd

    if isinstance(path, pd.DataFrame):
        frame = path
    elif path is None or not os.path.isfile(path):
        return None
    else:
        frame = pd.read_csv(path)
    return frame if len(frame) else None


def make_figures(
    runs_csv,
    fit_json,
    predictions_csv,
    out_dir,
    curves_csv=None,
    width="single",
    formats=FORMATS,
    only=None,
    max_extrapolation: float | None = MAX_EXTRAPOLATION,
) -> list[str]:
    """Write every figure in :data:`FIGURES` (or those in ``only``) to ``out_dir``; return the paths.

    ``fit_json`` may be the path or (in a notebook) the fit dict; the CSV arguments may be paths
    or DataFrames. ``width``: "single" or "double" column; ``formats``: any of pdf, png, svg.
    ``max_extrapolation``: fitted lines end at this multiple of the largest studied budget
    (None: at the largest budget of predictions.csv).
    """
    from flops_fit.figures import allocation, backtest, contours, frontier, isoflop
    from flops_fit.presentation.fitview import FitView

    if width not in WIDTHS:
        raise ValueError(f"width must be one of {WIDTHS}, got {width!r}")
    runs = _read_csv(runs_csv)
    curves = _read_csv(curves_csv)
    view = FitView.load(fit_json, predictions_csv)
    view.set_unit(runs)
    names = FIGURES if only is None else tuple(only)
    paths: list[str] = []
    for name in names:
        if name == "isoflop":
            paths += isoflop.make(runs, view, out_dir, width, formats)
        elif name == "allocation":
            paths += allocation.make(runs, view, out_dir, width, formats, max_extrapolation)
        elif name == "contours":
            paths += contours.make(runs, view, out_dir, width, formats)
        elif name == "frontier":
            paths += frontier.make(runs, view, out_dir, curves, width, formats, max_extrapolation)
        elif name == "backtest":
            paths += backtest.make(view, out_dir, width, formats)
        else:
            raise ValueError(f"unknown figure {name!r} (known: {', '.join(FIGURES)})")
    return paths
