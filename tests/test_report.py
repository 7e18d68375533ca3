"""The report: a headline page that answers the question, then figures and tables, in a browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import pandas as pd
import pytest
from conftest_presentation import cached_study, read_json

from flops_fit.presentation.formatting import fmt_loss, fmt_ratio, human

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [  # a closed network: no background connections, no sandbox as root
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def study(tmp_path_factory):
    return cached_study(tmp_path_factory, diverged=1)


def _row(predictions, budget: float, approach: int) -> pd.Series:
    frame = pd.read_csv(predictions)
    return frame[(frame["budget"] == budget) & (frame["approach"] == approach)].iloc[0]


def test_headline_answers_at_the_target_budgets(study, tmp_path):
    """N*, D*, L*, D*/N* with intervals per approach at each target budget, the extrapolation factor,
    the backtest error, and a plain warning when the budget is far beyond the data."""
    from flops_fit.report import make_headline

    out = tmp_path / "headline.html"
    make_headline(study["fit"], study["predictions"], out, [3e19, 3e20], study="demo", runs_csv=study["runs"])
    text = out.read_text()
    for budget in (3e19, 3e20):
        row = _row(study["predictions"], budget, 3)
        assert f"{human(row['N_opt'])} <span class=\"iv\">[{human(row['N_opt_lo'])}, {human(row['N_opt_hi'])}]" in text
        assert fmt_loss(row["L_opt"]) in text and human(row["D_opt"]) in text
        lo, hi = fmt_ratio(row["tokens_per_param_lo"]), fmt_ratio(row["tokens_per_param_hi"])
        assert f"{fmt_ratio(row['tokens_per_param'])} <span class=\"iv\">[{lo}, {hi}]</span>" in text  # D*/N*
    assert "C = 3e19 FLOPs" in text and "C = 3e20 FLOPs" in text
    assert "10&times; the largest studied budget" in text and "100&times; the largest studied budget: far" in text
    row = _row(study["predictions"], 3e20, 2)
    assert f"L* {row['backtest_L_error_pct']:+.1f}%" in text and f"N* &times;{row['backtest_N_ratio']:.2f}" in text
    assert "<script" not in text  # a fragment the report embeds: no code
    # Approach 1 (envelope of cosine-schedule curves) is marked where the answer is read
    assert read_json(study["fit"])["approaches"]["approach1"]["indicative"].startswith("indicative only")
    assert "<td>Approach 1 (indicative)</td>" in text and "Approach 1: indicative only" in text


@pytest.mark.slow
def test_report_opens_on_the_headline_in_a_browser(study, tmp_path):
    """The presentation rules on a finished study's files (training and fitting rules disallowed,
    so their outputs act as sources), then `snakemake --report`; headless Chromium opens it: the
    landing page shows the headline numbers, and a screenshot is taken. A new figure width reruns
    the figure rules and nothing else (presentation never refits)."""
    from conftest import planned_jobs, snakemake, tiny_config, tiny_study, write_config

    from flops_fit.report import presentation_files

    cfg = tiny_config("mock", demo=tiny_study("mock"))
    cfg["studies"]["demo"]["figures"] = {"formats": ["png"], "width": "single"}
    cfg["studies"]["demo"].setdefault("fit", {})["predict_budgets"] = [3e20]  # a budget of the copied fit
    write_config(tmp_path, cfg)
    res = tmp_path / "results" / "demo"
    (res / "fit").mkdir(parents=True)
    for key, dest in (
        ("runs", "runs.csv"),
        ("curves", "curves.csv"),
        ("fit", "fit/fit.json"),
        ("predictions", "fit/predictions.csv"),
    ):
        shutil.copy(study[key], res / dest)
    (res / "provenance.csv").write_text("run_id\n")  # aggregate's third output, marked for the report
    rules = ["--allowed-rules", "figures", "tables", "headline", "study_config"]
    targets = presentation_files("demo", ("png",), ["demo"])
    snakemake(tmp_path, "--cores", "2", *rules, "--", *targets)
    for target in targets:
        assert (tmp_path / target).stat().st_size > 0, target
    snakemake(tmp_path, *rules, "--report", "results/report.html", "--", *targets)
    report = tmp_path / "results" / "report.html"
    html = report.read_text()
    assert "IsoFLOP curves of study" in html and "Compute-optimal allocations of study" in html
    assert "1. IsoFLOP curves" in html and "parameters.html" in html

    row = _row(study["predictions"], 3e20, 3)
    if CHROMIUM is None:
        pytest.skip("chromium not installed (.ci/run installs it)")
    profile = tmp_path / "chromium-profile"
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=15000"]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    page = re.sub(r"<[^>]+>", " ", dom)  # the text a reader sees on the landing page
    assert "Compute-optimal allocation" in page and "C = 3e20 FLOPs" in page, page[:2000]
    assert human(row["N_opt"]) in page and fmt_loss(row["L_opt"]) in page
    assert "100× the largest studied budget" in page or "100&times; the largest" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *flags, "--window-size=1400,1000", f"--screenshot={shot}", report.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    cfg["studies"]["demo"]["figures"]["width"] = "double"
    write_config(tmp_path, cfg)
    jobs = planned_jobs(snakemake(tmp_path, "-n", *rules, "--", *targets))
    assert jobs.get("figures") == 1 and "tables" not in jobs and "headline" not in jobs, jobs
