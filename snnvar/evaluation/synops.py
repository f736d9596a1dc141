"""Synaptic operations: the accumulates that input events trigger in a layer.

A non-zero input at position ``i`` of a Linear or convolution layer costs one
accumulate per output it connects to (its fan-out). With spike inputs the sum
``Σ_i [x_i ≠ 0] · fanout_i`` over time steps is the layer's synaptic operations
(SynOps, the usual energy proxy of SNN hardware, e.g. Sengupta et al., 2019);
with analog inputs (a first layer fed with direct current) it counts the
multiply-accumulates of the non-zero inputs. The fan-out map is exact for any
stride, padding, dilation and groups: it is the gradient of the layer's output
sum with all-ones weights, computed once per input shape.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["SynOpsRecord", "count_synops", "fanout"]

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def fanout(layer: nn.Module, in_shape: tuple[int, ...]) -> torch.Tensor:
    """Outputs each input element of one sample (``in_shape`` without batch) connects to."""
    if isinstance(layer, nn.Linear):
        return torch.full(in_shape, float(layer.out_features))
    if isinstance(layer, nn.Conv1d | nn.Conv2d | nn.Conv3d):
        x = torch.ones((1, *in_shape), requires_grad=True)
        with torch.enable_grad():
            ones = torch.ones_like(layer.weight, device="cpu", dtype=torch.float32)
            layer._conv_forward(x, ones, None).sum().backward()  # type: ignore[operator]
        assert x.grad is not None
        return x.grad[0]
    raise TypeError(f"no fan-out for {type(layer).__name__}; supported: Linear, Conv1d/2d/3d")


@dataclass
class SynOpsRecord:
    """Synaptic operations per layer (summed over everything seen in the block)."""

    layers: dict[str, float] = field(default_factory=dict)
    """Layer name -> operations."""

    @property
    def total(self) -> float:
        """Synaptic operations per sample, summed over the layers."""
        return sum(self.layers.values())


@contextlib.contextmanager
def count_synops(model: nn.Module) -> Iterator[SynOpsRecord]:
    """Count the synaptic operations of every Linear / Conv layer inside the block."""
    record = SynOpsRecord()
    cache: dict[tuple[str, tuple[int, ...]], torch.Tensor] = {}
    handles = []

    def hook_for(name: str):
        def hook(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            x = args[0].detach()
            unbatched = 1 if isinstance(module, nn.Linear) else module.weight.dim() - 1
            shape = tuple(x.shape[x.dim() - unbatched :])
            key = (name, shape)
            if key not in cache:
                cache[key] = fanout(module, shape).to(x.device)
            active = (x != 0).reshape(-1, *shape).sum(0, dtype=torch.float32)
            record.layers[name] = record.layers.get(name, 0.0) + float((active * cache[key]).sum())

        return hook

    try:
        for name, module in model.named_modules():
            if isinstance(module, _LAYERS):
                record.layers[name] = 0.0
                handles.append(module.register_forward_pre_hook(hook_for(name)))
        yield record
    finally:
        for h in handles:
            h.remove()
