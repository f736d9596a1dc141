"""The plots: each a valid PNG of the documented size, drawing the report's numbers
(points, ± std bands, worst-to-best bands, panels, legends), the file format by suffix,
save_all drawing what a report has data for, and the refusals of empty data."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from snnvar.evaluation import plots
from snnvar.evaluation.report import Report

PNG = b"\x89PNG\r\n\x1a\n"
DPI = 110


def _row(method: str, sigma: float | None, mean: float, std: float, **kw) -> dict:
    return {
        "method": method, "sigma": sigma, "mode": "static", "draws": 3,
        "accuracy_mean": mean, "accuracy_std": std, "accuracy_min": mean - 2 * std,
        "spikes": {}, **kw,
    }  # fmt: skip


def sigma_rows() -> list[dict]:
    """Two methods over two variations; σ out of order (the plot sorts them)."""
    rows = []
    for label, drop in (("gaussian, range", 0.0), ("uniform, range", 0.05)):
        for method, base in (("sgd", 0.9), ("wvat", 0.92)):
            for sigma, loss in ((0.1, 0.3), (0.0, 0.0), (0.05, 0.1)):
                mean = base - loss - drop
                rows.append(_row(method, sigma, mean, 0.01 + sigma / 10, variation_label=label))
    return rows


def device_rows() -> list[dict]:
    rows = []
    for method, base in (("sgd", 0.9), ("wvat", 0.93)):
        for time, loss in ((3600.0, 0.2), (0.0, 0.0), (1.0, 0.05)):
            max_ = None if method == "wvat" else base - loss + 0.03  # wvat: an old report
            rows.append(
                _row(method, None, base - loss, 0.02, time=time, accuracy_max=max_,
                     variation_label="pcm")
            )  # fmt: skip
    return rows


LANDSCAPE = [
    # two directions: losses s and 3 s above the clean loss (mean 2 s, population std s)
    {"method": m, "gamma": g, "sigma": s, "direction": d, "loss": 0.5 + offset + s * (1 + 2 * d)}
    for m, offset in (("sgd", 0.0), ("wvat", -0.1))
    for g in (-1.0, 1.0)
    for s in (0.0, 0.1, 0.2)
    for d in (0, 1)
]

HISTOGRAMS = {
    "edges": {f"layers.{i}.weight": [-1.0, -0.5, 0.0, 0.5, 1.0] for i in range(5)},
    "counts": {
        "sgd": {f"layers.{i}.weight": [1, 4, 4, 1] for i in range(5)},
        "wvat": {f"layers.{i}.weight": [2, 3, 3, 2] for i in range(5)},
    },
    "std": {
        "sgd": {f"layers.{i}.weight": 0.4 for i in range(5)},
        "wvat": {f"layers.{i}.weight": 0.5 for i in range(5)},
    },
}


def _report(rows: list[dict], **kw) -> Report:
    return Report(results=rows, seed=0, config={"draws": 3}, **kw)


def assert_png(path: Path, width_in: float, height_in: float) -> None:
    """A PNG that decodes (Pillow checks every chunk's CRC) of the figure's size at 110 dpi."""
    blob = path.read_bytes()
    assert blob.startswith(PNG) and blob[12:16] == b"IHDR"
    width, height = struct.unpack(">II", blob[16:24])
    assert (width, height) == (round(width_in * DPI), round(height_in * DPI))
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        pixels = np.asarray(img.convert("L"))
    assert pixels.shape == (height, width)
    assert pixels.min() < 100 and pixels.max() == 255  # something drawn on white


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list:
    """The figures the plot functions would save, kept (not rendered: drawing takes a
    second, and the PNGs are checked in test_each_plot_is_a_png_of_its_figure)."""
    saved = []

    def keep(fig, path):
        saved.append(fig)
        return Path(path)

    monkeypatch.setattr(plots, "_save", keep)
    return saved


def _band(ax, i: int) -> tuple[float, float]:
    """The lowest and highest y of the i-th filled band of ``ax``."""
    y = np.concatenate([p.vertices[:, 1] for p in ax.collections[i].get_paths()])
    return float(y.min()), float(y.max())


# ---- accuracy over σ --------------------------------------------------------------------


def test_accuracy_plot(tmp_path: Path, figures: list) -> None:
    path = plots.plot_accuracy(_report(sigma_rows()), tmp_path / "accuracy.png")
    assert path == tmp_path / "accuracy.png"
    (fig,) = figures
    assert tuple(fig.get_size_inches()) == (2 * 5.0, 3.8)  # a 5-inch panel per variation
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == [
        "gaussian, range, 3 chips",
        "uniform, range, 3 chips",
    ]
    ax = axes[1]
    assert [line.get_label() for line in ax.get_lines()] == ["sgd", "wvat"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sgd", "wvat"]
    line = ax.get_lines()[0]  # sgd under uniform: σ sorted, in percent
    np.testing.assert_allclose(line.get_xdata(), [0.0, 5.0, 10.0], rtol=1e-12)
    np.testing.assert_allclose(line.get_ydata(), [85.0, 75.0, 55.0], rtol=1e-12)
    # the ± one std band: std = 1 % + σ / 10
    assert _band(ax, 0) == pytest.approx((55.0 - 2.0, 85.0 + 1.0), rel=1e-12)
    assert ax.get_xlabel() == "σ (% of layer range)" and ax.get_ylabel() == "accuracy (%)"


def test_accuracy_plot_leaves_out_device_rows_and_refuses_only_them(
    tmp_path: Path, figures: list
) -> None:
    plots.plot_accuracy(_report(sigma_rows()[:3] + device_rows()), tmp_path / "a.png")
    ((ax,),) = [f.axes for f in figures]  # one panel: the device rows are no σ rows
    assert [line.get_label() for line in ax.get_lines()] == ["sgd"]
    with pytest.raises(ValueError, match=r"no variation rows over σ \(device rows: plot_time\)"):
        plots.plot_accuracy(_report(device_rows()), tmp_path / "b.png")
    assert not (tmp_path / "b.png").exists()


# ---- accuracy over time -----------------------------------------------------------------


def test_time_plot(tmp_path: Path, figures: list) -> None:
    plots.plot_time(_report(device_rows()), tmp_path / "time.png")
    ((ax,),) = [f.axes for f in figures]
    assert ax.get_xscale() == "log" and ax.get_title() == "pcm, 3 chips"
    sgd, _ = ax.get_lines()
    # time 0 is drawn at 1 ms (a log axis); times sorted
    np.testing.assert_allclose(sgd.get_xdata(), [1e-3, 1.0, 3600.0], rtol=1e-12)
    np.testing.assert_allclose(sgd.get_ydata(), [90.0, 85.0, 70.0], rtol=1e-12)
    # per method: the ± std band, then the worst-to-best band
    assert len(ax.collections) == 4
    assert _band(ax, 0) == pytest.approx((68.0, 92.0), rel=1e-12)
    assert _band(ax, 1) == pytest.approx((66.0, 93.0), rel=1e-12)  # min = mean − 2 std
    # a row without accuracy_max: the band reaches up to the mean
    assert _band(ax, 3) == pytest.approx((69.0, 93.0), rel=1e-12)


def test_time_plot_refuses_a_report_without_device_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no device rows read at a time \(evaluate\(times="):
        plots.plot_time(_report(sigma_rows()), tmp_path / "t.png")
    no_time = [{**r, "time": None} for r in device_rows()]
    with pytest.raises(ValueError, match="no device rows read at a time"):
        plots.plot_time(_report(no_time), tmp_path / "t.png")


# ---- the loss landscape and the weight histograms ---------------------------------------


def test_landscape_plot(tmp_path: Path, figures: list) -> None:
    plots.plot_landscape(LANDSCAPE, tmp_path / "landscape.png")
    ((ax,),) = [f.axes for f in figures]
    sgd, wvat = ax.get_lines()
    assert (sgd.get_label(), wvat.get_label()) == ("sgd", "wvat")
    # γ·σ in percent, sorted (σ = 0's four losses, γ = ±1, at one point); the mean loss
    # over the directions, 0.5 + 2 σ
    xs = [-20.0, -10.0, 0.0, 10.0, 20.0]
    np.testing.assert_allclose(sgd.get_xdata(), xs, rtol=1e-12)
    np.testing.assert_allclose(sgd.get_ydata(), [0.9, 0.7, 0.5, 0.7, 0.9], rtol=1e-12)
    np.testing.assert_allclose(wvat.get_ydata(), [0.8, 0.6, 0.4, 0.6, 0.8], rtol=1e-12)
    # ± the population std over the directions (σ): from 0.5 ± 0 to 0.9 ± 0.2
    assert _band(ax, 0) == pytest.approx((0.5, 1.1), rel=1e-12)


def test_histogram_plot(tmp_path: Path, figures: list) -> None:
    plots.plot_histograms(HISTOGRAMS, tmp_path / "histograms.png")
    (fig,) = figures
    assert tuple(fig.get_size_inches()) == pytest.approx((4 * 3.6, 2 * 2.8))  # 4 columns, 2 rows
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [f"layers.{i}.weight" for i in range(5)]
    assert len(fig.axes) == 8  # the three empty panels are hidden
    legend = [t.get_text() for t in visible[0].get_legend().get_texts()]
    assert legend == ["sgd (std 0.4)", "wvat (std 0.5)"]


@pytest.mark.parametrize("hist", [{}, {"edges": {}}])
def test_histogram_plot_refuses_no_layers(tmp_path: Path, hist: dict) -> None:
    with pytest.raises(ValueError, match="no histograms to plot"):
        plots.plot_histograms(hist, tmp_path / "h.png")


def test_landscape_plot_refuses_no_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no landscape rows to plot"):
        plots.plot_landscape([], tmp_path / "l.png")


# ---- files ------------------------------------------------------------------------------


ONE_LAYER = {k: {m: {"layers.0.weight": v["layers.0.weight"]} for m, v in HISTOGRAMS[k].items()}
             for k in ("counts", "std")}  # fmt: skip
ONE_LAYER["edges"] = {"layers.0.weight": HISTOGRAMS["edges"]["layers.0.weight"]}

RENDERED = {
    # name: (draw it to a path, figure size in inches)
    "accuracy": (lambda p: plots.plot_accuracy(_report(sigma_rows()[:3]), p), (5.0, 3.8)),
    "time": (lambda p: plots.plot_time(_report(device_rows()[:3]), p), (5.0, 3.8)),
    "landscape": (lambda p: plots.plot_landscape(LANDSCAPE[:12], p), (5.0, 3.8)),
    "histograms": (lambda p: plots.plot_histograms(ONE_LAYER, p), (3.6, 2.8)),
}


@pytest.mark.parametrize("name", list(RENDERED))
def test_each_plot_is_a_png_of_its_figure(tmp_path: Path, name: str) -> None:
    """Rendered with matplotlib's Agg (no pyplot): a valid PNG of the figure's size at
    110 dpi, written to the path asked for and nothing else left in the folder."""
    draw, (width, height) = RENDERED[name]
    path = draw(tmp_path / f"{name}.png")
    assert path == tmp_path / f"{name}.png"
    assert_png(path, width, height)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_the_suffix_picks_the_format(tmp_path: Path) -> None:
    """The plot is written through a temporary file with the same suffix, so the format
    follows the name asked for."""
    path = plots.plot_landscape(LANDSCAPE[:12], tmp_path / "landscape.svg")
    assert path.read_bytes().startswith(b"<?xml")
    assert b"<svg" in path.read_bytes()[:1000]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_save_all_draws_what_the_report_has_data_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plots of the data a report has, named as documented, in ``out``. (Each plot's
    PNG is checked above; here the figures are recorded, not rendered, to stay fast.)"""
    drawn: list[tuple[int, Path]] = []

    def record(fig, path):
        drawn.append((len([ax for ax in fig.axes if ax.get_visible()]), Path(path)))
        return Path(path)

    monkeypatch.setattr(plots, "_save", record)
    assert plots.save_all(_report(sigma_rows()), tmp_path) == [tmp_path / "accuracy.png"]
    assert plots.save_all(_report(device_rows()), tmp_path) == [tmp_path / "accuracy_time.png"]
    assert plots.save_all(_report(sigma_rows()[:6], landscape=LANDSCAPE), tmp_path) == [
        tmp_path / "accuracy.png", tmp_path / "landscape.png",
    ]  # fmt: skip
    drawn.clear()
    everything = _report(sigma_rows() + device_rows(), landscape=LANDSCAPE, histograms=HISTOGRAMS)
    names = ["accuracy.png", "accuracy_time.png", "landscape.png", "histograms.png"]
    assert plots.save_all(everything, tmp_path) == [tmp_path / n for n in names]
    # panels: two variations, one device model, one landscape, five layers
    assert drawn == [(n, tmp_path / name) for n, name in zip([2, 1, 1, 5], names, strict=True)]
