"""Device constraints on the programmed weight: clip to the window, quantise.

Applied to the clean weight before the noise is added, in this order
(docs/guide/engine.md): clip to the device window ->
quantise to ``levels`` evenly spaced conductance levels spanning the window
(multi-level cells) -> add Δw.
"""

from __future__ import annotations

import torch

from .reference import TensorStats

__all__ = ["device_window", "program"]


def device_window(
    stats: TensorStats,
    window: tuple[float, float] | None,
    window_stds: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The device window of a layer: ``window`` if given, else μ ± window_stds·σ.

    With the default ``window_stds = 3`` this is the WVAT paper's range A.
    """
    if window is not None:
        lo = torch.as_tensor(window[0], dtype=stats.mean.dtype, device=stats.mean.device)
        hi = torch.as_tensor(window[1], dtype=stats.mean.dtype, device=stats.mean.device)
        return lo, hi
    half = stats.std * window_stds
    return stats.mean - half, stats.mean + half


def program(
    w: torch.Tensor,
    lo: torch.Tensor,
    hi: torch.Tensor,
    clip: bool,
    levels: int | None,
) -> torch.Tensor:
    """The weight a device can hold: clipped to [lo, hi], then quantised.

    Quantisation maps onto ``levels`` values ``lo + k (hi − lo) / (levels − 1)``,
    k = 0 .. levels − 1; it implies the window, so values outside it go to the
    end levels. A window of zero width (a constant layer) maps everything to ``lo``.
    """
    out = w
    if clip or levels is not None:
        out = torch.minimum(torch.maximum(out, lo), hi)
    if levels is not None:
        step = (hi - lo) / (levels - 1)
        safe = torch.where(step > 0, step, torch.ones_like(step))
        k = torch.round((out - lo) / safe)
        out = torch.where(step > 0, lo + k * step, lo.expand_as(out))
    return out
