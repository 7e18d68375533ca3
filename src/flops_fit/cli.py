"""The ``flops-fit`` command line: every pipeline stage as a subcommand.

    flops-fit plan config/config.yaml                       # print the planned grid
    flops-fit train --spec SPEC.json --data DIR --out RUN.json --checkpoint-dir DIR
    flops-fit fit results/shakespeare/runs.csv --out results/shakespeare/fit
    flops-fit predict --budget 1e21 results/shakespeare
    flops-fit compare results/shakespeare results/shakespeare-swiglu --budget 1e12 --budget 1e15
    flops-fit status results/shakespeare

Heavy libraries are imported inside the subcommand that needs them, so ``flops-fit fit``
starts without torch and ``flops-fit train`` without pandas, scipy or matplotlib.

Exit status: 0 done; 2 a user error (bad config, input or file: one line on stderr);
``flops-fit train`` stopped by SIGTERM (SLURM preemption, ``scancel``, wall time) exits
128 + 15 = 143 after checkpointing, as a process killed by that signal would report, so SLURM and
Snakemake see a cancelled job and a resubmission resumes it (``flops_fit.train.EXIT_PREEMPTED``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from flops_fit.approaches import APPROACH_IDS


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit status 2."""


class BadArgument(UserError):
    """A command-line value that its option does not allow (raised while parsing)."""

    def __init__(self, command: str, message: str):
        super().__init__(message)
        self.command = command


def number_type(command: str, option: str, what: str, lo: float, hi: float, allowed: str):
    """argparse type of a finite number in [lo, hi], else one error line naming the option and ``allowed``."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and lo <= number <= hi):
            raise BadArgument(command, f"{option} {value!r} is not {what} (allowed: {allowed})")
        return number

    return parse


def count_type(command: str, option: str):
    """argparse type of a parameter or token count: a finite number >= 1, else one error line."""
    return number_type(command, option, "a count", 1.0, math.inf, "a finite number >= 1, e.g. 7e9")


BUDGET_RANGE = (1e3, 1e30)
"""Compute budgets a command takes: a thousand FLOPs (less trains nothing) to the config
schema's largest, 1e30 (~1e5 x GPT-4). A budget outside it is a typo (1e-300, 1e300), not a plan."""


def budget_type(command: str, option: str):
    """argparse type of a compute budget: a number of FLOPs in BUDGET_RANGE, else one error line."""
    allowed = "a number of FLOPs >= 1e3 and <= 1e30, e.g. 1e21"
    return number_type(command, option, "a compute budget", *BUDGET_RANGE, allowed)


