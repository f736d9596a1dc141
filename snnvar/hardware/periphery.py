"""What a restricted layer's periphery is set to at programming.

When a chip is programmed, its periphery is set from the weights as programmed
(the clean ``W′`` and ``b′``), and the reads (a variation, drift) then move around
it: every tile's ADC range (``Restrictions.output_bound``, aihwkit's
``out_bound``), the σ of its output noise (``output_noise``, aihwkit's
``out_noise``) and, with resistive wires, the weight that maps to the devices'
``g_max`` (:mod:`.wires`). Each is relative to the tile's full scale ``x_max ·
max|W′|`` (:func:`.tiles.adc_ranges`, the bias row included). Pure functions.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch

from . import tiles
from .restrictions import Restrictions

__all__ = ["Periphery", "periphery"]


class Periphery(NamedTuple):
    """A layer's periphery, set at programming (each ``(R, out)`` or None: off)."""

    ranges: torch.Tensor | None
    """Every tile's ADC half-range (``output_bound``)."""
    sigma: torch.Tensor | None
    """The σ of every tile's output noise (``output_noise``)."""
    scale: torch.Tensor | None
    """The weight at ``g_max`` of each tile's columns (``wire_resistance``)."""


def periphery(
    hw: Restrictions, w: torch.Tensor, b: torch.Tensor | None, rows: list[int],
    cols: list[int], x_max: float,
) -> Periphery:  # fmt: skip
    """The periphery of a layer with programmed ``w`` and ``b`` on tiles of ``rows`` ×
    ``cols`` blocks whose inputs reach ``x_max``: the ADC half-ranges, the output
    noise's σ (divided by √(row blocks) with ``noise_over_tiles``; both per column
    with ``bound_per_column``) and the weight at
    ``g_max`` (the tile's ``max|W′|``, the bias row's ``|b′|/x_max`` included)."""
    if not (hw.bounded or hw.noisy or hw.wired):
        return Periphery(None, None, None)
    row_bias = b if not hw.digital_bias else None
    full = functools.partial(tiles.adc_ranges, w, row_bias, rows, cols, x_max, 1.0)
    tile = full()
    own = full(per_column=True) if hw.bound_per_column else tile  # the ADC's and noise's
    ranges = None
    if hw.output_bound is not None:
        ranges = hw.output_bound * own
    sigma = None
    if hw.noisy:
        per = math.sqrt(len(rows)) if hw.noise_over_tiles else 1.0
        sigma = own * (hw.output_noise / per)
        if hw.absolute_noise:  # σ in the tile's output units
            sigma = torch.full_like(own, hw.output_noise / per)
    scale = tile / x_max if hw.wired else None
    return Periphery(ranges, sigma, scale)
