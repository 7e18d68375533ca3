"""Tables: the numbers in every format equal fit.json / predictions.csv; the LaTeX is well formed."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest_presentation import cached_study, read_json

from flops_fit.approaches import approach_id
from flops_fit.presentation.formatting import fmt_loss, fmt_param, fmt_ratio, tex_escape
from flops_fit.presentation.predict_text import format_predictions
from flops_fit.tables import FORMATS, TABLES, make_tables
from flops_fit.tables.numbers import MACRO_RE, budget_words, number_words

NEWCOMMAND = re.compile(r"^\\newcommand\{\\([^}]*)\}\{(.*)\}(\s*%.*)?$")


@pytest.fixture(scope="session")
def study(tmp_path_factory):
    return cached_study(tmp_path_factory, diverged=1)


@pytest.fixture(scope="session")
def tables(study, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tables")
    make_tables(study["fit"], study["predictions"], out, runs_csv=study["runs"])
    return out


def test_files(tables: Path):
    names = sorted(p.name for p in tables.iterdir())
    assert names == sorted([f"{t}.{ext}" for t in TABLES for ext in FORMATS] + ["numbers.tex"])


def test_parameters_equal_fit_json(study, tables: Path):
    fit = read_json(study["fit"])
    frame = pd.read_csv(tables / "parameters.csv")
    assert set(frame["approach"]) == {"approach1", "approach2", "approach3"}
    for r in frame.itertuples():
        block = fit["approaches"][r.approach]
        assert r.value == block["params"][r.parameter]
        lo, hi = block["intervals"][r.parameter]
        assert (r.lo, r.hi) == (lo, hi)
    a3 = frame[frame["approach"] == "approach3"].set_index("parameter")
    assert list(a3.index[:5]) == ["E", "A", "B", "alpha", "beta"]
    md = (tables / "parameters.md").read_text()
    alpha = fit["approaches"]["approach3"]["params"]["alpha"]
    assert f"| Approach 3 | α | {fmt_param('alpha', alpha)} |" in md
    assert "90% interval" in md


def test_allocations_equal_predictions(study, tables: Path):
    preds = pd.read_csv(study["predictions"])
    frame = pd.read_csv(tables / "allocations.csv")
    assert len(frame) == len(preds)
    merged = frame.assign(k=frame["approach"].map(approach_id)).merge(
        preds, left_on=["budget", "k"], right_on=["budget", "approach"], suffixes=("", "_pred")
    )
    assert len(merged) == len(preds)
    for column in ("N_opt", "N_opt_lo", "D_opt_hi", "L_opt", "L_opt_lo", "tokens_per_param"):  # one name in both
        assert (merged[column] == merged[f"{column}_pred"]).all(), column
    assert (merged["extrapolated"] == ~merged["in_sample"]).all()
    # the studied budgets and 10x, 100x beyond the largest
    fit = read_json(study["fit"])
    assert sorted(frame["budget"].unique()) == pytest.approx(sorted(fit["predict_budgets"]))
    md = (tables / "allocations.md").read_text()
    row = preds[(preds["approach"] == 3)].iloc[0]
    assert fmt_loss(row["L_opt"]) in md
    assert "† beyond the largest studied budget" in md
    ratio = [fmt_ratio(row[f"tokens_per_param{s}"]) for s in ("", "_lo", "_hi")]
    assert "| {} | [{}, {}] |".format(*ratio) in md  # D*/N* with its interval, like N*, D*, L*


def _check_latex(text: str) -> None:
    body = text.replace(r"\{", "").replace(r"\}", "")
    depth = 0
    for ch in body:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, "unbalanced braces"
    assert depth == 0, "unbalanced braces"
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert rule in text
    env = "longtable" if r"\begin{longtable}" in text else "tabular"
    assert text.count(rf"\begin{{{env}}}") == text.count(rf"\end{{{env}}}") == 1
    assert text.count("$") % 2 == 0
    spec = re.search(rf"\\begin\{{{env}\}}\{{([lrc]+)\}}", text).group(1)
    rows = [ln for ln in text.splitlines() if ln.endswith(r"\\") and not ln.startswith(r"\caption")]
    assert rows
    for ln in rows:
        assert len(re.findall(r"(?<!\\)&", ln)) == len(spec) - 1, ln
    assert "\\caption{" in text and "\\label{tab:" in text


@pytest.mark.parametrize("name", TABLES)
def test_latex_well_formed(tables: Path, name: str):
    _check_latex((tables / f"{name}.tex").read_text())


def test_long_tables_break_across_pages():
    from flops_fit.tables.render import LONG_TABLE_ROWS
    from flops_fit.tables.render import tex_table as _tex_table

    short = _tex_table(["a", "b"], [[["1", "2"]] * 3], "lr", "Short.", "tab:s")
    long = _tex_table(["a", "b"], [[["1", "2"]] * (LONG_TABLE_ROWS + 1)], "lr", "Long.", "tab:l")
    _check_latex(short)
    _check_latex(long)
    assert r"\begin{table}" in short and r"\begin{longtable}" in long and r"\endhead" in long


def test_numbers_tex(study, tables: Path):
    fit = read_json(study["fit"])
    macros = {}
    for line in (tables / "numbers.tex").read_text().splitlines():
        if not line or line.startswith("%"):
            continue
        m = NEWCOMMAND.match(line)
        assert m, line
        assert MACRO_RE.match(m.group(1)), m.group(1)
        assert m.group(1) not in macros, f"duplicate macro {m.group(1)}"
        macros[m.group(1)] = m.group(2)
    a3 = fit["approaches"]["approach3"]
    assert macros["AThreeAlpha"] == fmt_param("alpha", a3["params"]["alpha"])
    assert macros["AThreeBetaLow"] == fmt_param("beta", a3["intervals"]["beta"][0])
    assert macros["AThreeE"] == fmt_param("E", a3["params"]["E"])
    assert macros["ATwoExponentA"] == fmt_param("a", fit["approaches"]["approach2"]["a"])
    assert macros["AOneExponentB"] == fmt_param("b", fit["approaches"]["approach1"]["b"])
    big = max(fit["predict_budgets"])
    assert f"AThreeNOpt{budget_words(big)}" in macros
    assert macros["ConfidenceLevel"] == r"90\%"
    assert macros["NumRuns"] == str(len(pd.read_csv(study["runs"])))
    assert macros["NumRunsDiverged"] == "1"
    held = fit["backtest"]["approaches"]["approach3"]["held_out"][0]
    assert macros["AThreeBacktestLossErrorPct"] == f"{100 * (held['L_pred'] / held['L_obs'] - 1):+.1f}"


def test_notebook_arguments_give_the_same_tables(study, tables: Path, tmp_path: Path):
    """make_tables also takes the fit dict and DataFrames (ff.table in a notebook)."""
    make_tables(
        read_json(study["fit"]), pd.read_csv(study["predictions"]), tmp_path, runs_csv=pd.read_csv(study["runs"])
    )
    for path in sorted(tables.iterdir()):
        assert (tmp_path / path.name).read_text() == path.read_text(), path.name


def test_data_unit_from_runs(study, tmp_path: Path):
    """Image studies count D in images: an optional `unit` column of runs.csv says so."""
    runs = pd.read_csv(study["runs"]).assign(unit="images")
    make_tables(study["fit"], study["predictions"], tmp_path, runs_csv=runs)
    assert "$D^*$: optimal images" in (tmp_path / "allocations.tex").read_text()


def test_macro_words():
    assert number_words(21) == "TwentyOne" and number_words(7) == "Seven" and number_words(100) == "OneHundred"
    assert budget_words(1e21) == "COneETwentyOne"
    assert budget_words(2.5e19) == "CTwoPointFiveENineteen"
    assert all(MACRO_RE.match(budget_words(c)) for c in (1e15, 3e18, 1.6e12))
    assert tex_escape("a_b & 5%") == r"a\_b \& 5\%"


def test_format_predictions(study):
    from flops_fit.fitting import predict, read_fit

    fit = read_fit(study["fit"])
    text = format_predictions(predict(fit, [1e21]), fit)
    lines = text.splitlines()
    assert lines[0].startswith("# N = total parameters, C = 6ND; [90% ")
    # 4 usable budgets: the study says how far its own backtest reached and which budgets to add
    assert lines[1].startswith("# the study has 4 usable budget(s) spanning") and "add budgets at" in lines[1]
    lines = lines[:1] + lines[2:]
    # 1e21 is 333x the largest studied budget (3e18): said plainly, with each approach's backtest
    assert lines[1] == "C = 1e21 FLOPs (333x the largest studied budget: far beyond the data, a rough guide)"
    assert lines[2].startswith("  (333x is beyond the ") and "backtest checked" in lines[2]
    lines = lines[:2] + lines[3:]
    assert len(lines) == 6 and [ln.split(":")[0] for ln in lines[2:5]] == [
        "  Approach 1 (indicative)", "  Approach 2", "  Approach 3"
    ]
    assert lines[5].startswith("# Approach 1: indicative only: the envelope uses intermediate points")
    assert "N* = " in text and "L* = " in text and "D*/N* = " in text
    row = predict(fit, [1e21]).iloc[2]
    ratio = (fmt_ratio(row[q]) for q in ("tokens_per_param", "tokens_per_param_lo", "tokens_per_param_hi"))
    assert "D*/N* = {} [{}, {}];".format(*ratio) in lines[4]  # with its interval, like N*, D*, L*
    assert lines[4].endswith(f"; backtest: L* {row['backtest_L_error_pct']:+.1f}%, N* x{row['backtest_N_ratio']:.2f}")
    inside = format_predictions(predict(fit, [1e18]), fit).splitlines()
    assert inside[2] == "C = 1e18 FLOPs" and not inside[3].startswith("  (")


def test_no_intervals_without_bootstrap(tmp_path_factory, tmp_path):
    study = cached_study(tmp_path_factory, key="a2only", curves=False, approaches=(2,), bootstrap=0)
    make_tables(study["fit"], study["predictions"], tmp_path)  # no runs.csv
    frame = pd.read_csv(tmp_path / "parameters.csv")
    assert set(frame["approach"]) == {"approach2"}
    assert frame["lo"].isna().all()
    md = (tmp_path / "parameters.md").read_text()
    assert "Approach 1" not in md.split("\n\n")[0]
    for name in TABLES:
        _check_latex((tmp_path / f"{name}.tex").read_text()) if name != "runs" else None
    numbers = (tmp_path / "numbers.tex").read_text()
    # parameters have no interval without a bootstrap; predictions keep their predictive interval
    # (the study's backtest error and the prior of flops_fit.fitting.predictive)
    assert "ATwoExponentA}" in numbers and "ExponentALow}" not in numbers


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles_in_a_two_column_paper(tables: Path, tmp_path: Path):
    """Every table and numbers.tex in a two-column article: it compiles and nothing sticks out of
    its column or page (wide tables are table*, no Overfull hbox in the log)."""
    doc = tmp_path / "doc.tex"
    inputs = "\n".join(rf"\input{{{tables / name}.tex}}" for name in TABLES)
    doc.write_text(rf"""\documentclass[twocolumn]{{article}}\usepackage{{booktabs}}\usepackage{{longtable}}
