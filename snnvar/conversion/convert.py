"""ANN -> SNN conversion with threshold balancing (Rathi et al., ICLR 2020).

1. BatchNorm is folded into the layer before it (:mod:`.fuse`).
2. Every ReLU becomes an integrate-and-fire neuron with a soft reset
   (subtract θ, in the same step; ``reset="zero"`` for NIR export), so a
   neuron's firing rate approximates the ReLU's output divided by θ; its spikes
   reach the next layer with amplitude θ (an :class:`Amplitude` after the
   neuron: the read pulse of the crossbar),
   so every layer sees currents on the ANN's scale and the ANN's biases stay
   exact. Pooling, dropout and flatten act on spikes as
   they act on activations: average pooling passes fractional rates on;
   max pooling takes the maximum over the window *at each step* (a spike if
   any input spiked), which overestimates the rate of the pooled output:
   prefer average pooling in models meant for conversion.
3. Thresholds are balanced layer by layer (Sengupta et al., 2019; Rathi et al.,
   2020): with every earlier layer already spiking, θ_l is the maximum (or a
   percentile) of the input current reaching layer l's neurons over all
   calibration samples and time steps, times ``scale``.
4. The last layer integrates: the logits are the mean over time of its input
   current (a membrane without threshold or leak, divided by T).

The weights and biases are the ANN's (after BatchNorm fusion) and are not
rescaled: the balancing lives in the thresholds and spike amplitudes. A
:class:`~snnvar.Variation` therefore perturbs exactly the ANN's device
weights (``weight_map`` names them), and the thresholds, buffers named
``*.cell.threshold``, are only perturbed when asked for with
``Variation(parameters=("*.threshold",), ...)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from .. import datasets
from ..nn.modes import eval_mode
from ..nn.neurons import IF, TimeLoop
from ..nn.residual import Residual
from ..nn.sequential import Readout, SpikingSequential, over_time
from ..nn.surrogate import Triangle, surrogate
from .fuse import WEIGHTED, flatten_layers, fuse_batchnorm

__all__ = ["Amplitude", "ConversionConfig", "ConvertedSNN", "convert"]

ENCODERS = ("rate", "direct")
"""Input encodings a converted SNN can use."""


@dataclass(frozen=True)
class ConversionConfig:
    """How an ANN is converted."""

    time_steps: int = 100
    """T: time steps per sample (Rathi et al.: 100 for VGG-16 on CIFAR-10)."""
    encoder: str = "rate"
    """Input encoding: ``"rate"`` (Bernoulli spikes, inputs in [0, 1]) or ``"direct"``
    (the analog input as a constant current at every step)."""
    percentile: float = 100.0
    """Threshold = this percentile of a layer's input current (100: the maximum)."""
    scale: float = 1.0
    """Factor applied to every balanced threshold."""
    surrogate: str = "linear"
    """Surrogate gradient for fine-tuning: ``"linear"`` (Rathi et al.: ``γ·max(0, 1 − |u−θ|/θ)``
    with γ = 0.3, divided by θ because spikes carry amplitude θ) or any name of
    :func:`snnvar.nn.surrogate`."""
    batch_size: int = 64
    """Calibration samples per chunk (memory: T × chunk × neurons per layer)."""
    seed: int = 0
    """Seed of the rate encoding during calibration and of the SNN's own encoder."""
    reset: str = "subtract"
    """The IF neurons' reset: ``"subtract"`` (soft reset, Rathi et al.: the residual
    above θ carries over) or ``"zero"`` (Diehl et al., IJCNN 2015: the residual is lost,
    which costs accuracy; what NIR's IF expresses, so the SNN exports with
    :func:`snnvar.nir.to_nir`)."""

    def __post_init__(self) -> None:
        if isinstance(self.time_steps, bool) or not isinstance(self.time_steps, int):
            raise ValueError(f"time_steps must be an integer, got {self.time_steps!r}")
        if self.time_steps < 1:
            raise ValueError(f"time_steps must be >= 1, got {self.time_steps}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {self.encoder!r}; allowed: {list(ENCODERS)}")
        if not 0.0 < self.percentile <= 100.0:
            raise ValueError(f"percentile must lie in (0, 100], got {self.percentile}")
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ValueError(f"scale must be a finite number > 0, got {self.scale}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.reset not in ("subtract", "zero"):
            raise ValueError(f"unknown reset {self.reset!r}; allowed: ['subtract', 'zero']")


class Amplitude(nn.Module):
    """Spikes of amplitude ``value`` (θ of the neurons before): ``x ↦ value · x``."""

    def __init__(self, value: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("value", torch.tensor(float(value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.value

    def extra_repr(self) -> str:
        return f"value={float(self.value):.4g}"


class ConvertedSNN(nn.Module):
    """A converted SNN: ``[B, *in_shape]`` (encoded inside over ``time_steps``) or
    time-major ``[T, B, *in_shape]`` in, logits ``[B, classes]`` out.

    Attributes: ``name``, ``layers`` (a :class:`~snnvar.nn.SpikingSequential`),
    ``in_shape``, ``num_classes``, ``encoder``, ``time_steps``, ``thresholds``
    (IF layer -> θ), ``weight_map`` (SNN parameter -> ANN parameter), ``config``.
    Rate encoding inside the model draws from its own generator (seeded by
    ``config.seed``); pass time-major input, as :func:`snnvar.evaluate` does, to
    give every model the same spikes.
    """

    spiking = True
    """An SNN: :func:`snnvar.evaluate` feeds it time-major input."""

    def __init__(
        self,
        name: str,
        layers: SpikingSequential,
        in_shape: tuple[int, ...],
        num_classes: int,
        config: ConversionConfig,
        weight_map: dict[str, str],
    ) -> None:
        super().__init__()
        self.name = name
        self.layers = layers
        self.in_shape = tuple(in_shape)
        self.num_classes = num_classes
        self.config = config
        self.encoder = config.encoder
        self.time_steps = config.time_steps
        self.weight_map = weight_map
        self.generator = torch.Generator().manual_seed(config.seed)

    @property
    def thresholds(self) -> dict[str, float]:
        """Each IF layer's threshold θ (its spike amplitude), by module name."""
        return {
            name: float(m.cell.threshold)
            for name, m in self.layers.named_modules()
            if isinstance(m, TimeLoop)
        }

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, ...]`` -> ``[T, B, ...]`` with the model's encoder."""
        if self.encoder == "rate":
            gen = self.generator
            if x.device != gen.device:  # a device generator seeded from the model's own
                seed = int(torch.randint(0, 2**62, (1,), generator=gen))
                gen = torch.Generator(device=x.device).manual_seed(seed)
            return datasets.rate(x, self.time_steps, generator=gen)
        return datasets.direct(x, self.time_steps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(self.in_shape)
        if x.dim() == n + 1 and tuple(x.shape[1:]) == self.in_shape:
            x = self.encode(x)
        elif not (x.dim() == n + 2 and tuple(x.shape[2:]) == self.in_shape):
            shape = ", ".join(map(str, self.in_shape))
            raise ValueError(
                f"{self.name} expects [B, {shape}] or time-major [T, B, {shape}], "
                f"got {tuple(x.shape)}"
            )
        return self.layers(x)

    def extra_repr(self) -> str:
        return (
            f"name={self.name!r}, T={self.time_steps}, encoder={self.encoder!r}, "
            f"in_shape={self.in_shape}, classes={self.num_classes}"
        )


def _calibration_inputs(data: Any, batch_size: int) -> list[torch.Tensor]:
    if torch.is_tensor(data):
        if data.dim() == 0 or len(data) == 0:
            raise ValueError(
                f"the calibration data is empty (shape {tuple(data.shape)}); give at least one "
                "sample [N >= 1, ...]"
            )
        return list(data.split(batch_size))
    if isinstance(data, DataLoader | Iterable):
        out = []
        for batch in data:
            out.append(batch[0] if isinstance(batch, list | tuple) else batch)
        if not out:
            raise ValueError("the calibration data is empty")
        return out
    raise TypeError(
        f"calibration data must be a tensor [N, ...] or a DataLoader, got {type(data).__name__}"
    )


def _threshold(current: list[torch.Tensor], percentile: float) -> float:
    if percentile >= 100.0:
        return max(float(c.max()) for c in current)
    flat = torch.cat([c.flatten() for c in current])
    k = max(1, math.ceil(percentile / 100.0 * flat.numel()))
    return float(flat.kthvalue(k).values)


def _surrogate_for(name: str, theta: float):
    # The spikes leave with amplitude θ, so the surrogate's peak is γ/θ: the
    # amplitude-scaled derivative then peaks at γ, as for Rathi's unit spikes.
    if name == "linear":
        return Triangle(gamma=0.3 / theta, width=theta)
    return surrogate(name)


@torch.no_grad()
def convert(
    ann: nn.Module,
    calibration: Any,
    time_steps: int | None = None,
    config: ConversionConfig | None = None,
    **options: Any,
) -> ConvertedSNN:
    """Convert ``ann`` into a spiking network (see the module docstring).

    Args:
        ann: an ``nn.Sequential`` (nested ones too) or a snnvar zoo ANN
            (``models.create(name, spiking=False)``) of supported layers.
        calibration: a tensor ``[N, ...]`` of ANN inputs or a DataLoader of them
            (``(x, y)`` batches are fine) used to balance the thresholds.
        time_steps: T (shortcut for ``config.time_steps``).
        config: a :class:`ConversionConfig`; ``options`` override its fields.
    """
    cfg = config or ConversionConfig()
    if time_steps is not None:
        options["time_steps"] = time_steps
    if options:
        fields = set(ConversionConfig.__dataclass_fields__)
        unknown = sorted(set(options) - fields)
        if unknown:
            raise ValueError(f"unknown conversion options {unknown}; allowed: {sorted(fields)}")
        cfg = replace(cfg, **options)
    with eval_mode(ann):
        layers = fuse_batchnorm(flatten_layers(ann))
    inputs = _calibration_inputs(calibration, cfg.batch_size)
    in_shape = tuple(getattr(ann, "in_shape", None) or inputs[0].shape[1:])
    linear = [m for _, m in layers if isinstance(m, nn.Linear)]
    num_classes = int(getattr(ann, "num_classes", 0) or (linear[-1].out_features if linear else 0))

    if not _weighted(layers):
        raise ValueError("the ANN has no Conv2d or Linear layer to convert")
    gen = torch.Generator().manual_seed(cfg.seed)
    encode = (
        (lambda x: datasets.rate(x, cfg.time_steps, generator=gen))
        if cfg.encoder == "rate"
        else (lambda x: datasets.direct(x, cfg.time_steps))
    )
    acts = [encode(x.float()) for x in inputs]
    weight_map: dict[str, str] = {}
    seq = _convert_chain(layers, acts, cfg, weight_map, "layers.")
    seq.add_module("readout", Readout("mean_membrane", beta=0.0))
    seq.eval()
    name = f"converted_{getattr(ann, 'name', type(ann).__name__)}"
    return ConvertedSNN(name, seq, in_shape, num_classes, cfg, weight_map).eval()


def _weighted(layers: list[tuple[str, nn.Module]]) -> bool:
    """Whether a Conv2d or Linear lies among ``layers`` (inside a residual block too)."""
    return any(isinstance(x, WEIGHTED) for _, m in layers for x in m.modules())


def _convert_chain(
    layers: list[tuple[str, nn.Module]], acts: list[torch.Tensor], cfg: ConversionConfig,
    weight_map: dict[str, str], prefix: str, depth: int = 0,
) -> SpikingSequential:  # fmt: skip
    """The spiking counterpart of fused ANN layers.

    ``acts`` are the time-major inputs of the first layer over the calibration
    chunks; each layer is applied to them in turn (the list is updated in place: on
    return it holds the activations after the last layer), so
    every ReLU's IF neurons are balanced with all earlier layers already spiking
    (step 3 of the module docstring). A residual block converts its body and its
    shortcut on the same input; the neurons after the addition are balanced on the
    summed current, which is on the ANN's scale because every spike carries the
    amplitude θ of its layer (an identity shortcut passes the block's input, spikes
    of amplitude θ, unchanged).
    """
    seq = SpikingSequential()
    for path, m in layers:
        name = path.replace(".", "_") if depth == 0 else path.rsplit(".", 1)[-1]
        if isinstance(m, nn.ReLU):
            theta = cfg.scale * _threshold(acts, cfg.percentile)
            if not theta > 0:
                warnings.warn(
                    f"layer {path!r} receives no positive input on the calibration data, so "
                    "its neurons never fire (a dead ReLU layer in the ANN, or too few time "
                    "steps); its threshold is set to 1",
                    stacklevel=4 + depth,  # the caller of convert
                )
                theta = 1.0
            loop = TimeLoop(IF(threshold=theta, reset=cfg.reset, reset_delay=False,
                               surrogate=_surrogate_for(cfg.surrogate, theta)))  # fmt: skip
            amplitude = Amplitude(theta)
            for i, a in enumerate(acts):
                acts[i] = amplitude(over_time(loop, a))
            seq.add_module(name, loop)
            seq.add_module(f"{name}_amplitude", amplitude)
        elif isinstance(m, nn.Identity):
            continue
        elif isinstance(m, Residual):
            here = f"{prefix}{name}."
            body_acts, short_acts = list(acts), list(acts)  # each branch from the block's input
            body = _convert_chain(_items(m, path, "body"), body_acts, cfg, weight_map,
                                  here + "body.", depth + 1)  # fmt: skip
            short = _convert_chain(_items(m, path, "shortcut"), short_acts, cfg, weight_map,
                                   here + "shortcut.", depth + 1)  # fmt: skip
            acts[:] = [b_ + s_ for b_, s_ in zip(body_acts, short_acts, strict=True)]
            post = _convert_chain(_items(m, path, "post"), acts, cfg, weight_map,
                                  here + "post.", depth + 1)  # fmt: skip
            seq.add_module(name, Residual(body, short, post))
        else:
            seq.add_module(name, m)
            m.eval()  # calibration runs dropout as inference does
            for pname, _ in m.named_parameters():
                weight_map[f"{prefix}{name}.{pname}"] = f"{path}.{pname}"
            for i, a in enumerate(acts):
                acts[i] = over_time(m, a)
    return seq


def _items(block: Residual, path: str, part: str) -> list[tuple[str, nn.Module]]:
    """``(path, layer)`` of one part of a residual block: ``"body"``, ``"shortcut"`` or
    ``"post"``."""
    return [(f"{path}.{part}.{n}", c) for n, c in getattr(block, part).named_children()]
