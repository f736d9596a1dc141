"""PNG plots of a report with matplotlib's object API (no pyplot, no global backend).

Plots read reports (:mod:`snnvar.evaluation.report`); :meth:`~snnvar.evaluation.Report.save`
draws them through :func:`save_all`, imported only then.

- accuracy vs σ per method, a band of ± one std over chips, one panel per variation;
- device models: accuracy vs time after programming (log axis), bands of ± one std
  and of the worst to the best chip, one panel per device model;
- the loss landscape: mean loss over directions vs σ·γ (γ = −1 to the left);
- per-layer weight histograms, methods overlaid;
- chips priced (``evaluate(energy=...)``): accuracy vs energy per inference, one
  point per model (chip configuration) and panel per condition;
- the yield: the empirical CDF of the chips' accuracies, one panel per model, a
  line per condition (dashed: after calibration), the yield target marked.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..files import atomic_path
from ..hardware.times import format_time

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .report import Report

__all__ = [
    "plot_accuracy",
    "plot_energy",
    "plot_histograms",
    "plot_landscape",
    "plot_time",
    "plot_yield",
    "save_all",
]


def plot_accuracy(report: Report, path: str | Path) -> Path:
    """Accuracy (%) vs σ (%) with std bands, per method; one panel per variation
    (device-model rows: :func:`plot_time`)."""
    labels = list(dict.fromkeys(r.label for r in report.results if r.sigma is not None))
    if not labels:
        raise ValueError("the report has no variation rows over σ (device rows: plot_time)")
    fig = _figure(figsize=(5.0 * len(labels), 3.8))
    axes = fig.subplots(1, len(labels), squeeze=False)[0]
    for ax, label in zip(axes, labels, strict=True):
        for method in report.methods:
            rows = sorted(
                (
                    r
                    for r in report.results
                    if r.method == method and r.label == label and r.sigma is not None
                ),
                key=lambda r: r.sigma,
            )
            if not rows:
                continue
            x = [100 * r.sigma for r in rows]
            m = [100 * r.accuracy_mean for r in rows]
            s = [100 * r.accuracy_std for r in rows]
            (line,) = ax.plot(x, m, marker="o", label=method)
            ax.fill_between(
                x,
                [a - b for a, b in zip(m, s, strict=True)],
                [a + b for a, b in zip(m, s, strict=True)],
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
            )
        draws = report.config.get("draws", "?")
        ax.set(
            xlabel="σ (% of layer range)", ylabel="accuracy (%)", title=f"{label}, {draws} chips"
        )
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def plot_time(report: Report, path: str | Path) -> Path:
    """Accuracy (%) vs time after programming (s, log axis) per method: the mean, a band
    of ± one std and a lighter one from the worst to the best chip; one panel per
    device model."""
    rows = [r for r in report.results if r.sigma is None and r.time is not None]
    if not rows:
        raise ValueError("the report has no device rows read at a time (evaluate(times=...))")
    labels = list(dict.fromkeys(r.label for r in rows))
    fig = _figure(figsize=(5.0 * len(labels), 3.8))
    axes = fig.subplots(1, len(labels), squeeze=False)[0]
    for ax, label in zip(axes, labels, strict=True):
        for method in report.methods:
            mine = sorted((r for r in rows if r.method == method and r.label == label),
                          key=lambda r: r.time)  # fmt: skip
            if not mine:
                continue
            x = [max(r.time, 1e-3) for r in mine]
            m = [100 * r.accuracy_mean for r in mine]
            s = [100 * r.accuracy_std for r in mine]
            (line,) = ax.plot(x, m, marker="o", label=method)
            color = line.get_color()
            ax.fill_between(x, [a - b for a, b in zip(m, s, strict=True)],
                            [a + b for a, b in zip(m, s, strict=True)], color=color,
                            alpha=0.25, linewidth=0)  # fmt: skip
            lo = [100 * r.accuracy_min for r in mine]
            hi = [100 * (r.accuracy_max if r.accuracy_max is not None else r.accuracy_mean)
                  for r in mine]  # fmt: skip
            ax.fill_between(x, lo, hi, color=color, alpha=0.1, linewidth=0)
        draws = report.config.get("draws", "?")
        ax.set_xscale("log")
        ax.set(xlabel="time after programming (s)", ylabel="accuracy (%)",
               title=f"{label}, {draws} chips")  # fmt: skip
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def plot_energy(report: Report, path: str | Path) -> Path:
    """Accuracy (%, mean ± std over chips) vs energy per inference (nJ, log axis), one
    point per model (a chip configuration: tiles, ADC bits, an SNN or its ANN) and one
    panel per condition (label and σ or time)."""
    rows = [r for r in report.results if r.energy is not None]
    if not rows:
        raise ValueError("the report prices no chip (evaluate(energy=EnergyCosts()))")
    conditions = list(dict.fromkeys((r.label, r.sigma, r.time) for r in rows))
    fig = _figure(figsize=(4.5 * len(conditions), 3.8))
    axes = fig.subplots(1, len(conditions), squeeze=False)[0]
    for ax, (label, sigma, time) in zip(axes, conditions, strict=True):
        for r in rows:
            if (r.label, r.sigma, r.time) != (label, sigma, time):
                continue
            nj = r.energy["energy_pj"]["total"] / 1e3  # type: ignore[index]
            ax.errorbar([nj], [100 * r.accuracy_mean], yerr=[100 * r.accuracy_std],
                        marker="o", capsize=3, label=r.method)  # fmt: skip
        at = f"σ {100 * sigma:g} %" if sigma is not None else f"t {time:g} s"
        ax.set_xscale("log")
        ax.set(xlabel="energy per inference (nJ)", ylabel="accuracy (%)",
               title=f"{label}, {at}")  # fmt: skip
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return _save(fig, path)


def plot_landscape(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Mean loss over directions (± std) vs γ·σ, per method (the WVAT paper's Fig. 7)."""
    if not rows:
        raise ValueError("no landscape rows to plot")
    by: dict[tuple[str, float], list[float]] = defaultdict(list)
    for r in rows:
        by[(r["method"], r["gamma"] * r["sigma"])].append(r["loss"])
    fig = _figure(figsize=(5.0, 3.8))
    ax = fig.subplots()
    for method in dict.fromkeys(r["method"] for r in rows):
        xs = sorted({x for (m, x) in by if m == method})
        mean = [statistics.fmean(by[(method, x)]) for x in xs]
        std = [statistics.pstdev(by[(method, x)]) for x in xs]
        (line,) = ax.plot([100 * x for x in xs], mean, marker=".", label=method)
        ax.fill_between(
            [100 * x for x in xs],
            [a - b for a, b in zip(mean, std, strict=True)],
            [a + b for a, b in zip(mean, std, strict=True)],
            color=line.get_color(),
            alpha=0.2,
            linewidth=0,
        )
    ax.set(xlabel="γ·σ (% of layer range)", ylabel="loss", title="loss along variation directions")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_histograms(hist: dict[str, Any], path: str | Path) -> Path:
    """One panel per layer, the methods' weight histograms overlaid (the WVAT paper's Fig. 8)."""
    layers = list(hist.get("edges", {}))
    if not layers:
        raise ValueError("no histograms to plot")
    cols = min(4, len(layers))
    rows_n = -(-len(layers) // cols)
    fig = _figure(figsize=(3.6 * cols, 2.8 * rows_n))
    axes = fig.subplots(rows_n, cols, squeeze=False).flatten()
    for ax, layer in zip(axes, layers, strict=False):
        edges = hist["edges"][layer]
        for method, counts in hist["counts"].items():
            ax.stairs(
                counts[layer], edges, label=f"{method} (std {hist['std'][method][layer]:.3g})"
            )
        ax.set_title(layer, fontsize=9)
        ax.legend(fontsize=7)
    for ax in axes[len(layers) :]:
        ax.set_visible(False)
    return _save(fig, path)


def plot_yield(report: Report, path: str | Path) -> Path:
    """The empirical CDF of the chips' accuracies (%): one panel per model, a step line
    per condition (dashed and the same colour: the same chips after calibration), the
    model's yield target as a dotted vertical line. A chip left of the target fails it;
    the height of the line at the target is 1 - yield."""
    rows = [r for r in report.results if r.accuracies and r.yield_target is not None]
    if not rows:
        raise ValueError("the report has no rows with chips and a yield target")
    suffix = {r.method: f" [{r.calibration}]" for r in rows if r.calibration}
    base = {r.method: r.method.removesuffix(suffix.get(r.method, "")) for r in rows}
    models = list(dict.fromkeys(base.values()))
    fig = _figure(figsize=(5.0 * len(models), 3.8))
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, model in zip(axes, models, strict=True):
        colours: dict[tuple[str, Any, Any], str] = {}
        for r in (r for r in rows if base[r.method] == model):
            key = (r.label, r.sigma, r.time)
            at = f"{100 * r.sigma:g} %" if r.sigma is not None else _time_label(r.time)
            xs = sorted(100 * a for a in r.accuracies or [])
            ys = [0.0] + [(i + 1) / len(xs) for i in range(len(xs))]
            xs = [xs[0], *xs]  # the step up from 0 at the worst chip
            (line,) = ax.step(
                xs, ys, where="post", color=colours.get(key),
                linestyle="--" if r.calibration else "-",
                label=f"{r.label}, {at}" + (f" [{r.calibration}]" if r.calibration else ""),
            )  # fmt: skip
            colours.setdefault(key, line.get_color())
            ax.axvline(100 * r.yield_target, color="grey", linestyle=":", linewidth=1)
        ax.set(xlabel="chip accuracy (%)", ylabel="fraction of chips ≤ x", title=model)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return _save(fig, path)


def _time_label(t: float | None) -> str:
    return "-" if t is None else format_time(t)


def save_all(report: Report, out: Path) -> list[Path]:
    """The plots a report has data for, as PNGs in ``out``."""
    paths = []
    if any(r.sigma is not None for r in report.results):
        paths.append(plot_accuracy(report, out / "accuracy.png"))
    if any(r.sigma is None and r.time is not None for r in report.results):
        paths.append(plot_time(report, out / "accuracy_time.png"))
    if report.landscape:
        paths.append(plot_landscape(report.landscape, out / "landscape.png"))
    if report.histograms:
        paths.append(plot_histograms(report.histograms, out / "histograms.png"))
    if any(r.energy is not None for r in report.results):
        paths.append(plot_energy(report, out / "accuracy_energy.png"))
    if any(r.accuracies and r.yield_target is not None for r in report.results):
        paths.append(plot_yield(report, out / "yield.png"))
    return paths


def _figure(**kw: Any) -> Figure:
    from matplotlib.figure import Figure  # lazy: matplotlib takes a while to import

    return Figure(layout="constrained", **kw)


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:  # the temporary file keeps the suffix: same format
        fig.savefig(tmp, dpi=110)
    return path
