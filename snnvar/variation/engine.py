"""Sample, apply and restore weight perturbations (static and dynamic).

For each selected tensor ``w`` of layer ``l`` (docs/guide/engine.md):

    w_device = quantise(clip(w))                       (only if configured)
    Δw       = γ · σ · s_l · ε  +  μ · s_l             ε from a unit distribution
    w_read   = w_device + Δw

A draw's delta is ``w_read − w`` (to rounding with clip or levels). ``static``
mode writes ``w_read`` into the model once per draw (one simulated chip; the
weights' storage is swapped, so
restoring puts the original storage back, bit for bit). ``dynamic`` mode
redraws at every call of a perturbed module (``redraw="step"``) or once per
forward pass of the model (``redraw="pass"``), read noise, without touching the
stored weights: the module sees ``w_read`` as a tensor computed from the
parameter, so gradients flow to the clean weight. With clipping or levels,
``w_read`` is computed from ``w_device`` itself (at σ = 0 it lies exactly on
the device's levels) and its gradient passes straight through the quantiser.

Each tensor's random stream is keyed by its device key and a seed domain
(:mod:`.seeding`): ``"chip"`` for test chips, ``"train"`` for training noise.

A module may program its parameters before the devices hold them: HRAT's
restricted layer (:func:`snnvar.hardware.restrict`) writes ``W′ = levels(fuse(W/a,
BN))``, not ``W``. Such a module answers ``programs_parameter(attr) -> True``; the
engine then leaves the parameter alone and the module passes the values it
programs through :func:`read_programmed` in its forward pass, which returns them
as the devices read them: the noise (its scale, window and levels taken from
the programmed values) lands on the weights the chip holds, with a
straight-through gradient to them. A static chip reads the same devices at every
call (the tensor's stream restarted); a dynamic one draws on as for any tensor.

The engine acts on any :class:`~.perturbation.Perturbation`: a device model
(``on_devices``) through its ``chip_weights`` / ``chip_reads``, anything else
through the noise settings of a :class:`~snnvar.Variation`
(:class:`~.perturbation.VariationSpec`); it does not import :mod:`.config`,
which imports this module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import torch
from torch import nn

from .constraints import device_window, program
from .distributions import UnitDistribution, resolve_distribution
from .perturbation import Draw, Perturbation, VariationSpec, require_read
from .reference import TensorStats, scale, tensor_stats, work_dtype
from .seeding import check_domain, root_seed, stream
from .selection import Target

__all__ = [
    "applied",
    "per_read",
    "perturbation",
    "programmed_delta",
    "programs",
    "read_programmed",
    "read_value",
    "reading_programmed",
    "sample",
]

_CLEAN = "_snnvar_clean"
"""Attribute set on a tensor while a variation is applied to it: its clean value."""

READ_STREAM = "#read"
"""Suffix of a device key whose stream feeds a device model's dynamic reads (the
chip's programming draws from the key's own stream)."""

_READS = "_snnvar_dynamic_reads"
"""Attribute set on a module while a dynamic variation redraws its tensors at every call."""

_PROGRAMMED = "_snnvar_programmed_reads"
"""Attribute set on a programming module while a variation is applied: attr -> reader."""

PARALLEL_MIN_NUMEL = 1 << 20
"""Draws over fewer elements than this stay on the calling thread."""


def _clean(tensor: torch.Tensor) -> torch.Tensor:
    """The clean value of a tensor, also while a static variation is applied."""
    return getattr(tensor, _CLEAN, tensor).detach()


def per_read(module: nn.Module) -> bool:
    """Whether a dynamic variation redraws tensors of ``module`` (or a submodule) per call.

    Spiking containers use it to call such a layer once per time step, so read
    noise is redrawn at every step instead of once per pass.
    """
    return any(getattr(m, _READS, False) for m in module.modules())


def programs(t: Target) -> bool:
    """Whether ``t``'s module programs it before the devices hold it (see the module
    docstring): the engine reads the programmed value, not the parameter."""
    check = getattr(t.module, "programs_parameter", None)
    return not t.is_buffer and callable(check) and bool(check(t.attr))


@contextlib.contextmanager
def reading_programmed(
    targets: list[Target],
    fn: Callable[[Target, torch.Tensor, Mapping[str, torch.Tensor]], torch.Tensor],
) -> Iterator[list[Target]]:
    """Inside the block, each programmed tensor of ``targets`` (:func:`programs`) reads
    as ``fn(target, value, programmed)`` in its module's forward pass (``programmed``:
    the module's clean programmed tensors); yields those targets. For methods that
    move the programmed weights themselves (WVAT's GAV on a restricted model)."""
    chosen = [t for t in targets if programs(t)]
    busy = [t.name for t in chosen if t.attr in t.module.__dict__.get(_PROGRAMMED, {})]
    if busy:
        raise RuntimeError(f"a variation is already applied to {busy}; nesting is refused")
    for t in chosen:
        _install(t, lambda value, programmed, t=t: fn(t, value, programmed))
    try:
        yield chosen
    finally:
        _uninstall(chosen)


def programmed_delta(
    v: Perturbation,
    t: Target,
    value: torch.Tensor,
    programmed: Mapping[str, torch.Tensor],
    seed: int,
    domain: str = "chip",
) -> torch.Tensor:
    """The static draw ``seed`` of ``v`` on the programmed tensor ``value`` of target
    ``t`` (what :meth:`Variation.applied <snnvar.Variation.applied>` reads there, less
    the value)."""
    check_domain(domain)
    root, device = root_seed(seed, None)
    draw = Draw(v, root, [t.name], domain=domain)
    clean = value.detach()
    return _static_programmed_read(v, t, root, device, domain, draw)(clean, programmed) - clean


ProgrammedRead = Callable[[torch.Tensor, Mapping[str, torch.Tensor]], torch.Tensor]
"""``read(value, programmed)``: ``value`` (a programmed tensor) as its devices return
it; ``programmed`` holds the module's clean programmed tensors by attribute (a bias
scaled by its layer takes the programmed weight's statistics)."""


def read_programmed(
    module: nn.Module, values: Mapping[str, torch.Tensor | None]
) -> dict[str, torch.Tensor | None]:
    """``values`` (attribute -> the tensor ``module`` programs, e.g. ``{"weight": W′,
    "bias": b′}``) as the devices read them under the variation applied now; the
    values themselves when none is. Differentiable: the gradient passes straight
    through to each programmed value."""
    reads: dict[str, ProgrammedRead] | None = module.__dict__.get(_PROGRAMMED)
    out = dict(values)
    if not reads:
        return out
    clean = {k: v.detach() for k, v in values.items() if v is not None}
    for attr, read in reads.items():
        value = values.get(attr)
        if value is not None:
            out[attr] = read(value, clean)
    return out


def _programmed_reference(
    t: Target, clean: torch.Tensor, programmed: Mapping[str, torch.Tensor]
) -> torch.Tensor:
    """The programmed tensor whose statistics scale target ``t``'s noise."""
    if t.reference is None:
        return clean
    if t.reference not in programmed:
        raise RuntimeError(
            f"{t.name} is scaled by its layer's {t.reference}, which the layer did not pass "
            "to read_programmed"
        )
    return programmed[t.reference]


def _install(t: Target, read: ProgrammedRead) -> None:
    t.module.__dict__.setdefault(_PROGRAMMED, {})[t.attr] = read


def _uninstall(targets: list[Target]) -> None:
    """Remove the readers of ``targets`` only (another block may read other tensors of
    the same module)."""
    for t in targets:
        reads = t.module.__dict__.get(_PROGRAMMED)
        if reads is not None:
            reads.pop(t.attr, None)
            if not reads:
                del t.module.__dict__[_PROGRAMMED]


def _needs_stats(v: VariationSpec) -> bool:
    return v.relative_to in ("range", "max") or v.clip or v.levels is not None


def _constrained(v: VariationSpec) -> bool:
    return v.clip or v.levels is not None


def _noise(
    w: torch.Tensor,
    v: VariationSpec,
    distribution: UnitDistribution,
    generator: torch.Generator,
    stats: TensorStats | None,
) -> torch.Tensor:
    """``γ σ s ε + μ s`` for the clean tensor ``w``, in its working dtype."""
    dtype = work_dtype(w.dtype)
    delta = distribution.sample(w.shape, generator, dtype=dtype).to(w.device)
    s = scale(w, stats, v.relative_to)
    factor = v.gamma * v.sigma
    if s.dim() == 0:  # one pass: (γσ s) ε + μ s
        delta.mul_(s * factor)
        if v.mean != 0.0:
            delta.add_(s * v.mean)
    else:  # element-wise scale: (γσ ε + μ) |w|
        if factor != 1.0:
            delta.mul_(factor)
        if v.mean != 0.0:
            delta.add_(v.mean)
        delta.mul_(s)
    return delta


def _programmed(w: torch.Tensor, v: VariationSpec, stats: TensorStats | None) -> torch.Tensor:
    """``quantise(clip(w))`` in the working dtype (only when ``v`` constrains)."""
    assert stats is not None
    lo, hi = device_window(stats, v.window, v.window_stds)
    return program(w.to(work_dtype(w.dtype)), lo, hi, v.clip, v.levels)


def perturbation(
    w: torch.Tensor,
    v: VariationSpec,
    distribution: UnitDistribution,
    generator: torch.Generator,
    stats: TensorStats | None = None,
) -> torch.Tensor:
    """The delta of one clean tensor ``w`` (same shape, dtype and device as ``w``).

    ``stats``: the reference statistics (default: those of ``w``; a bias scaled
    by its layer passes the layer weight's).
    """
    w = w.detach()
    if stats is None and _needs_stats(v):
        stats = tensor_stats(w)
    delta = _noise(w, v, distribution, generator, stats)
    if _constrained(v):
        w_work = w.to(delta.dtype)
        delta.add_(_programmed(w, v, stats) - w_work)
    return delta.to(w.dtype)


def read_value(
    w: torch.Tensor,
    v: VariationSpec,
    distribution: UnitDistribution,
    generator: torch.Generator,
    stats: TensorStats | None = None,
) -> torch.Tensor:
    """The weight a read of the device returns: ``quantise(clip(w)) + Δw``.

    The same draw as :func:`perturbation` (``w + delta`` up to rounding). With
    clipping or levels it is computed from the programmed weight itself, so at
    σ = 0 (no mean shift) it lies exactly on the device's levels; otherwise it is
    ``w + delta`` exactly.
    """
    w = w.detach()
    if stats is None and _needs_stats(v):
        stats = tensor_stats(w)
    noise = _noise(w, v, distribution, generator, stats)
    if _constrained(v):
        return noise.add_(_programmed(w, v, stats)).to(w.dtype)
    return noise.to(w.dtype).add_(w)


def _map(fn: Callable[[Target], torch.Tensor], targets: list[Target]) -> list[torch.Tensor]:
    """``[fn(t) for t in targets]``, on parallel threads for large models.

    Each tensor has its own generator, so threads give identical results.
    """
    total = sum(t.tensor.numel() for t in targets)
    workers = min(len(targets), torch.get_num_threads())
    if workers > 1 and total >= PARALLEL_MIN_NUMEL:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, targets))
    return [fn(t) for t in targets]


