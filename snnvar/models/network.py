"""One model class for the zoo's ANNs and SNNs, built from one layer plan.

A plan is the ANN's layer list with ``"act"`` where the activation goes. The
ANN puts ``nn.ReLU`` there; the SNN puts a neuron loop
(:class:`~snnvar.nn.TimeLoop`) of the chosen backend and appends a readout.
Every Conv/Linear/BatchNorm therefore has the same index, hence the same
parameter name, in the ANN, in the SNN and across neuron backends, so weights
transfer by name (:func:`transfer`) and a :class:`~snnvar.Variation` selects
the same device weights in all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..nn import Readout, Residual, SpikingSequential, TimeLoop, make_cell
from ..nn.surrogate import Surrogate

__all__ = ["ACT", "Block", "Concat", "Network", "NeuronConfig", "build", "transfer"]

ACT = "act"
"""Placeholder for the activation in a layer plan."""


@dataclass(frozen=True)
class NeuronConfig:
    """The spiking neurons of a zoo model (ignored by the ANN)."""

    backend: str = "snnvar"
    """``"snnvar"``, ``"snntorch"`` or ``"norse"``."""
    beta: float = 0.9
    """Membrane leak β (1 = IF)."""
    threshold: float = 1.0
    """Firing threshold θ."""
    reset: str = "subtract"
    """``"subtract"``, ``"zero"`` or ``"none"``."""
    surrogate: str | Surrogate | None = None
    """Surrogate gradient; None is the backend's default (atan for snnvar and snntorch,
    SuperSpike for norse)."""
    learn_beta: bool = False
    """Train β (one value per layer)."""
    learn_threshold: bool = False
    """Train θ (one value per layer)."""
    reset_delay: bool = True
    """Reset one step after a spike (snntorch) or in the same step (norse always does)."""
    readout: str = "mean_membrane"
    """``"mean_membrane"``, ``"last_membrane"`` or ``"spike_count"``."""
    readout_beta: float = 0.0
    """Leak of the output integrator for membrane readouts (0: mean current)."""

    def cell(self) -> nn.Module:
        """A fresh neuron module of this configuration, for its backend."""
        return make_cell(
            self.backend,
            self.beta,
            self.threshold,
            self.reset,
            self.surrogate,
            self.learn_beta,
            self.learn_threshold,
            self.reset_delay,
        )


class Concat(nn.Module):
    """Apply branches to the same input and concatenate along channels (Spiking-CNN1)."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)


@dataclass(frozen=True)
class Block:
    """A residual block in a layer plan: ``post(body(x) + shortcut(x))``, each part a
    plan of its own (``ACT`` where the activation goes); built into a
    :class:`~snnvar.nn.Residual`."""

    body: tuple[nn.Module | str, ...]
    """The residual branch."""
    shortcut: tuple[nn.Module | str, ...] = ()
    """The skip branch (empty: the identity)."""
    post: tuple[nn.Module | str, ...] = ()
    """Applied to the sum (``(ACT,)``: an activation after the addition)."""


class Network(nn.Module):
    """A zoo model: ``layers`` applied to ``[B, *in_shape]`` (ANN) or ``[T, B, *in_shape]`` (SNN).

    Both return logits ``[B, num_classes]``. Attributes: ``name``, ``spiking``,
    ``in_shape``, ``num_classes``, ``neuron`` (the :class:`NeuronConfig`, None for an ANN).
    """

    def __init__(
        self,
        name: str,
        layers: nn.Sequential,
        in_shape: tuple[int, ...],
        num_classes: int,
        neuron: NeuronConfig | None,
        flat_ok: bool = False,
    ) -> None:
        super().__init__()
        self.name = name
        self.layers = layers
        self.in_shape = tuple(in_shape)
        self.num_classes = num_classes
        self.neuron = neuron
        self.flat_ok = flat_ok

    @property
    def spiking(self) -> bool:
        """True for an SNN, False for the ANN of the architecture."""
        return self.neuron is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self.layers(x)

    def _check(self, x: torch.Tensor) -> None:
        lead = 2 if self.spiking else 1
        layout = ("[T, B, " if self.spiking else "[B, ") + ", ".join(map(str, self.in_shape)) + "]"
        shapes = [self.in_shape]
        if self.flat_ok:
            shapes.append((math.prod(self.in_shape),))
        if not isinstance(x, torch.Tensor) or (
            x.dim() < lead or tuple(x.shape[lead:]) not in shapes
        ):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            hint = (
                " (time-major: encode a [B, ...] batch over T steps with snnvar.datasets.rate, "
                "direct or latency)"
                if self.spiking
                else ""
            )
            raise ValueError(f"{self.name} expects input {layout}{hint}, got {got}")

    def extra_repr(self) -> str:
        kind = f"SNN, neuron={self.neuron.backend!r}" if self.neuron else "ANN"
        return f"name={self.name!r}, {kind}, in_shape={self.in_shape}, classes={self.num_classes}"


