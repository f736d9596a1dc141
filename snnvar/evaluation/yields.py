"""Yield: the fraction of simulated chips that reach an accuracy target, and the
spread of the chips (percentiles of their accuracies) (issue 38)."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["DEFAULT_MARGIN", "PERCENTILES", "chip_yield", "percentiles", "yield_target"]

DEFAULT_MARGIN = 0.01
"""The default target: the model's clean accuracy minus this (1 point)."""

PERCENTILES = (5, 50, 95)
"""The percentile chips a report gives."""


def percentiles(accuracies: Sequence[float], qs: Sequence[float] = PERCENTILES) -> dict[str, float]:
    """``{"p5": ..., "p50": ..., "p95": ...}``: the q-th percentiles of the chips'
    accuracies, linearly interpolated between order statistics (numpy's default)."""
    if not accuracies:
        raise ValueError("no chip accuracies")
    xs = sorted(float(a) for a in accuracies)
    out = {}
    for q in qs:
        if not 0 <= q <= 100:
            raise ValueError(f"a percentile must lie in [0, 100], got {q}")
        pos = (len(xs) - 1) * q / 100
        lo, frac = math.floor(pos), pos - math.floor(pos)
        hi = min(lo + 1, len(xs) - 1)
        out[f"p{q:g}"] = xs[lo] + (xs[hi] - xs[lo]) * frac
    return out


def yield_target(target: float | None, clean_accuracy: float) -> float:
    """The accuracy a chip must reach: ``target`` (a fraction in [0, 1]) or, for None,
    the clean accuracy minus :data:`DEFAULT_MARGIN`."""
    if target is None:
        return clean_accuracy - DEFAULT_MARGIN
    if isinstance(target, bool) or not (isinstance(target, int | float) and 0 <= target <= 1):
        raise ValueError(f"yield_target must be an accuracy in [0, 1] (a fraction), got {target!r}")
    return float(target)


def chip_yield(accuracies: Sequence[float], target: float) -> float:
    """The fraction of chips at or above ``target`` (a tolerance of 1e-12 for the
    floating-point sum of a count)."""
    if not accuracies:
        raise ValueError("no chip accuracies")
    return sum(a >= target - 1e-12 for a in accuracies) / len(accuracies)