def _reference_stats(v: VariationSpec, t: Target) -> TensorStats | None:
    """The clean statistics that scale target ``t`` (None if not needed): its own, or
    its layer weight's (:attr:`Target.reference_tensor`)."""
    return tensor_stats(_clean(t.reference_tensor)) if _needs_stats(v) else None


def _delta_of(
    v: Perturbation, root: int, device: torch.device, domain: str, read: bool = False
) -> Callable[[Target], torch.Tensor]:
    """Per target: its delta (or, ``read``: the read value), drawn from its stream.

    A device model (:mod:`snnvar.hardware`) reads its own devices: its
    ``chip_weights(w, generator)`` returns the weights one chip holds."""
    if v.on_devices:

        def from_devices(t: Target) -> torch.Tensor:
            w = _clean(t.tensor)
            value = require_read(v, v.chip_weights(w, stream(root, t.key, device, domain)))
            return value if read else value - w

        return from_devices
    spec = cast(VariationSpec, v)
    distribution = resolve_distribution(spec.distribution)
    fn = read_value if read else perturbation

    def delta(t: Target) -> torch.Tensor:
        w = _clean(t.tensor)
        gen = stream(root, t.key, device, domain)
        return fn(w, spec, distribution, gen, _reference_stats(spec, t))

    return delta


