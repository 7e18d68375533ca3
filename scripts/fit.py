"""Snakemake adapter of the fit rule: the study's ``fit:`` config -> FitOptions -> fit.json.

The config block reaches the library as one dict (``snakemake.params.fit``), so a new fit option
is one schema entry and one FitOptions field -- no flag strings in between.

Everything the fit prints goes to the rule's log.  A fit that cannot be made (a FitError: too few
usable budgets, a cut runs.csv, ...) ends the job with its one-line cause in the log and on
Snakemake's own output (the real stderr), exit status 1; any other error leaves its traceback in the
log as well.  Standard output and error are restored before the log closes, so nothing is written
to a closed file (Snakemake's "lost sys.stderr").
"""

import json
import sys
import traceback
from pathlib import Path

from flops_fit.fitting import FitError, FitOptions, fit_files
from flops_fit.fitting.summary import summary


def fit(params, inputs, log) -> None:
    options = FitOptions.from_config(params.fit, predict_budgets=params.budgets)
    rule_json = inputs.get("lr_rule")  # the study's lr sweep, when it has one
    lr_rule = json.loads(Path(rule_json).read_text()) if rule_json else None
    result = fit_files(inputs.runs, inputs.curves, params.out, options, lr_rule)
    for line in result["warnings"]:
        print(f"warning: {line}", file=log)
    print(summary(result), file=log)


def main(smk) -> int:
    log_path = smk.log[0]
    with open(log_path, "w") as log:
        sys.stdout = sys.stderr = log
        try:
            fit(smk.params, smk.input, log)
            return 0
        except FitError as err:
            cause = f"fit failed: {' '.join(str(err).split())}"
            print(cause, file=log)
            print(f"{cause} (log: {log_path})", file=sys.__stderr__, flush=True)
            return 1
        except Exception as err:
            traceback.print_exc(file=log)
            print(f"fit failed: {type(err).__name__}: {err} (traceback in {log_path})", file=sys.__stderr__,
                  flush=True)
            return 1
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__


if "snakemake" in globals():
    code = main(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
    if code:
        sys.exit(code)
