"""Property-based fuzzing of the fit and everything that reads its output (issue 25, point 1).

Random valid studies -- 2-8 budgets of 3-12 sizes, noise, diverged runs (NaN or infinite loss, or
status "diverged"), identical duplicated rows, off-centre and lopsided grids, losses that rise or
fall with N, any subset of approaches and any option -- go through ``fit_runs``, then
``predict``, the fit.log summary, fit.json's writer and reader, every table and the report's
headline.  Nothing may raise but :class:`FitError` with one line that says why.

Hypothesis runs derandomized and without a database, so CI draws the same studies every time;
the bootstrap is small (20 replicates) and Approach 3 starts from few grid points, so the file
runs in well under a minute on one core.  Every crash found by fuzzing or reported by a user is
kept below as a named regression case (SQLite's habit: one test per reported bug).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from flops_fit.fitting import FitError, FitOptions, fit_runs, load_runs, predict, read_fit, write_fit
from flops_fit.fitting.fitjson import dump_json
from flops_fit.fitting.summary import summary
from flops_fit.fitting.synthetic import CHINCHILLA, isoflop_study
from flops_fit.presentation.predict_text import format_predictions
from flops_fit.report import headline_html
from flops_fit.tables import make_tables

FUZZ = settings(
    max_examples=25,
    deadline=None,  # one example fits three approaches (~0.5 s); the whole file is bounded instead
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # a failure is reported as drawn: shrinking a fit takes minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------------- studies


def make_study(
    budgets: int = 3,
    sizes: int = 5,
    span: float = 1.0,
    offset: float = 0.0,
    noise: float = 0.01,
    shape: str = "law",
    alpha: float = CHINCHILLA["alpha"],
    beta: float = CHINCHILLA["beta"],
    diverged: tuple = (),
    duplicates: int = 0,
    budget_column: bool = True,
    run_ids: bool = True,
    curves: bool = True,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A runs table (and curves) in runs.csv's format.

    ``shape``: "law" (Chinchilla's L(N, D) with the given exponents), "rising" (loss grows with N
    at every budget), "falling" (loss falls with N: the minimum at the largest size) or "flat".
    ``diverged``: how each diverged run shows ("nan", "inf", "status"), one entry per run.
    """
    params = dict(CHINCHILLA, alpha=alpha, beta=beta)
    c = np.geomspace(1e17, 1e17 * 10 ** (0.5 * (budgets - 1)), budgets)
    runs, cv = isoflop_study(params, c, sizes=sizes, span=span, offset=offset, noise=noise, seed=seed,
                             curve_points=4 if curves else 0)
    rng = np.random.default_rng(seed)
    # the columns aggregate writes beside the fit's own (diagnostics read n_layer; tables, unit)
    runs["n_layer"] = np.where(runs["params"] > np.median(runs["params"]), 4, 2)
    runs["unit"] = "tokens"
    if shape != "law":
        slope = {"rising": 0.2, "falling": -0.2, "flat": 0.0}[shape]
        x = np.log10(runs["params"].to_numpy())
        base = 3.0 + slope * (x - x.mean()) - 0.1 * np.log10(runs["budget"].to_numpy() / 1e17)
        runs["loss"] = base * (1 + noise * rng.standard_normal(len(runs)))
        if cv is not None:
            cv["loss"] = cv["run_id"].map(runs.set_index("run_id")["loss"]) * (1 + 0.1 / cv["step"])
    rows = rng.choice(len(runs), size=min(len(diverged), len(runs)), replace=False)
    for i, how in zip(rows, diverged, strict=False):
        if how == "status":
            runs.loc[i, "status"] = "diverged"
        else:
            runs.loc[i, "loss"] = np.nan if how == "nan" else np.inf
    if duplicates:
        runs = pd.concat([runs, runs.iloc[rng.choice(len(runs), duplicates)]], ignore_index=True)
    if not budget_column:
        runs = runs.drop(columns="budget")
    if not run_ids:
        runs = runs.drop(columns="run_id")
        cv = None
    return runs, cv


