"""Figures: every figure is written (PDF + PNG), at the paper sizes, from the fit files alone."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest_presentation import cached_study

from flops_fit.figures import FIGURES, make_figures
from flops_fit.figures.style import WIDTHS_IN
from flops_fit.io import umask
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
    assert (out / "isoflop.png").stat().st_mode & 0o044 == 0o044 & ~umask()
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
    assert "results/s/report/headline.html" in one
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
    for name in ("comparison", "config", "workflow", "headline"):
        assert (report / f"{name}.rst").is_file(), name


# ----------------------------------------------------------------------------- what the figures show


def _render(monkeypatch, *args, **kwargs) -> dict:
    """make_figures, keeping each figure drawn but not saved: {name: Figure};
    ``fig.tick_boxes`` holds :func:`_tick_label_boxes` of the drawn figure, ``fig.drawn_texts``
    (Text, window extent) of every text it drew."""
    from flops_fit.figures import style

    kept = {}

    def keep(fig, out_dir, name, formats=("pdf", "png")):
        import matplotlib.pyplot as plt
        import matplotlib.text

        drawn, text_draw = [], matplotlib.text.Text.draw

        def record(self, renderer):  # every text the figure draws, with its box as drawn
            text_draw(self, renderer)
            if self.get_visible() and self.get_text():
                drawn.append((self, self.get_window_extent(renderer)))

        matplotlib.text.Text.draw = record
        try:
            fig.canvas.draw()
        finally:
            matplotlib.text.Text.draw = text_draw
        fig.drawn_texts = drawn
        fig.tick_boxes = _tick_label_boxes(fig)
        kept[name] = fig
        plt.close(fig)  # not saved: the files are tested above
        return []

    monkeypatch.setattr(style, "save_figure", keep)
    make_figures(*args, **kwargs)
    return kept


def _tick_label_boxes(fig):
    """Per (axes, axis): the drawn boxes of the visible, non-empty tick labels (major and minor)."""
    renderer = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            boxes = []
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                label = tick.label1
                if not (tick.get_visible() and label.get_visible() and label.get_text()):
                    continue
                lo, hi = axis.get_view_interval()
                if not min(lo, hi) <= tick.get_loc() <= max(lo, hi):
                    continue
                boxes.append((label.get_text(), label.get_window_extent(renderer)))
            out.append((ax, axis, boxes))
    return out


def _overlaps(boxes) -> list:
    hits = []
    for i, (ta, a) in enumerate(boxes):
        for tb, b in boxes[i + 1 :]:
            if a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5:
                hits.append((ta, tb))
    return hits


@pytest.fixture(scope="session")
def far_study(tmp_path_factory):
    """Budgets like the default study's (5e10..8e11) with predictions out to 1e21, 1e9x beyond."""
    return cached_study(
        tmp_path_factory,
        key="far",
        budgets=(5e10, 1e11, 2e11, 4e11, 8e11),
        predict_budgets=(1e15, 1e18, 1e21),
        bootstrap=10,
    )


@pytest.mark.parametrize("width", ["single", "double"])
def test_tick_labels_never_overlap(study, far_study, monkeypatch, tmp_path, width):
    """Every figure, both widths, also with the laws drawn across 11 decades (no extrapolation
    limit): no two tick labels of an axis touch, and the decades read as powers of ten (no
    "1e111e12..." run-together, no "1000T")."""
    cases = [(study, {}), (far_study, {"max_extrapolation": None})]
    for st, extra in cases:
        figs = _render(
            monkeypatch,
            st["runs"],
            st["fit"],
            st["predictions"],
            tmp_path / f"{width}-{len(extra)}",
            curves_csv=st["curves"],
            width=width,
            formats=("png",),
            **extra,
        )
        assert sorted(figs) == sorted(FIGURES)
        for name, fig in figs.items():
            labelled = 0
            for _ax, axis, boxes in fig.tick_boxes:
                assert not _overlaps(boxes), (name, width, axis.axis_name, _overlaps(boxes))
                labelled += len(boxes)
                for text, _box in boxes:
                    assert "000T" not in text and not re.search(r"\de\d", text), (name, text)
            assert labelled >= 4, name
        alloc = figs["allocation"].axes[-1]  # the lower panel at single width: its x labels show
        if extra:  # 1e21 drawn: the x axis spans 11 decades, labelled every k-th decade
            assert alloc.get_xlim()[1] >= 1e21
            shown = [t for t, _ in next(b for _a, x, b in figs["allocation"].tick_boxes if x is alloc.xaxis)]
            assert 3 <= len(shown) <= 8 and all(t.startswith("$") for t in shown), shown


