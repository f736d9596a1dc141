"""Noise and bound management of a tile's reads (aihwkit's ``NoiseManagementType.ABS_MAX``
and ``BoundManagementType.ITERATIVE``, ``simulator/tiles/analog_mvm.py`` and
``rpucuda/rpu_forward_backward_pass.cpp``, ``forwardVector``), and the tile's ADC.

With noise management each tile divides each input vector by its largest ``|x|``
before its DAC (:func:`snnvar.hardware.tiles.scaled_linear_partials`); with bound
management a vector whose read saturates the tile's ADC is read again with its
input halved, until no output saturates or the reduction exceeds its limit. The
digital periphery multiplies each read back by its scale. As in aihwkit's C++ CPU
tiles, a zero input vector reads exactly zero (no output noise): it drives no row.
Pure functions.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from . import tiles
from .quantize import quantize, quantize_each

__all__ = ["converted", "managed", "saturated"]


def converted(parts: torch.Tensor, half: torch.Tensor | float, levels: int | None) -> torch.Tensor:
    """The ADC: ``parts`` clipped to ``±half`` (each tile's range, or one swing), rounded
    to ``levels`` evenly spaced levels when given."""
    if levels is None:
        return torch.clamp(parts, -half, half)  # type: ignore[arg-type]
    if isinstance(half, torch.Tensor):
        return quantize_each(parts, levels, half)
    return quantize(parts, levels, half)


def saturated(
    parts: torch.Tensor, half: torch.Tensor | float, levels: int | None, cols: list[int]
) -> torch.Tensor:
    """Whether each read vector saturates its tile's ADC, shaped as ``parts`` ``[...,
    out]``: any output of its tile (the column block of ``cols`` it lies in) beyond
    ``±half`` after rounding to the ADC's step (aihwkit's test, on both signs:
    ``bm_test_negative_bound``)."""
    value = parts.detach()
    half_t = torch.as_tensor(half, dtype=value.dtype, device=value.device)
    if levels is not None:  # in level units: exact at the top level
        step = 2 * half_t / (levels - 1)
        level = torch.round(value / torch.where(step > 0, step, 1.0)).abs()
        beyond = level > (levels - 1) // 2
    else:
        beyond = value.abs() > half_t
    beyond = beyond & (half_t > 0)  # a tile of zeros reads zero: nothing to re-read
    per_tile = tiles.blocked(beyond, -1, cols).any(-1)  # [..., column blocks]
    return per_tile.repeat_interleave(torch.tensor(cols, device=value.device), dim=-1)


def managed(
    vectors: torch.Tensor, w2d: torch.Tensor, rows: list[int], cols: list[int],
    dac: Callable[[torch.Tensor], torch.Tensor], by_max: bool,
    noisy: Callable[[torch.Tensor], torch.Tensor], adc: Callable[[torch.Tensor], torch.Tensor],
    half: torch.Tensor | float | None, levels: int | None, limit: float | None,
) -> torch.Tensor:  # fmt: skip
    """The outputs ``[N, out]`` of the input ``vectors`` ``[N, rows]`` through ``w2d``
    on tiles of ``rows`` × ``cols`` blocks: each tile's read of each vector scaled
    (noise management, ``by_max``; :func:`.tiles.scaled_linear_partials`), ``noisy``
    (its output noise), through ``adc`` (range ``half``, ``levels``), multiplied back
    and added over the tiles. With bound management (``limit``: the largest
    reduction, None: off) every vector of a tile found saturated is read again at
    twice the reduction while its reduction is at most ``limit``, the other vectors
    keeping their read; each round reads only the vectors that need it (every vector
    re-read in a round has the same reduction: each doubles from 1 once per round)."""

    def read(index: torch.Tensor | None, reduction: float) -> tuple[torch.Tensor, torch.Tensor]:
        some = vectors if index is None else vectors.index_select(0, index)
        parts, scale = tiles.scaled_linear_partials(some, w2d, rows, dac, by_max, reduction)
        return noisy(parts), scale  # [n, R, out], [n, R, 1]

    parts, scale = read(None, 1.0)
    out = adc(parts) * scale
    if limit is not None:
        assert half is not None
        again = saturated(parts, half, levels, cols)
        reduction = 1.0
        while reduction <= limit and bool(again.any()):
            reduction *= 2
            index = again.flatten(1).any(1).nonzero().squeeze(1)
            parts, scale = read(index, reduction)
            redo = again.index_select(0, index)
            kept = out.index_select(0, index)
            out = out.index_copy(0, index, torch.where(redo, adc(parts) * scale, kept))
            again = again.index_copy(0, index, redo & saturated(parts, half, levels, cols))
    return out.sum(-2)