studies = st.fixed_dictionaries(
    {
        "budgets": st.integers(2, 8),
        "sizes": st.integers(3, 12),
        "span": st.floats(0.1, 1.5),
        "offset": st.floats(-1.2, 1.2),
        "noise": st.sampled_from([0.0, 0.001, 0.01, 0.03, 0.08]),
        "shape": st.sampled_from(["law", "law", "law", "rising", "falling", "flat"]),
        "alpha": st.floats(0.1, 0.8),
        "beta": st.floats(0.1, 0.8),
        "diverged": st.lists(st.sampled_from(["nan", "inf", "status"]), max_size=3).map(tuple),
        "duplicates": st.integers(0, 3),
        "budget_column": st.booleans(),
        "run_ids": st.booleans(),
        "curves": st.booleans(),
        "seed": st.integers(0, 2**16),
    }
)

options = st.builds(
    FitOptions,
    params=st.sampled_from(["total", "non_embedding"]),
    flops=st.sampled_from(["6ND", "counted"]),
    approaches=st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=3, unique=True).map(tuple),
    bootstrap=st.sampled_from([0, 3, 20]),
    confidence=st.floats(0.5, 0.99),
    seed=st.integers(0, 2**31),
    backtest_holdout=st.integers(0, 3),
    intervals=st.sampled_from(["predictive", "bootstrap"]),
    huber_delta=st.sampled_from([1e-3, 1e-2]),
    approach3_method=st.sampled_from(["lbfgs", "lbfgs", "vpnls"]),
    approach3_starts=st.sampled_from([4, 8]),
    predict_budgets=st.one_of(st.none(), st.lists(st.floats(1e3, 1e40), min_size=1, max_size=3).map(tuple)),
)


# --------------------------------------------------------------------------------- the property


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, f"not one line: {text!r}"
    return text


def fit_everything(runs, curves, opts: FitOptions, tmp) -> dict | None:
    """The fit and everything that reads it; None when the fit refused the study with a FitError."""
    try:
        result = fit_runs(runs, curves, opts)
    except FitError as exc:
        one_line(exc)
        return None
    text = summary(result)
    assert text.startswith("fitted ")
    assert json.loads(dump_json(result))["schema_version"] == 1
    table = predict(result, [max(result["budgets"]) * 10, 1e25, 1e3, 1e40])
    format_predictions(table, result)
    write_fit(result, tmp / "fit")
    again = read_fit(tmp / "fit")
    runs_csv = tmp / "runs.csv"
    runs.to_csv(runs_csv, index=False)
    make_tables(tmp / "fit" / "fit.json", tmp / "fit" / "predictions.csv", tmp / "tables", runs_csv=runs_csv)
    headline_html(tmp / "fit" / "fit.json", tmp / "fit" / "predictions.csv", [1e22], "fuzz", runs_csv)
    return again


@FUZZ
@given(study=studies, opts=options)
def test_random_valid_studies_never_crash(study, opts, tmp_path_factory):
    runs, curves = make_study(**study)
    result = fit_everything(runs, curves, opts, tmp_path_factory.mktemp("fuzz"))
    if result is None:
        return
    for block in result["approaches"].values():
        assert block["status"] in ("ok", "skipped", "failed")
        if block["status"] == "ok" and opts.bootstrap:
            assert block["bootstrap"]["resamples"] == opts.bootstrap
            for lo, hi in block["intervals"].values():
                assert (lo is None) == (hi is None)
                assert lo is None or lo <= hi


# --------------------------------------------------------------------------------- reported bugs
# One case per crash or silent wrong result reported (issue 25) or found by the fuzzer above, with
# the outcome expected now.  (name, study, options, check of the result or the FitError's text)


def _a2(result):
    return result["approaches"]["approach2"]