def test_figures_stop_at_100x_the_data_and_say_what_they_draw(far_study, monkeypatch, tmp_path):
    """By default fitted laws end at 100x the largest studied budget (predictions.csv, and the
    table, still go to 1e21); axes carry units and N's convention; bands have a legend entry."""
    import pandas as pd

    assert pd.read_csv(far_study["predictions"])["budget"].max() == 1e21
    figs = _render(
        monkeypatch, far_study["runs"], far_study["fit"], far_study["predictions"], tmp_path,
        curves_csv=far_study["curves"], formats=("png",),
    )  # fmt: skip
    largest = 8e11
    for name in ("allocation", "frontier"):
        ax = figs[name].axes[0]
        drawn = max(x for line in ax.get_lines() for x in line.get_xdata() if len(line.get_xdata()))
        assert largest * 99 < drawn < largest * 101, (name, drawn)
        assert ax.get_xlim()[1] < largest * 300, name
    labels = {name: [a.get_ylabel() + "|" + a.get_xlabel() for a in f.axes] for name, f in figs.items()}
    assert "nats per token" in labels["frontier"][0] and "nats per token" in labels["isoflop"][0]
    assert "Total parameters $N$" in labels["isoflop"][0] and "Total parameters $N$" in labels["contours"][0]
    assert "total" in labels["allocation"][0]
    legend_texts = [t.get_text() for f in (figs["allocation"], figs["frontier"]) for a in f.axes if a.get_legend()
                    for t in a.get_legend().get_texts()]  # fmt: skip
    assert sum("90% interval" in t for t in legend_texts) == 2, legend_texts
    # contours: iso-FLOP lines labelled with their C; runs filled by their measured loss
    contour_texts = [t.get_text() for t in figs["contours"].axes[0].texts]
    assert any(re.fullmatch(r"\$10\^\{\d+\}\$", t) for t in contour_texts), contour_texts
    runs = [c for c in figs["contours"].axes[0].collections if c.get_label().startswith("runs")]
    assert runs and len(set(map(tuple, runs[0].get_facecolors()))) > 3


def test_backtest_draws_prediction_intervals(study, monkeypatch, tmp_path):
    """With N_pred_lo/hi, L_pred_lo/hi in fit.json's backtest rows, each prediction gets an error
    bar spanning exactly that interval; without them the figure is drawn as before."""
    fit = json.loads(Path(study["fit"]).read_text())
    bounds = {}
    for name, entry in fit["backtest"]["approaches"].items():
        for row in entry.get("held_out", []):
            for q in ("N", "L"):
                row[f"{q}_pred_lo"], row[f"{q}_pred_hi"] = 0.8 * row[f"{q}_pred"], 1.3 * row[f"{q}_pred"]
                bounds[(name, q)] = (row[f"{q}_pred_lo"], row[f"{q}_pred_hi"])
    bare = json.loads(json.dumps(fit))  # the same without intervals (fit.json before they were added)
    for entry in bare["backtest"]["approaches"].values():
        for row in entry.get("held_out", []):
            for key in ("N_pred_lo", "N_pred_hi", "L_pred_lo", "L_pred_hi"):
                row.pop(key, None)
    with_iv = _render(monkeypatch, study["runs"], fit, study["predictions"], tmp_path / "a", only=["backtest"])
    without = _render(monkeypatch, study["runs"], bare, study["predictions"], tmp_path / "b", only=["backtest"])

    def bars(fig):
        from matplotlib.collections import LineCollection

        spans = []
        for ax in fig.axes:
            for coll in ax.collections:
                if isinstance(coll, LineCollection):
                    spans += [tuple(sorted((seg[0][1], seg[1][1]))) for seg in coll.get_segments()]
        return spans

    spans = bars(with_iv["backtest"])
    assert len(spans) == len(bounds)
    for lo, hi in bounds.values():
        assert any(abs(a - lo) < 1e-9 * hi and abs(b - hi) < 1e-9 * hi for a, b in spans), (lo, hi, spans)
    assert bars(without["backtest"]) == []
    legend = [t.get_text() for t in with_iv["backtest"].legends[0].get_texts()]
    assert "predicted 90% interval" in legend


