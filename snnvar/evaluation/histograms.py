"""Per-layer weight histograms of several models (the WVAT paper's Fig. 8).

Each layer's bins are shared by all models (they span the union of their
weights), so the histograms of, say, SGD and WVAT overlay directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..variation import Variation
from .montecarlo import named_models

__all__ = ["weight_histograms"]


def weight_histograms(
    model: nn.Module | Mapping[str, nn.Module],
    bins: int = 60,
    variation: Variation | None = None,
) -> dict[str, Any]:
    """Shared bin edges per layer, and counts and std per method and layer.

    Returns ``{"edges": {layer: [...]}, "counts": {method: {layer: [...]}},
    "std": {method: {layer: float}}}``. Layers are the tensors ``variation``
    selects (default: Linear/Conv weights).
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    named = named_models(model)
    selector = variation or Variation(sigma=0.0)
    tensors = {
        method: {t.name: t.tensor.detach().float().cpu().flatten() for t in selector.targets(m)}
        for method, m in named.items()
    }
    layers = list(next(iter(tensors.values())))
    for method, ts in tensors.items():
        if list(ts) != layers:
            raise ValueError(
                f"model {method!r} has layers {list(ts)}, the first model {layers}: "
                "histograms compare models of one architecture"
            )
    out: dict[str, Any] = {
        "edges": {},
        "counts": {m: {} for m in named},
        "std": {m: {} for m in named},
    }
    for layer in layers:
        lo = min(float(ts[layer].min()) for ts in tensors.values())
        hi = max(float(ts[layer].max()) for ts in tensors.values())
        if hi <= lo:
            hi = lo + 1e-6
        out["edges"][layer] = torch.linspace(lo, hi, bins + 1).tolist()
        for method, ts in tensors.items():
            out["counts"][method][layer] = torch.histc(ts[layer], bins, lo, hi).tolist()
            out["std"][method][layer] = float(ts[layer].std(correction=0))
    return out