def _a2_interval_is_honest(result):
    lo, hi = _a2(result)["a_interval"]
    noise = _a2(result)["bootstrap"]["noise"]
    assert hi - lo > 0.01, "3 sizes per budget: the Approach-2 interval had zero width"
    assert noise["method"] == "parametric" and noise["dof"] == 0 and noise["sd"] > 0
    assert any("cannot be measured" in w for w in _a2(result)["warnings"])
    assert "bootstrap: parametric run noise, sd 0.50% of the loss (assumed: no budget has residuals)" in summary(result)


def _a2_residual_noise(result):
    noise = _a2(result)["bootstrap"]["noise"]
    assert noise["method"] == "residual" and noise["budgets"] == 3 and noise["dof"] == 3 * (5 - 3)
    assert 0.002 < noise["sd"] < 0.03  # the study's 1% noise, measured
    assert result["run_noise"] == pytest.approx(noise["sd"])
    text = summary(result)
    assert "bootstrap: residual run noise, sd " in text and "pooled over 3 budget(s), 6 dof" in text


def _summary_prints(result):
    text = summary(result)
    assert "fitted " in text and "None" not in text


def _duplicates_listed(result):
    reasons = [r["reason"] for r in result["excluded_runs"]]
    assert reasons.count("duplicate row (identical to an earlier row)") == 3


def _fitted(result):
    assert any(block["status"] == "ok" for block in result["approaches"].values())


REGRESSIONS = [
    # Approach 2 with exactly 3 sizes per budget: three points leave no residuals, the interval was
    # a = 0.4704 [0.4704, 0.4704]; now a parametric bootstrap with an assumed noise, said.
    ("three-sizes-zero-width-interval", dict(budgets=3, sizes=3, noise=0.01), dict(approaches=(2,), bootstrap=200),
     _a2_interval_is_honest),
    # ... and with residuals, the pooled residuals of the budgets that have them (not the 3-size ones' zeros)
    ("residual-noise-pooled", dict(budgets=3, sizes=5, noise=0.01, seed=4), dict(approaches=(2,), bootstrap=50),
     _a2_residual_noise),
    # a study whose loss rises with N: fit.json was written, then the summary raised NoneType.__format__
    ("rising-loss-summary", dict(budgets=4, sizes=7, offset=-1.0, noise=0.03, shape="rising", curves=True,
                                 budget_column=False, run_ids=False), dict(bootstrap=0, confidence=0.5,
                                                                           approach3_starts=8),
     _summary_prints),
    ("rising-loss-summary-law", dict(budgets=3, sizes=7, offset=-1.0, noise=0.03, alpha=0.5, beta=0.375,
                                     budget_column=False, run_ids=False),
     dict(bootstrap=0, confidence=0.5, approach3_starts=4), _summary_prints),
    # identical duplicated rows (one run_id twice) stopped the diagnostics: "cannot reindex"
    ("duplicate-rows-diagnostics", dict(budgets=4, sizes=8, noise=0.08, duplicates=3, diverged=("status", "status"),
                                        seed=169, budget_column=False),
     dict(approaches=(3,), bootstrap=20, flops="counted", approach3_starts=8), _duplicates_listed),
    # counted FLOPs: a rolling-backtest refit whose optimum left optimal_counted's range stopped the fit
    ("counted-optimum-off-range", dict(budgets=4, sizes=8, span=1.085, offset=-0.575, alpha=0.309, beta=0.1,
                                       duplicates=3, shape="rising", budget_column=False, curves=False, seed=360),
     dict(params="non_embedding", flops="counted", approaches=(2, 3), bootstrap=20, backtest_holdout=3,
          approach3_starts=4), _summary_prints),
    # diagnostics' parabola-asymmetry check: an IsoFLOP curve that overflows made lstsq's SVD fail
    ("asymmetry-bias-overflow", dict(budgets=4, sizes=4, span=0.99999, offset=0.769, alpha=0.471, beta=0.586,
                                     noise=0.08, shape="flat", duplicates=1, curves=False, seed=3933),
     dict(params="non_embedding", flops="counted", bootstrap=3, backtest_holdout=1, intervals="bootstrap",
          approach3_starts=8), _summary_prints),
    # Approach 3's G = (alpha A / (beta B))^(1/(alpha+beta)) with B = exp(-800) = 0: ZeroDivisionError
    # from a rolling-backtest refit (issue 25's "ZeroDivisionError in Approach 3")
    ("approach3-zero-division", dict(budgets=7, sizes=7, span=1.0065, offset=0.7633, alpha=0.5913, beta=0.7256,
                                     noise=0.03, duplicates=3, diverged=("status", "status", "inf"), run_ids=False,
                                     budget_column=False, seed=594),
     dict(params="non_embedding", flops="counted", approaches=(3, 1), bootstrap=20, confidence=0.5,
          backtest_holdout=3, intervals="bootstrap", seed=282951, approach3_starts=4), _summary_prints),
    # a degenerate Approach-3 surface NaN at some runs reached the single-run calibration's NNLS
    ("run-calibration-nan-residual", dict(budgets=5, sizes=10, span=1.1645, alpha=0.6186, beta=0.1021, noise=0.08,
                                          shape="flat", diverged=("inf", "nan", "inf"), duplicates=2,
                                          budget_column=False, curves=False, seed=3606),
     dict(params="non_embedding", flops="counted", approaches=(3,), bootstrap=0, confidence=0.677,
          backtest_holdout=3, intervals="bootstrap", huber_delta=0.01, seed=1606, approach3_starts=4),
     _summary_prints),
    # small studies with diverged runs (the report's 7 of 60): Approach 3's bootstrap outside its guard
    ("small-diverged-default-options", dict(budgets=3, sizes=4, noise=0.03, diverged=("nan", "inf", "status"),
                                            curves=False), dict(bootstrap=100, approach3_starts=8), _fitted),
    ("small-diverged-default-options-2", dict(budgets=4, sizes=3, noise=0.03, diverged=("nan", "status"),
                                              curves=False, seed=7), dict(bootstrap=100, approach3_starts=8), _fitted),
]