# ----------------------------------------------------------------------------- labels that are true


@pytest.fixture(scope="session")
def narrow_study(tmp_path_factory):
    """Losses within 1.92..2.05, like the default study's (a loss axis with ticks 0.02 apart)."""
    return cached_study(tmp_path_factory, key="narrow", truth={"E": 1.8, "A": 40.0, "B": 200.0, "alpha": 0.34,
                                                               "beta": 0.37})  # fmt: skip


_SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def parse_label(text: str) -> tuple[float, float]:
    """A tick label's value and half its last printed digit: '1.85' -> (1.85, 0.005), '1.5M' ->
    (1.5e6, 5e4), '$\\mathdefault{10^{17}}$' -> (1e17, 0), '$3\\times10^{18}$' -> (3e18, 5e17)."""
    t = text.replace("$", "").replace("\\mathdefault", "").replace("{", "").replace("}", "").replace("\u2212", "-")
    scale = 1.0
    if m := re.fullmatch(r"(?:([\d.]+)\\times)?10\^(-?\d+)", t):
        mant, scale = m.group(1) or "1", 10.0 ** int(m.group(2))
        if m.group(1) is None:
            return scale, 0.0
    elif t and t[-1] in _SUFFIX:
        mant, scale = t[:-1], _SUFFIX[t[-1]]
    else:
        mant = t
    assert re.fullmatch(r"-?\d+(\.\d+)?", mant), f"unreadable tick label {text!r}"
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    return float(mant) * scale, 0.5 * 10.0**-decimals * scale


def _tick_labels(fig) -> list:
    """Per (axes, axis): [(tick value, label text)] of the drawn, non-empty labels within the view
    (both sides: a colour bar's labels are on the right)."""
    out = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            pairs = []
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not (tick.get_visible() and lo <= tick.get_loc() <= hi):
                    continue
                for label in (tick.label1, tick.label2):
                    if label.get_visible() and label.get_text():
                        pairs.append((tick.get_loc(), label.get_text()))
            out.append((ax, axis, pairs))
    return out


def test_parse_label():
    assert parse_label("1.85") == (1.85, pytest.approx(0.005))
    assert parse_label("1.5M") == (1.5e6, pytest.approx(5e4))
    assert parse_label("$\\mathdefault{10^{17}}$") == (1e17, 0.0)
    assert parse_label("$3\\times10^{18}$") == (3e18, pytest.approx(5e17))


def test_tick_labels_are_true_and_distinct(study, far_study, narrow_study, monkeypatch, tmp_path):
    """Every labelled tick of every axis and colour bar, read back from the drawn figure: no two
    labels of an axis alike, and each label is its tick's value to the precision it prints (issue
    24: a loss axis read "2, 2, 1.9, 1.9, 1.9, 1.8" for ticks 0.05 apart; the contours' colour bar
    "1.7, 1.7, 1.8" for levels 1.666, 1.737, ...)."""
    colorbar_labels = 0
    for key, st in (("study", study), ("far", far_study), ("narrow", narrow_study)):
        figs = _render(monkeypatch, st["runs"], st["fit"], st["predictions"], tmp_path / key,
                       curves_csv=st["curves"], formats=("png",))  # fmt: skip
        for name, fig in figs.items():
            for ax, axis, pairs in _tick_labels(fig):
                texts = [t for _v, t in pairs]
                assert len(set(texts)) == len(texts), (key, name, axis.axis_name, pairs)
                for value, text in pairs:
                    parsed, half = parse_label(text)
                    assert abs(parsed - value) <= half + 1e-9 * abs(value), (key, name, axis.axis_name, value, text)
                if name == "contours" and ax is not fig.axes[0] and axis is ax.yaxis:
                    colorbar_labels += len(pairs)
        if key == "narrow":  # the loss axis spans less than a decade: labels between the decades
            _ax, _axis, pairs = next(p for p in _tick_labels(figs["isoflop"]) if p[1] is figs["isoflop"].axes[0].yaxis)
            assert len(pairs) >= 3, pairs
    assert colorbar_labels >= 9


