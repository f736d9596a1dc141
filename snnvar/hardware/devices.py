"""Device models over time: conductance pairs, programming noise by conductance,
drift and its compensation, read noise and stuck-at faults.

A device model is a variation (docs/guide/hardware.md, "Devices over time"): it is accepted
wherever a :class:`~snnvar.Variation` is (``sample``, ``applied``, the
training methods, :func:`snnvar.evaluate`), draws its chips from the same
per-device-weight streams (:mod:`snnvar.variation.seeding`), so models that
share device weights share chips, and restores the weights bit for bit. For
each selected weight tensor ``w`` of a chip read ``time`` seconds after
programming:

1. map ``w`` to its target pair ``(G+, G-)`` (``snnvar.hardware.conductance``);
2. programme each device: ``G = G_T + noise_scale · σ(G_T) · z`` (``σ`` in µS,
   per model), clamped at 0;
3. (PCM) drift: ``G(t) = G(t0) · (t / t0)^-ν`` with ``ν`` drawn per device,
   then 1/f read noise accumulated up to ``t``;
4. stuck-at faults: devices stuck at ``g_min`` / ``g_max`` (or weights stuck at
   0 / ±w_max) hold that value at every time;
5. back to weights; drift compensation (``"global"``: one scale per layer,
   ``"column"``: one per output) from the chip's own reference read right after
   programming, ``mean |w(t0)| / mean |w(t)|``, as aihwkit's
   ``GlobalDriftCompensation`` / ``PerColumnDriftCompensation`` (one-hot
   reads, mean absolute output).

Every chip draws all its random numbers in one fixed order whatever the
settings (programming, drift exponents, faults, read noise), so one chip read
at several times, with and without compensation or drift, is the same
programmed chip. The read noise of one device is one draw scaled by the noise
accumulated up to ``t`` (a chip read later is the same chip, noisier).
Times before ``t0`` (the end of programming and verification) read as ``t0``.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

from ..variation import engine
from ..variation.checks import finite as _finite
from ..variation.checks import module_type as _module_type
from ..variation.checks import patterns as _patterns
from ..variation.checks import type_name as _type_name
from ..variation.config import MODES, REDRAWS
from ..variation.selection import Target, select_targets
from .conductance import mapping_scale, to_conductances, to_weights

__all__ = [
    "COMPENSATIONS",
    "DEVICE_KINDS",
    "PCM",
    "RRAM",
    "CustomDevice",
    "DeviceModel",
    "DeviceRead",
    "ProgrammedChip",
    "StuckAt",
    "device_from_dict",
    "devices_from_tables",
    "devices_from_toml",
    "parse_time",
]

COMPENSATIONS = ("global", "column")
"""Drift compensations: one scale per layer, or one per output (column)."""

FAULT_LEVELS = ("conductance", "weight")
"""Where a stuck-at fault acts: a device of the pair, or the whole weight."""

PCM_PROG_COEFFS = (0.26348, 1.9650, -1.1731)
"""PCM programming noise σ(g) = Σ c_i (g / g_max)^i µS at g_max = 25 µS
(Nandakumar et al., ICECS 2019; the coefficients of aihwkit's PCMLikeNoiseModel)."""

WAN2022_FITS = (
    (1.0, (0.348, 16.030, -43.853, 45.393, -16.815)),
    (86400.0, (0.701, 22.086, -50.773, 47.095, -16.458)),
    (172800.0, (0.782, 20.274, -43.507, 37.062, -11.934)),
)
"""RRAM conductance deviation σ(g, t) = Σ c_i (g / g_max)^i µS at g_max = 40 µS, fitted at
1 s, 1 day and 2 days after programming to Wan et al., Nature 608 (2022) (NeuRRAM);
the coefficients of aihwkit's ReRamWan2022NoiseModel."""

_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "y": 3.15576e7}


def parse_time(text: str | float | int) -> float:
    """Seconds from ``"1"``, ``"30s"``, ``"5min"``, ``"1h"``, ``"1d"``, ``"1y"`` (a
    Julian year) or a number; negative or non-finite times are refused."""
    if isinstance(text, bool):
        raise ValueError(f"a time must be a number of seconds or e.g. '1h', got {text!r}")
    if isinstance(text, int | float):
        value = float(text)
    else:
        s = str(text).strip().lower()
        unit = next((u for u in sorted(_UNITS, key=len, reverse=True) if s.endswith(u)), None)
        number = s[: -len(unit)] if unit else s
        try:
            value = float(number) * (_UNITS[unit] if unit else 1.0)
        except ValueError:
            raise ValueError(
                f"cannot read the time {text!r}; write seconds or a number with a unit "
                f"({', '.join(_UNITS)}), e.g. '1h' or '3.15e7'"
            ) from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"a time after programming must be finite and >= 0 s, got {text!r}")
    return value


class DeviceRead(NamedTuple):
    """What a chip holds for one weight tensor (``[2, *shape]``: G+ then G-, in µS)."""

    target: torch.Tensor
    """Target conductances."""
    programmed: torch.Tensor
    """Conductances after programming (at ``t0``), faults included."""
    read: torch.Tensor
    """Conductances read at the device model's time (drift, read noise, faults)."""
    nu: torch.Tensor | None
    """Drift exponents per device (PCM), else None."""
    stuck: torch.Tensor
    """Per device: 0 healthy, 1 stuck low, 2 stuck high (weight-level faults: ``[1, *shape]``)."""
    weights: torch.Tensor
    """The weights read back, compensated if the model compensates."""
    alpha: torch.Tensor | None
    """The drift compensation's scale (a scalar, or one per output), else None."""


