"""Uniform symmetric quantisers with straight-through gradients.

``quantize(x, levels, half)`` clips ``x`` to ``[-half, half]`` and rounds it to
``levels`` evenly spaced values spanning that interval. The rounding passes
gradients straight through (Bengio, Léonard & Courville 2013, "Estimating or
propagating gradients through stochastic neurons for conditional
computation"); the clipping passes none outside the interval, as a saturating
circuit does, and all of it on the interval's edges: ``clamp`` with tensor bounds
gives gradient 1 at ``x == ±half`` (``maximum(minimum(x, half), -half)`` would give
0.5 there, the tie split between its two arguments, and every layer's largest
weight sits on its edge when the window is max|W|). A learned scale before a
quantiser (HRAT's input scale) gets its gradient from the rounding error, as in LSQ
(Esser et al., ICLR 2020).
"""

from __future__ import annotations

import torch

__all__ = ["quantize", "ste_round"]


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` forward, identity backward."""
    return x + (torch.round(x) - x).detach()


def quantize(x: torch.Tensor, levels: int, half: torch.Tensor | float) -> torch.Tensor:
    """``x`` clipped to ``[-half, half]`` and rounded to ``levels`` (>= 2) evenly spaced
    values from ``-half`` to ``half`` (straight-through rounding). ``half`` <= 0
    (e.g. an all-zero layer): ``x`` clipped to 0."""
    if levels < 2:
        raise ValueError(f"a quantiser needs at least 2 levels, got {levels}")
    half = torch.as_tensor(half, dtype=x.dtype, device=x.device)
    if not bool(half > 0):
        return x * 0.0
    step = 2.0 * half / (levels - 1)
    clipped = torch.clamp(x, -half, half)  # gradient 1 on [-half, half], edges included
    return ste_round((clipped + half) / step) * step - half
