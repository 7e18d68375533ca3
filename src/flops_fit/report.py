"""What the presentation rules write for a study, and the report's pages.

The Snakefile asks :func:`presentation_files` at parse time for every figure and table file of a
study (``rule all`` requests them). Cheap to import: no matplotlib, pandas or torch.
"""

from __future__ import annotations

from flops_fit.figures import FIGURES
from flops_fit.figures import FORMATS as FIGURE_FORMATS
from flops_fit.tables import FORMATS as TABLE_FORMATS
from flops_fit.tables import NUMBERS, TABLES


def presentation_files(study: str, formats=FIGURE_FORMATS, studies=()) -> list[str]:
    """Every figure and table file the pipeline writes for ``study`` (``rule all`` asks for them),
    plus the comparison figure when ``studies`` (the active studies) holds more than one."""
    out = [f"results/{study}/figures/{name}.{ext}" for ext in formats for name in FIGURES]
    out += [f"results/{study}/tables/{name}.{ext}" for name in TABLES for ext in TABLE_FORMATS]
    out += [f"results/{study}/tables/{NUMBERS}", f"results/{study}/config.yaml"]
    if len(studies) > 1:
        out += [f"results/comparison/figures/comparison.{ext}" for ext in formats]
    return out
