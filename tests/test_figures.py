"""Figures: every figure is written (PDF + PNG), at the paper sizes, from the fit files alone."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest_presentation import cached_study

from flops_fit.figures import FIGURES, make_figures
from flops_fit.figures.style import WIDTHS_IN, _umask
from flops_fit.presentation.formatting import human, sci

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def study(tmp_path_factory):
    return cached_study(tmp_path_factory, diverged=1)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_all_figures_written(study, tmp_path):
    out = tmp_path / "figures"
    paths = make_figures(study["runs"], study["fit"], study["predictions"], out, curves_csv=study["curves"])
    expected = {str(out / f"{name}.{ext}") for name in FIGURES for ext in ("pdf", "png")}
    assert set(paths) == expected
    for name in FIGURES:
        pdf = (out / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 5000, name
        w, h = png_size(out / f"{name}.png")
        # 300 dpi at the single-column width (bbox "tight" trims or pads a little)
        assert abs(w - WIDTHS_IN["single"] * 300) < 0.1 * WIDTHS_IN["single"] * 300, (name, w)
        assert 0.3 * w < h < 1.5 * w, (name, w, h)
    # readable by others like any file the user writes (mkstemp alone would make them 0600)
    assert (out / "isoflop.png").stat().st_mode & 0o044 == 0o044 & ~_umask()
    # written atomically: no temporary files left beside them
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(p).name for p in paths)


def test_double_width_and_subset(study, tmp_path):
    paths = make_figures(
        study["runs"],
        study["fit"],
        study["predictions"],
        tmp_path,
        width="double",
        formats=("png",),
        only=["allocation"],
    )
    assert paths == [str(tmp_path / "allocation.png")]
    w, _ = png_size(tmp_path / "allocation.png")
    assert abs(w - WIDTHS_IN["double"] * 300) < 0.1 * WIDTHS_IN["double"] * 300
    with pytest.raises(ValueError, match="width"):
        make_figures(study["runs"], study["fit"], study["predictions"], tmp_path, width="wide")


def test_pdf_is_deterministic(study, tmp_path):
    """Same inputs, same bytes: no timestamps in the PDF or SVG."""
    kw = {"formats": ("pdf", "svg"), "only": ["isoflop"]}
    a = make_figures(study["runs"], study["fit"], study["predictions"], tmp_path / "a", **kw)
    b = make_figures(study["runs"], study["fit"], study["predictions"], tmp_path / "b", **kw)
    for x, y in zip(a, b, strict=True):
        assert Path(x).read_bytes() == Path(y).read_bytes(), x


def test_missing_pieces_still_give_every_figure(tmp_path_factory, tmp_path):
    """Approach 2 only, no curves: the other figures are notes, not crashes (declared outputs exist)."""
    study = cached_study(tmp_path_factory, key="a2only", curves=False, approaches=(2,), bootstrap=0)
    paths = make_figures(study["runs"], study["fit"], study["predictions"], tmp_path, curves_csv=None, formats=("png",))
    assert len(paths) == len(FIGURES)
    assert all(os.path.getsize(p) > 1000 for p in paths)


def test_comparison(study, tmp_path_factory, tmp_path):
    from flops_fit.figures.comparison import main, make_comparison

    other = cached_study(tmp_path_factory, key="a2only", curves=False, approaches=(2,), bootstrap=0)
    paths = make_comparison({"one": study["fit"], "two": other["fit"]}, tmp_path, formats=("png", "pdf"))
    assert [Path(p).name for p in paths] == ["comparison.png", "comparison.pdf"]
    w, _ = png_size(tmp_path / "comparison.png")
    assert abs(w - WIDTHS_IN["double"] * 300) < 0.1 * WIDTHS_IN["double"] * 300
    assert main([f"one={study['fit']}", f"two={other['fit']}", "--out", str(tmp_path / "cli"), "--formats", "png"]) == 0
    assert (tmp_path / "cli" / "comparison.png").stat().st_size > 1000


def test_presentation_files():
    from flops_fit.report import presentation_files
    from flops_fit.tables import FORMATS, TABLES

    one = presentation_files("s", ("png",), ["s"])
    assert [f for f in one if "/figures/" in f] == [f"results/s/figures/{n}.png" for n in FIGURES]
    assert len([f for f in one if "/tables/" in f]) == len(TABLES) * len(FORMATS) + 1
    assert "results/s/tables/numbers.tex" in one and "results/s/config.yaml" in one
    assert not any("comparison" in f for f in one)
    two = presentation_files("s", ("pdf", "png"), ["s", "t"])
    assert {"results/comparison/figures/comparison.pdf", "results/comparison/figures/comparison.png"} <= set(two)


def test_tick_labels():
    assert [human(x) for x in (950, 12e6, 1.5e9, 999.99e6, 2e12)] == ["950", "12M", "1.5B", "1B", "2T"]
    assert [sci(x) for x in (1e21, 3e18, 2.5e19, 9.999e20)] == ["1e21", "3e18", "2.5e19", "1e21"]


def test_presentation_imports_are_light():
    """The CLI must start fast and work without torch: no torch, matplotlib or pandas at import."""
    code = (
        "import sys, flops_fit.figures, flops_fit.figures.style, flops_fit.tables, flops_fit.status, flops_fit.report;"
        "heavy = [m for m in ('torch', 'matplotlib', 'pandas', 'seaborn') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_output_has_a_report_caption():
    from flops_fit.tables import TABLES

    report = ROOT / "workflow" / "report"
    for name in FIGURES:
        assert (report / f"{name}.rst").is_file(), name
    for name in TABLES:
        assert (report / f"table_{name}.rst").is_file(), name
    for name in ("comparison", "config", "workflow"):
        assert (report / f"{name}.rst").is_file(), name


@pytest.mark.slow
def test_presentation_rules_and_report(study, tmp_path):
    """The figure/table rules on a finished study's files (training and fitting rules disallowed, so
    their outputs act as sources): every presentation output, then `snakemake --report`; and a new
    figure width reruns the figure rules and nothing else (presentation never refits)."""
    import shutil

    from conftest import planned_jobs, snakemake, tiny_config, tiny_study, write_config

    from flops_fit.report import presentation_files

    cfg = tiny_config("mock", demo=tiny_study("mock"))
    cfg["studies"]["demo"]["figures"] = {"formats": ["png"], "width": "single"}
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
    rules = ["--allowed-rules", "figures", "tables", "study_config"]
    targets = presentation_files("demo", ("png",), ["demo"])
    snakemake(tmp_path, "--cores", "2", *rules, "--", *targets)
    for target in targets:
        assert (tmp_path / target).stat().st_size > 0, target
    snakemake(tmp_path, *rules, "--report", "results/report.html", "--", *targets)
    html = (tmp_path / "results" / "report.html").read_text()
    assert "IsoFLOP curves of study" in html and "Compute-optimal allocations of study" in html
    cfg["studies"]["demo"]["figures"]["width"] = "double"
    write_config(tmp_path, cfg)
    dry = snakemake(tmp_path, "-n", *rules, "--", *targets)
    jobs = planned_jobs(dry)
    assert jobs.get("figures") == 1 and "tables" not in jobs, jobs
