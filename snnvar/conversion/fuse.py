"""Sequential layers of an ANN, with BatchNorm folded into the layer before it.

A ``Conv2d`` / ``Linear`` (or the zoo's ``Concat`` of convolutions) followed by
BatchNorm in eval mode computes ``γ (W x + b − μ) / √(σ² + ε) + β``; the fused
layer has ``W' = W · γ/√(σ² + ε)`` (per output channel) and
``b' = (b − μ) γ/√(σ² + ε) + β``: the same function, one layer. A residual block
(:class:`~snnvar.nn.Residual`) stays one item whose body, shortcut and post are
fused the same way, each within its own branch.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..models.network import Concat, Network
from ..nn.residual import Residual

__all__ = ["SUPPORTED", "flatten_layers", "fuse_batchnorm"]

WEIGHTED = (nn.Conv2d, nn.Linear, Concat)
"""Layers with device weights (a Concat of convolutions counts as one)."""

SUPPORTED = (
    nn.Conv2d,
    nn.Linear,
    Concat,
    nn.ReLU,
    nn.AvgPool2d,
    nn.MaxPool2d,
    nn.Dropout,
    nn.Flatten,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.Identity,
    Residual,
)
"""Module types :func:`~snnvar.conversion.convert` accepts."""


def flatten_layers(ann: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(path, module)`` of the ANN's layers in order, through nested ``nn.Sequential``;
    a :class:`~snnvar.nn.Residual` is one item (its parts checked the same way).

    Raises ``ValueError`` naming the first unsupported module and its path.
    """
    out: list[tuple[str, nn.Module]] = []

    def walk(module: nn.Module, path: str, into: list[tuple[str, nn.Module]]) -> None:
        if isinstance(module, nn.Sequential | Network):
            for name, child in module.named_children():
                walk(child, f"{path}.{name}" if path else name, into)
        elif isinstance(module, SUPPORTED):
            if isinstance(module, Concat):
                for i, b in enumerate(module.branches):
                    if not isinstance(b, nn.Conv2d):
                        raise ValueError(
                            f"cannot convert {type(b).__name__} at '{path}.branches.{i}': "
                            "a Concat converts only when every branch is a Conv2d"
                        )
            if isinstance(module, Residual):  # its layers are checked; they stay inside it
                for part in ("body", "shortcut", "post"):
                    for name, child in getattr(module, part).named_children():
                        if type(child) in (nn.Sequential, Network):
                            raise ValueError(
                                f"cannot convert the {type(child).__name__} at "
                                f"'{path}.{part}.{name}': a residual block's branches hold "
                                "layers, not nested containers"
                            )
                        walk(child, f"{path}.{part}.{name}", [])
            into.append((path, module))
        else:
            names = sorted({t.__name__ for t in SUPPORTED})
            where = path or "the model itself"
            raise ValueError(
                f"cannot convert {type(module).__name__} at {where!r}: supported layers are "
                f"{names} inside nn.Sequential (or a snnvar zoo ANN)"
            )

    walk(ann, "", out)
    if not out:
        raise ValueError("the ANN has no layers to convert")
    return out


def _fold(layer: nn.Module, scale: torch.Tensor, shift: torch.Tensor) -> None:
    """``layer(x) ← scale ⊙ layer(x) + shift`` per output channel, in place."""
    w = layer.weight
    with torch.no_grad():
        w.mul_(scale.view(-1, *([1] * (w.dim() - 1))))
        if layer.bias is None:
            layer.bias = nn.Parameter(torch.zeros(w.shape[0], dtype=w.dtype, device=w.device))
        layer.bias.mul_(scale).add_(shift)


def fuse_batchnorm(layers: list[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module]]:
    """Copies of ``layers`` with every BatchNorm folded into the weighted layer before it
    (inside a residual block: within each of its branches)."""
    out: list[tuple[str, nn.Module]] = []
    for path, module in layers:
        if isinstance(module, Residual):
            out.append((path, fuse_residual(module, path)))
            continue
        if not isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            out.append((path, copy.deepcopy(module)))
            continue
        prev = out[-1][1] if out else None
        if not isinstance(prev, WEIGHTED):
            raise ValueError(
                f"cannot fuse BatchNorm at {path!r}: it must follow a Conv2d, Linear or "
                f"Concat, not {type(prev).__name__ if prev is not None else 'nothing'}"
            )
        if module.running_mean is None or module.running_var is None:
            raise ValueError(f"BatchNorm at {path!r} tracks no running statistics to fuse")
        std = (module.running_var + module.eps).sqrt()
        gamma = module.weight if module.affine else torch.ones_like(std)
        beta = module.bias if module.affine else torch.zeros_like(std)
        scale = (gamma / std).detach()
        shift = (beta - module.running_mean * gamma / std).detach()
        if isinstance(prev, Concat):
            start = 0
            for conv in prev.branches:
                n = conv.out_channels
                _fold(conv, scale[start : start + n], shift[start : start + n])
                start += n
        else:
            _fold(prev, scale, shift)
    return out


def fuse_residual(block: Residual, path: str = "") -> Residual:
    """A copy of ``block`` with the BatchNorms of its body, shortcut and post folded
    into the layer before them; the other layers keep their names (so a fused layer's
    parameters keep theirs)."""
    parts = []
    for part in ("body", "shortcut", "post"):
        inner = getattr(block, part)
        prefix = f"{path}.{part}" if path else part
        items = fuse_batchnorm([(f"{prefix}.{n}", m) for n, m in inner.named_children()])
        fused = type(inner)()
        for p, m in items:
            fused.add_module(p.rsplit(".", 1)[-1], m)
        parts.append(fused)
    return Residual(*parts)
