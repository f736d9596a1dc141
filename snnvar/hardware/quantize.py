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

__all__ = ["quantize", "quantize_each", "ste_round"]


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` forward, identity backward."""
    return x + (torch.round(x) - x).detach()


class _Quantize(torch.autograd.Function):
    """``round(clamp(x, ±h) / step) · step`` (``centred``: an odd number of levels, zero
    one of them) or ``round((clamp(x, ±h) + h) / step) · step − h`` (an even number) in
    one pass (in place on one buffer), times ``live`` (0 where a range is empty);
    backward: the gradient where ``|x| <= h`` (edges included) and the range is live.
    The same float operations, in the same order, as the composition of ``clamp`` and
    :func:`ste_round`, so the same values; the range gets no gradient (callers pass
    ranges that need none)."""

    @staticmethod
    def forward(ctx, x, step, half, live, centred):  # type: ignore[override]
        if ctx.needs_input_grad[0]:  # the mask, not x, is kept for the backward pass
            edge = half if live is None else torch.where(live > 0, half, -1.0)
            ctx.save_for_backward(x.abs() <= edge)
        q = torch.clamp(x, -half, half)
        if centred:
            q.div_(step).round_().mul_(step)
        else:
            q.add_(half).div_(step).round_().mul_(step).sub_(half)
        if live is not None:
            q.mul_(live)
        return q

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None, None, None


def quantize(x: torch.Tensor, levels: int, half: torch.Tensor | float) -> torch.Tensor:
    """``x`` clipped to ``[-half, half]`` and rounded to ``levels`` (>= 2) evenly spaced
    values from ``-half`` to ``half`` (straight-through rounding; with an odd number of
    levels, zero among them, a value halfway between two levels goes to the even
    multiple of the step, as ``round(x / step)`` and aihwkit's converters round). ``half``
    <= 0 (e.g. an all-zero layer): ``x`` clipped to 0."""
    if levels < 2:
        raise ValueError(f"a quantiser needs at least 2 levels, got {levels}")
    half = torch.as_tensor(half, dtype=x.dtype, device=x.device)
    if not bool(half > 0):
        return x * 0.0
    step = 2.0 * half / (levels - 1)
    if half.requires_grad:  # a range that learns: through the composition
        clipped = torch.clamp(x, -half, half)  # gradient 1 on [-half, half], edges included
        if levels % 2:
            return ste_round(clipped / step) * step
        return ste_round((clipped + half) / step) * step - half
    return _Quantize.apply(x, step, half, None, bool(levels % 2))


def quantize_each(x: torch.Tensor, levels: int, half: torch.Tensor) -> torch.Tensor:
    """:func:`quantize` with a range per entry: ``half`` a tensor broadcast against
    ``x`` (a range per tile or column; it gets no gradient); where ``half`` is 0 the
    output, and its gradient, is 0."""
    if levels < 2:
        raise ValueError(f"a quantiser needs at least 2 levels, got {levels}")
    half = half.detach().to(dtype=x.dtype, device=x.device)
    live = (half > 0).to(x.dtype)  # no host sync: the mask multiplies in
    half = torch.where(half > 0, half, torch.ones_like(half))
    return _Quantize.apply(x, 2.0 * half / (levels - 1), half, live, bool(levels % 2))