class ProgrammedChip(NamedTuple):
    """One chip's devices for one weight tensor, programmed and taken to the read's
    time, before a read (:meth:`DeviceModel.program_tensor`); ``[2, *shape]``, µS."""

    target: torch.Tensor
    """Target conductances."""
    programmed: torch.Tensor
    """Conductances right after programming (at ``t0``), faults included."""
    state: torch.Tensor
    """Conductances at the read's time: drift and the model's accumulated read noise
    (PCM's 1/f), before ``read_std`` and faults."""
    nu: torch.Tensor | None
    """Drift exponents per device (PCM), else None."""
    stuck: torch.Tensor
    """Per device: 0 healthy, 1 stuck low, 2 stuck high (weight-level faults: ``[1, *shape]``)."""
    high: torch.Tensor | None
    """Weight-level faults: the value a weight stuck high holds (±w_max), else None."""
    w_max: float
    """The weight mapped to ``g_max``."""
    w0: torch.Tensor
    """The weights right after programming (the compensation's reference read)."""
    z_std: torch.Tensor | None
    """The chip's own unit normal draws for ``read_std`` (its static read), else None."""
    dtype: torch.dtype
    """The dtype of the clean weights (the read weights are returned in it)."""


def _drift_nu(value: Any) -> tuple[float, float] | tuple[tuple[float, float, float], ...]:
    """``drift_nu`` validated: (mean, std), or rows (g, mean, std) with g increasing."""
    rows = tuple(value) if isinstance(value, tuple | list) else None
    if rows and all(isinstance(r, tuple | list) for r in rows):
        if len(rows) < 2 or any(len(r) != 3 for r in rows):
            raise ValueError(
                f"drift_nu rows must be at least two (g, mean, std) triples, got {value!r}"
            )
        out = tuple(
            (_nonnegative("drift_nu g", r[0]), _finite("drift_nu mean", r[1]),
             _nonnegative("drift_nu std", r[2])) for r in rows
        )  # fmt: skip
        if any(b[0] <= a[0] for a, b in itertools.pairwise(out)):
            raise ValueError(f"drift_nu rows: g must increase, got {[r[0] for r in out]}")
        return out
    if rows is None or len(rows) != 2:
        raise ValueError(
            f"drift_nu must be (mean, std) or rows ((g, mean, std), ...), got {value!r}"
        )
    return (_finite("drift_nu mean", rows[0]), _nonnegative("drift_nu std", rows[1]))


def _interp(x: torch.Tensor, points: Sequence[Sequence[float]], column: int = 1) -> torch.Tensor:
    """Piecewise-linear ``y(x)`` through ``points`` (rows ``(x, y0, y1, ...)``, x
    increasing; ``column`` picks the y), held constant beyond the ends."""
    xs = torch.tensor([p[0] for p in points], dtype=x.dtype, device=x.device)
    ys = torch.tensor([p[column] for p in points], dtype=x.dtype, device=x.device)
    if len(xs) == 1:
        return torch.full_like(x, float(ys[0]))
    xc = x.clamp(min=float(xs[0]), max=float(xs[-1]))
    k = torch.bucketize(xc, xs).clamp(min=1, max=len(xs) - 1)
    x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
    return y0 + (xc - x0) / (x1 - x0) * (y1 - y0)


