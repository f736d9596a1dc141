"""Weights as differential conductance pairs, and back.

A weight ``w`` of a layer is held by two devices, ``G+`` and ``G-``:

    G+ = g_min + max(w, 0) / w_max · (g_max − g_min)
    G- = g_min + max(−w, 0) / w_max · (g_max − g_min)
    w  = (G+ − G-) · w_max / (g_max − g_min)

``w_max`` is the layer's weight that maps to ``g_max``: its largest ``|w|``, a
percentile of ``|w|`` (weights beyond it are clipped to ``g_max``: the device
cannot hold more), or a given value. This is the single-pair mapping of
aihwkit's ``SinglePairConductanceConverter`` (Rasch et al., Nat. Commun. 2023),
with conductances in µS.
"""

from __future__ import annotations

import torch

__all__ = ["mapping_scale", "to_conductances", "to_weights"]


def mapping_scale(w: torch.Tensor, percentile: float = 100.0, given: float | None = None) -> float:
    """The ``w_max`` of a layer: ``given``, else the ``percentile`` of ``|w|``
    (100: max-abs). A layer of zeros maps with ``w_max = 1``."""
    if given is not None:
        return float(given)
    values = w.detach().abs().flatten().double()
    if percentile >= 100.0:
        top = float(values.max()) if values.numel() else 0.0
    else:
        # torch.quantile's linear interpolation, by sorting (quantile refuses > 2^24 values)
        ordered = values.sort().values
        pos = percentile / 100.0 * (ordered.numel() - 1)
        lo, frac = int(pos), pos - int(pos)
        hi = min(lo + 1, ordered.numel() - 1)
        top = float(torch.lerp(ordered[lo], ordered[hi], frac))
    return top if top > 0.0 else 1.0


def to_conductances(
    w: torch.Tensor, w_max: float, g_min: float, g_max: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(G+, G-)`` of the weights ``w`` (µS), ``|w|`` clipped to ``w_max``."""
    span = (g_max - g_min) / w_max
    g_plus = g_min + w.clamp(min=0.0, max=w_max) * span
    g_minus = g_min + (-w).clamp(min=0.0, max=w_max) * span
    return g_plus, g_minus


def to_weights(
    g_plus: torch.Tensor, g_minus: torch.Tensor, w_max: float, g_min: float, g_max: float
) -> torch.Tensor:
    """The weights a pair of conductances holds: ``(G+ − G-) · w_max / (g_max − g_min)``."""
    return (g_plus - g_minus) * (w_max / (g_max - g_min))
