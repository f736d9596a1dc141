"""Markdown tables of report rows that only some reports have: spikes and the
energy of a priced chip (:class:`~snnvar.evaluation.Report` writes them to
``results.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..hardware.times import format_time

if TYPE_CHECKING:
    from .report import Row

__all__ = ["energy_table", "spike_table", "yield_table"]


def spike_table(results: list[Row]) -> str:
    """Spikes and synaptic operations per sample per method and σ (SNN rows only)."""
    rows = [r for r in results if r.spikes]
    if not rows:
        return ""
    lines = [
        "| method | variation | σ | spikes / sample | SynOps / sample |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        spk, syn = r.spikes_per_sample, r.synops_per_sample
        lines.append(
            f"| {r.method} | {r.label} | "
            f"{format_time(r.time) if r.sigma is None else f'{100 * r.sigma:g} %'} | "
            f"{'-' if spk is None else f'{spk:.1f}'} | {'-' if syn is None else f'{syn:.3g}'} |"
        )
    return "\n".join(lines) + "\n"


def energy_table(results: list[Row]) -> str:
    """Accuracy beside the energy (by event), latency and area of one inference per
    method and condition (priced rows only: ``evaluate(energy=...)``)."""
    rows = [r for r in results if r.energy is not None]
    if not rows:
        return ""
    events = ("dac", "drive", "devices", "adc", "additions", "neurons", "spikes")
    lines = [
        "| method | variation | σ | accuracy (%) | energy (nJ) | "
        + " | ".join(f"{e} (nJ)" for e in events) + " | latency (µs) | area (mm²) |",
        "|" + "---|" * (7 + len(events)),
    ]  # fmt: skip
    for r in rows:
        e = r.energy
        assert e is not None
        pj = e["energy_pj"]
        at = format_time(r.time) if r.sigma is None else f"{100 * r.sigma:g} %"
        lines.append(
            f"| {r.method} | {r.label} | {at} | {100 * r.accuracy_mean:.2f} | "
            f"{pj['total'] / 1e3:.4g} | "
            + " | ".join(f"{pj[k] / 1e3:.3g}" for k in events)
            + f" | {e['latency_ns'] / 1e3:.4g} | {e['area_mm2']:.4g} |"
        )
    return "\n".join(lines) + "\n"


def yield_table(results: list[Row]) -> str:
    """Per method (a calibrated one as ``method [calibration]``) and condition: the
    clean accuracy, the target, the yield (% of chips at or above the target), the
    5th / 50th / 95th percentile chip, and the calibration's seconds per chip."""
    rows = [r for r in results if r.yield_fraction is not None]
    if not rows:
        return ""
    lines = [
        "| method | variation | level | clean (%) | target (%) | yield (%) | p5 (%) | "
        "p50 (%) | p95 (%) | calibration (s / chip) |",
        "|" + "---|" * 10,
    ]
    for r in rows:
        q = r.percentiles or {}
        at = format_time(r.time) if r.sigma is None else f"{100 * r.sigma:g} %"
        pct = [f"{100 * q[k]:.2f}" if k in q else "-" for k in ("p5", "p50", "p95")]
        sec = "-" if r.calibration_seconds is None else f"{r.calibration_seconds:.3g}"
        clean = "-" if r.clean_accuracy is None else f"{100 * r.clean_accuracy:.2f}"
        target = "-" if r.yield_target is None else f"{100 * r.yield_target:.2f}"
        lines.append(
            f"| {r.method} | {r.label} | {at} | {clean} | {target} | "
            f"{100 * r.yield_fraction:.1f} | " + " | ".join(pct) + f" | {sec} |"
        )
    return "\n".join(lines) + "\n"
