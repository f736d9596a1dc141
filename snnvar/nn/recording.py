"""Per-layer spike recording, switched on for a block and free when off.

``with record_spikes(model) as rec: model(x)`` hooks every neuron layer:
snnvar's :class:`~snnvar.nn.TimeLoop` (whatever its backend), and in a user's
own model, snntorch neurons and norse cells or sequence modules. Outside the
block no hook is registered, so recording costs nothing when off.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from .neurons import TimeLoop

__all__ = ["LayerSpikes", "SpikeRecord", "is_spiking", "neuron_layer_names", "record_spikes"]


@dataclass
class LayerSpikes:
    """What one neuron layer emitted while recording."""

    neurons: int = 0
    """Neurons in the layer (per sample)."""
    spikes: float = 0.0
    """Total spikes, summed over time steps, samples and neurons."""
    elements: int = 0
    """Neuron-steps observed (neurons x time steps x samples)."""
    samples: int = 0
    """Samples seen (0 where unknown: a cell stepped per call with no ``steps`` given)."""
    kept: list[torch.Tensor] = field(default_factory=list)
    """The spike tensors themselves (detached, on the CPU), with ``keep=True``."""

    @property
    def rate(self) -> float:
        """Spikes per neuron per time step."""
        return self.spikes / self.elements if self.elements else 0.0

    @property
    def per_sample(self) -> float:
        """Spikes per sample (all neurons, all steps); NaN where samples are unknown."""
        return self.spikes / self.samples if self.samples else float("nan")


@dataclass
class SpikeRecord:
    """Spike statistics per layer, by module name in the model."""

    layers: dict[str, LayerSpikes]
    """Layer name -> its statistics, in model order."""

    def rates(self) -> dict[str, float]:
        """Firing rate (spikes per neuron per step) per layer."""
        return {k: v.rate for k, v in self.layers.items()}

    def counts(self) -> dict[str, float]:
        """Spikes per sample per layer."""
        return {k: v.per_sample for k, v in self.layers.items()}

    @property
    def total_per_sample(self) -> float:
        """Spikes per sample over all layers."""
        return sum(v.per_sample for v in self.layers.values())


def _spikes_of(output: object) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output  # type: ignore[return-value]


def _neuron_layers(model: nn.Module) -> list[tuple[str, nn.Module, bool]]:
    """(name, module, is_sequence) for the neuron layers; cells inside a TimeLoop are skipped."""
    found: list[tuple[str, nn.Module, bool]] = []
    loops: list[str] = []
    for name, m in model.named_modules():
        if any(name.startswith(p + ".") for p in loops):
            continue
        if isinstance(m, TimeLoop) or getattr(m, "emits_spikes", False):
            loops.append(name)  # a module that says it emits spikes [T, B, ...] counts too
            found.append((name, m, True))
            continue
        kind = _foreign_kind(m)
        if kind is not None:
            loops.append(name)
            found.append((name, m, kind == "sequence"))
    return found


def neuron_layer_names(model: nn.Module) -> list[str]:
    """Names of the neuron layers :func:`record_spikes` would record (empty for an ANN)."""
    return [name for name, _, _ in _neuron_layers(model)]


def is_spiking(model: nn.Module) -> bool:
    """Whether ``model`` is an SNN: it says so (a true ``spiking`` attribute) or it
    holds neuron layers (:func:`neuron_layer_names`)."""
    return bool(getattr(model, "spiking", False)) or bool(neuron_layer_names(model))


def _foreign_kind(m: nn.Module) -> str | None:
    """``"step"`` / ``"sequence"`` for snntorch / norse neuron modules that emit
    spikes, else None. norse's leaky integrators (``LICell``, ``LI``, ``LIBoxCell``)
    share its neurons' base classes but output membrane voltages, not spikes."""
    if type(m).__module__.startswith("norse") and ".leaky_integrator" in type(m).__module__:
        return None
    for cls in type(m).__mro__:
        mod, qual = cls.__module__, cls.__qualname__
        if mod.startswith("snntorch") and qual == "SpikingNeuron":
            return "step"
        if mod.startswith("norse") and qual in ("SNNCell", "SNNRecurrentCell"):
            return "step"
        if mod.startswith("norse") and qual in ("SNN", "SNNRecurrent"):
            return "sequence"
    return None


@contextlib.contextmanager
def record_spikes(
    model: nn.Module, keep: bool = False, steps: int | None = None
) -> Iterator[SpikeRecord]:
    """Record spikes of every neuron layer of ``model`` inside the block.

    Args:
        keep: also keep the spike tensors (``[T, B, ...]``, or one ``[B, ...]``
            per call for cells stepped by the model itself).
        steps: time steps per sample, for models that step cells themselves
            (snntorch style), so spikes per sample can be reported.
    """
    if steps is not None and steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    layers = _neuron_layers(model)
    if not layers:
        raise ValueError(
            f"{type(model).__name__} has no neuron layers to record (snnvar TimeLoop, "
            "snntorch neurons or norse cells)"
        )
    record = SpikeRecord({name: LayerSpikes() for name, _, _ in layers})
    handles = []

    def hook_for(name: str, sequence: bool):
        stats = record.layers[name]

        def hook(_m: nn.Module, _args: object, output: object) -> None:
            spk = _spikes_of(output).detach()
            lead = 2 if sequence else 1
            stats.neurons = math.prod(spk.shape[lead:])
            stats.spikes += float(spk.sum())
            stats.elements += spk.numel()
            if sequence:
                stats.samples += spk.shape[1]
            elif steps is not None:
                stats.samples = stats.elements // (stats.neurons * steps)
            if keep:
                stats.kept.append(spk.cpu())

        return hook

    try:
        for name, module, sequence in layers:
            handles.append(module.register_forward_hook(hook_for(name, sequence)))
        yield record
    finally:
        for h in handles:
            h.remove()
