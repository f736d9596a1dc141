"""What a restricted model is and does: its layers (:func:`describe`), the op-amp
swing its outputs need (:func:`output_swing_from_data`) and its chip under each
restriction alone (:func:`ablation`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .restrict import deploy, restrict, restricted_layers, restrictions_of
from .restrictions import Restrictions, single_restrictions

__all__ = ["ablation", "describe", "output_swing_from_data"]


@torch.no_grad()
def output_swing_from_data(
    model: nn.Module, inputs: torch.Tensor, percentile: float = 99.9, fuse_batchnorm: bool = True
) -> float:
    """An op-amp swing set from the data: the ``percentile`` of ``|output|`` of every
    Conv2d / Linear of ``model`` (BatchNorm fused when ``fuse_batchnorm``) over
    ``inputs`` (the model's input, e.g. a calibration batch), all layers pooled."""
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must lie in (0, 100], got {percentile}")
    chip = restrict(model, Restrictions(fuse_batchnorm=fuse_batchnorm)).eval()
    seen: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: seen.append(out.detach().abs().flatten()))
        for m in restricted_layers(chip).values()
    ]
    try:
        chip(inputs)
    finally:
        for h in hooks:
            h.remove()
    values = torch.cat(seen).float()
    k = max(1, min(values.numel(), round(percentile / 100.0 * values.numel())))
    return float(values.kthvalue(k).values)


def ablation(model: nn.Module, restrictions: Restrictions) -> dict[str, nn.Module]:
    """``model`` deployed on each of :func:`single_restrictions` (name -> chip), for
    :func:`snnvar.evaluate`: every chip keeps the model's weight names, so all of them
    see the same simulated devices. ``model`` must be unrestricted."""
    if restrictions_of(model) is not None:
        raise ValueError(
            "ablation needs the unrestricted model (a model trained on the restricted chip "
            "has no restriction to take away)"
        )
    return {
        name: deploy(restrict(model, r)) for name, r in single_restrictions(restrictions).items()
    }


def describe(model: nn.Module) -> list[dict[str, Any]]:
    """Per restricted layer: name, analog input, fused BatchNorm, deployed, input scale,
    the sizes of its arrays' row and column blocks, and the largest input a tile
    receives (``x_max``)."""
    return [m.summary() for m in restricted_layers(model).values()]  # type: ignore[operator]