def int_type(command: str, option: str, lo: int, hi: int):
    """argparse type of an integer in [lo, hi] (a seed: torch's and numpy's range), else one error line."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not lo <= number <= hi:
            what = "is out of range" if number is not None else "is not an integer"
            raise BadArgument(command, f"{option} {value!r} {what} (allowed: an integer >= {lo} and <= {hi})")
        return number

    return parse


SEED_MAX = 0xFFFF_FFFF_FFFF_FFFF  # config.SEED_MAX (not imported here: the parser starts without the config)


def _out_folder(option: str, path: str) -> None:
    """Refuse an output folder that is an existing file, before any work is done."""
    if path and Path(path).exists() and not Path(path).is_dir():
        raise UserError(f"{option} {path} is a file; give a folder (it is created when missing)")


def _read_spec(value: str, option: str = "--spec") -> dict:
    """A run spec given inline as JSON or as the path of a JSON file (a regular file: a FIFO would block)."""
    if value.lstrip().startswith(("{", "[")):
        text = value
    elif Path(value).is_file():
        text = Path(value).read_text(encoding="utf-8", errors="replace")
    else:
        what = "a folder" if Path(value).is_dir() else "not a file" if Path(value).exists() else "missing"
        raise UserError(f"{option} {value}: {what} (give a JSON file or inline JSON)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{option}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None


def cmd_plan(args) -> None:
    from .config import load_config
    from .design import design_warnings
    from .lr_sweep import read_rule, uses_sweep
    from .plan import plan_study, plan_tsv

    config = load_config(args.config)
    names = [args.study] if args.study else config["active_studies"]
    for name in names:
        if name not in config["studies"]:
            allowed = ", ".join(config["studies"])
            raise UserError(f"--study {name!r} is not a study of {args.config} (allowed: {allowed})")
        study = config["studies"][name]
        rule = read_rule(Path(args.results) / name / "lr" / "rule.json") if uses_sweep(study) else None
        runs = plan_study(name, study, rule)
        for line in design_warnings(name, study, runs):
            print(f"flops-fit plan: warning: {line}", file=sys.stderr)
        tsv = plan_tsv(runs)
        if args.out:
            from .io import atomic_write_text

            out = Path(args.out) / name / "plan.tsv" if len(names) > 1 else Path(args.out)
            atomic_write_text(out, tsv)
        else:
            print(f"# study {name}\n{tsv}", end="")


def cmd_prepare_data(args) -> None:
    from .data import prepare_dataset

    try:
        data = json.loads(args.data_config)
    except json.JSONDecodeError as err:
        raise UserError(f"--data-config: not valid JSON ({err.msg} at column {err.colno})") from None
    meta = prepare_dataset(data, args.out)
    print(json.dumps(meta, indent=2))


def cmd_train(args) -> None:
    from .training.spec import SpecError, check_spec

    spec = _read_spec(args.spec)
    try:  # as data only: nothing it names is imported here
        described = check_spec(spec)
    except SpecError as err:
        raise UserError(str(err)) from None
    if args.check:
        print(f"spec OK: {described}")
        return
    if not args.out:
        raise UserError("give --out (the run JSON to write), or --check to check the spec only")
    kept = bool(args.checkpoint_dir)  # the pipeline's side folder also keeps the finished JSON (finished.py)
    if not kept:  # a folder beside the run JSON, removed at the end: a rerun of the same command resumes
        args.checkpoint_dir = f"{args.out}.checkpoints"
    start = _read_spec(args.start, "--start") if args.start else None  # the trunk marker (flops_fit.branches)
    trunk = spec.get("trunk") or {}
    origin = trunk.get("previous") if spec.get("kind") == "trunk" else trunk.get("id")
    if origin and start is None:  # a branch, or a trunk segment after the first
        raise UserError(f"run {spec.get('run_id')} starts from trunk {origin}: give its marker with --start")
    backend = spec.get("training", {}).get("backend", "torch")
    if backend == "mock":
        from .mock import train_mock

        train_mock(spec, args.out, args.checkpoint_dir, start)
        return
    from . import finished

    trunk_point_lost = spec.get("kind") == "trunk" and not (Path(args.checkpoint_dir or ".") / "point.pt").is_file()
    if args.checkpoint_dir and not trunk_point_lost and finished.reuse(spec, args.data, args.out, args.checkpoint_dir):
        print(f"[{spec.get('run_id')}] finished before with this spec on these data: reusing "
              f"{Path(args.checkpoint_dir) / finished.RUN_FILE}, not training", flush=True)  # fmt: skip
        return
    from .train import EXIT_PREEMPTED, Preempted, train_run

    try:
        train_run(spec, args.data, args.out, args.checkpoint_dir, threads=args.threads, start=start)
    except ValueError as err:  # a spec or input this job cannot run: one line, exit status 2
        raise UserError(str(err)) from None
    except Preempted as err:  # SIGTERM: checkpointed; a resubmitted job resumes from it
        print(f"flops-fit train: preempted: {err}", file=sys.stderr, flush=True)
        sys.exit(EXIT_PREEMPTED)
    if kept and os.environ.get("RANK", "0") == "0" and Path(args.out).is_file():
        try:  # for a rerun of this job (Snakemake after kill -9, or remade data): see flops_fit.finished
            finished.keep(spec, args.data, args.out, args.checkpoint_dir)
        except OSError as err:
            print(f"warning: could not keep a copy of {args.out} in {args.checkpoint_dir}: {err}", file=sys.stderr)


def cmd_adapt(args) -> None:
    """One round of an adaptive study (``flops_fit.adaptive``): read the earlier rounds and their
    runs, write the next round's file."""
    from .adaptive import adapt_round
    from .io import atomic_write_json

    study = _read_spec(args.study_config)
    rounds = [json.loads(Path(p).read_text()) for p in args.rounds or []]
    runs = [json.loads(Path(p).read_text()) for p in args.runs or []]
    out = adapt_round(args.study, study, rounds, runs)
    atomic_write_json(args.out, out)
    print(json.dumps({k: v for k, v in out.items() if k != "dropped"}), flush=True)


