"""BatchNorm folded into the Conv2d / Linear before it (HRAT's BN fusing, used by
:mod:`.restrict`): the running-statistics update the restricted layer performs, and
the BatchNorm classes that then pass their input through."""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    "FusedBatchNorm1d",
    "FusedBatchNorm2d",
    "batchnorm_pairs",
    "fused_class",
    "update_running",
]


def update_running(
    bn: _BatchNorm, channels: slice, mean: torch.Tensor, y0: torch.Tensor, dims: list[int],
    first: bool,
) -> None:  # fmt: skip
    """BatchNorm's running-statistics update for ``channels`` (unbiased variance)."""
    with torch.no_grad():
        if first:
            bn.num_batches_tracked.add_(1)  # type: ignore[operator]
        momentum = bn.momentum
        factor = 1.0 / float(bn.num_batches_tracked) if momentum is None else momentum
        n = y0.numel() // y0.shape[1]
        var = y0.detach().var(dims, correction=1 if n > 1 else 0)
        bn.running_mean[channels].mul_(1 - factor).add_(mean, alpha=factor)  # type: ignore[index]
        bn.running_var[channels].mul_(1 - factor).add_(var, alpha=factor)  # type: ignore[index]


class _FusedBatchNorm:
    """A BatchNorm folded into the layer before it: passes its input through (its
    parameters and statistics stay here, read by that layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class FusedBatchNorm1d(_FusedBatchNorm, nn.BatchNorm1d):
    """A BatchNorm1d folded into the layer before it."""


class FusedBatchNorm2d(_FusedBatchNorm, nn.BatchNorm2d):
    """A BatchNorm2d folded into the layer before it."""


_FUSED_CLASSES: dict[type, type] = {
    nn.BatchNorm1d: FusedBatchNorm1d,
    nn.BatchNorm2d: FusedBatchNorm2d,
}


def fused_class(cls: type) -> type:
    """The fused counterpart of a BatchNorm class (made on first use for one that is
    not BatchNorm1d/2d)."""
    if cls not in _FUSED_CLASSES:  # another BatchNorm class (not picklable)
        _FUSED_CLASSES[cls] = type(f"Fused{cls.__name__}", (_FusedBatchNorm, cls), {})
    return _FUSED_CLASSES[cls]


def batchnorm_pairs(
    model: nn.Module, deployable: tuple[type, ...]
) -> dict[str, tuple[str, _BatchNorm, list[tuple[str, int]]]]:
    """BatchNorm path -> (path, module, [(weighted layer path, first channel)]) for every
    BatchNorm that directly follows a layer of a ``deployable`` type (a Conv2d /
    Linear) or a Concat of them, among its parent's children."""
    from ..models.network import Concat

    pairs = {}
    for parent_name, parent in model.named_modules():
        children = list(parent.named_children())
        for (prev_name, prev), (name, child) in itertools.pairwise(children):
            if not isinstance(child, _BatchNorm):
                continue
            prefix = f"{parent_name}." if parent_name else ""
            path = prefix + name
            if type(prev) in deployable:
                pairs[path] = (path, child, [(prefix + prev_name, 0)])
            elif isinstance(prev, Concat) and all(type(b) in deployable for b in prev.branches):
                first, layers = 0, []
                for i, branch in enumerate(prev.branches):
                    layers.append((f"{prefix}{prev_name}.branches.{i}", first))
                    first += branch.weight.shape[0]
                pairs[path] = (path, child, layers)
    return pairs