def sample(
    v: Perturbation,
    model: nn.Module,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    domain: str = "chip",
) -> Draw:
    """Draw the deltas of one simulated chip without touching ``model``."""
    check_domain(domain)
    targets = v.targets(model)
    root, device = root_seed(seed, generator)
    deltas = _map(_delta_of(v, root, device, domain), targets)
    names = [t.name for t in targets]
    return Draw(v, root, names, dict(zip(names, deltas, strict=True)), domain=domain)


def _refuse_nested(targets: list[Target]) -> None:
    busy = [t.name for t in targets if hasattr(t.tensor, _CLEAN)]
    if busy:
        raise RuntimeError(
            f"a variation is already applied to {busy}; nested application is refused "
            "(reference statistics must come from clean weights). Exit the outer block first."
        )


@contextlib.contextmanager
def applied(
    v: Perturbation,
    model: nn.Module,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    domain: str = "chip",
    reads: int | None = None,
) -> Iterator[Draw]:
    """Perturb ``model`` inside the block; restore it bit for bit on exit. ``reads``
    (dynamic mode; static chips ignore it): the root of the reads instead of the chip's
    seed, the same programmed chip read on other reads (a dynamic variation is all reads)."""
    check_domain(domain)
    targets = v.targets(model)
    _refuse_nested(targets)
    root, device = root_seed(seed, generator)
    if v.mode == "static":
        with _static(v, targets, root, device, domain) as draw:
            yield draw
    else:
        read_root = root if reads is None else root_seed(reads, None)[0]
        with _dynamic(v, model, targets, root, device, domain, read_root) as draw:
            yield draw


