"""A Sequential container for time-major spiking networks, and output readouts.

In :class:`SpikingSequential` the layers keep their ANN meaning and indices:
neuron loops (:class:`~snnvar.nn.TimeLoop`) stand where an ANN has ReLU, and
stateless layers (Conv, Linear, BatchNorm, pooling, Flatten) are applied to all
time steps at once as one ``[T·B, ...]`` batch. While a *dynamic* variation
(:mod:`snnvar.variation`, ``mode="dynamic"``) perturbs a layer, that layer is
instead called once per time step, so read noise is redrawn at every step, as
a crossbar read at every step would be. Dropout draws one mask per sample and
keeps it for all steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..variation import per_read
from .functional import leaky_integrate
from .neurons import TimeLoop, check_time_major

__all__ = ["READOUTS", "Readout", "SpikingSequential", "over_time"]

READOUTS = ("spike_count", "mean_membrane", "last_membrane")
"""The output readouts."""


class Readout(nn.Module):
    """Time-major output ``[T, B, C]`` to logits ``[B, C]``.

    - ``"spike_count"``: the number of output spikes (put a neuron loop before it);
    - ``"mean_membrane"``: mean over time of a non-spiking leaky integrator
      ``m_t = β m_{t-1} + x_t`` driven by the output layer (β = 0: the mean
      synaptic current, independent of T);
    - ``"last_membrane"``: that integrator's membrane at the last step (β = 1:
      the summed current, the output layer of converted SNNs).
    """

    temporal = True
    """Takes the whole sequence ``[T, B, C]`` (not one step at a time)."""

    def __init__(self, kind: str = "mean_membrane", beta: float = 0.0) -> None:
        super().__init__()
        if kind not in READOUTS:
            raise ValueError(f"unknown readout {kind!r}; available: {list(READOUTS)}")
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"readout beta must lie in [0, 1], got {beta}")
        self.kind = kind
        self.beta = float(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_time_major(x, 2, "Readout")
        if self.kind == "spike_count":
            return x.sum(0)
        return leaky_integrate(x, self.beta, "mean" if self.kind == "mean_membrane" else "last")

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, beta={self.beta}"


def over_time(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply one layer to time-major ``x`` ``[T, B, ...]`` (see the module docstring)."""
    if isinstance(layer, TimeLoop) or getattr(layer, "temporal", False):
        return layer(x)
    if isinstance(layer, nn.Dropout):
        if not layer.training or layer.p == 0.0:
            return x
        mask = F.dropout(torch.ones_like(x[0]), layer.p, training=True)
        return x * mask
    if per_read(layer):
        if getattr(layer, "whole_batch", False):
            raise ValueError(
                f"{type(layer).__name__} fuses a BatchNorm whose training statistics span "
                "every time step, so it cannot be read once per step: train it under a "
                "static variation or redraw='pass', or restrict without fuse_batchnorm"
            )
        return torch.stack([layer(x[t]) for t in range(x.shape[0])])
    return layer(x.flatten(0, 1)).unflatten(0, x.shape[:2])


class SpikingSequential(nn.Sequential):
    """Layers in order over time-major input ``[T, B, ...]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        check_time_major(x, 3, type(self).__name__)
        for layer in self:
            x = over_time(layer, x)
        return x
