"""Conductance drift and its compensation.

A drifting device (PCM) holds ``G(t) = G(t0) · (t / t0)^-ν`` after programming,
with an exponent ν drawn per device. Drift compensation reads the chip right
after programming and again at ``t`` and scales the weights by
``mean |w(t0)| / mean |w(t)|``: one scale per layer (``"global"``) or one per
output (``"column"``), as aihwkit's ``GlobalDriftCompensation`` /
``PerColumnDriftCompensation`` (one-hot reads, mean absolute output).
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from ..variation.checks import finite
from .checks import nonnegative
from .curves import interpolate

__all__ = [
    "COMPENSATIONS",
    "DriftNu",
    "check_drift_nu",
    "compensation_scale",
    "drifted",
    "pcm_drift_exponents",
]

COMPENSATIONS = ("global", "column")
"""Drift compensations: one scale per layer, or one per output (column)."""

DriftNu = tuple[float, float] | tuple[tuple[float, float, float], ...]
"""The drift exponents' statistics: (mean, std) for every device, or measured rows
``((g, mean, std), ...)`` with g increasing."""


def check_drift_nu(value: Any) -> DriftNu:
    """``drift_nu`` validated: (mean, std), or rows (g, mean, std) with g increasing."""
    rows = tuple(value) if isinstance(value, tuple | list) else None
    if rows and all(isinstance(r, tuple | list) for r in rows):
        if len(rows) < 2 or any(len(r) != 3 for r in rows):
            raise ValueError(
                f"drift_nu rows must be at least two (g, mean, std) triples, got {value!r}"
            )
        out = tuple(
            (nonnegative("drift_nu g", r[0]), finite("drift_nu mean", r[1]),
             nonnegative("drift_nu std", r[2])) for r in rows
        )  # fmt: skip
        if any(b[0] <= a[0] for a, b in itertools.pairwise(out)):
            raise ValueError(f"drift_nu rows: g must increase, got {[r[0] for r in out]}")
        return out
    if rows is None or len(rows) != 2:
        raise ValueError(
            f"drift_nu must be (mean, std) or rows ((g, mean, std), ...), got {value!r}"
        )
    return (finite("drift_nu mean", rows[0]), nonnegative("drift_nu std", rows[1]))


def pcm_drift_exponents(
    g: torch.Tensor, eps: torch.Tensor, g_max: float, drift_nu: DriftNu | None, scale: float
) -> torch.Tensor:
    """Drift exponents ν = ``scale · |mean + std · eps|`` per device of target
    conductance ``g``: (mean, std) given, interpolated in ``g`` from measured rows, or
    (``drift_nu`` None) the published fit of Nandakumar et al. (ICECS 2019), μ_ν =
    clip(−0.0155 ln(g/g_max) + 0.0244, 0.049, 0.1), σ_ν = clip(−0.0125 ln(g/g_max)
    − 0.0059, 0.008, 0.045)."""
    if drift_nu is not None and not isinstance(drift_nu[0], tuple):
        mean, std = drift_nu
        return (mean + std * eps).abs() * scale
    if drift_nu is not None:  # measured rows (g, mean, std)
        mean = interpolate(g.abs(), drift_nu, 1)
        std = interpolate(g.abs(), drift_nu, 2)
        return (mean + std * eps).abs() * scale
    rel = (g / g_max).abs().clamp(min=1e-7).log()
    mu = (-0.0155 * rel + 0.0244).clamp(min=0.049, max=0.1)
    sd = (-0.0125 * rel - 0.0059).clamp(min=0.008, max=0.045)
    return (mu + sd * eps).abs() * scale


def drifted(g: torch.Tensor, nu: torch.Tensor, time: float, t0: float) -> torch.Tensor:
    """Conductances ``g`` programmed at ``t0`` as read at ``time``: ``g · (time / t0)^-ν``."""
    return g * (time / t0) ** (-nu)


def compensation_scale(
    compensation: str | None, w0: torch.Tensor, wt: torch.Tensor
) -> torch.Tensor | None:
    """The compensation's scale from the reference read ``w0`` (right after programming)
    and the read ``wt``: a scalar (``"global"``, or a tensor of fewer than two dims), one
    per output (``"column"``), or None (no compensation)."""
    if compensation is None:
        return None
    if compensation == "global" or wt.dim() < 2:
        return w0.abs().mean() / wt.abs().mean().clamp(min=1e-12)
    dims = tuple(range(1, wt.dim()))
    ref = w0.abs().mean(dim=dims, keepdim=True)
    now = wt.abs().mean(dim=dims, keepdim=True).clamp(min=1e-12)
    return ref / now
