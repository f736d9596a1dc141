"""Phase-change memory: programming noise, drift and 1/f read noise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..variation.checks import finite
from .checks import nonnegative, positive
from .curves import polynomial
from .devices import DeviceModel
from .drift import check_drift_nu, pcm_drift_exponents

__all__ = ["PCM", "PCM_PROG_COEFFS"]

PCM_PROG_COEFFS = (0.26348, 1.9650, -1.1731)
"""PCM programming noise σ(g) = Σ c_i (g / g_max)^i µS at g_max = 25 µS
(Nandakumar et al., ICECS 2019; the coefficients of aihwkit's PCMLikeNoiseModel)."""


@dataclass(frozen=True, kw_only=True)
class PCM(DeviceModel):
    """Phase-change memory (Nandakumar et al., ICECS 2019; the statistical model of
    aihwkit's PCMLikeNoiseModel): programming noise σ(g) a quadratic in g / g_max,
    drift ``G(t) = G(t0) (t / t0)^-ν`` with ν ~ ``|N(μ_ν(g), σ_ν(g))|``,
    μ_ν = clip(−0.0155 ln(g/g_max) + 0.0244, 0.049, 0.1), σ_ν = clip(−0.0125
    ln(g/g_max) − 0.0059, 0.008, 0.045), and 1/f read noise σ_r = Q_s
    sqrt(ln((t + t_read) / (2 t_read))), Q_s = min(0.0088 / (g/g_max)^0.65, 0.2),
    relative to the drifted conductance."""

    kind: ClassVar[str] = "pcm"

    drift: bool = True
    """Conductances drift after ``t0``."""
    drift_nu: tuple[float, float] | tuple[tuple[float, float, float], ...] | None = None
    """(mean, std) of ν for every device; or measured rows ``((g, mean, std), ...)``
    (µS, g increasing, at least two), interpolated linearly in the target
    conductance and held beyond the ends (as aihwkit's CustomDriftPCMLikeNoiseModel);
    None: the published conductance-dependent fit."""
    drift_scale: float = 1.0
    """Multiplies every drift exponent."""
    read_noise: bool = True
    """Accumulated 1/f read noise up to the read's time."""
    read_noise_scale: float = 1.0
    """Multiplies the read noise."""
    t_read: float = 250e-9
    """Duration of one read (s), a parameter of the 1/f fit."""
    prog_coeffs: tuple[float, ...] = PCM_PROG_COEFFS
    """σ(g) = Σ c_i (g / g_max)^i in µS at ``coeff_g_max`` (ascending)."""
    coeff_g_max: float = 25.0
    """The g_max the coefficients were fitted at; σ scales by g_max / coeff_g_max."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.drift_nu is not None:
            object.__setattr__(self, "drift_nu", check_drift_nu(self.drift_nu))
        for name in ("drift_scale", "read_noise_scale"):
            object.__setattr__(self, name, nonnegative(name, getattr(self, name)))
        object.__setattr__(self, "t_read", positive("t_read", self.t_read))
        object.__setattr__(self, "coeff_g_max", positive("coeff_g_max", self.coeff_g_max))
        coeffs = tuple(finite("prog_coeffs", c) for c in self.prog_coeffs)
        if not coeffs:
            raise ValueError("prog_coeffs must hold at least one coefficient")
        object.__setattr__(self, "prog_coeffs", coeffs)

    def programming_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor:
        """σ(g), a polynomial in g / g_max (the same at every time)."""
        return polynomial(self.prog_coeffs, g / self.g_max) * (self.g_max / self.coeff_g_max)

    def drift_exponents(self, g: torch.Tensor, eps: torch.Tensor) -> torch.Tensor | None:
        """ν per device (``snnvar.hardware.drift.pcm_drift_exponents``); None
        without drift."""
        if not self.drift:
            return None
        return pcm_drift_exponents(g, eps, self.g_max, self.drift_nu, self.drift_scale)

    def read_noise_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor | None:
        """The 1/f read noise accumulated up to ``time``, relative (None: ``read_noise``
        off)."""
        if not self.read_noise:
            return None
        q_s = (0.0088 / ((g.abs() / self.g_max) ** 0.65).clamp(min=1e-3)).clamp(max=0.2)
        return q_s * (self.read_noise_scale * math.sqrt(math.log((time + self.t_read) / (
            2 * self.t_read))))  # fmt: skip