def build(
    name: str,
    plan: Sequence[nn.Module | str | Block],
    in_shape: tuple[int, ...],
    num_classes: int,
    spiking: bool,
    neuron: NeuronConfig,
    flat_ok: bool = False,
) -> Network:
    """The ANN (``spiking=False``) or SNN of a layer plan; the plan's last layer gives logits."""
    layers = _layers(plan, spiking, neuron)
    if not spiking:
        return Network(name, nn.Sequential(*layers), in_shape, num_classes, None, flat_ok)
    if neuron.readout == "spike_count":
        layers.append(TimeLoop(neuron.cell()))
    layers.append(Readout(neuron.readout, neuron.readout_beta))
    return Network(name, SpikingSequential(*layers), in_shape, num_classes, neuron, flat_ok)


def _layers(
    plan: Sequence[nn.Module | str | Block], spiking: bool, neuron: NeuronConfig
) -> list[nn.Module]:
    """The modules of a plan: ``ACT`` -> ReLU or a neuron loop, a :class:`Block` -> a
    :class:`~snnvar.nn.Residual` of its parts."""
    kind = SpikingSequential if spiking else nn.Sequential
    layers: list[nn.Module] = []
    for item in plan:
        if isinstance(item, Block):
            parts = [
                kind(*_layers(part, spiking, neuron))
                for part in (item.body, item.shortcut, item.post)
            ]
            layers.append(Residual(*parts))
        elif item == ACT:
            layers.append(TimeLoop(neuron.cell()) if spiking else nn.ReLU())
        elif isinstance(item, nn.Module):
            _init(item)
            layers.append(item)
        else:
            raise ValueError(f"bad plan item {item!r}")
    return layers


def _init(module: nn.Module) -> None:
    """He initialisation (He et al., ICCV 2015; fan-in, normal) of Conv/Linear, zero biases.

    The same for the ANN and the SNN. With PyTorch's default (uniform, a third
    of He's variance) the deeper fully connected layers of the zoo's SNNs stay
    nearly silent at the start, so their successors get no weight gradient.
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def transfer(src: nn.Module, dst: nn.Module) -> list[str]:
    """Copy every Conv/Linear/BatchNorm tensor of ``src`` into ``dst`` by name.

    For zoo models of the same architecture: ANN <-> SNN, or SNNs with different
    neuron backends. Returns the copied names. Raises ``ValueError`` naming any
    synaptic tensor of ``dst`` that ``src`` lacks or has in another shape.
    Neuron parameters are not copied (set them when creating the model).
    """
    synaptic = (nn.Linear, nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm)
    source = src.state_dict()
    copied, problems = [], []
    with torch.no_grad():
        for mname, module in dst.named_modules():
            if not isinstance(module, synaptic):
                continue
            for tname, tensor in [
                *module.named_parameters(recurse=False),
                *module.named_buffers(recurse=False),
            ]:
                key = f"{mname}.{tname}"
                if key not in source:
                    problems.append(f"{key} missing in the source")
                elif source[key].shape != tensor.shape:
                    problems.append(f"{key}: {tuple(source[key].shape)} vs {tuple(tensor.shape)}")
                else:
                    tensor.copy_(source[key])
                    copied.append(key)
    if problems:
        raise ValueError("cannot transfer weights: " + "; ".join(problems))
    return copied
