"""Device models: weights held as conductance pairs, programmed, drifted and read.

A device model is a :class:`~snnvar.Perturbation` (docs/guide/hardware.md,
"Devices over time"), as a :class:`~snnvar.Variation` is: it is accepted wherever
one is (``sample``, ``applied``, the training methods, :func:`snnvar.evaluate`),
draws its chips from the same per-device-weight streams
(:mod:`snnvar.variation.seeding`), so models that share device weights share
chips, and restores the weights bit for bit. For each selected weight tensor
``w`` of a chip read ``time`` seconds after programming:

1. map ``w`` to its target pair ``(G+, G-)`` (:mod:`snnvar.hardware.conductance`);
2. programme each device: ``G = G_T + noise_scale · σ(G_T) · z`` (``σ`` in µS,
   per model), clamped at 0;
3. (PCM) drift: ``G(t) = G(t0) · (t / t0)^-ν`` with ``ν`` drawn per device,
   then 1/f read noise accumulated up to ``t`` (:mod:`snnvar.hardware.drift`);
4. stuck-at faults (:mod:`snnvar.hardware.faults`): devices stuck at ``g_min`` /
   ``g_max`` (or weights stuck at 0 / ±w_max) hold that value at every time;
5. back to weights; drift compensation (``"global"``: one scale per layer,
   ``"column"``: one per output) from the chip's own reference read right after
   programming.

Every chip draws all its random numbers in one fixed order whatever the
settings (programming, drift exponents, faults, read noise), so one chip read
at several times, with and without compensation or drift, is the same
programmed chip. The read noise of one device is one draw scaled by the noise
accumulated up to ``t`` (a chip read later is the same chip, noisier).
Times before ``t0`` (the end of programming and verification) read as ``t0``.

The models: :class:`~snnvar.hardware.PCM`, :class:`~snnvar.hardware.RRAM`,
:class:`~snnvar.hardware.CustomDevice` (their own modules) and
:class:`IdealDevice` (no noise: the mapping and its faults only).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

from ..variation import engine
from ..variation.checks import finite, module_type, patterns, type_name
from ..variation.config import MODES, REDRAWS
from ..variation.perturbation import Draw
from ..variation.selection import Target, select_targets
from .checks import nonnegative, positive
from .conductance import mapping_scale, to_conductances, to_weights
from .drift import COMPENSATIONS, compensation_scale, drifted
from .faults import StuckAt
from .times import parse_time

__all__ = ["DeviceModel", "DeviceRead", "IdealDevice", "ProgrammedChip"]


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
    time, before a read (:meth:`DeviceModel.program`); ``[2, *shape]``, µS."""

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


