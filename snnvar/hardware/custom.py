"""A user's device: programming noise σ(g) as a callable or measured points."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from .curves import interpolate
from .devices import DeviceModel

__all__ = ["CustomDevice"]


@dataclass(frozen=True, kw_only=True)
class CustomDevice(DeviceModel):
    """A user's device: programming noise σ(g) as a callable (µS -> µS, element-wise)
    or as measured points ``((g, σ), ...)`` interpolated linearly (constant beyond
    the ends); :meth:`from_measurements` estimates the points from a table of
    target against achieved conductance. No drift."""

    kind: ClassVar[str] = "custom"

    sigma: Callable[[torch.Tensor], torch.Tensor] | tuple[tuple[float, float], ...] = ()
    """σ(g) in µS: a callable, or ``((g, sigma), ...)`` with increasing g."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if callable(self.sigma):
            return
        try:
            points = tuple((float(g), float(s)) for g, s in self.sigma)
        except (TypeError, ValueError):
            raise ValueError(
                f"sigma must be a callable or ((g, sigma), ...) points, got {self.sigma!r}"
            ) from None
        if not points:
            raise ValueError("sigma needs a callable or at least one (g, sigma) point")
        gs = [g for g, _ in points]
        if gs != sorted(set(gs)):
            raise ValueError(f"the points' conductances must increase, got {gs}")
        bad = [s for _, s in points if not math.isfinite(s) or s < 0]
        if bad or not all(math.isfinite(g) for g in gs):
            raise ValueError(f"σ(g) must be finite and >= 0, got {points}")
        object.__setattr__(self, "sigma", points)

    @classmethod
    def from_measurements(
        cls, target: Sequence[float] | torch.Tensor, achieved: Sequence[float] | torch.Tensor,
        bins: int = 16, **settings: Any,
    ) -> CustomDevice:  # fmt: skip
        """σ(g) from measured devices: the std of ``achieved − target`` per target level
        (when there are at most ``bins`` distinct targets) or per equal-width bin of
        ``target``, at the bins' mean target; each level needs two samples."""
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ValueError(f"bins must be an integer >= 1 (target levels), got {bins!r}")
        t = torch.as_tensor(target, dtype=torch.float64).flatten()
        a = torch.as_tensor(achieved, dtype=torch.float64).flatten()
        if t.numel() != a.numel() or t.numel() < 2:
            raise ValueError(
                f"target and achieved must hold the same number (>= 2) of values, got "
                f"{t.numel()} and {a.numel()}"
            )
        if not (torch.isfinite(t).all() and torch.isfinite(a).all()):
            raise ValueError("target and achieved conductances must be finite")
        levels = torch.unique(t)
        if len(levels) <= bins:
            groups = [t == lv for lv in levels]
        else:
            edges = torch.linspace(float(t.min()), float(t.max()), bins + 1, dtype=t.dtype)
            idx = torch.bucketize(t, edges[1:-1], right=True)
            groups = [idx == k for k in range(bins)]
        points = []
        for mask in groups:
            if int(mask.sum()) >= 2:
                dev = a[mask] - t[mask]
                points.append((float(t[mask].mean()), float(dev.std())))
        if not points:
            raise ValueError("no target level has two measurements; σ(g) cannot be estimated")
        return cls(sigma=tuple(points), **settings)

    def programming_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor:
        """σ(g): the callable, or the points interpolated linearly."""
        if callable(self.sigma):
            out = torch.as_tensor(self.sigma(g), dtype=g.dtype, device=g.device)
            return out.expand_as(g)
        return interpolate(g, self.sigma)