@pytest.mark.parametrize(("name", "study", "opts", "check"), REGRESSIONS, ids=[r[0] for r in REGRESSIONS])
def test_reported_bug_stays_fixed(name, study, opts, check, tmp_path):
    runs, curves = make_study(**study)
    result = fit_everything(runs, curves, FitOptions(**opts), tmp_path)
    assert result is not None, f"{name}: the study was refused"
    check(result)


def _runs_csv(tmp_path, text: str):
    path = tmp_path / "runs.csv"
    path.write_text(text)
    return path


GOOD_ROWS = "".join(f"r{i},{n:g},{6e18 / (6 * n):g},{3 + 0.1 * abs(i % 3 - 1)}\n"
                    for i, n in enumerate([1e7, 2e7, 4e7, 1e7, 2e7, 4e7]))
REFUSED = [
    # a runs.csv cut mid-row: pandas pads the row with NaN and the run was silently excluded
    ("csv-cut-mid-row", "run_id,params,tokens,loss\n" + GOOD_ROWS + "r9,1e7,1e11\n",
     r"runs\.csv' line 8: 3 field\(s\), the header has 4"),
    ("csv-cut-after-comma", "run_id,params,tokens,loss\n" + GOOD_ROWS + "r9,1e7,1e11,",
     r"runs\.csv' line 8: the last row ends in an empty field without a newline"),
    # tokens and images in one table were fitted as one study
    ("mixed-units", "run_id,params,tokens,loss,unit\n" + GOOD_ROWS.rstrip().replace("\n", ",tokens\n", 5)
     + ",images\n",
     r"column 'unit' mixes kinds of data \('tokens' \(5 runs\), 'images' \(1 runs\)\)"),
]


