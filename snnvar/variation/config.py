"""``Variation``: the one description of device variation that all of snnvar uses."""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from .distributions import UnitDistribution, resolve_distribution
from .reference import REFERENCES
from .selection import Target, select_targets

__all__ = ["BIAS_REFERENCES", "MODES", "REDRAWS", "Variation"]

MODES: tuple[str, ...] = ("static", "dynamic")
"""Allowed values of ``Variation.mode``."""

REDRAWS: tuple[str, ...] = ("step", "pass")
"""Allowed values of ``Variation.redraw``."""

BIAS_REFERENCES: tuple[str, ...] = ("layer", "own")
"""Allowed values of ``Variation.bias_reference``."""


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _patterns(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    items = tuple(value)  # type: ignore[call-overload]
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{name} must hold glob patterns (str), got {item!r}")
    return items


@dataclass(frozen=True)
class Variation:
    """Weight variation of analog synaptic devices (DESIGN.md, "The variation engine").

    For every selected tensor ``w`` of layer ``l``:
    ``Δw = γ · σ · s_l · ε + μ · s_l`` with ``ε`` a zero-mean, unit-variance draw,
    added to the programmed weight ``quantise(clip(w))``. With only ``sigma``
    this is the WVAT paper's hardware-simulated variation (HSV): Gaussian noise
    of standard deviation ``sigma`` times the layer's range A = 6 std(w).
    """

    sigma: float
    """Variation level σ, e.g. 0.05 or 0.10 (σ_v = 10 %); >= 0."""
    distribution: str | UnitDistribution = "gaussian"
    """Unit noise: "gaussian", "uniform", "weibull", or a UnitDistribution such as
    ``Weibull(shape=2)`` or ``Empirical.from_samples(measured)``."""
    relative_to: str = "range"
    """Scale s_l: "range" (6 std(w_l), WVAT's A), "max" (max|w_l|), "weight" (|w|,
    element-wise multiplicative mismatch) or "absolute" (1)."""
    gamma: float = 1.0
    """WVAT's range coefficient γ; 1 trains at the test level, −1 flips the draw."""
    mean: float = 0.0
    """Systematic mean shift μ, in units of s_l (HA-SGD poster, Fig. 8)."""
    mode: str = "static"
    """"static": one draw per simulated chip (programming / device-to-device
    variation); "dynamic": a fresh draw at every call of a perturbed module
    (read noise; per time step when the SNN loop calls the layer per step)."""
    redraw: str = "step"
    """Dynamic mode only: "step" redraws at every call of a perturbed layer (an
    snnvar SNN then calls it once per time step); "pass" draws once per forward
    pass of the model given to ``applied`` (all time steps see one read)."""
    clip: bool = False
    """Clip the programmed weight to the device window before adding noise."""
    window: tuple[float, float] | None = None
    """Device window (low, high) in weight units for every layer; None: each
    layer's own [μ_w − window_stds·σ_w, μ_w + window_stds·σ_w] of clean weights."""
    window_stds: float = 3.0
    """Half-width of the default window in standard deviations (3: WVAT's A)."""
    levels: int | None = None
    """Quantise the programmed weight to this many evenly spaced levels spanning
    the window (multi-level cells, >= 2); None: analog, no quantisation."""
    include_bias: bool = False
    """Also perturb the biases of the selected layers."""
    bias_reference: str = "layer"
    """With ``include_bias``: ``"layer"`` scales a bias (and, with clip or levels,
    windows it) by its layer weight's reference statistics, as a crossbar that
    holds [W b] in one array (HA-SGD poster, Fig. 5, with s = 1), so a zero bias
    varies too; ``"own"`` uses the bias's own statistics (under ``"max"`` this is
    [W b/s] with s matched to the bias's range). ``"weight"`` and ``"absolute"``
    references are element-wise or 1 either way."""
    modules: tuple[type[nn.Module] | str, ...] | None = None
    """Module types (or class names) whose weights are selected; None: Linear,
    Conv1d/2d/3d and ConvTranspose1d/2d/3d."""
    include: tuple[str, ...] = ()
    """Glob patterns on parameter names: keep only the matching ones."""
    exclude: tuple[str, ...] = ()
    """Glob patterns on parameter names: drop the matching ones."""
    parameters: tuple[str, ...] = ()
    """Glob patterns adding any named parameter or buffer, e.g. neuron thresholds
    (``"*.threshold"``) or leaks (``"*.beta"``)."""

    def __post_init__(self) -> None:
        sigma = _finite("sigma", self.sigma)
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {self.sigma!r}")
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "gamma", _finite("gamma", self.gamma))
        object.__setattr__(self, "mean", _finite("mean", self.mean))
        resolve_distribution(self.distribution)
        if isinstance(self.distribution, str):
            object.__setattr__(self, "distribution", self.distribution.lower())
        if self.relative_to not in REFERENCES:
            raise ValueError(
                f"unknown relative_to {self.relative_to!r}; allowed: {list(REFERENCES)}"
            )
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; allowed: {list(MODES)}")
        if self.redraw not in REDRAWS:
            raise ValueError(f"unknown redraw {self.redraw!r}; allowed: {list(REDRAWS)}")
        if not isinstance(self.clip, bool):
            raise ValueError(f"clip must be True or False, got {self.clip!r}")
        if self.window is not None:
            if len(self.window) != 2:
                raise ValueError(f"window must be (low, high), got {self.window!r}")
            lo, hi = (_finite("window", x) for x in self.window)
            if not lo < hi:
                raise ValueError(f"window must have low < high, got {self.window!r}")
            object.__setattr__(self, "window", (lo, hi))
        stds = _finite("window_stds", self.window_stds)
        if stds <= 0:
            raise ValueError(f"window_stds must be > 0, got {self.window_stds!r}")
        object.__setattr__(self, "window_stds", stds)
        if self.levels is not None and (
            isinstance(self.levels, bool) or not isinstance(self.levels, int) or self.levels < 2
        ):
            raise ValueError(f"levels must be an integer >= 2 or None, got {self.levels!r}")
        if self.bias_reference not in BIAS_REFERENCES:
            raise ValueError(
                f"unknown bias_reference {self.bias_reference!r}; allowed: {list(BIAS_REFERENCES)}"
            )
        if self.modules is not None:
            object.__setattr__(self, "modules", tuple(self.modules))
        for name in ("include", "exclude", "parameters"):
            object.__setattr__(self, name, _patterns(name, getattr(self, name)))

    # -- the engine -------------------------------------------------------------------

    def targets(self, model: nn.Module) -> list[Target]:
        """The tensors of ``model`` this variation perturbs (raises if none)."""
        return select_targets(
            model,
            modules=self.modules,
            include_bias=self.include_bias,
            include=self.include,
            exclude=self.exclude,
            parameters=self.parameters,
            bias_reference=self.bias_reference,
        )

    def sample(
        self,
        model: nn.Module,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        domain: str = "chip",
    ):
        """Draw one simulated chip: a :class:`Draw` mapping parameter name -> delta.

        The model is left untouched. ``seed`` (or a ``torch.Generator``) is
        required; ``draw.seed`` and ``draw.domain`` reproduce the draw.
        ``domain``: ``"chip"`` (test chips, as :func:`snnvar.evaluate` draws
        them) or ``"train"`` (the training methods' noise, an independent stream).
        """
        from .engine import sample

        return sample(self, model, seed=seed, generator=generator, domain=domain)

    def applied(
        self,
        model: nn.Module,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        domain: str = "chip",
    ) -> AbstractContextManager[Any]:
        """``with variation.applied(model, seed=0) as draw:`` perturbs ``model``.

        Static mode writes one draw into the weights; dynamic mode redraws at
        every call of a perturbed module. On exit (also on an exception) every
        tensor is restored bit for bit; in-place changes made inside the block
        (e.g. an optimizer step) are discarded with the perturbed values.
        ``domain`` as for :meth:`sample`.
        """
        from .engine import applied

        return applied(self, model, seed=seed, generator=generator, domain=domain)

    # -- records ----------------------------------------------------------------------

    def label(self) -> str:
        """What tells this variation apart in a report, σ aside: the distribution,
        the reference and the mode, then every other setting that differs from
        its default (e.g. ``"gaussian, range, static"``,
        ``"uniform, max, dynamic/pass, mean=0.05, levels=16"``)."""
        dist = resolve_distribution(self.distribution).label
        mode = f"dynamic/{self.redraw}" if self.mode == "dynamic" else self.mode
        parts = [dist, self.relative_to, mode]
        if self.gamma != 1.0:
            parts.append(f"gamma={self.gamma:g}")
        if self.mean != 0.0:
            parts.append(f"mean={self.mean:g}")
        if self.clip:
            parts.append("clip")
        if self.window is not None:
            parts.append(f"window=[{self.window[0]:g}, {self.window[1]:g}]")
        if self.window_stds != 3.0:
            parts.append(f"window_stds={self.window_stds:g}")
        if self.levels is not None:
            parts.append(f"levels={self.levels}")
        if self.include_bias:
            parts.append("bias" if self.bias_reference == "layer" else "bias/own")
        if self.modules is not None:
            kinds = [m if isinstance(m, str) else m.__name__ for m in self.modules]
            parts.append(f"modules={'+'.join(kinds)}")
        for name in ("include", "exclude", "parameters"):
            patterns = getattr(self, name)
            if patterns:
                parts.append(f"{name}={'+'.join(patterns)}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description, for reports and checkpoints."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "distribution" and not isinstance(value, str):
                value = repr(value)
            elif f.name == "modules" and value is not None:
                value = [m if isinstance(m, str) else m.__name__ for m in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out