def cmd_aggregate(args) -> None:
    from .runs import RunFileError, aggregate

    try:
        warnings = aggregate(args.run_jsons, args.runs, args.curves, args.max_epochs, args.provenance)
    except RunFileError as err:
        raise UserError(str(err)) from None
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)


def _fit_options(args):
    """FitOptions from the flags given (each flag's dest is the option's name, ``--budgets`` aside);
    the rest keep the schema's defaults. A new option is a schema entry, a FitOptions field and, to
    set it here, one ``add_argument``."""
    from .fitting import FitOptions

    given = {k: v for k, v in vars(args).items() if v is not None}
    return FitOptions.from_config(given, predict_budgets=args.budgets)


def cmd_fit(args) -> None:
    from .fitting import fit_files
    from .fitting.summary import summary

    _out_folder("--out", args.out)  # before the fit, not after it
    result = fit_files(args.runs, args.curves, args.out, _fit_options(args))
    for line in result["warnings"]:
        print(f"warning: {line}", file=sys.stderr)
    for run in result.get("excluded_runs", []):  # non-finite values, status not ok, duplicates
        print(f"warning: run {run['run_id']} excluded from the fit: {run['reason']}", file=sys.stderr)
    print(summary(result))
    print(f"wrote {Path(args.out) / 'fit.json'} and {Path(args.out) / 'predictions.csv'}")


def _find_fit(path: str) -> Path:
    from .fitting import FitError
    from .fitting.fitjson import find_fit

    try:
        return find_fit(path, "run the pipeline or `flops-fit fit` first")
    except FitError as err:
        raise UserError(str(err)) from None


def cmd_predict(args) -> None:
    from .fitting import predict, read_fit
    from .presentation.predict_text import format_predictions

    if args.results is None:
        found = sorted(Path("results").glob("*/fit/fit.json"))
        if len(found) != 1:
            raise UserError(
                "give the study's results folder, e.g. `flops-fit predict --budget 1e21 results/shakespeare` "
                f"(found {len(found)} fits under results/)"
            )
        args.results = str(found[0])
    fit = read_fit(_find_fit(args.results))
    if args.params is not None or args.tokens is not None:
        return _predict_loss(fit, args)
    if not args.budget:
        raise BadArgument("predict", "give --budget (compute-optimal N*, D*, L*) or --params and --tokens (L(N, D))")
    table = predict(fit, args.budget)
    _say_far_below(fit, args.budget)
    if args.json:
        from .presentation.predict_text import predictions_json

        print(json.dumps(predictions_json(table, fit), indent=2))
    else:
        print(format_predictions(table, fit))


def _say_far_below(fit: dict, budgets) -> None:
    """A warning on stderr for budgets far below the smallest studied one (far above, the table
    says so itself): the law was fitted on none of that range."""
    from .extrapolation import FAR

    studied = [float(b) for b in fit.get("budgets") or [] if isinstance(b, int | float) and b > 0]
    for budget in budgets if studied else ():
        if budget * FAR < min(studied):
            print(f"flops-fit predict: warning: --budget {budget:g} is {min(studied) / budget:.3g}x below the "
                  f"smallest studied budget ({min(studied):g}): far outside the data, a rough guide",
                  file=sys.stderr)  # fmt: skip


