"""Snakemake adapter of the fit rule: the study's ``fit:`` config -> FitOptions -> fit.json.

The config block reaches the library as one dict (``snakemake.params.fit``), so a new fit option
is one schema entry and one FitOptions field -- no flag strings in between.
"""

import json
import sys
from pathlib import Path

from flops_fit.fitting import FitOptions, fit_files
from flops_fit.fitting.summary import summary

with open(snakemake.log[0], "w") as log:  # noqa: F821 (snakemake is injected by the script directive)
    sys.stdout = sys.stderr = log
    options = FitOptions.from_config(snakemake.params.fit, predict_budgets=snakemake.params.budgets)  # noqa: F821
    rule_json = snakemake.input.get("lr_rule")  # noqa: F821 (the study's lr sweep, when it has one)
    lr_rule = json.loads(Path(rule_json).read_text()) if rule_json else None
    result = fit_files(snakemake.input.runs, snakemake.input.curves, snakemake.params.out, options, lr_rule)  # noqa: F821
    for line in result["warnings"]:
        print(f"warning: {line}")
    print(summary(result))
