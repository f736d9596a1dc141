"""Stuck-at faults: devices (or whole weights) that hold one value at every read.

A fault is a component of a device model (``PCM(faults=StuckAt(low=0.01))``), not a
device model of its own; a chip whose only defect is its faults is an
:class:`~snnvar.hardware.IdealDevice` with faults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .checks import fraction

__all__ = ["FAULT_LEVELS", "StuckAt"]

FAULT_LEVELS = ("conductance", "weight")
"""Where a stuck-at fault acts: a device of the pair, or the whole weight."""


@dataclass(frozen=True, kw_only=True)
class StuckAt:
    """Stuck-at faults: a fraction ``low`` of devices stuck at ``g_min`` and ``high``
    at ``g_max``, drawn per chip (MemTorch's DeviceFaults: HRS / LRS), or, with
    ``at="weight"``, weights stuck at 0 and at ±w_max. The device model that holds
    them (``faults=``) sets the conductances and the time."""

    low: float = 0.0
    """Fraction of devices stuck at ``g_min`` (weight level: weights stuck at 0)."""
    high: float = 0.0
    """Fraction of devices stuck at ``g_max`` (weight level: at ``±w_max``, the weight's sign)."""
    at: str = "conductance"
    """``"conductance"``: each device of a pair fails on its own; ``"weight"``: the weight."""

    def __post_init__(self) -> None:
        low, high = fraction("low", self.low), fraction("high", self.high)
        if low + high > 1.0:
            raise ValueError(f"low + high must be <= 1, got low={low}, high={high}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if self.at not in FAULT_LEVELS:
            raise ValueError(f"unknown at {self.at!r}; allowed: {list(FAULT_LEVELS)}")

    def masks(self, u: torch.Tensor) -> torch.Tensor:
        """0 healthy, 1 stuck low, 2 stuck high, from uniform draws ``u``."""
        stuck = torch.zeros(u.shape, dtype=torch.uint8, device=u.device)
        stuck[u < self.low] = 1
        stuck[(u >= self.low) & (u < self.low + self.high)] = 2
        return stuck

    @staticmethod
    def hold(g: torch.Tensor, stuck: torch.Tensor, g_min: float, g_max: float) -> torch.Tensor:
        """Conductances with the stuck devices at ``g_min`` / ``g_max``."""
        g = torch.where(stuck == 1, torch.full_like(g, g_min), g)
        return torch.where(stuck == 2, torch.full_like(g, g_max), g)

    @staticmethod
    def hold_weights(w: torch.Tensor, stuck: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """Weights with the stuck ones at 0 (low) and at ``high`` (±w_max)."""
        w = torch.where(stuck == 1, torch.zeros_like(w), w)
        return torch.where(stuck == 2, high, w)

    def label(self) -> str:
        """``stuck(low=0.01, high=0.01)``, for the labels of device models."""
        where = "" if self.at == "conductance" else f", at={self.at}"
        return f"stuck(low={self.low:g}, high={self.high:g}{where})"

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON data (a ``faults`` table of a device model)."""
        return {"low": self.low, "high": self.high, "at": self.at}