@contextlib.contextmanager
def _static(
    v: Perturbation, targets: list[Target], root: int, device: torch.device, domain: str
) -> Iterator[Draw]:
    delta = _delta_of(v, root, device, domain)
    by_name = {t.name: t for t in targets}
    programmed = [t for t in targets if programs(t)]
    plain = [t for t in targets if not programs(t)]
    programmed_names = {t.name for t in programmed}

    def recompute(name: str) -> torch.Tensor:
        if name in programmed_names:
            raise KeyError(
                f"{name} is programmed by its layer (a restricted layer before deploy): "
                "its delta is known after the layer's forward pass"
            )
        return delta(by_name[name])

    draw = Draw(v, root, list(by_name), recompute=recompute, domain=domain)
    draw.reads = 1
    # One allocation per tensor: the noise's buffer becomes the perturbed weight.
    values = _map(_delta_of(v, root, device, domain, read=True), plain)
    originals: list[tuple[torch.Tensor, torch.Tensor]] = []
    try:
        for t in programmed:  # read where the layer programs them, the same devices each call
            setattr(t.tensor, _CLEAN, t.tensor.data)
            originals.append((t.tensor, t.tensor.data))
            _install(t, _static_programmed_read(v, t, root, device, domain, draw))
        for t, value in zip(plain, values, strict=True):
            tensor = t.tensor
            clean = tensor.data
            setattr(tensor, _CLEAN, clean)
            originals.append((tensor, clean))
            tensor.data = value
        yield draw
    finally:
        _uninstall(programmed)
        for tensor, clean in reversed(originals):
            tensor.data = clean
            delattr(tensor, _CLEAN)