\input{{{tables / "numbers.tex"}}}
\begin{{document}}Text: $\alpha=\AThreeAlpha$, $k_L = \ATwoCoefL$, and \ATwoCoefL{{}} in a sentence.
{inputs}\end{{document}}""")
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert math.isfinite((tmp_path / "doc.pdf").stat().st_size)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log, log[log.find("Overfull") - 200 : log.find("Overfull") + 400]


E_NOTATION = re.compile(r"\d[eE][+-]?\d")


def _tex_text(text: str) -> str:
    """The typeset part of a .tex file: comments and run ids (first cell of the run table) dropped."""
    lines = [re.sub(r"(?<!\\)%.*", "", ln) for ln in text.splitlines()]
    return "\n".join(ln.split("&", 1)[1] if re.match(r"^C\d", ln) else ln for ln in lines)


def test_latex_numbers_are_typeset(tables: Path):
    """No 1.089e+04 in LaTeX: powers of ten as $1.09\\times10^{4}$ (macros too)."""
    for path in sorted(tables.glob("*.tex")):
        text = _tex_text(path.read_text())
        assert not E_NOTATION.search(text), (path.name, E_NOTATION.search(text).group(0))
    assert "\\times10^{" in (tables / "allocations.tex").read_text()
    assert r"\begin{table*}" in (tables / "allocations.tex").read_text()


def test_every_symbol_explained_once(tables: Path):
    """Each parameter's symbol appears in the table's note; notes are not repeated."""
    from flops_fit.tables.parameters import PARAM_MD, PARAM_TEX

    frame = pd.read_csv(tables / "parameters.csv")
    tex = (tables / "parameters.tex").read_text()
    note = tex.split(r"\footnotesize", 1)[1]
    md = (tables / "parameters.md").read_text()
    symbols = md.split("Symbols:", 1)[1].split("\n")[0]
    for name in frame["parameter"].unique():
        assert PARAM_TEX[name].strip("$") in note, name
        assert PARAM_MD.get(name, name) in symbols, name
    notes = [ln for ln in md.splitlines() if ln.startswith("- ")]
    assert len(notes) == len(set(notes))
    alloc_md = (tables / "allocations.md").read_text()
    assert "N*: optimal parameters (total)" in alloc_md and "nats per token" in alloc_md


def test_macro_prefix_lets_studies_share_a_document(study, tmp_path: Path):
    make_tables(study["fit"], study["predictions"], tmp_path, runs_csv=study["runs"], macro_prefix="Tiny")
    names = re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", (tmp_path / "numbers.tex").read_text())
    assert names and all(n.startswith("Tiny") for n in names)
    with pytest.raises(ValueError, match="letters only"):
        make_tables(study["fit"], study["predictions"], tmp_path, macro_prefix="tiny-2")


def test_predict_json(study, capsys):
    """`flops-fit predict --json`: one record per approach with the numbers of `predict`."""
    import json

    from flops_fit.cli import main
    from flops_fit.fitting import predict, read_fit

    assert main(["predict", "--json", "--budget", "1e21", str(study["fit"])]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["convention"]["params"] == "total" and data["confidence"] == 0.9
    table = predict(read_fit(study["fit"]), [1e21])
    assert len(data["predictions"]) == len(table) == 3
    for rec, row in zip(data["predictions"], table.itertuples(), strict=True):
        assert rec["budget"] == 1e21 and rec["N_opt"] == pytest.approx(row.N_opt, rel=1e-12)
        assert rec["N_opt_lo"] < rec["N_opt"] < rec["N_opt_hi"]
        assert isinstance(rec["warnings"], list)
    # what the text says, the JSON says too: Approach 1 is indicative, the study's reach and warnings
    assert [bool(rec["indicative"]) for rec in data["predictions"]] == [True, False, False]
    assert data["predictions"][0]["indicative"].startswith("indicative only")
    assert data["reach"]["limited"] and "add budgets at" in data["reach"]["message"]
    assert isinstance(data["warnings"], list)
