"""Reference statistics of clean weights: the scale ``s_l`` and the device window.

``s_l`` says what a relative variation is relative to (docs/guide/engine.md):

- ``"range"``: the WVAT paper's A, the width of [μ_w − 3σ_w, μ_w + 3σ_w], i.e.
  ``6 * std(w_l)`` (population std) -- the paper's hardware-simulated variation;
- ``"max"``: ``max |w_l|``, programming error proportional to the device's
  dynamic range (HA-SGD poster, Fig. 3; IBM aihwkit's programming noise);
- ``"weight"``: ``|w|`` element-wise, multiplicative mismatch (Büchel et al. 2022);
- ``"absolute"``: 1, sigma in weight units.

The statistics are always taken from the clean weights.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["REFERENCES", "TensorStats", "scale", "tensor_stats", "work_dtype"]

REFERENCES: tuple[str, ...] = ("range", "max", "weight", "absolute")
"""Allowed values of ``Variation.relative_to``."""

RANGE_WIDTH_IN_STDS = 6.0
"""WVAT's A = [μ − 3σ, μ + 3σ] is six standard deviations wide."""


class TensorStats(NamedTuple):
    """Statistics of one clean weight tensor (0-dim tensors on its device)."""

    mean: torch.Tensor
    std: torch.Tensor
    absmax: torch.Tensor


def work_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype in which noise is computed: float64 stays, the rest use float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def tensor_stats(w: torch.Tensor) -> TensorStats:
    """Mean, population std and max ``|w|`` of a tensor, in its working dtype.

    Uses one sum and one dot product (multi-threaded, no temporaries) and falls
    back to a centred computation when ``E[w²] − E[w]²`` would cancel.
    """
    flat = w.detach().reshape(-1).to(work_dtype(w.dtype))
    n = flat.numel()
    if n == 0:
        raise ValueError("cannot take the statistics of an empty tensor")
    mean = flat.sum() / n
    mean_sq = torch.dot(flat, flat) / n
    var = mean_sq - mean * mean
    # Cancellation guard: for |mean| >> std the shortcut loses precision.
    if not flat.is_meta and bool(var <= 1e-3 * mean_sq):
        var = (flat - mean).square().mean()
    lo, hi = torch.aminmax(flat)
    return TensorStats(mean=mean, std=var.clamp_min(0).sqrt(), absmax=torch.maximum(-lo, hi))


def scale(w: torch.Tensor, stats: TensorStats | None, relative_to: str) -> torch.Tensor:
    """The scale ``s_l`` of a tensor: a 0-dim tensor, or ``|w|`` for ``"weight"``.

    ``stats`` (from :func:`tensor_stats`) is needed for ``"range"`` and ``"max"``.
    """
    if relative_to in ("range", "max") and stats is None:
        raise ValueError(f"relative_to={relative_to!r} needs the tensor's statistics")
    if relative_to == "range":
        return stats.std * RANGE_WIDTH_IN_STDS
    if relative_to == "max":
        return stats.absmax
    if relative_to == "weight":
        return w.detach().to(work_dtype(w.dtype)).abs()
    if relative_to == "absolute":
        return torch.ones((), dtype=work_dtype(w.dtype), device=w.device)
    raise ValueError(f"unknown relative_to {relative_to!r}; allowed: {list(REFERENCES)}")
