"""Static inputs -> time-major spike/current tensors ``[T, B, ...]``.

Event frames are already time-major per sample (``[T, 2, H, W]``);
:func:`time_major` turns a batch ``[B, T, ...]`` from a DataLoader into ``[T, B, ...]``.
"""

from __future__ import annotations

import torch

__all__ = ["ENCODERS", "NORMALIZATION", "direct", "encode", "latency", "rate", "time_major"]

ENCODERS = ("rate", "direct", "latency", "frames", "none")
"""How a batch becomes model input: spike encoders over ``steps``, ``frames``
(``[B, T, ...]`` event frames to time-major), or ``none`` (as is: ANNs)."""

NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
"""Per-channel (mean, std) of the training sets, for inputs in [0, 1]."""


def _steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    return steps


def rate(
    x: torch.Tensor, steps: int, generator: torch.Generator, gain: float = 1.0
) -> torch.Tensor:
    """Bernoulli rate coding: spike with probability ``gain * x`` at each step.

    ``x`` must lie in [0, 1] (after ``gain``); returns float spikes ``[T, *x.shape]``.
    """
    p = x * gain
    if p.numel() and (p.min() < 0 or p.max() > 1):
        raise ValueError(
            f"rate coding needs probabilities in [0, 1], got values in "
            f"[{p.min().item():.3g}, {p.max().item():.3g}] (scale the input or the gain)"
        )
    u = torch.rand((_steps(steps), *x.shape), generator=generator, device=generator.device)
    return (u.to(x.device) < p).to(x.dtype)


def direct(x: torch.Tensor, steps: int) -> torch.Tensor:
    """Direct coding: the analog input as a constant current at every step."""
    return x.unsqueeze(0).expand(_steps(steps), *x.shape)


def latency(x: torch.Tensor, steps: int, threshold: float = 0.01) -> torch.Tensor:
    """Latency coding: one spike per input, earlier for larger values (x in [0, 1]).

    Step ``round((1 - x) (T - 1))``; inputs below ``threshold`` never spike.
    """
    t = _steps(steps)
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError("latency coding needs inputs in [0, 1]")
    when = torch.round((1 - x) * (t - 1)).long()
    out = torch.zeros((t, *x.shape), dtype=x.dtype, device=x.device)
    out.scatter_(0, when.unsqueeze(0), 1.0)
    return out * (x >= threshold).to(x.dtype)


def time_major(batch: torch.Tensor) -> torch.Tensor:
    """``[B, T, ...]`` (a DataLoader batch of event frames) -> ``[T, B, ...]``."""
    if batch.dim() < 3:
        raise ValueError(f"expected a batch [B, T, ...], got shape {tuple(batch.shape)}")
    return batch.transpose(0, 1)


def encode(
    x: torch.Tensor, encoder: str, steps: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A batch as model input, by encoder name (one of :data:`ENCODERS`).

    ``rate`` needs ``generator``; ``frames`` turns ``[B, T, ...]`` time-major;
    ``none`` returns ``x`` unchanged.
    """
    if encoder == "rate":
        if generator is None:
            raise ValueError("rate coding needs a torch.Generator (generator=...)")
        return rate(x, steps, generator=generator)
    if encoder == "direct":
        return direct(x, steps)
    if encoder == "latency":
        return latency(x, steps)
    if encoder == "frames":
        return time_major(x)
    if encoder == "none":
        return x
    raise ValueError(f"unknown encoder {encoder!r}; allowed: {list(ENCODERS)}")