def _positive(name: str, value: object) -> float:
    v = _finite(name, value)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def _nonnegative(name: str, value: object) -> float:
    v = _finite(name, value)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def _fraction(name: str, value: object) -> float:
    v = _finite(name, value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return v


def _polynomial(coeffs: Sequence[float], x: torch.Tensor) -> torch.Tensor:
    """``Σ c_i x^i`` (ascending coefficients), by Horner's rule."""
    out = torch.full_like(x, float(coeffs[-1]))
    for c in reversed(coeffs[:-1]):
        out = out * x + float(c)
    return out


@dataclass(frozen=True, kw_only=True)
class DeviceModel:
    """The settings every device model shares: the conductance mapping, the time
    of the read, drift compensation, faults and which weights sit on devices.
    Use a subclass: :class:`PCM`, :class:`RRAM`, :class:`CustomDevice`, :class:`StuckAt`."""

    kind: ClassVar[str] = ""
    """The model's name in a ``[device]`` table (``kind = "pcm"``) and in reports."""

    g_max: float = 25.0
    """Largest programmable conductance (µS); ``w_max`` of each layer maps to it."""
    g_min: float = 0.0
    """Smallest conductance (µS): a zero weight is ``G+ = G- = g_min``."""
    w_max: float | None = None
    """The weight mapped to ``g_max`` in every layer; None: each layer's own
    ``percentile`` of ``|w|`` (of the clean weights)."""
    percentile: float = 100.0
    """With ``w_max = None``: the percentile of ``|w|`` mapped to ``g_max`` (100: max-abs;
    below 100, larger weights clip at ``g_max``)."""
    time: float | None = None
    """Seconds since programming began at which the chip is read (None: at ``t0``);
    drift is ``(time / t0)^-ν``, and times before ``t0`` read as ``t0``.
    ``snnvar.evaluate(times=...)`` sets it per row. aihwkit counts its
    ``t_inference`` from the end of programming instead (drift ``((t_inference + t0) /
    t0)^-ν``): ``time = t_inference + t0`` reads the same chip state (drift and the
    accumulated 1/f noise). Taking one for the other changes the drift factor by
    ``((time + t0) / time)^ν − 1``: 3.5-7.2 % at ``time = t0`` (PCM's mean ν, 0.049 to
    0.1), under 0.5 % from 10 minutes on, under 0.06 % from 1 h on."""
    t0: float = 20.0
    """End of programming and verification (s): drift counts from here; earlier
    times read as ``t0`` (aihwkit's default t_0 = 20 s)."""
    compensation: str | None = None
    """Drift compensation: None, ``"global"`` (one scale per layer) or ``"column"``
    (one per output), from a reference read right after programming."""
    faults: StuckAt | None = None
    """Stuck-at faults on top of this device's noise (:class:`StuckAt`), or None."""
    noise_scale: float = 1.0
    """Multiplies the programming noise σ(g) (1: the model as published; 0: none)."""
    read_std: float = 0.0
    """Relative std of every read of a conductance (a measured read-to-read
    fluctuation), on top of the chip's state (PCM: its accumulated 1/f noise)."""
    mode: str = "static"
    """"static": one read per chip; "dynamic": the chip is programmed once (programming
    noise, drift, PCM's accumulated 1/f noise as in aihwkit, faults, compensation) and
    every read draws fresh ``read_std`` noise (the engine's dynamic mode: per time
    step or per pass)."""
    redraw: str = "step"
    """Dynamic mode only: "step" reads at every call of a device layer (an snnvar
    SNN calls it once per time step); "pass" once per forward pass of the model."""
    modules: tuple[type[nn.Module] | str, ...] | None = None
    """Module types (or class names) whose weights sit on devices; None: Linear and Conv."""
    include: tuple[str, ...] = ()
    """Glob patterns on parameter names: keep only the matching ones."""
    exclude: tuple[str, ...] = ()
    """Glob patterns on parameter names: drop the matching ones."""

    def __post_init__(self) -> None:
        if not self.kind:
            raise TypeError("DeviceModel is a base class; use PCM, RRAM, CustomDevice or StuckAt")
        g_max = _positive("g_max", self.g_max)
        g_min = _nonnegative("g_min", self.g_min)
        if not g_min < g_max:
            raise ValueError(f"g_min must be below g_max, got g_min={g_min}, g_max={g_max}")
        object.__setattr__(self, "g_max", g_max)
        object.__setattr__(self, "g_min", g_min)
        if self.w_max is not None:
            object.__setattr__(self, "w_max", _positive("w_max", self.w_max))
        pct = _finite("percentile", self.percentile)
        if not 0.0 < pct <= 100.0:
            raise ValueError(f"percentile must lie in (0, 100], got {self.percentile!r}")
        object.__setattr__(self, "percentile", pct)
        for f in fields(self):  # a switch is a bool: "false" is not False
            if f.type in ("bool", bool) and not isinstance(getattr(self, f.name), bool):
                raise ValueError(f"{f.name} must be true or false, got {getattr(self, f.name)!r}")
        if self.time is not None:
            object.__setattr__(self, "time", parse_time(self.time))
        object.__setattr__(self, "t0", _positive("t0", self.t0))
        if self.compensation is not None and self.compensation not in COMPENSATIONS:
            raise ValueError(
                f"unknown compensation {self.compensation!r}; allowed: None, "
                f"{', '.join(repr(c) for c in COMPENSATIONS)}"
            )
        if self.faults is not None and not isinstance(self.faults, StuckAt):
            raise TypeError(f"faults must be a StuckAt or None, got {type(self.faults).__name__}")
        object.__setattr__(self, "noise_scale", _nonnegative("noise_scale", self.noise_scale))
        object.__setattr__(self, "read_std", _nonnegative("read_std", self.read_std))
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; allowed: {list(MODES)}")
        if self.redraw not in REDRAWS:
            raise ValueError(f"unknown redraw {self.redraw!r}; allowed: {list(REDRAWS)}")
        if self.faults is not None:
            own = {"low", "high", "at"}
            given = [
                f"{f.name}={getattr(self.faults, f.name)!r}"
                for f in fields(self.faults)
                if f.name not in own and getattr(self.faults, f.name) != f.default
            ]
            if given:
                raise ValueError(
                    "faults=StuckAt(...) takes only low, high and at (the device model that "
                    f"holds them sets the rest); got {', '.join(given)}"
                )
        if self.modules is not None:
            object.__setattr__(self, "modules", tuple(_module_type(m) for m in self.modules))
        for name in ("include", "exclude"):
            object.__setattr__(self, name, _patterns(name, getattr(self, name)))

    # -- the physics (subclasses) -----------------------------------------------------

    def programming_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor:
        """σ (µS) of the conductance a device programmed to target ``g`` holds at ``time``."""
        raise NotImplementedError

    def drift_exponents(self, g: torch.Tensor, eps: torch.Tensor) -> torch.Tensor | None:
        """Drift exponents ν per device from unit normal draws ``eps``; None: no drift."""
        return None

    def read_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor | None:
        """Relative read noise accumulated up to ``time`` per device; None: none."""
        return None

    def check_time(self, time: float) -> None:
        """Raise if this model cannot be read at ``time`` (s after programming)."""

    def _fault_model(self) -> StuckAt | None:
        return self.faults

    # -- one tensor -------------------------------------------------------------------

    @property
    def read_time(self) -> float:
        """The time of the read (s): ``time``, else ``t0``; never before ``t0``."""
        return max(self.t0 if self.time is None else self.time, self.t0)

    def read_tensor(self, w: torch.Tensor, generator: torch.Generator) -> DeviceRead:
        """One chip's devices for the clean weights ``w``, drawn from ``generator``."""
        return self.read_chip(self.program_tensor(w, generator))

    def program_tensor(self, w: torch.Tensor, generator: torch.Generator) -> ProgrammedChip:
        """Programme one chip's devices for the clean weights ``w`` and take them to the
        read's time (programming noise, drift, the model's accumulated read noise,
        faults), every random number drawn from ``generator`` in one fixed order; read
        it with :meth:`read_chip`."""
        t = self.read_time
        self.check_time(t)
        w = w.detach()
        dtype = w.dtype if w.dtype in (torch.float32, torch.float64) else torch.float32
        shape = (2, *w.shape)

        def draw(kind: str) -> torch.Tensor:  # always these four, in this order
            fn = torch.randn if kind == "normal" else torch.rand
            out = fn(shape, generator=generator, dtype=dtype, device=generator.device)
            return out.to(w.device)

        z_prog, z_nu, u_fault, z_read = (
            draw("normal"),
            draw("normal"),
            draw("uniform"),
            draw("normal"),
        )
        z_std = draw("normal") if self.read_std > 0 else None  # after the four: they stay
        w_work = w.to(dtype)
        w_max = mapping_scale(w_work, self.percentile, self.w_max)
        target = torch.stack(to_conductances(w_work, w_max, self.g_min, self.g_max))
        sigma0 = self._sigma(target, self.t0)
        programmed = (target + self.noise_scale * sigma0 * z_prog).clamp(min=0.0)
        at_t = programmed  # the programming error at t (RRAM: σ(g) grows with t)
        if t > self.t0:
            sigma_t = self._sigma(target, t)
            if not torch.equal(sigma_t, sigma0):
                at_t = (target + self.noise_scale * sigma_t * z_prog).clamp(min=0.0)
        nu = self.drift_exponents(target, z_nu)
        state = at_t
        if nu is not None and t > self.t0:
            state = at_t * (t / self.t0) ** (-nu)
        rel = self.read_sigma(at_t, t)
        if rel is not None:  # the 1/f noise accumulated up to t: part of the chip's state
            state = (state + state.abs() * rel * z_read).clamp(min=0.0)
        faults = self._fault_model()
        stuck = torch.zeros(shape if faults is None or faults.at == "conductance" else (1,
                            *w.shape), dtype=torch.uint8, device=w.device)  # fmt: skip
        held = programmed
        if faults is not None and faults.at == "conductance":
            stuck = faults.masks(u_fault)
            held = faults.hold(programmed, stuck, self.g_min, self.g_max)
        w0 = to_weights(held[0], held[1], w_max, self.g_min, self.g_max)
        high = None
        if faults is not None and faults.at == "weight":
            stuck = faults.masks(u_fault[:1])
            high = torch.where(w_work < 0, -w_max, w_max).to(dtype)
            w0 = faults.hold_weights(w0, stuck[0], high)
        return ProgrammedChip(target, held, state, nu, stuck, high, w_max, w0, z_std,
                              w.dtype)  # fmt: skip

    def _sigma(self, target: torch.Tensor, time: float) -> torch.Tensor:
        sigma = self.programming_sigma(target, time)
        if not bool((sigma >= 0).all()):  # also refuses NaN
            bad = sigma[~(sigma >= 0)]
            raise ValueError(
                f"the {self.kind} model's σ(g) is negative or NaN ({float(bad[0]):.4g} µS) "
                "for some target conductance; σ(g) must be finite and >= 0 over "
                "[g_min, g_max]"
            )
        return sigma

    def read_chip(
        self,
        chip: ProgrammedChip,
        z_std: torch.Tensor | None = None,
        alpha: torch.Tensor | None = None,
    ) -> DeviceRead:
        """One read of a programmed chip: ``read_std`` noise from the unit normal draws
        ``z_std`` (``[2, *shape]``; None: the chip's own, its static read), faults, back
        to weights. ``alpha``: a drift compensation already calibrated (dynamic reads
        keep the chip's); None: calibrated on this read if the model compensates."""
        read = chip.state
        if self.read_std > 0:
            z = chip.z_std if z_std is None else z_std
            read = (read + read.abs() * self.read_std * z).clamp(min=0.0)
        faults = self._fault_model()
        if faults is not None and faults.at == "conductance":
            read = faults.hold(read, chip.stuck, self.g_min, self.g_max)
        wt = to_weights(read[0], read[1], chip.w_max, self.g_min, self.g_max)
        if chip.high is not None:
            wt = faults.hold_weights(wt, chip.stuck[0], chip.high)
        if alpha is None:
            alpha = self._compensation(chip.w0, wt)
        weights = wt if alpha is None else wt * alpha
        return DeviceRead(chip.target, chip.programmed, read, chip.nu, chip.stuck,
                          weights.to(chip.dtype), alpha)  # fmt: skip

    def reader(
        self, w: torch.Tensor, generator: torch.Generator, read_generator: torch.Generator
    ) -> Callable[[], torch.Tensor]:
        """Dynamic reads (the engine's dynamic mode): programme one chip for ``w`` from
        ``generator`` (its state at the read's time, the model's accumulated read noise
        included, as aihwkit's drifted weights), calibrate its drift compensation on the
        chip's own read, then return a function whose every call is one read of the
        chip (the weights), its ``read_std`` noise drawn fresh from ``read_generator``."""
        chip = self.program_tensor(w, generator)
        first = self.read_chip(chip)
        if self.read_std == 0:  # every read is the chip's own: computed once
            return lambda: first.weights
        alpha = first.alpha

        def read() -> torch.Tensor:
            z = torch.randn(chip.state.shape, generator=read_generator,
                            dtype=chip.state.dtype, device=read_generator.device)  # fmt: skip
            return self.read_chip(chip, z.to(chip.state.device), alpha).weights

        return read

    def _compensation(self, w0: torch.Tensor, wt: torch.Tensor) -> torch.Tensor | None:
        if self.compensation is None:
            return None
        if self.compensation == "global" or wt.dim() < 2:
            return w0.abs().mean() / wt.abs().mean().clamp(min=1e-12)
        dims = tuple(range(1, wt.dim()))
        ref = w0.abs().mean(dim=dims, keepdim=True)
        now = wt.abs().mean(dim=dims, keepdim=True).clamp(min=1e-12)
        return ref / now

    def read_weights(self, w: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The weights one chip's devices return for the clean weights ``w`` (the engine's
        read of a device model)."""
        return self.read_tensor(w, generator).weights

    # -- the variation interface -------------------------------------------------------

    def read_at(self, time: float | str | None) -> DeviceModel:
        """This device model read at ``time`` (seconds, or e.g. ``"1h"``) after programming."""
        return replace(self, time=time)

    def targets(self, model: nn.Module) -> list[Target]:
        """The weight tensors of ``model`` held by devices (raises if none)."""
        return select_targets(
            model, modules=self.modules, include=self.include, exclude=self.exclude
        )

    def sample(
        self,
        model: nn.Module,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        domain: str = "chip",
    ) -> engine.Draw:
        """One programmed chip read at ``time``: a :class:`~snnvar.variation.Draw` of
        deltas (read weight − clean weight); the model is left untouched."""
        return engine.sample(self, model, seed=seed, generator=generator, domain=domain)

    def applied(
        self,
        model: nn.Module,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        domain: str = "chip",
    ) -> contextlib.AbstractContextManager[Any]:
        """``with device.applied(model, seed=0):`` the model holds one chip's read
        weights; restored bit for bit on exit."""
        return engine.applied(self, model, seed=seed, generator=generator, domain=domain)

    # -- records ----------------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        """Field -> value of every setting that differs from the class default (time aside)."""
        out = {}
        for f in fields(self):
            if f.name == "time":
                continue
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = value
        return out

    def label(self) -> str:
        """What tells this device model apart in a report, the time aside: its kind,
        then every setting that differs from its default (e.g. ``"pcm"``,
        ``"pcm, compensation=global, faults=stuck(low=0.01, high=0.01)"``)."""
        parts = [self.kind]
        for name, value in self._settings().items():
            if isinstance(value, StuckAt):
                value = value.short()
            elif isinstance(value, tuple) and name == "modules":
                value = "/".join(m if isinstance(m, str) else m.__name__ for m in value)
            elif callable(value):
                value = getattr(value, "__name__", type(value).__name__)
            elif isinstance(value, float):
                value = f"{value:g}"
            parts.append(f"{name}={value}")
        return ", ".join(parts)

    def to_dict(self, strict: bool = True) -> dict[str, Any]:
        """Every setting as JSON data with its ``kind`` (read back by :func:`device_from_dict`).
        ``strict``: refuse a setting that cannot be written (a callable σ(g)); otherwise it
        is recorded by name."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, StuckAt):
                value = value.to_dict(strict)
            elif f.name == "modules" and value is not None:
                value = [m if isinstance(m, str) else _type_name(m) for m in value]
            elif isinstance(value, tuple):
                value = _jsonable(value)
            elif callable(value):
                if strict:
                    raise ValueError(
                        f"{self.kind} setting {f.name}={value!r} is a callable and cannot be "
                        "written to JSON; give σ(g) as points ((g, sigma), ...) instead"
                    )
                value = f"<callable {getattr(value, '__name__', type(value).__name__)}>"
            out[f.name] = value
        return out

    def __str__(self) -> str:
        return self.label() + ("" if self.time is None else f" @ {self.time:g} s")


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class StuckAt(DeviceModel):
    """Stuck-at faults: a fraction ``low`` of devices stuck at ``g_min`` and ``high``
    at ``g_max``, drawn per chip (MemTorch's DeviceFaults: HRS / LRS), or, with
    ``at="weight"``, weights stuck at 0 and at ±w_max. On its own, an ideal device
    (no programming noise) with faults; as ``faults=`` of another model, its faults."""

    kind: ClassVar[str] = "stuck"

    low: float = 0.0
    """Fraction of devices stuck at ``g_min`` (weight level: weights stuck at 0)."""
    high: float = 0.0
    """Fraction of devices stuck at ``g_max`` (weight level: at ``±w_max``, the weight's sign)."""
    at: str = "conductance"
    """``"conductance"``: each device of a pair fails on its own; ``"weight"``: the weight."""

    def __post_init__(self) -> None:
        super().__post_init__()
        low, high = _fraction("low", self.low), _fraction("high", self.high)
        if low + high > 1.0:
            raise ValueError(f"low + high must be <= 1, got low={low}, high={high}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if self.at not in FAULT_LEVELS:
            raise ValueError(f"unknown at {self.at!r}; allowed: {list(FAULT_LEVELS)}")
        if self.faults is not None:
            raise ValueError("a StuckAt model is the faults itself; leave its faults None")

    def programming_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor:
        return torch.zeros_like(g)

    def _fault_model(self) -> StuckAt | None:
        return self

    def masks(self, u: torch.Tensor) -> torch.Tensor:
        """0 healthy, 1 stuck low, 2 stuck high, from uniform draws ``u``."""
        stuck = torch.zeros(u.shape, dtype=torch.uint8, device=u.device)
        stuck[u < self.low] = 1
        stuck[(u >= self.low) & (u < self.low + self.high)] = 2
        return stuck

    @staticmethod
    def hold(g: torch.Tensor, stuck: torch.Tensor, g_min: float, g_max: float) -> torch.Tensor:
        """Conductances with the stuck devices at ``g_min`` / ``g_max``."""
        g = torch.where(stuck == 1, torch.full_like(g, g_min), g)
        return torch.where(stuck == 2, torch.full_like(g, g_max), g)

    @staticmethod
    def hold_weights(w: torch.Tensor, stuck: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """Weights with the stuck ones at 0 (low) and at ``high`` (±w_max)."""
        w = torch.where(stuck == 1, torch.zeros_like(w), w)
        return torch.where(stuck == 2, high, w)

    def short(self) -> str:
        """``stuck(low=0.01, high=0.01)``, for labels."""
        where = "" if self.at == "conductance" else f", at={self.at}"
        return f"stuck(low={self.low:g}, high={self.high:g}{where})"


@dataclass(frozen=True, kw_only=True)
class PCM(DeviceModel):
    """Phase-change memory (Nandakumar et al., ICECS 2019; the statistical model of
    aihwkit's PCMLikeNoiseModel): programming noise σ(g) a quadratic in g / g_max,
    drift ``G(t) = G(t0) (t / t0)^-ν`` with ν ~ ``|N(μ_ν(g), σ_ν(g))|``,
    μ_ν = clip(−0.0155 ln(g/g_max) + 0.0244, 0.049, 0.1), σ_ν = clip(−0.0125
    ln(g/g_max) − 0.0059, 0.008, 0.045), and 1/f read noise σ_r = Q_s
    sqrt(ln((t + t_read) / (2 t_read))), Q_s = min(0.0088 / (g/g_max)^0.65, 0.2),
    relative to the drifted conductance."""

    kind: ClassVar[str] = "pcm"

    drift: bool = True
    """Conductances drift after ``t0``."""
    drift_nu: tuple[float, float] | tuple[tuple[float, float, float], ...] | None = None
    """(mean, std) of ν for every device; or measured rows ``((g, mean, std), ...)``
    (µS, g increasing, at least two), interpolated linearly in the target
    conductance and held beyond the ends (as aihwkit's CustomDriftPCMLikeNoiseModel);
    None: the published conductance-dependent fit."""
    drift_scale: float = 1.0
    """Multiplies every drift exponent."""
    read_noise: bool = True
    """Accumulated 1/f read noise up to the read's time."""
    read_noise_scale: float = 1.0
    """Multiplies the read noise."""
    t_read: float = 250e-9
    """Duration of one read (s), a parameter of the 1/f fit."""
    prog_coeffs: tuple[float, ...] = PCM_PROG_COEFFS
    """σ(g) = Σ c_i (g / g_max)^i in µS at ``coeff_g_max`` (ascending)."""
    coeff_g_max: float = 25.0
    """The g_max the coefficients were fitted at; σ scales by g_max / coeff_g_max."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.drift_nu is not None:
            object.__setattr__(self, "drift_nu", _drift_nu(self.drift_nu))
        for name in ("drift_scale", "read_noise_scale"):
            object.__setattr__(self, name, _nonnegative(name, getattr(self, name)))
        object.__setattr__(self, "t_read", _positive("t_read", self.t_read))
        object.__setattr__(self, "coeff_g_max", _positive("coeff_g_max", self.coeff_g_max))
        coeffs = tuple(_finite("prog_coeffs", c) for c in self.prog_coeffs)
        if not coeffs:
            raise ValueError("prog_coeffs must hold at least one coefficient")
        object.__setattr__(self, "prog_coeffs", coeffs)

    def programming_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor:
        return _polynomial(self.prog_coeffs, g / self.g_max) * (self.g_max / self.coeff_g_max)

    def drift_exponents(self, g: torch.Tensor, eps: torch.Tensor) -> torch.Tensor | None:
        if not self.drift:
            return None
        if self.drift_nu is not None and not isinstance(self.drift_nu[0], tuple):
            mean, std = self.drift_nu
            return (mean + std * eps).abs() * self.drift_scale
        if self.drift_nu is not None:  # measured rows (g, mean, std)
            mean = _interp(g.abs(), self.drift_nu, 1)
            std = _interp(g.abs(), self.drift_nu, 2)
            return (mean + std * eps).abs() * self.drift_scale
        rel = (g / self.g_max).abs().clamp(min=1e-7).log()
        mu = (-0.0155 * rel + 0.0244).clamp(min=0.049, max=0.1)
        sd = (-0.0125 * rel - 0.0059).clamp(min=0.008, max=0.045)
        return (mu + sd * eps).abs() * self.drift_scale

    def read_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor | None:
        if not self.read_noise:
            return None
        q_s = (0.0088 / ((g.abs() / self.g_max) ** 0.65).clamp(min=1e-3)).clamp(max=0.2)
        return q_s * (self.read_noise_scale * math.sqrt(math.log((time + self.t_read) / (
            2 * self.t_read))))  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class RRAM(DeviceModel):
    """Resistive RAM (Wan et al., Nature 2022, NeuRRAM; the fits of aihwkit's
    ReRamWan2022NoiseModel): the deviation from the target conductance grows
    with time, σ(g, t) a quartic in g / g_max fitted at 1 s, 1 day and 2 days,
    interpolated linearly in log t between them. No drift exponent, no separate
    read noise. One chip keeps one deviation per device: ``G(t) = G_T + σ(G_T, t) z``."""

    kind: ClassVar[str] = "rram"

    g_max: float = 40.0
    t0: float = 1.0
    fits: tuple[tuple[float, tuple[float, ...]], ...] = WAN2022_FITS
    """(time in s, ascending coefficients of σ(g / g_max) in µS at ``coeff_g_max``) per fit."""
    coeff_g_max: float = 40.0
    """The g_max the fits were made at; σ scales by g_max / coeff_g_max."""

    def __post_init__(self) -> None:
        super().__post_init__()
        fits = tuple(
            (_positive("fit time", t), tuple(_finite("fit coefficient", c) for c in cs))
            for t, cs in self.fits
        )
        if not fits or any(not cs for _, cs in fits):
            raise ValueError("fits must hold at least one (time, coefficients) pair")
        if [t for t, _ in fits] != sorted({t for t, _ in fits}):
            raise ValueError(f"fit times must increase, got {[t for t, _ in fits]}")
        object.__setattr__(self, "fits", fits)
        object.__setattr__(self, "coeff_g_max", _positive("coeff_g_max", self.coeff_g_max))
        if self.time is not None:  # refused now, not at the first read of a training run
            self.check_time(self.read_time)

    def check_time(self, time: float) -> None:
        last = self.fits[-1][0]
        if time > last:
            raise ValueError(
                f"the RRAM fits end at {last:g} s; cannot read at {time:g} s (allowed: up to "
                f"{last:g} s, or give fits for later times)"
            )

    def programming_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor:
        x = g / self.g_max
        scale = self.g_max / self.coeff_g_max
        times = [t for t, _ in self.fits]
        if time <= times[0] or len(times) == 1:
            return _polynomial(self.fits[0][1], x) * scale
        k = next(i for i, t in enumerate(times) if t >= time)
        (t_a, c_a), (t_b, c_b) = self.fits[k - 1], self.fits[k]
        f = (math.log(time) - math.log(t_a)) / (math.log(t_b) - math.log(t_a))
        return ((1 - f) * _polynomial(c_a, x) + f * _polynomial(c_b, x)) * scale


@dataclass(frozen=True, kw_only=True)
class CustomDevice(DeviceModel):
    """A user's device: programming noise σ(g) as a callable (µS -> µS, element-wise)
    or as measured points ``((g, σ), ...)`` interpolated linearly (constant beyond
    the ends); :meth:`from_measurements` estimates the points from a table of
    target against achieved conductance. No drift."""

    kind: ClassVar[str] = "custom"

    sigma: Callable[[torch.Tensor], torch.Tensor] | tuple[tuple[float, float], ...] = ()
    """σ(g) in µS: a callable, or ``((g, sigma), ...)`` with increasing g."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if callable(self.sigma):
            return
        try:
            points = tuple((float(g), float(s)) for g, s in self.sigma)
        except (TypeError, ValueError):
            raise ValueError(
                f"sigma must be a callable or ((g, sigma), ...) points, got {self.sigma!r}"
            ) from None
        if not points:
            raise ValueError("sigma needs a callable or at least one (g, sigma) point")
        gs = [g for g, _ in points]
        if gs != sorted(set(gs)):
            raise ValueError(f"the points' conductances must increase, got {gs}")
        bad = [s for _, s in points if not math.isfinite(s) or s < 0]
        if bad or not all(math.isfinite(g) for g in gs):
            raise ValueError(f"σ(g) must be finite and >= 0, got {points}")
        object.__setattr__(self, "sigma", points)

    @classmethod
    def from_measurements(
        cls, target: Sequence[float] | torch.Tensor, achieved: Sequence[float] | torch.Tensor,
        bins: int = 16, **settings: Any,
    ) -> CustomDevice:  # fmt: skip
        """σ(g) from measured devices: the std of ``achieved − target`` per target level
        (when there are at most ``bins`` distinct targets) or per equal-width bin of
        ``target``, at the bins' mean target; each level needs two samples."""
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ValueError(f"bins must be an integer >= 1 (target levels), got {bins!r}")
        t = torch.as_tensor(target, dtype=torch.float64).flatten()
        a = torch.as_tensor(achieved, dtype=torch.float64).flatten()
        if t.numel() != a.numel() or t.numel() < 2:
            raise ValueError(
                f"target and achieved must hold the same number (>= 2) of values, got "
                f"{t.numel()} and {a.numel()}"
            )
        if not (torch.isfinite(t).all() and torch.isfinite(a).all()):
            raise ValueError("target and achieved conductances must be finite")
        levels = torch.unique(t)
        if len(levels) <= bins:
            groups = [t == lv for lv in levels]
        else:
            edges = torch.linspace(float(t.min()), float(t.max()), bins + 1, dtype=t.dtype)
            idx = torch.bucketize(t, edges[1:-1], right=True)
            groups = [idx == k for k in range(bins)]
        points = []
        for mask in groups:
            if int(mask.sum()) >= 2:
                dev = a[mask] - t[mask]
                points.append((float(t[mask].mean()), float(dev.std())))
        if not points:
            raise ValueError("no target level has two measurements; σ(g) cannot be estimated")
        return cls(sigma=tuple(points), **settings)

    def programming_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor:
        if callable(self.sigma):
            out = torch.as_tensor(self.sigma(g), dtype=g.dtype, device=g.device)
            return out.expand_as(g)
        return _interp(g, self.sigma)


DEVICE_KINDS: dict[str, type[DeviceModel]] = {c.kind: c for c in (PCM, RRAM, CustomDevice, StuckAt)}
"""Device model classes by their ``kind`` (the ``kind`` key of ``to_dict`` and TOML)."""


def device_from_dict(data: Mapping[str, Any], base_dir: str | Path | None = None) -> DeviceModel:
    """A device model from :meth:`DeviceModel.to_dict` or a TOML ``[device]`` table:
    ``kind`` (``pcm``, ``rram``, ``custom``, ``stuck``) and the class's field names;
    ``faults`` a table of :class:`StuckAt` fields; a custom device's ``sigma`` as
    ``[[g, sigma], ...]``, or ``measurements = "file.csv"`` (two columns: target,
    achieved conductance, µS; a header line and ``#`` comments allowed; relative to
    ``base_dir``); ``time`` as seconds or e.g. ``"1h"``."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a device model must be a table, got {type(data).__name__}")
    data = dict(data)
    kind = data.pop("kind", None)
    if kind not in DEVICE_KINDS:
        raise ValueError(f"unknown device kind {kind!r}; allowed: {list(DEVICE_KINDS)}")
    cls = DEVICE_KINDS[kind]
    allowed = {f.name for f in fields(cls)} | ({"measurements", "bins"} if cls is CustomDevice
                                               else set())  # fmt: skip
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"unknown {kind} device setting(s) {unknown}; allowed: {sorted(allowed)}")
    if data.get("faults") is not None:
        faults = dict(data["faults"]) if isinstance(data["faults"], Mapping) else None
        if faults is None:
            raise ValueError(f"faults must be a table of StuckAt settings, got {data['faults']!r}")
        faults.setdefault("kind", "stuck")
        data["faults"] = device_from_dict(faults, base_dir)
    for name, value in list(data.items()):
        if isinstance(value, list):
            data[name] = _tupled(value)
    if cls is CustomDevice and "measurements" in data:
        if "sigma" in data:
            raise ValueError("give a custom device's sigma or its measurements, not both")
        path = Path(data.pop("measurements"))
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        target, achieved = _read_pairs(path)
        bins = data.pop("bins", 16)
        return CustomDevice.from_measurements(target, achieved, bins=bins, **data)
    try:
        return cls(**data)
    except TypeError as err:
        raise ValueError(f"bad {kind} device settings {data}: {err}") from None


def _tupled(value: Any) -> Any:
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value


def _read_pairs(path: Path) -> tuple[list[float], list[float]]:
    """Two columns (target, achieved) from a CSV file."""
    if not path.is_file():
        raise ValueError(f"the measurements file {path} does not exist")
    from ..files import is_header

    target, achieved = [], []
    first = True
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        cells = [c.strip() for c in line.replace(";", ",").split(",")]
        if first and is_header(cells):  # one header line: text in every column
            first = False
            warnings.warn(f"{path}:{n}: {line!r} read as a header", stacklevel=2)
            continue
        first = False
        try:
            values = [float(c) for c in cells]
        except ValueError:
            raise ValueError(f"{path}:{n}: not two numbers: {line!r}") from None
        if len(values) != 2:
            raise ValueError(f"{path}:{n}: expected target,achieved, got {line!r}")
        target.append(values[0])
        achieved.append(values[1])
    if len(target) < 2:
        raise ValueError(f"{path} holds fewer than two measurements")
    return target, achieved


def devices_from_tables(
    tables: Mapping[str, Any] | Sequence[Mapping[str, Any]], base_dir: str | Path | None = None,
    where: str = "the device model",
) -> dict[str, DeviceModel]:  # fmt: skip
    """Label -> device model from one ``[device]`` table or a list of ``[[device]]``
    tables (each may carry a ``name``, its label; else :meth:`DeviceModel.label`);
    errors name ``where`` and the table."""
    single = isinstance(tables, Mapping)
    items = [tables] if single else list(tables)
    if not items:
        raise ValueError(f"{where}: no device table")
    out: dict[str, DeviceModel] = {}
    for i, table in enumerate(items, start=1):
        if not isinstance(table, Mapping):
            raise ValueError(f"{where}: device table {i} is {table!r}, not a table")
        table = dict(table)
        name = table.pop("name", None)
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{where}: device table {i}: name must be a non-empty string")
        try:
            device = device_from_dict(table, base_dir)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}{'' if single else f', table {i}'}: {err}") from None
        label = name or device.label()
        if label in out:
            raise ValueError(f"{where}: two device tables are labelled {label!r}; name them")
        out[label] = device
    return out


def devices_from_toml(path: str | Path) -> dict[str, DeviceModel]:
    """Label -> device model of a TOML file with a ``[device]`` table or ``[[device]]``
    tables (:func:`devices_from_tables`; data files relative to the file)."""
    from ..files import read_toml

    path = Path(path)
    data = read_toml(path, "device")
    if set(data) != {"device"}:
        raise ValueError(
            f"device file {path} must hold a [device] table or [[device]] tables, got keys "
            f"{sorted(data)}"
        )
    return devices_from_tables(data["device"], path.parent, where=str(path))