@pytest.mark.parametrize(("name", "text", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_bad_runs_table_is_refused_naming_file_and_line(name, text, message, tmp_path):
    with pytest.raises(FitError, match=message) as err:
        fit_runs(*load_runs(_runs_csv(tmp_path, text)))
    one_line(err.value)


def test_a_complete_last_row_without_newline_is_read(tmp_path):
    runs, _ = load_runs(_runs_csv(tmp_path, "run_id,params,tokens,loss\n" + GOOD_ROWS.rstrip("\n")))
    assert len(runs) == 6 and runs["loss"].iloc[-1] == pytest.approx(3.1)


# --------------------------------------------------------------------------------- fit.json given back


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A real fit of a small study, on disk: fit/fit.json, fit/predictions.csv, runs.csv."""
    tmp = tmp_path_factory.mktemp("fitted")
    runs, curves = make_study(budgets=4, sizes=5, noise=0.01, curves=False)
    result = fit_runs(runs, None, FitOptions(bootstrap=20, approach3_starts=8))
    write_fit(result, tmp / "fit")
    runs.to_csv(tmp / "runs.csv", index=False)
    return tmp


def _set(path: str, value):
    def change(fit: dict) -> dict:
        *keys, last = path.split(".")
        node = fit
        for key in keys:
            node = node[key]
        node[last] = value
        return fit
    return change


CORRUPT_FITS = [  # (name, the file's bytes from the good fit.json's text, the message expected)
    ("empty", lambda text: b"", "the file is empty"),
    ("whitespace", lambda text: b"  \n", "the file is empty"),
    ("truncated", lambda text: text[: len(text) // 2].encode(), "not valid JSON"),
    ("not-utf8", lambda text: b"\xff\xfe{}", "cannot be read as a fit.json"),
    ("nul-bytes", lambda text: b"\0" * 64, "not valid JSON"),
    ("json-list", lambda text: b"[1, 2]", "it holds a JSON list, not an object"),
    ("json-number", lambda text: b"3.5", "it holds a JSON float, not an object"),
    ("foreign-object", lambda text: b'{"model": "gpt", "loss": 3.1}', "it lacks schema_version, convention"),
    ("deep-nesting", lambda text: b"[" * 100_000, "not valid JSON"),
]
CHANGED_FITS = [  # (name, change of the good fit.json's content, the message expected)
    ("schema-version", _set("schema_version", 99), "schema_version 99; this version reads 1"),
    ("schema-version-text", _set("schema_version", "1"), "schema_version '1'"),
    ("convention-list", _set("convention", ["total"]), "convention must hold the texts params and flops"),
    ("confidence-out-of-range", _set("options.confidence", 2), "options.confidence must be a number between 0"),
    ("budgets-empty", _set("budgets", []), "budgets must be a non-empty list of FLOP values"),
    ("budgets-text", _set("budgets", ["1e18"]), "budgets must be a non-empty list"),
    ("approaches-list", _set("approaches", []), "approaches must be an object"),
    ("approach-unknown", _set("approaches.approach9", {"status": "ok"}), "approaches holds 'approach9'"),
    ("status-unknown", _set("approaches.approach3.status", "great"), "approaches.approach3.status must be"),
    ("params-text", _set("approaches.approach3.params.alpha", "0.3"), "approaches.approach3.params must map"),
    ("params-missing", _set("approaches.approach2.params", None), "approaches.approach2.params must map"),
    ("interval-short", _set("approaches.approach2.intervals.a", [0.1]), "intervals must map names to"),
    ("samples-number", _set("approaches.approach3.bootstrap.samples.a", 5), "bootstrap.samples must map"),
    ("predictive-text", _set("approaches.approach2.predictive", "wide"), "approach2.predictive must be an object"),
    ("predictive-empty", _set("approaches.approach2.predictive", {"sigma_v_N": 0.1}), "give no prediction: KeyError"),
    ("param-law-missing", lambda fit: fit["approaches"]["approach2"]["params"].pop("k_N") and fit,
     "give no prediction: KeyError"),
]


def _corrupt_cases(fitted):
    good = (fitted / "fit" / "fit.json").read_text()
    for name, make, message in CORRUPT_FITS:
        yield name, make(good), message
    for name, change, message in CHANGED_FITS:
        yield name, json.dumps(change(json.loads(good))).encode(), message


@pytest.mark.parametrize("case", [c[0] for c in CORRUPT_FITS + CHANGED_FITS])
def test_corrupt_empty_or_foreign_fit_json_is_one_line_exit_2(case, fitted, tmp_path, capsys):
    from flops_fit.cli import main

    name, data, message = next(c for c in _corrupt_cases(fitted) if c[0] == case)
    bad = tmp_path / "fit.json"
    bad.write_bytes(data)
    preds = fitted / "fit" / "predictions.csv"
    for argv in (["predict", "--budget", "1e21", str(bad)],
                 ["tables", "--fit", str(bad), "--predictions", str(preds), "--out", str(tmp_path / "t")],
                 ["headline", "--fit", str(bad), "--predictions", str(preds), "--budget", "1e21",
                  "--out", str(tmp_path / "h.html")]):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(bad) in err and message in err, err
        assert "--macro-prefix" not in err  # a corrupt fit.json was blamed on --macro-prefix
    assert not (tmp_path / "t").exists()


def test_good_fit_json_reads_back_unchanged(fitted):
    from flops_fit.fitting.api import SCHEMA_VERSION
    from flops_fit.fitting.fitjson import READS_SCHEMA

    fit = read_fit(fitted / "fit")
    assert fit == json.loads((fitted / "fit" / "fit.json").read_text())
    assert READS_SCHEMA == SCHEMA_VERSION


@pytest.mark.parametrize(("name", "text", "message"), [
    ("empty", "", "not a readable predictions.csv"),
    ("foreign", "a,b\n1,2\n", "not a flops-fit predictions.csv (KeyError"),
    ("bad-approach", "budget,approach,N_opt\n1e20,7,1e8\n", "not a flops-fit predictions.csv (ValueError"),
], ids=["empty", "foreign", "bad-approach"])
def test_corrupt_predictions_csv_is_one_line_exit_2(name, text, message, fitted, tmp_path, capsys):
    from flops_fit.cli import main

    preds = tmp_path / "predictions.csv"
    preds.write_text(text)
    argv = ["tables", "--fit", str(fitted / "fit" / "fit.json"), "--predictions", str(preds), "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "predictions.csv" in err, err


# --------------------------------------------------------------------------------- outputs carry no code

PAYLOAD = "x\n\\input{/etc/passwd}\n<script>alert(1)</script> [a](javascript:alert(1)) | `code` \r\n\\end{document}"


def _poisoned(fitted, tmp_path):
    """The good fit with a foreign fit.json's texts: convention, a parameter name, warnings, reasons."""
    fit = json.loads((fitted / "fit" / "fit.json").read_text())
    fit["convention"]["params"] = PAYLOAD
    fit["convention"]["flops"] = PAYLOAD
    a3 = fit["approaches"]["approach3"]
    a3["params"][PAYLOAD] = 1.5
    a3["intervals"][PAYLOAD] = [1.0, 2.0]
    a3["warnings"].append(PAYLOAD)
    a3["excluded_budgets"].append({"budget": 1e18, "reason": PAYLOAD})
    fit["approaches"]["approach1"] = {"status": "failed", "reason": PAYLOAD}
    fit["diagnostics"].append({"code": PAYLOAD, "message": PAYLOAD, "value": 1})
    fit["excluded_runs"].append({"run_id": PAYLOAD, "reason": PAYLOAD})
    fit["warnings"] = [PAYLOAD]
    fit["intervals_method"] = PAYLOAD
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(fit))
    runs = pd.read_csv(fitted / "runs.csv")
    runs.loc[0, "run_id"] = PAYLOAD
    runs.loc[1, "status"] = PAYLOAD
    runs["unit"] = PAYLOAD
    runs.to_csv(tmp_path / "runs.csv", index=False)
    return path


def test_strings_from_fit_json_and_csv_cannot_carry_code(fitted, tmp_path):
    fit = _poisoned(fitted, tmp_path)
    paths = make_tables(fit, fitted / "fit" / "predictions.csv", tmp_path / "tables", runs_csv=tmp_path / "runs.csv")
    html_page = headline_html(fit, fitted / "fit" / "predictions.csv", [1e21], PAYLOAD, tmp_path / "runs.csv")
    numbers = (tmp_path / "tables" / "numbers.tex").read_text()
    for line in numbers.splitlines():  # every line a comment, or one \newcommand of letters and a number
        if line.startswith("%"):
            continue
        found = re.fullmatch(r"\\newcommand\{\\[A-Za-z]+\}\{(.*?)\}(  % [^\n]*)?", line)
        assert found, line
        assert set(re.findall(r"\\([A-Za-z]+|.)", found.group(1))) <= {"ensuremath", "times", "%", ","}, line
    assert "passwd" in numbers  # the parameter's name is quoted in a comment, harmlessly
    for path in map(Path, paths):
        text = path.read_text()
        if path.suffix == ".tex" and path.name != "numbers.tex":  # (numbers.tex: checked line by line above)
            assert "\\input" not in text and "\\end{document}" not in text, path
            if path.name != "allocations.tex":  # (its texts are the unit and convention only)
                assert "\\textbackslash{}input\\{/etc/passwd\\}" in text, path
        if path.suffix == ".md":  # no tag, no link: Markdown's markup characters escaped
            assert not re.search(r"(?<!\\)<script|(?<!\\)\]\(javascript", text), path
        if path.suffix == ".html":  # the texts as text: no tag but the page's own
            assert "<script" not in text and "&lt;script&gt;" in text, path
        if path.suffix == ".csv":  # data, not markup: the texts kept as they are, quoted by the CSV writer
            quoted_breaks = sum(c.count("\n") for c in re.findall(r'"[^"]*"', text))
            assert len(pd.read_csv(path)) == text.count("\n") - 1 - quoted_breaks, path
        if path.suffix == ".md":
            rows = [ln for ln in text.splitlines() if ln.startswith("|")]
            assert len({ln.count("|") - ln.count("\\|") for ln in rows}) == 1, path  # no cell split a row
    assert "<script>" not in html_page and "&lt;script&gt;" in html_page


# --------------------------------------------------------------------------------- the pipeline's fit job


class _Files(dict):
    """What Snakemake hands a script as ``snakemake.input`` / ``.params``: names as attributes."""

    __getattr__ = dict.__getitem__


def _run_fit_script(tmp_path, runs_csv, fit=None):
    import runpy
    import sys

    smk = _Files(
        input=_Files(runs=str(runs_csv), curves=str(tmp_path / "curves.csv")),
        params=_Files(fit=fit or {"bootstrap": 10, "approaches": [2, 3]}, budgets=None, out=str(tmp_path / "fit")),
        log=[str(tmp_path / "fit.log")],
    )
    pd.DataFrame(columns=["run_id", "step", "tokens", "flops", "loss"]).to_csv(tmp_path / "curves.csv", index=False)
    root = Path(__file__).resolve().parents[1]
    try:
        runpy.run_path(str(root / "scripts" / "fit.py"), init_globals={"snakemake": smk}, run_name="__snakemake__")
        code = 0
    except SystemExit as exc:
        code = exc.code
    assert sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__  # restored: nothing "lost"
    return code, (tmp_path / "fit.log").read_text()


def test_pipeline_fit_failure_speaks_in_the_log_and_on_stderr(tmp_path, capfd):
    """A fit failure in the pipeline left fit.log empty and Snakemake printed "lost sys.stderr"."""
    runs = tmp_path / "runs.csv"
    runs.write_text("run_id,params,tokens,loss\n" + GOOD_ROWS + "r9,1e7,1e11\n")  # cut mid-row
    code, log = _run_fit_script(tmp_path, runs)
    assert code == 1
    assert log == f"fit failed: runs table file '{runs}' line 8: 3 field(s), the header has 4: the file is cut or " \
        "malformed there (an interrupted copy or write?); restore the row or remove it\n"
    err = capfd.readouterr().err
    assert err.strip().splitlines()[-1] == log.strip() + f" (log: {tmp_path / 'fit.log'})"
    assert not (tmp_path / "fit" / "fit.json").exists()


def test_pipeline_fit_success_writes_the_summary_to_the_log(tmp_path):
    runs, _ = make_study(budgets=3, sizes=5, curves=False)
    runs.to_csv(tmp_path / "runs.csv", index=False)
    code, log = _run_fit_script(tmp_path, tmp_path / "runs.csv", {"bootstrap": 10, "approaches": [2]})
    assert code == 0 and log.startswith("fitted 15 of 15 runs at 3 budgets")
    assert (tmp_path / "fit" / "fit.json").is_file()


# --------------------------------------------------------------------------------- random damage

QUICK = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
damage = st.tuples(st.sampled_from(["cut", "delete", "insert", "replace"]), st.floats(0, 1), st.integers(1, 40),
                   st.binary(min_size=1, max_size=8))


def damaged(data: bytes, how) -> bytes:
    kind, where, size, junk = how
    i = int(where * len(data))
    if kind == "cut":
        return data[:i]
    if kind == "delete":
        return data[:i] + data[i + size:]
    if kind == "insert":
        return data[:i] + junk + data[i:]
    return data[:i] + junk + data[i + len(junk):]


@QUICK
@given(how=damage)
def test_damaged_runs_csv_fits_or_is_refused_in_one_line(how, tmp_path):
    runs, _ = make_study(budgets=3, sizes=4, curves=False)
    path = tmp_path / "runs.csv"
    path.write_bytes(damaged(runs.to_csv(index=False).encode(), how))
    try:
        fit_runs(*load_runs(path), FitOptions(approaches=(2,), bootstrap=0))
    except FitError as exc:
        one_line(exc)


@QUICK
@given(how=damage)
def test_damaged_fit_json_reads_or_is_refused_in_one_line(how, fitted, tmp_path):
    path = tmp_path / "fit.json"
    path.write_bytes(damaged((fitted / "fit" / "fit.json").read_bytes(), how))
    try:
        fit = read_fit(path)
    except FitError as exc:
        assert str(path) in one_line(exc)
        return
    format_predictions(predict(fit, [1e21]), fit)


# --------------------------------------------------------------------------------- memory


def test_laws_fitted_in_blocks_equal_one_call(monkeypatch):
    """The bootstraps' laws are refitted in blocks of replicates (Approach 2's 1,000 replicates of 280
    budgets held 0.9 GB a temporary at once, Approach 1's of 150 envelope points 0.5 GB): the
    samples are those of one call."""
    from flops_fit.fitting import bootstrap, powerlaw

    rng = np.random.default_rng(0)
    c = np.geomspace(1e17, 1e20, 6)
    n = 1e8 * (c / 1e17) ** 0.5 * np.exp(0.1 * rng.standard_normal((50, 6)))
    loss = (2 + 50 * c ** -0.1) * (1 + 0.01 * rng.standard_normal((50, 6)))
    n[3, 2] = np.nan  # a replicate that lost a vertex
    vertices = np.stack([n, c / (6 * n), loss], axis=2)
    whole = powerlaw.fit_many(c[None, :], n, c / (6 * n), loss)
    monkeypatch.setattr(powerlaw, "GRID_ELEMENTS", len(powerlaw.GAMMA_GRID) * 6 * 3)  # 3 rows a block
    monkeypatch.setattr(bootstrap, "LAW_ELEMENTS", len(powerlaw.GAMMA_GRID) * 6 * 7)  # 7 replicates a block
    blocks = bootstrap.laws_of_vertices(c, vertices)
    assert np.isfinite(whole["E_L"]).sum() == 50 and whole["E_L"].max() > 0  # the saturating law was fitted
    for k in powerlaw.PARAM_NAMES:
        np.testing.assert_allclose(blocks[k], whole[k], rtol=1e-12, err_msg=k)
