"""Paper tables of one study, as LaTeX (booktabs), Markdown and CSV, plus ``numbers.tex``.

    from flops_fit.tables import make_tables
    make_tables("results/tiny/fit/fit.json", "results/tiny/fit/predictions.csv", "results/tiny/tables")

Written to ``out_dir`` (names in :data:`TABLES`), one module per table:

* ``parameters.{csv,md,tex,html}``  -- every fitted parameter with its interval, per approach
  (:mod:`~flops_fit.tables.parameters`);
* ``allocations.{csv,md,tex,html}`` -- compute-optimal allocations per budget and approach, in the
  style of Hoffmann et al. 2022, Table 3 (:mod:`~flops_fit.tables.allocations`);
* ``runs.{csv,md,tex,html}``   -- the run table, appendix style (:mod:`~flops_fit.tables.runs`);
* ``numbers.tex`` -- one ``\\newcommand`` per number a paper's text quotes
  (:mod:`~flops_fit.tables.numbers`).

The HTML page of each table (what ``snakemake --report`` shows) is its Markdown, rendered.
Every number is read from fit.json / predictions.csv / runs.csv; nothing is refitted. Imports
pandas inside functions only; never imports torch or matplotlib.
"""

from __future__ import annotations

import os
from pathlib import Path

from flops_fit.io import atomic_write_text
from flops_fit.presentation.fitview import FitView
from flops_fit.tables.allocations import allocations_frame, render_allocations
from flops_fit.tables.numbers import MACRO_RE, numbers_macros, render_numbers
from flops_fit.tables.parameters import parameters_frame, render_parameters
from flops_fit.tables.render import html_from_md
from flops_fit.tables.runs import render_runs, runs_frame

TABLES = ("parameters", "allocations", "runs")
FORMATS = ("csv", "md", "tex", "html")
NUMBERS = "numbers.tex"


def make_tables(fit_json, predictions_csv, out_dir, runs_csv=None, macro_prefix: str = "") -> list[str]:
    """Write every table in :data:`TABLES` (csv, md, tex) and ``numbers.tex``; return the paths.

    ``fit_json`` may be the path or (in a notebook) the fit dict itself; ``predictions_csv`` and
    ``runs_csv`` may be paths or DataFrames. ``macro_prefix`` (letters only, e.g. the study's
    name) starts every macro of numbers.tex, so several studies' files can be ``\\input`` together.
    """
    if macro_prefix and not MACRO_RE.match(macro_prefix):
        raise ValueError(f"--macro-prefix {macro_prefix!r} must be letters only (a LaTeX macro name)")
    import pandas as pd

    view = FitView.load(fit_json, predictions_csv)
    if isinstance(runs_csv, pd.DataFrame):
        runs = runs_csv
    else:
        from flops_fit.fitting.runs_table import read_runs_table

        runs = read_runs_table(runs_csv) if runs_csv and os.path.isfile(runs_csv) else None
    view.set_unit(runs)
    studied_max = float(runs["budget"].max()) if runs is not None and "budget" in runs and len(runs) else None
    out_dir = Path(out_dir)
    paths = []
    alloc = allocations_frame(view, studied_max)
    for name, frame, render in (
        ("parameters", parameters_frame(view), render_parameters),
        ("allocations", alloc, render_allocations),
        ("runs", runs_frame(runs), render_runs),
    ):
        texts = render(frame, view)
        texts["csv"] = frame.to_csv(index=False)
        texts["html"] = html_from_md(texts["md"], f"{name} table")
        for fmt in FORMATS:
            path = out_dir / f"{name}.{fmt}"
            atomic_write_text(path, texts[fmt])
            paths.append(str(path))
    path = out_dir / NUMBERS
    macros = [(macro_prefix + name, value, note) for name, value, note in numbers_macros(view, alloc, runs)]
    atomic_write_text(path, render_numbers(macros, view))
    paths.append(str(path))
    return paths