def _static_programmed_read(
    v: Perturbation, t: Target, root: int, device: torch.device, domain: str, draw: Draw
) -> ProgrammedRead:
    """One static chip's read of a programmed tensor: its stream restarted at every
    call, so the same devices return the same offsets while the programmed value is
    the same (and the same unit draws on a new target when it changes)."""
    spec = None if v.on_devices else cast(VariationSpec, v)
    distribution = None if spec is None else resolve_distribution(spec.distribution)

    def read(value: torch.Tensor, programmed: Mapping[str, torch.Tensor]) -> torch.Tensor:
        clean = value.detach()
        gen = stream(root, t.key, device, domain)
        if spec is None:
            drawn = require_read(v, v.chip_weights(clean, gen))
        else:
            assert distribution is not None
            ref = _programmed_reference(t, clean, programmed)
            stats = tensor_stats(ref) if _needs_stats(spec) else None
            drawn = read_value(clean, spec, distribution, gen, stats)
        draw._deltas[t.name] = drawn - clean
        return drawn + (value - clean)  # the read; the gradient straight to the value

    return read


@contextlib.contextmanager
def _dynamic(
    v: Perturbation,
    model: nn.Module,
    targets: list[Target],
    root: int,
    device: torch.device,
    domain: str,
    read_root: int,
) -> Iterator[Draw]:
    spec = None if v.on_devices else cast(VariationSpec, v)  # devices: programmed once, read often
    distribution = None if spec is None else resolve_distribution(spec.distribution)
    draw = Draw(v, root, [t.name for t in targets], domain=domain)
    generators = {} if spec is None else {
        t.name: stream(read_root, t.key, device, domain) for t in targets
    }  # fmt: skip
    stats_cache: dict[str, tuple[int, TensorStats]] = {}
    by_module: dict[int, list[tuple[Target, torch.Tensor, torch.Tensor]]] = {}
    programmed = [t for t in targets if programs(t)]
    for t in targets:  # (target, its clean tensor, the tensor of its reference statistics)
        if not programs(t):
            by_module.setdefault(id(t.module), []).append((t, t.tensor, t.reference_tensor))

    def stats_of(name: str, ref: torch.Tensor) -> TensorStats | None:
        if spec is None or not _needs_stats(spec):
            return None
        cached = stats_cache.get(name)
        if cached is None or cached[0] != ref._version:
            cached = (ref._version, tensor_stats(ref))
            stats_cache[name] = cached
        return cached[1]

    per_pass = v.redraw == "pass"
    constrained = spec is None or _constrained(spec)
    current: dict[str, torch.Tensor] = {}  # per pass: this pass's reads, drawn lazily
    readers: dict[str, tuple[torch.Tensor, Callable[[], torch.Tensor]]] = {}
    read_streams: dict[str, torch.Generator] = {}  # one per tensor and block: never restarts

    def device_read(t: Target, tensor: torch.Tensor) -> torch.Tensor:
        """One read of the chip programmed for the current value of ``tensor``. If the
        clean weights change (in place, through ``.data`` or by ``.data =``), the chip
        is programmed again from its own stream (the same devices, the same programming
        draws, new targets); the reads continue the block's read stream. The clean
        values are compared, not version counters (``.data`` updates bump none)."""
        clean = tensor.detach()
        cached = readers.get(t.name)
        if cached is None or cached[0].shape != clean.shape or not torch.equal(cached[0], clean):
            if t.name not in read_streams:
                read_streams[t.name] = stream(read_root, f"{t.key}{READ_STREAM}", device, domain)
            chip = stream(root, t.key, device, domain)
            reads = require_read(v, v.chip_reads(clean, chip, read_streams[t.name]))
            cached = (clean.clone(), reads)
            readers[t.name] = cached
        return cached[1]()

    def read_of(
        t: Target, tensor: torch.Tensor, ref: torch.Tensor, stats: TensorStats | None = None
    ) -> torch.Tensor:
        if spec is None:
            return device_read(t, tensor)
        fn = read_value if constrained else perturbation
        if stats is None:
            stats = stats_of(t.name, ref)
        return fn(tensor, spec, distribution, generators[t.name], stats)

    def programmed_read(t: Target, counts: bool) -> ProgrammedRead:
        """Reads of a tensor its module programs (``counts``: this read counts the
        module's call in ``draw.reads``)."""

        def read(value: torch.Tensor, programmed: Mapping[str, torch.Tensor]) -> torch.Tensor:
            clean = value.detach()
            drawn = current.get(t.name) if per_pass else None
            if drawn is None:
                ref = _programmed_reference(t, clean, programmed)
                stats = tensor_stats(ref) if spec is not None and _needs_stats(spec) else None
                drawn = read_of(t, clean, ref, stats)
                if per_pass:
                    current[t.name] = drawn
            if counts and not per_pass:
                draw.reads += 1
            if constrained:
                draw._deltas[t.name] = drawn - clean
                return drawn + (value - clean)
            draw._deltas[t.name] = drawn
            return value + drawn

        return read

    def new_pass(_module: nn.Module, _args: object) -> None:
        current.clear()
        draw.reads += 1

    def swap_in(module: nn.Module, _args: object) -> None:
        for t, tensor, ref in by_module[id(module)]:
            drawn = current.get(t.name) if per_pass else None
            if drawn is None:  # the read value (constrained, a device) or the delta
                drawn = read_of(t, tensor, ref)
                if per_pass:
                    current[t.name] = drawn
            store = module._buffers if t.is_buffer else module._parameters
            # Differentiable w.r.t. the clean tensor; a constrained read is exact
            # (the device's levels), its gradient passes straight through.
            if constrained:
                draw._deltas[t.name] = drawn - tensor.detach()
                store[t.attr] = drawn + (tensor - tensor.detach())
            else:
                draw._deltas[t.name] = drawn
                store[t.attr] = tensor + drawn
        if not per_pass:
            draw.reads += 1

    def swap_out(module: nn.Module, _args: object, _output: object) -> None:
        for t, tensor, _ref in by_module[id(module)]:
            store = module._buffers if t.is_buffer else module._parameters
            store[t.attr] = tensor

    handles = []
    marked: list[torch.Tensor] = []
    try:
        for t in targets:
            setattr(t.tensor, _CLEAN, t.tensor.data)
            marked.append(t.tensor)
        if per_pass:
            handles.append(model.register_forward_pre_hook(new_pass))
        first: set[int] = set()
        for t in programmed:  # read where the module programs them
            _install(t, programmed_read(t, counts=id(t.module) not in first))
            first.add(id(t.module))
            if not per_pass:
                setattr(t.module, _READS, True)
        for group in by_module.values():
            module = group[0][0].module
            if not per_pass:
                setattr(module, _READS, True)
            handles.append(module.register_forward_pre_hook(swap_in))
            handles.append(module.register_forward_hook(swap_out, always_call=True))
        yield draw
    finally:
        for handle in handles:
            handle.remove()
        _uninstall(programmed)
        for t in programmed:
            if hasattr(t.module, _READS):
                delattr(t.module, _READS)
        for group in by_module.values():
            module = group[0][0].module
            if hasattr(module, _READS):
                delattr(module, _READS)
            for t, tensor, _ref in group:
                store = t.module._buffers if t.is_buffer else t.module._parameters
                store[t.attr] = tensor
        for tensor in marked:
            delattr(tensor, _CLEAN)