def _predict_loss(fit: dict, args) -> None:
    """``flops-fit predict --params N --tokens D``: the loss a run of that size and data should reach."""
    from .fitting import predict_loss
    from .presentation.predict_text import format_loss

    if args.params is None or args.tokens is None or args.budget:
        raise BadArgument("predict", "L(N, D) needs both --params and --tokens, and no --budget")
    try:
        table = predict_loss(fit, args.params, args.tokens)
    except ValueError as err:
        raise UserError(str(err)) from None
    if args.json:
        from .presentation.predict_text import predictions_json

        print(json.dumps(predictions_json(table, fit), indent=2))
    else:
        print(format_loss(table, fit))


def cmd_compare(args) -> None:
    from .fitting.compare import compare, load_study
    from .presentation.compare_text import format_comparison

    _out_folder("--out", args.out)
    base, var = load_study(_find_fit(args.baseline)), load_study(_find_fit(args.variant))
    if args.confidence is not None and not 0 < args.confidence < 1:
        raise UserError(f"--confidence {args.confidence!r} must lie strictly between 0 and 1 (e.g. 0.9)")
    result = compare(base, var, args.budget, args.approach, args.confidence, args.seed,
                     curve_points=40 if args.out else 0)
    if args.out:
        write_comparison(result, Path(args.out), () if args.no_figure else tuple(args.formats), args.width)
    if args.json:
        from .fitting.fitjson import to_jsonable

        print(json.dumps(to_jsonable({k: v for k, v in result.items() if k != "curve"}), indent=2))
    else:
        print(format_comparison(result))
        if args.out:
            figures = "" if args.no_figure else f" and multiplier.({'|'.join(args.formats)})"
            print(f"wrote {args.out}/compare.json, comparison.(csv|md|tex|html){figures}")


def write_comparison(result: dict, out: Path, formats=("pdf", "png"), width: str = "double") -> None:
    """compare.json, comparison.{csv,md,tex,html} and the figure multiplier.<fmt> into ``out``."""
    from .figures.multiplier import make_multiplier_figure
    from .fitting.compare import rows_frame
    from .fitting.fitjson import dump_json
    from .io import atomic_write_text
    from .tables.comparison import comparison_tables

    atomic_write_text(out / "compare.json", dump_json(result))
    atomic_write_text(out / "comparison.csv", rows_frame(result).to_csv(index=False, float_format="%.10g"))
    for ext, text in comparison_tables(result).items():
        atomic_write_text(out / f"comparison.{ext}", text)
    if formats:
        make_multiplier_figure(result, out, width, formats)


def cmd_figures(args) -> None:
    from .figures import make_figures

    make_figures(
        args.runs,
        args.fit,
        args.predictions,
        args.out,
        curves_csv=args.curves,
        width=args.width,
        formats=tuple(args.formats),
    )


def cmd_tables(args) -> None:
    from .tables import make_tables

    try:
        make_tables(args.fit, args.predictions, args.out, runs_csv=args.runs, macro_prefix=args.macro_prefix)
    except ValueError as err:
        raise UserError(str(err)) from None  # a bad --macro-prefix, or a corrupt fit.json or predictions.csv


def cmd_headline(args) -> None:
    from .report import make_headline

    make_headline(args.fit, args.predictions, args.out, sorted(args.budget), study=args.study, runs_csv=args.runs)


def cmd_lr_rule(args) -> None:
    from .lr_sweep import SweepError, describe, write_rule

    try:
        rule = write_rule(args.run_jsons, args.params, args.rule, args.table)
    except SweepError as err:
        raise UserError(str(err)) from None
    print(describe(rule))


def cmd_lr_figure(args) -> None:
    from .figures.lr_sweep import plot_sweep, read_table

    plot_sweep(json.loads(Path(args.rule).read_text()), read_table(args.table), args.out, args.formats, args.width)


