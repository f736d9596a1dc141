"""A reference of aihwkit's analog matrix-vector product, tile by tile, written from its
``AnalogMVM`` (``aihwkit/simulator/tiles/analog_mvm.py``, one pass, no noise): the
input divided by its noise-management scale, the DAC (``UniformQuantize`` then the
clip at ``inp_bound``), the product with the tile's weights (``W · ω / max|W_tile|``
with weight scaling), the ADC (``out_res`` over ``±out_bound``), and the output
multiplied back. For tests that check snnvar's tiles against aihwkit's rules."""

from __future__ import annotations

import torch


def uniform_quantize(v: torch.Tensor, bits: int, bound: float) -> torch.Tensor:
    """aihwkit's ``UniformQuantize`` with ``res = 1/(2^bits − 2)``, then its clip."""
    step = 2 * bound / (2**bits - 2)
    return (torch.round(v / step) * step).clamp(-bound, bound)


def reference_tiles(
    x2d: torch.Tensor, w2d: torch.Tensor, rows: list[int], out_bound: float, in_bits: int,
    out_bits: int, inp_bound: float = 1.0, omega: float = 1.0, abs_max: bool = True,
    bm_limit: float | None = None,
) -> torch.Tensor:  # fmt: skip
    """``x2d`` [N, in] through ``w2d`` [out, in] split into row blocks ``rows``, each an
    aihwkit tile: noise management ABS_MAX (``abs_max``; else none), weight scaling
    ``omega`` (≤ 0: the weights as they are), ``inp_bound``, ``out_bound``, iterative
    bound management (``forwardVector``'s loop, vector by vector) while the reduction
    is at most ``bm_limit`` (None: off); float64."""
    y = torch.zeros(x2d.shape[0], w2d.shape[0], dtype=torch.float64)
    step = 2 * out_bound / (2**out_bits - 2)
    start = 0
    for n in rows:
        xt, wt = x2d[:, start : start + n].double(), w2d[:, start : start + n].double()
        start += n
        alpha = wt.abs().max() / omega if omega > 0 else torch.tensor(1.0).double()
        for i, vector in enumerate(xt):
            s = float(vector.abs().max()) if abs_max else 1.0
            s = s if s > 0 else 1.0
            reduction = 1.0
            while True:
                xq = uniform_quantize(vector / (s * reduction), in_bits, inp_bound)
                raw = torch.round(xq @ (wt / alpha).T / step) * step
                if bm_limit is None or not bool((raw.abs() > out_bound).any()):
                    break
                if reduction > bm_limit:
                    break
                reduction *= 2
            y[i] += raw.clamp(-out_bound, out_bound) * s * reduction * alpha
    return y
