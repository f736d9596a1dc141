"""``Variation``: the one description of device variation that all of snnvar uses.

A ``Variation`` is data; :mod:`.engine` draws and applies it. It has a
lossless JSON form (:meth:`Variation.to_dict` / :meth:`Variation.from_dict`),
and :meth:`Variation.from_dict` also reads the table a user writes in a TOML
file (:func:`snnvar.variation.variations_from_toml`), with the field names as
keys::

    [variation]
    sigma = 0.1
    distribution = "weibull"        # or { weibull = { shape = 1.5 } }
    relative_to = "max"
    mode = "static"
    clip = true
    levels = 16
    window = [-1.0, 1.0]
    modules = ["Linear", "torch.nn.Conv2d"]   # class names or dotted paths to types
    include = ["fc*"]

Measured device data: ``distribution = { empirical = "measured.csv" }`` and the
other forms of :mod:`.distributions`; files are read once, relative to the
TOML file's folder, and the variation holds the data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from . import engine
from .checks import finite as _finite
from .checks import module_type as _module_type
from .checks import patterns as _patterns
from .checks import type_name as _type_name
from .distributions import (
    Gaussian,
    Uniform,
    UnitDistribution,
    distribution_from_dict,
    distribution_to_dict,
    resolve_distribution,
)
from .reference import REFERENCES
from .selection import Target, select_targets

__all__ = ["BIAS_REFERENCES", "MODES", "REDRAWS", "Variation"]

MODES: tuple[str, ...] = ("static", "dynamic")
"""Allowed values of ``Variation.mode``."""

REDRAWS: tuple[str, ...] = ("step", "pass")
"""Allowed values of ``Variation.redraw``."""

BIAS_REFERENCES: tuple[str, ...] = ("layer", "own")
"""Allowed values of ``Variation.bias_reference``."""


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Variation:
    """Weight variation of analog synaptic devices (docs/guide/engine.md).

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
    ``Weibull(shape=2)`` or ``Empirical.from_samples(measured)``. ``Gaussian()``
    and ``Uniform()``, which have no parameters, are stored by name."""
    relative_to: str = "range"
    """Scale s_l: "range" (6 std(w_l), WVAT's A), "max" (max|w_l|), "weight" (``|w|``,
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
    """Module types (or class names, or dotted paths to types such as
    ``"torch.nn.Linear"``) whose weights are selected; None: Linear, Conv1d/2d/3d and
    ConvTranspose1d/2d/3d."""
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
        elif type(self.distribution) in (Gaussian, Uniform):  # no parameters: its name
            object.__setattr__(self, "distribution", self.distribution.name)
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
        if not isinstance(self.include_bias, bool):
            raise ValueError(f"include_bias must be True or False, got {self.include_bias!r}")
        if self.bias_reference not in BIAS_REFERENCES:
            raise ValueError(
                f"unknown bias_reference {self.bias_reference!r}; allowed: {list(BIAS_REFERENCES)}"
            )
        if self.modules is not None:
            # a dotted name is the type it names (as from_dict reads it back)
            object.__setattr__(self, "modules", tuple(_module_type(m) for m in self.modules))
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
    ) -> engine.Draw:
        """Draw one simulated chip: a :class:`Draw` mapping parameter name -> delta.

        The model is left untouched. ``seed`` (or a ``torch.Generator``) is
        required; ``draw.seed`` and ``draw.domain`` reproduce the draw.
        ``domain``: ``"chip"`` (test chips, as :func:`snnvar.evaluate` draws
        them) or ``"train"`` (the training methods' noise, an independent stream).
        """
        return engine.sample(self, model, seed=seed, generator=generator, domain=domain)

    def applied(
        self,
        model: nn.Module,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        domain: str = "chip",
        reads: int | None = None,
    ) -> AbstractContextManager[Any]:
        """``with variation.applied(model, seed=0) as draw:`` perturbs ``model``.

        Static mode writes one draw into the weights; dynamic mode redraws at
        every call of a perturbed module. On exit (also on an exception) every
        tensor is restored bit for bit; in-place changes made inside the block
        (e.g. an optimizer step) are discarded with the perturbed values.
        ``domain`` as for :meth:`sample`; ``reads``: a dynamic variation's reads drawn
        from this root instead of ``seed`` (other reads of the same chip).
        """
        return engine.applied(
            self, model, seed=seed, generator=generator, domain=domain, reads=reads
        )

    @property
    def on_devices(self) -> bool:
        """False: no device model holds the weights; the engine draws this variation's
        noise from its settings (:class:`~snnvar.Perturbation`)."""
        return False

    def chip_weights(self, w: torch.Tensor, generator: torch.Generator) -> None:
        """None: a variation has no devices to read (:class:`~snnvar.Perturbation`)."""
        return None

    def chip_reads(
        self, w: torch.Tensor, generator: torch.Generator, read_generator: torch.Generator
    ) -> Callable[[], torch.Tensor] | None:
        """None: a variation has no devices to read (:class:`~snnvar.Perturbation`)."""
        return None

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

    def to_dict(self, strict: bool = True) -> dict[str, Any]:
        """A lossless JSON form, for reports, checkpoints and run records.

        The keys are the field names; ``Variation.from_dict(json.loads(json.dumps(
        v.to_dict()))) == v``. Tuples become lists, the distribution its written
        form (:func:`~snnvar.variation.distribution_to_dict`; an :class:`Empirical`
        writes its standardised data, so the record needs no data file) and a
        module type its dotted path ``"torch.nn.modules.linear.Linear"``
        (``module.qualname``; a class defined inside a function cannot be
        imported back). A distribution class without a written form (a user's own
        :class:`UnitDistribution`) raises ``ValueError``; with ``strict=False`` it is
        recorded as ``{"unserialisable": label}`` instead (a record that
        :meth:`from_dict` refuses: reports and method states use it).
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "distribution":
                try:
                    value = distribution_to_dict(value)
                except ValueError:
                    if strict:
                        raise
                    value = {"unserialisable": resolve_distribution(value).label}
            elif f.name == "modules" and value is not None:
                value = [m if isinstance(m, str) else _type_name(m) for m in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        base_dir: str | os.PathLike[str] | None = None,
        *,
        default_sigma: float | None = None,
    ) -> Variation:
        """A variation from :meth:`to_dict`'s form or a user's TOML ``[variation]`` table.

        Keys are the field names (module doc); a missing key takes the field's
        default, a missing ``sigma`` ``default_sigma`` (None: an error).
        ``distribution`` takes every form of
        :func:`~snnvar.variation.distribution_from_dict`; measured data files are
        resolved relative to ``base_dir`` (the TOML file's folder; None: the
        current directory) and read once. ``modules`` entries are class names or
        dotted paths of ``nn.Module`` subclasses, which are imported.
        Raises ``ValueError`` naming the key, the value and what is allowed.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a variation must be a table of settings, got {_short(data)}")
        allowed = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in allowed]
        if unknown:
            raise ValueError(f"unknown variation key(s) {unknown}; allowed: {allowed}")
        kwargs = dict(data)
        if "sigma" not in kwargs:
            if default_sigma is None:
                raise ValueError(
                    f"variation needs sigma (a number >= 0, e.g. sigma = 0.1); got the keys "
                    f"{list(kwargs)}"
                )
            kwargs["sigma"] = default_sigma
        if "distribution" in kwargs:
            kwargs["distribution"] = distribution_from_dict(kwargs["distribution"], base_dir)
        window = kwargs.get("window")
        if window is not None:
            if not isinstance(window, list | tuple) or len(window) != 2:
                raise ValueError(
                    f"window must be [low, high] (two numbers) or absent, got {_short(window)}"
                )
            kwargs["window"] = tuple(window)
        modules = kwargs.get("modules")
        if modules is not None:
            if isinstance(modules, str | type):
                modules = [modules]
            if not isinstance(modules, list | tuple):
                raise ValueError(
                    "modules must be a list of class names or dotted paths of nn.Module "
                    f"subclasses, got {_short(modules)}"
                )
            kwargs["modules"] = tuple(_module_type(m) for m in modules)
        for name in ("include", "exclude", "parameters"):
            if name in kwargs:
                patterns = kwargs[name]
                if not isinstance(patterns, str | list | tuple):
                    raise ValueError(
                        f"{name} must be a glob pattern or a list of them, got {_short(patterns)}"
                    )
        return cls(**kwargs)
