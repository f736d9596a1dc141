"""Crossbar tiles: a layer split over finite arrays, each with its own converters.

A Linear's weight ``W`` (out × in) or a Conv2d's (out × in_channels·k·k, the im2col
rows in ``unfold``'s channel-major order) is programmed onto arrays of at most
``array_rows`` rows (inputs) and ``array_cols`` columns (outputs). The rows are
split into ``ceil(n / array_rows)`` blocks of near-equal size (sizes differ by at
most one), as aihwkit and aihwkit-lightning split a layer
(``AnalogLinear.get_split_sizes``); the columns likewise. Every row block reads
its inputs through its own DAC and yields a partial output per column through its
own ADC; the partial outputs are added digitally (Gokmen & Vlasov 2016; the
mapping of aihwkit's ``mapping.max_input_size`` / ``max_output_size``). Columns
are independent in the matrix-vector product, so the column split changes only
what a tile's full scale is (the largest ``|W|`` of its own columns).

Pure functions; :mod:`.restrict` calls them from a restricted layer's forward
pass.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "MASKED_CONV_TILES",
    "adc_ranges",
    "bias_max",
    "block_max",
    "conv_partials",
    "element_max",
    "input_vectors",
    "linear_partials",
    "per_element",
    "scaled_linear_partials",
    "split_sizes",
    "tile_shape",
    "unfolded",
]


MASKED_CONV_TILES = 2
"""Up to this many row blocks a split Conv2d runs as one masked convolution (R times
its multiply-adds, in the convolution kernel); more, ``unfold`` and one batched
product. Measured on 2 CPU cores (a 64→64 3×3 convolution on 14×14, batch 64,
forward and backward): 2 blocks 90 ms masked vs 94 ms unfolded, 4 blocks 83 vs 70,
8 blocks 196 vs 112."""


def split_sizes(n: int, most: int | None) -> list[int]:
    """``n`` rows (or columns) over arrays of at most ``most``: ``ceil(n / most)``
    blocks of near-equal size, the larger first (aihwkit's split); ``most`` None: one
    block."""
    if n < 1:
        raise ValueError(f"a layer needs at least one row and column, got {n}")
    if most is None or most >= n:
        return [n]
    count = math.ceil(n / most)
    base, extra = divmod(n, count)
    return [base + (i < extra) for i in range(count)]


def tile_shape(
    weight: torch.Tensor, rows: int | None, cols: int | None
) -> tuple[list[int], list[int]]:
    """The row and column block sizes of a Linear / Conv2d ``weight`` (rows: the
    inputs, ``weight[0].numel()``; columns: the outputs)."""
    return split_sizes(weight[0].numel(), rows), split_sizes(weight.shape[0], cols)


def _offsets(sizes: list[int]) -> list[tuple[int, int]]:
    """``[(start, end)]`` of consecutive blocks of ``sizes``."""
    ends = list(itertools.accumulate(sizes))
    return [(e - s, e) for s, e in zip(sizes, ends, strict=True)]


def block_max(
    w2d: torch.Tensor, rows: list[int], cols: list[int], per_column: bool = False
) -> torch.Tensor:
    """``max |W|`` of every tile, shape ``(len(rows), out)``: entry ``[r, o]`` is the
    largest ``|W|`` of the tile holding row block ``r`` and column ``o`` (``per_column``:
    of column ``o`` within row block ``r`` only). Detached: a range set from the
    weights, not trained through."""
    a = w2d.detach().abs()
    per_row_block = [a[:, start:end].amax(dim=1) for start, end in _offsets(rows)]  # (out,)
    return torch.stack([v if per_column else _column_block_max(v, cols) for v in per_row_block])


def _column_block_max(values: torch.Tensor, cols: list[int]) -> torch.Tensor:
    """``values`` (one per column) replaced by their largest within each column block."""
    return torch.cat([values[c0:c1].amax().expand(c1 - c0) for c0, c1 in _offsets(cols)])


def bias_max(b: torch.Tensor, cols: list[int], per_column: bool = False) -> torch.Tensor:
    """``|b|`` per column (``per_column``) or its largest per column block, shape
    ``(out,)``, detached: a bias held as a row of an array counts in its full scale."""
    a = b.detach().abs()
    return a if per_column else _column_block_max(a, cols)


def adc_ranges(
    reference: torch.Tensor, row_bias: torch.Tensor | None, rows: list[int], cols: list[int],
    x_max: float, bound: float, per_column: bool = False,
) -> torch.Tensor:  # fmt: skip
    """The half-range of every tile's ADC, ``(R, out)``: ``bound`` times the tile's full
    scale ``x_max · max|W′|`` (of each column: ``per_column``), aihwkit's ``out_bound``;
    on the first tile at least ``|b′|`` when the bias is a row of it (``row_bias``: a
    row ``b′/x_max`` driven at ``x_max``). ``reference``: the programmed weights."""
    full = x_max * block_max(reference.reshape(reference.shape[0], -1), rows, cols, per_column)
    if row_bias is not None:
        first = torch.maximum(full[0], bias_max(row_bias, cols, per_column))
        full = torch.cat([first.unsqueeze(0), full[1:]])
    return bound * full


def element_max(w2d: torch.Tensor, rows: list[int], cols: list[int]) -> torch.Tensor:
    """``max |W|`` of the tile holding each element of ``w2d`` (same shape), detached."""
    return per_element(block_max(w2d, rows, cols), rows)


def per_element(per_tile: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """A value per row block and column, ``(R, out)``, spread over the elements of
    ``W`` (``(out, in)``): each element takes its row block's value of its column."""
    return torch.cat([per_tile[r].unsqueeze(1).expand(-1, n) for r, n in enumerate(rows)], dim=1)


def blocked(t: torch.Tensor, dim: int, rows: list[int]) -> torch.Tensor:
    """``t`` with its dimension ``dim`` (the layer's rows) as ``(R, max block)``, each
    block zero-padded to the largest: a view when the blocks are equal, else one
    gather."""
    dim = dim % t.dim()
    if len(set(rows)) == 1:
        return t.unflatten(dim, (len(rows), rows[0]))
    n, widest = sum(rows), max(rows)
    index = torch.full((len(rows), widest), n, dtype=torch.long)
    for r, (s, e) in enumerate(_offsets(rows)):
        index[r, : e - s] = torch.arange(s, e)
    zero = torch.zeros_like(t.narrow(dim, 0, 1))
    padded = torch.cat([t, zero], dim)  # position n: a zero row for the padding
    return padded.index_select(dim, index.flatten().to(t.device)).unflatten(
        dim, (len(rows), widest)
    )


def linear_partials(x: torch.Tensor, w: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """The partial outputs of a Linear's row blocks, ``[..., R, out]``: entry ``r`` is
    ``x[..., block r] @ W[:, block r]ᵀ`` (one batched product)."""
    return _block_products(blocked(x, -1, rows), w, rows)


def _block_products(xb: torch.Tensor, w: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """``[..., R, out]`` from inputs already in blocks ``[..., R, k]``."""
    lead, (count, k) = xb.shape[:-2], xb.shape[-2:]
    wb = blocked(w, 1, rows).permute(1, 2, 0)  # [R, k, out]
    y = torch.bmm(xb.reshape(-1, count, k).transpose(0, 1), wb)  # [R, N, out]
    return y.transpose(0, 1).reshape(*lead, count, w.shape[0])


Converter = Callable[[torch.Tensor], torch.Tensor]
"""A DAC: the inputs as the array receives them."""


def _scaled(
    xb: torch.Tensor, dim: int, dac: Converter, by_max: bool, reduction: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs in blocks, each vector (along ``dim``) divided by its scale, its largest
    ``|x|`` (``by_max``; else 1) times ``reduction``, and passed through ``dac``; and
    those scales (detached, as aihwkit computes them without gradient; 0 for a zero
    vector, which reads zero), ``dim`` kept."""
    if by_max:
        top = xb.detach().abs().amax(dim, keepdim=True)
    else:
        top = torch.ones_like(xb.detach().narrow(dim, 0, 1))
    driven = top > 0
    scale = top * reduction
    divisor = torch.where(driven, scale, torch.ones_like(scale))
    return dac(xb / divisor), torch.where(driven, scale, torch.zeros_like(scale))


def scaled_linear_partials(
    x: torch.Tensor, w: torch.Tensor, rows: list[int], dac: Converter, by_max: bool = True,
    reduction: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """A Linear's partial outputs ``[..., R, out]`` under noise management (aihwkit's
    ``NoiseManagementType.ABS_MAX``, ``by_max``) and bound management (the inputs
    divided by ``reduction`` too): each row block divides each input vector by its
    scale before ``dac``; returns the partials of the scaled inputs and the scales
    ``[..., R, 1]`` that multiply them back after the ADC (0 for a zero vector)."""
    xs, scale = _scaled(blocked(x, -1, rows), -1, dac, by_max, reduction)
    return _block_products(xs, w, rows), scale


def input_vectors(
    layer: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """The input vectors an array reads, ``[N, rows]``: a Linear's inputs, a Conv2d's
    patches (its im2col columns, ``groups`` 1); and the map of outputs ``[N, out]``
    back to the layer's output shape."""
    if isinstance(layer, nn.Linear):
        lead = x.shape[:-1]
        return x.reshape(-1, x.shape[-1]), lambda y: y.reshape(*lead, y.shape[-1])
    conv: nn.Conv2d = layer  # type: ignore[assignment]
    unbatched = x.dim() == 3
    cols, (height, width) = unfolded(conv, x.unsqueeze(0) if unbatched else x)
    batch, rows, positions = cols.shape

    def restore(y: torch.Tensor) -> torch.Tensor:
        out = y.reshape(batch, positions, -1).transpose(1, 2).unflatten(-1, (height, width))
        return out.squeeze(0) if unbatched else out

    return cols.transpose(1, 2).reshape(-1, rows), restore


def unfolded(conv: nn.Conv2d, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """``x`` (batched) padded as ``conv`` pads it and unfolded into its im2col columns
    ``[B, in·k·k, L]``, with the output's height and width."""
    pad = conv._reversed_padding_repeated_twice
    if any(pad):
        mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
        x = F.pad(x, pad, mode=mode)
    cols = F.unfold(x, conv.kernel_size, dilation=conv.dilation, stride=conv.stride)
    kh, kw = conv.kernel_size
    dh, dw = conv.dilation
    sh, sw = conv.stride
    height = (x.shape[-2] - dh * (kh - 1) - 1) // sh + 1
    width = (x.shape[-1] - dw * (kw - 1) - 1) // sw + 1
    return cols, (height, width)


def conv_partials(
    conv: nn.Conv2d, x: torch.Tensor, w: torch.Tensor, rows: list[int]
) -> torch.Tensor:
    """The partial outputs of a Conv2d's row blocks (im2col rows in ``unfold``'s order:
    channel, then kernel row, then kernel column), ``[B, R, out, H, W]`` (``[R, out,
    H, W]`` for an unbatched input). ``groups`` must be 1. Up to
    :data:`MASKED_CONV_TILES` blocks: one convolution with ``R·out`` filters, each
    block's weights with the others' zeroed; more: ``unfold`` and one batched
    product (the fewer operations, at ``k²`` times the input's memory)."""
    if len(rows) <= MASKED_CONV_TILES:
        masks = torch.zeros(len(rows), w[0].numel(), dtype=w.dtype, device=w.device)
        for r, (s, e) in enumerate(_offsets(rows)):
            masks[r, s:e] = 1
        masked = w.unsqueeze(0) * masks.view(len(rows), 1, *w.shape[1:])
        y = conv._conv_forward(x, masked.flatten(0, 1), None)  # [B, R·out, H, W]
        return y.unflatten(-3, (len(rows), w.shape[0]))
    unbatched = x.dim() == 3
    cols, (height, width) = unfolded(conv, x.unsqueeze(0) if unbatched else x)
    wb = blocked(w.reshape(w.shape[0], -1), 1, rows).transpose(0, 1)  # [R, out, k]
    y = torch.matmul(wb, blocked(cols, 1, rows))  # [B, R, out, L]
    y = y.unflatten(-1, (height, width))
    return y.squeeze(0) if unbatched else y