def test_every_text_inside_the_figure_and_its_clip_box(study, far_study, narrow_study, monkeypatch, tmp_path):
    """Every text a figure draws lies inside the figure (nothing relies on bbox="tight" to grow the
    file), and a text clipped to its axes (iso-FLOP labels on the contours) lies inside them: no
    label cut off at an edge (issue 24: a clipped "10^13")."""
    for width in ("single", "double"):
        for key, st in (("study", study), ("far", far_study), ("narrow", narrow_study)):
            figs = _render(monkeypatch, st["runs"], st["fit"], st["predictions"], tmp_path / f"{key}-{width}",
                           curves_csv=st["curves"], formats=("png",), width=width)  # fmt: skip
            for name, fig in figs.items():
                page = fig.bbox
                for text, box in fig.drawn_texts:
                    where = (key, width, name, text.get_text())
                    assert page.x0 - 0.5 <= box.x0 and box.x1 <= page.x1 + 0.5, where
                    assert page.y0 - 0.5 <= box.y0 and box.y1 <= page.y1 + 0.5, where
                    clip = text.get_clip_box()
                    if text.get_clip_on() and clip is not None:
                        assert clip.x0 - 0.5 <= box.x0 and box.x1 <= clip.x1 + 0.5, where
                        assert clip.y0 - 0.5 <= box.y0 and box.y1 <= clip.y1 + 0.5, where
    contour_labels = [t for t, _b in figs["contours"].drawn_texts if re.fullmatch(r"\$10\^\{\d+\}\$", t.get_text())]
    assert contour_labels


def test_frontier_is_the_least_loss_at_each_compute(study, monkeypatch, tmp_path):
    """Approach 1's envelope drawn as the running minimum of loss over compute: non-increasing,
    even where fit.json's envelope zig-zags between runs (issue 24: 1.935 -> 2.004 between
    1.400e11 and 1.401e11 FLOPs)."""
    import numpy as np

    fit = json.loads(Path(study["fit"]).read_text())
    env = fit["approaches"]["approach1"]["envelope"]  # columns: C, N, D, L, run_id
    order = np.argsort(env["C"])
    c = np.asarray(env["C"], float)[order]
    loss = np.asarray(env["L"], float)[order] * np.where(np.arange(len(order)) % 2, 1.05, 1.0)
    assert len(c) >= 4  # a sawtooth: every other point well above its neighbours
    fit["approaches"]["approach1"]["envelope"] = {
        **{k: [v[i] for i in order] for k, v in env.items()},
        "C": c.tolist(),
        "L": loss.tolist(),
    }
    least = np.minimum.accumulate(loss)
    for curves in (study["curves"], None):
        figs = _render(monkeypatch, study["runs"], fit, study["predictions"], tmp_path, curves_csv=curves,
                       only=["frontier"])  # fmt: skip
        ax = figs["frontier"].axes[0]
        line = next(ln for ln in ax.get_lines() if ln.get_label().startswith("frontier"))
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        assert np.all(np.diff(x) > 0) and np.all(np.diff(y) <= 0), (x, y)
        assert y[-1] == pytest.approx(least[-1]) and y[0] == pytest.approx(loss[0])
        assert x[0] == pytest.approx(c[0]) and x[-1] == pytest.approx(c[-1])