def cmd_status(args) -> None:
    from .status import format_status, status_json, study_status

    results = Path(args.results)
    status = study_status(results.parent, results.name, results / "plan.tsv")
    print(json.dumps(status_json(status), indent=2) if args.json else format_status(status, verbose=args.verbose))


class SchemaDefaults(argparse.HelpFormatter):
    """Help whose options name their default from the config schema's ``fit`` block, read only
    when help is printed (the defaults live in the schema alone; a training job never reads it)."""

    def _get_help_string(self, action):
        from .config import schema_defaults

        default = schema_defaults("fit").get(action.dest)
        if default is None or default == [] or not action.option_strings:
            return action.help
        shown = " ".join(map(str, default)) if isinstance(default, list) else default
        return f"{action.help} (default: {shown})"


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="flops-fit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"flops-fit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("plan", help="print or write the planned grid of runs")
    p.add_argument("config", nargs="?", default="config/config.yaml")
    p.add_argument("--study", help="one study (default: the active studies)")
    p.add_argument("--out", help="write plan.tsv here instead of printing it")
    p.add_argument("--results", default="results",
                   help="where a study's fitted learning-rate rule lies (<results>/<study>/lr/rule.json)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("prepare-data", help="tokenize and split a dataset (the data rule)")
    p.add_argument("--data-config", required=True, help="the study's data config as JSON")
    p.add_argument("--out", required=True, help="output folder (train.bin, val.bin, meta.json)")
    p.set_defaults(func=cmd_prepare_data)

    p = sub.add_parser("train", help="train one run and write its loss JSON")
    p.add_argument("--spec", required=True, help="run spec: inline JSON or a JSON file (a custom model's "
                   "model.class, model.loss and data.custom.loader are imported and run: check with --check)")
    p.add_argument("--check", action="store_true",
                   help="only check the spec, as data (nothing imported, no torch), and name the code it would import")
    p.add_argument("--data", help="prepared data folder (train.bin, val.bin, meta.json)")
    p.add_argument("--out", help="the run JSON to write")
    p.add_argument("--checkpoint-dir", help="side folder for checkpoints (resume; default: OUT.checkpoints)")
    p.add_argument("--threads", type=int_type("train", "--threads", 1, 1024), default=1,
                   help="torch threads (default 1)")
    p.add_argument("--start", help="the trunk marker JSON a cooldown branch or trunk segment starts from")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("adapt", help="plan the next round of an adaptive study (grid.mode adaptive)")
    p.add_argument("--study", required=True, help="the study's name")
    p.add_argument("--study-config", required=True, help="the study's checked config: inline JSON or a file")
    p.add_argument("--rounds", nargs="*", help="the earlier rounds' files, in order")
    p.add_argument("--runs", nargs="*", help="the run JSONs of the earlier rounds")
    p.add_argument("--out", required=True, help="the round file to write")
    p.set_defaults(func=cmd_adapt)

    p = sub.add_parser("aggregate", help="collect run JSONs into runs.csv and curves.csv")
    p.add_argument("run_jsons", nargs="+")
    p.add_argument("--runs", required=True)
    p.add_argument("--curves", required=True)
    p.add_argument("--provenance", help="also write each run's provenance (commit, host, SLURM job, ...) here")
    p.add_argument("--max-epochs", type=float,
                   help="warn about runs that repeat their data more than this many epochs (default: fit.max_epochs)")
    p.set_defaults(func=cmd_aggregate)

    p = sub.add_parser(
        "fit",
        help="fit scaling laws to a runs table (Approaches 1-3)",
        description="Options left out take the config schema's defaults (src/flops_fit/config.schema.yaml).",
        formatter_class=SchemaDefaults,
    )
    p.add_argument("runs", help="runs.csv: columns params, tokens, loss (optional flops, budget, ...)")
    p.add_argument("--out", required=True, help="folder for fit.json and predictions.csv")
    p.add_argument("--curves", help="curves.csv (run_id, tokens, flops, loss) for Approach 1")
    p.add_argument("--params", choices=["total", "non_embedding"], help="N convention")
    p.add_argument("--flops", choices=["6ND", "counted"], help="C: 6*N*D, or the table's flops column")
    p.add_argument("--approaches", type=int, nargs="+", choices=APPROACH_IDS, help="Hoffmann et al. 2022, §3.1-3.3")
    p.add_argument("--bootstrap", type=int, help="bootstrap resamples, 0 for none")
    p.add_argument("--confidence", type=float, help="interval mass")
    p.add_argument("--seed", type=int_type("fit", "--seed", 0, SEED_MAX), help="bootstrap seed")
    p.add_argument("--backtest-holdout", type=int, help="largest budgets held out")
    p.add_argument("--intervals", choices=["predictive", "bootstrap"],
                   help="predictive (calibrated by the study's own backtests) or bootstrap (run noise only)")
    p.add_argument("--approach3-method", choices=["lbfgs", "vpnls"],
                   help="lbfgs (Chinchilla's fit) or vpnls (variable projection)")
    p.add_argument("--budgets", type=budget_type("fit", "--budgets"), nargs="+", help="budgets for predictions.csv")
    p.add_argument("--max-epochs", type=float,
                   help="warn (in fit.json) about runs that repeat their data more than this many epochs")
    p.add_argument("--effective-data", action="store_true", default=None,
                   help="fit on the effective data D' of repeated epochs (Muennighoff et al. 2023)")
    p.add_argument("--keep-flagged", action="store_true", default=None,
                   help="fit the runs and budgets that quality control flags (fit.json lists them either way)")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("predict", help="compute-optimal N*, D*, L* for a budget")
    p.add_argument(
        "--budget",
        type=budget_type("predict", "--budget"),
        action="append",
        help="compute budget in FLOPs (repeat for several)",
    )
    p.add_argument("--params", type=count_type("predict", "--params"), action="append",
                   help="with --tokens: the loss L(N, D) a run of this many parameters reaches (repeat for several)")
    p.add_argument("--tokens", type=count_type("predict", "--tokens"), action="append",
                   help="with --params: the run's training tokens (one value, or one per --params)")
    p.add_argument("results", nargs="?", help="results/<study>, its fit/ folder or a fit.json")
    p.add_argument("--json", action="store_true", help="print JSON: one record per budget and approach")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "compare",
        help="compute multiplier of a variant study over a baseline at budgets, with joint-bootstrap intervals",
        description="At each budget C: M = C'/C where the baseline's L*(C') equals the variant's L*(C) "
        "(M > 1: the variant saves compute), the L* difference and both studies' N*, D*; whether M is "
        "constant across budgets. See flops_fit.fitting.compare.",
    )
    p.add_argument("baseline", help="the baseline: results/<study>, its fit/ folder or a fit.json")
    p.add_argument("variant", help="the variant: results/<study>, its fit/ folder or a fit.json")
    p.add_argument("--budget", type=budget_type("compare", "--budget"), action="append", required=True,
                   help="compute budget in FLOPs (repeat for several)")
    p.add_argument("--approach", type=int, action="append", choices=APPROACH_IDS,
                   help="approach to compare (repeat; default: every approach both studies fitted)")
    p.add_argument("--confidence", type=float, help="interval mass (default: the baseline fit's)")
    p.add_argument("--seed", type=int_type("compare", "--seed", 0, SEED_MAX), default=0,
                   help="seed of the pairing of the two studies' replicates")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--out", help="also write compare.json, comparison.{csv,md,tex,html}, multiplier.<fmt> here")
    p.add_argument("--formats", nargs="+", default=["pdf", "png"], choices=["pdf", "png", "svg"])
    p.add_argument("--width", choices=["single", "double"], default="double")
    p.add_argument("--no-figure", action="store_true", help="with --out: no multiplier figure (the pipeline "
                   "draws it in its own job: python -m flops_fit.figures.multiplier)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("figures", help="render the paper figures from a fit")
    p.add_argument("--runs", required=True)
    p.add_argument("--fit", required=True)
    p.add_argument("--predictions", required=True)
    p.add_argument("--curves")
    p.add_argument("--out", required=True)
    p.add_argument("--width", choices=["single", "double"], default="single")
    p.add_argument("--formats", nargs="+", default=["pdf", "png"], choices=["pdf", "png", "svg"])
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("tables", help="write the LaTeX/Markdown/CSV tables of a fit")
    p.add_argument("--fit", required=True)
    p.add_argument("--predictions", required=True)
    p.add_argument("--runs")
    p.add_argument("--out", required=True)
    p.add_argument("--macro-prefix", default="",
                   help="letters that start every numbers.tex macro (e.g. the study name), to combine studies")
    p.set_defaults(func=cmd_tables)

    p = sub.add_parser("headline", help="write the report's headline page (N*, D*, L* at the target budgets)")
    p.add_argument("--fit", required=True)
    p.add_argument("--predictions", required=True)
    p.add_argument("--runs")
    p.add_argument("--budget", type=float, action="append", required=True, help="a target budget (repeat)")
    p.add_argument("--study", default="")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.set_defaults(func=cmd_headline)

    p = sub.add_parser("lr-rule", help="fit the learning-rate rule lr(N) to a sweep's run JSONs")
    p.add_argument("run_jsons", nargs="+")
    p.add_argument("--params", choices=["total", "non_embedding"], default="total", help="N convention")
    p.add_argument("--rule", required=True, help="rule.json to write")
    p.add_argument("--table", required=True, help="sweep.csv to write (one row per sweep run)")
    p.set_defaults(func=cmd_lr_rule)

    p = sub.add_parser("lr-figure", help="draw the learning-rate sweep and its rule")
    p.add_argument("--rule", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--out", required=True, help="the figure file; its suffix is replaced by each format")
    p.add_argument("--formats", nargs="+", default=["pdf", "png"], choices=["pdf", "png", "svg"])
    p.add_argument("--width", choices=["single", "double"], default="single")
    p.set_defaults(func=cmd_lr_figure)

    p = sub.add_parser("status", help="runs done / running / failed / diverged of a study")
    p.add_argument("results", help="results/<study>")
    p.add_argument("--json", action="store_true", help="print the status as JSON (counts, compute, ETA, every run)")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per run that is not pending")
    p.set_defaults(func=cmd_status)
    return parser


# Errors of the user's input, by module: a sub-command can only raise those of the modules it
# imported, so main() looks them up among the loaded modules instead of importing them all (a
# training job must not pay for pandas and scipy to catch a FitError it cannot raise).
USER_ERRORS = {
    "flops_fit.config": "ConfigError",
    "flops_fit.data": "DataError",
    "flops_fit.fitting": "FitError",
}


def _user_errors() -> tuple[type[BaseException], ...]:
    loaded = [getattr(sys.modules[m], name) for m, name in USER_ERRORS.items() if m in sys.modules]
    return (UserError, FileNotFoundError, *loaded)


def _negative_values_attached(argv: list[str]) -> list[str]:
    """``--budget -inf`` as ``--budget=-inf``: argparse would read ``-inf`` as an unknown option and
    print its usage; attached, the budget check gives its one error line."""
    out = []
    for arg in argv:
        if out and out[-1] == "--budget" and arg.startswith("-") and not arg.startswith("--"):
            out[-1] = f"--budget={arg}"
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = _negative_values_attached(sys.argv[1:] if argv is None else list(argv))
    try:
        args = build_parser().parse_args(argv)
    except BadArgument as err:
        print(f"flops-fit {err.command}: error: {err}", file=sys.stderr)
        return 2
    try:
        args.func(args)
    except Exception as err:
        if not isinstance(err, _user_errors()):
            raise
        print(f"flops-fit {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
