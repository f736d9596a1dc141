"""Resistive RAM: a deviation from the target that grows with time (NeuRRAM's fits)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..variation.checks import finite
from .checks import positive
from .curves import polynomial
from .devices import DeviceModel

__all__ = ["RRAM", "WAN2022_FITS"]

WAN2022_FITS = (
    (1.0, (0.348, 16.030, -43.853, 45.393, -16.815)),
    (86400.0, (0.701, 22.086, -50.773, 47.095, -16.458)),
    (172800.0, (0.782, 20.274, -43.507, 37.062, -11.934)),
)
"""RRAM conductance deviation σ(g, t) = Σ c_i (g / g_max)^i µS at g_max = 40 µS, fitted at
1 s, 1 day and 2 days after programming to Wan et al., Nature 608 (2022) (NeuRRAM);
the coefficients of aihwkit's ReRamWan2022NoiseModel."""


@dataclass(frozen=True, kw_only=True)
class RRAM(DeviceModel):
    """Resistive RAM (Wan et al., Nature 2022, NeuRRAM; the fits of aihwkit's
    ReRamWan2022NoiseModel): the deviation from the target conductance grows
    with time, σ(g, t) a quartic in g / g_max fitted at 1 s, 1 day and 2 days,
    interpolated linearly in log t between them. No drift exponent, no separate
    read noise. One chip keeps one deviation per device: ``G(t) = G_T + σ(G_T, t) z``."""

    kind: ClassVar[str] = "rram"

    g_max: float = 40.0
    t0: float = 1.0
    fits: tuple[tuple[float, tuple[float, ...]], ...] = WAN2022_FITS
    """(time in s, ascending coefficients of σ(g / g_max) in µS at ``coeff_g_max``) per fit."""
    coeff_g_max: float = 40.0
    """The g_max the fits were made at; σ scales by g_max / coeff_g_max."""

    def __post_init__(self) -> None:
        super().__post_init__()
        fits = tuple(
            (positive("fit time", t), tuple(finite("fit coefficient", c) for c in cs))
            for t, cs in self.fits
        )
        if not fits or any(not cs for _, cs in fits):
            raise ValueError("fits must hold at least one (time, coefficients) pair")
        if [t for t, _ in fits] != sorted({t for t, _ in fits}):
            raise ValueError(f"fit times must increase, got {[t for t, _ in fits]}")
        object.__setattr__(self, "fits", fits)
        object.__setattr__(self, "coeff_g_max", positive("coeff_g_max", self.coeff_g_max))
        if self.time is not None:  # refused now, not at the first read of a training run
            self.check_time(self.effective_time)

    def check_time(self, time: float) -> None:
        """Refuse a time beyond the last fit."""
        last = self.fits[-1][0]
        if time > last:
            raise ValueError(
                f"the RRAM fits end at {last:g} s; cannot read at {time:g} s (allowed: up to "
                f"{last:g} s, or give fits for later times)"
            )

    def programming_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor:
        """σ(g, t): the fits' polynomials, interpolated linearly in log t between them."""
        x = g / self.g_max
        scale = self.g_max / self.coeff_g_max
        times = [t for t, _ in self.fits]
        if time <= times[0] or len(times) == 1:
            return polynomial(self.fits[0][1], x) * scale
        k = next(i for i, t in enumerate(times) if t >= time)
        (t_a, c_a), (t_b, c_b) = self.fits[k - 1], self.fits[k]
        f = (math.log(time) - math.log(t_a)) / (math.log(t_b) - math.log(t_a))
        return ((1 - f) * polynomial(c_a, x) + f * polynomial(c_b, x)) * scale
