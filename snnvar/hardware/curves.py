"""Fitted curves of device physics: polynomials in the conductance and measured
points interpolated linearly."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["interpolate", "polynomial"]


def polynomial(coeffs: Sequence[float], x: torch.Tensor) -> torch.Tensor:
    """``Σ c_i x^i`` (ascending coefficients), by Horner's rule."""
    out = torch.full_like(x, float(coeffs[-1]))
    for c in reversed(coeffs[:-1]):
        out = out * x + float(c)
    return out


def interpolate(
    x: torch.Tensor, points: Sequence[Sequence[float]], column: int = 1
) -> torch.Tensor:
    """Piecewise-linear ``y(x)`` through ``points`` (rows ``(x, y0, y1, ...)``, x
    increasing; ``column`` picks the y), held constant beyond the ends."""
    xs = torch.tensor([p[0] for p in points], dtype=x.dtype, device=x.device)
    ys = torch.tensor([p[column] for p in points], dtype=x.dtype, device=x.device)
    if len(xs) == 1:
        return torch.full_like(x, float(ys[0]))
    xc = x.clamp(min=float(xs[0]), max=float(xs[-1]))
    k = torch.bucketize(xc, xs).clamp(min=1, max=len(xs) - 1)
    x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
    return y0 + (xc - x0) / (x1 - x0) * (y1 - y0)