@dataclass(frozen=True, kw_only=True)
class DeviceModel:
    """The settings every device model shares: the conductance mapping, the time
    of the read, drift compensation, faults and which weights sit on devices.
    Use a subclass: :class:`~snnvar.hardware.PCM`, :class:`~snnvar.hardware.RRAM`,
    :class:`~snnvar.hardware.CustomDevice`, :class:`IdealDevice`."""

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
    """Stuck-at faults on top of this device's noise (:class:`~snnvar.hardware.StuckAt`),
    or None."""
    noise_scale: float = 1.0
    """Multiplies the programming noise σ(g) (1: the model as published; 0: none)."""
    read_std: float = 0.0
    """Relative std of every read of a conductance (a measured read-to-read
    fluctuation, drawn afresh at every dynamic read), on top of the chip's state
    (PCM: its accumulated 1/f noise, ``read_noise``)."""
    mode: str = "static"
    """"static": one read per chip; "dynamic": the chip is programmed once (programming
    noise, drift, PCM's accumulated 1/f noise as in aihwkit, faults, compensation) and
    every read draws fresh ``read_std`` noise (the engine's dynamic mode: per time
    step or per pass)."""
    redraw: str = "step"
    """Dynamic mode only: "step" reads at every call of a device layer (an snnvar
    SNN calls it once per time step); "pass" once per forward pass of the model."""
    modules: tuple[type[torch.nn.Module] | str, ...] | None = None
    """Module types (or class names) whose weights sit on devices; None: Linear and Conv."""
    include: tuple[str, ...] = ()
    """Glob patterns on parameter names: keep only the matching ones."""
    exclude: tuple[str, ...] = ()
    """Glob patterns on parameter names: drop the matching ones."""

    def __post_init__(self) -> None:
        if not self.kind:
            raise TypeError(
                "DeviceModel is a base class; use PCM, RRAM, CustomDevice or IdealDevice"
            )
        g_max = positive("g_max", self.g_max)
        g_min = nonnegative("g_min", self.g_min)
        if not g_min < g_max:
            raise ValueError(f"g_min must be below g_max, got g_min={g_min}, g_max={g_max}")
        object.__setattr__(self, "g_max", g_max)
        object.__setattr__(self, "g_min", g_min)
        if self.w_max is not None:
            object.__setattr__(self, "w_max", positive("w_max", self.w_max))
        pct = finite("percentile", self.percentile)
        if not 0.0 < pct <= 100.0:
            raise ValueError(f"percentile must lie in (0, 100], got {self.percentile!r}")
        object.__setattr__(self, "percentile", pct)
        for f in fields(self):  # a switch is a bool: "false" is not False
            if f.type in ("bool", bool) and not isinstance(getattr(self, f.name), bool):
                raise ValueError(f"{f.name} must be true or false, got {getattr(self, f.name)!r}")
        if self.time is not None:
            object.__setattr__(self, "time", parse_time(self.time))
        object.__setattr__(self, "t0", positive("t0", self.t0))
        if self.compensation is not None and self.compensation not in COMPENSATIONS:
            raise ValueError(
                f"unknown compensation {self.compensation!r}; allowed: None, "
                f"{', '.join(repr(c) for c in COMPENSATIONS)}"
            )
        if self.faults is not None and not isinstance(self.faults, StuckAt):
            raise TypeError(f"faults must be a StuckAt or None, got {type(self.faults).__name__}")
        object.__setattr__(self, "noise_scale", nonnegative("noise_scale", self.noise_scale))
        object.__setattr__(self, "read_std", nonnegative("read_std", self.read_std))
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; allowed: {list(MODES)}")
        if self.redraw not in REDRAWS:
            raise ValueError(f"unknown redraw {self.redraw!r}; allowed: {list(REDRAWS)}")
        if self.modules is not None:
            object.__setattr__(self, "modules", tuple(module_type(m) for m in self.modules))
        for name in ("include", "exclude"):
            object.__setattr__(self, name, patterns(name, getattr(self, name)))

    # -- the physics (subclasses) -----------------------------------------------------

    def programming_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor:
        """σ (µS) of the conductance a device programmed to target ``g`` holds at ``time``."""
        raise NotImplementedError

    def drift_exponents(self, g: torch.Tensor, eps: torch.Tensor) -> torch.Tensor | None:
        """Drift exponents ν per device from unit normal draws ``eps``; None: no drift."""
        return None

    def read_noise_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor | None:
        """Relative read noise accumulated up to ``time`` per device (part of the chip's
        state, as PCM's 1/f noise); None: none."""
        return None

    def check_time(self, time: float) -> None:
        """Raise if this model cannot be read at ``time`` (s after programming)."""

    # -- one tensor -------------------------------------------------------------------

    @property
    def effective_time(self) -> float:
        """The time the chip is read at (s): ``time``, else ``t0``; never before ``t0``."""
        return max(self.t0 if self.time is None else self.time, self.t0)

    def program(self, w: torch.Tensor, generator: torch.Generator) -> ProgrammedChip:
        """Programme one chip's devices for the clean weights ``w`` and take them to the
        read's time (programming noise, drift, the model's accumulated read noise,
        faults), every random number drawn from ``generator`` in one fixed order; read
        it with :meth:`read`."""
        t = self.effective_time
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
            state = drifted(at_t, nu, t, self.t0)
        rel = self.read_noise_sigma(at_t, t)
        if rel is not None:  # the 1/f noise accumulated up to t: part of the chip's state
            state = (state + state.abs() * rel * z_read).clamp(min=0.0)
        faults = self.faults
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

    def read(
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
        faults = self.faults
        if faults is not None and faults.at == "conductance":
            read = faults.hold(read, chip.stuck, self.g_min, self.g_max)
        wt = to_weights(read[0], read[1], chip.w_max, self.g_min, self.g_max)
        if chip.high is not None:
            wt = StuckAt.hold_weights(wt, chip.stuck[0], chip.high)
        if alpha is None:
            alpha = compensation_scale(self.compensation, chip.w0, wt)
        weights = wt if alpha is None else wt * alpha
        return DeviceRead(chip.target, chip.programmed, read, chip.nu, chip.stuck,
                          weights.to(chip.dtype), alpha)  # fmt: skip

    def program_and_read(self, w: torch.Tensor, generator: torch.Generator) -> DeviceRead:
        """One chip for the clean weights ``w``, drawn from ``generator``, read once:
        :meth:`read` of :meth:`program`."""
        return self.read(self.program(w, generator))

    # -- the perturbation (snnvar.Perturbation) ----------------------------------------

    @property
    def on_devices(self) -> bool:
        """True: the engine reads the weights through :meth:`chip_weights` /
        :meth:`chip_reads`."""
        return True

    def chip_weights(self, w: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The weights one chip's devices return for the clean weights ``w`` (the
        engine's static read of a device model)."""
        return self.program_and_read(w, generator).weights

    def chip_reads(
        self, w: torch.Tensor, generator: torch.Generator, read_generator: torch.Generator
    ) -> Callable[[], torch.Tensor]:
        """Dynamic reads (the engine's dynamic mode): programme one chip for ``w`` from
        ``generator`` (its state at the read's time, the model's accumulated read noise
        included, as aihwkit's drifted weights), calibrate its drift compensation on the
        chip's own read, then return a function whose every call is one read of the
        chip (the weights), its ``read_std`` noise drawn fresh from ``read_generator``."""
        chip = self.program(w, generator)
        first = self.read(chip)
        if self.read_std == 0:  # every read is the chip's own: computed once
            return lambda: first.weights
        alpha = first.alpha

        def read() -> torch.Tensor:
            z = torch.randn(chip.state.shape, generator=read_generator,
                            dtype=chip.state.dtype, device=read_generator.device)  # fmt: skip
            return self.read(chip, z.to(chip.state.device), alpha).weights

        return read

    def at_time(self, time: float | str | None) -> DeviceModel:
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
    ) -> Draw:
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
        reads: int | None = None,
    ) -> contextlib.AbstractContextManager[Any]:
        """``with device.applied(model, seed=0):`` the model holds one chip's read
        weights; restored bit for bit on exit. ``reads`` (dynamic reads): the root of
        the reads instead of ``seed``: the same programmed chip, other reads."""
        return engine.applied(
            self, model, seed=seed, generator=generator, domain=domain, reads=reads
        )

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
                value = value.label()
            elif isinstance(value, tuple) and name == "modules":
                value = "/".join(m if isinstance(m, str) else m.__name__ for m in value)
            elif callable(value):
                value = getattr(value, "__name__", type(value).__name__)
            elif isinstance(value, float):
                value = f"{value:g}"
            parts.append(f"{name}={value}")
        return ", ".join(parts)

    def to_dict(self, strict: bool = True) -> dict[str, Any]:
        """Every setting as JSON data with its ``kind`` (read back by
        :func:`~snnvar.hardware.device_from_dict`). ``strict``: refuse a setting that
        cannot be written (a callable σ(g)); otherwise it is recorded by name."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, StuckAt):
                value = value.to_dict()
            elif f.name == "modules" and value is not None:
                value = [m if isinstance(m, str) else type_name(m) for m in value]
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
class IdealDevice(DeviceModel):
    """Ideal devices: the conductance mapping without programming noise, drift or read
    noise; a chip whose only defects are its ``faults``
    (``IdealDevice(faults=StuckAt(low=0.01))``)."""

    kind: ClassVar[str] = "ideal"

    def programming_sigma(self, g: torch.Tensor, time: float) -> torch.Tensor:
        """Zero: an ideal device holds its target conductance."""
        return torch.zeros_like(g)
