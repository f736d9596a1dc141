"""Calibration of one programmed chip: the digital periphery set per chip after
programming, its analog weights frozen as read (issue 38).

A programmed chip is measurable: a few hundred inputs run through it, and the
digital parts around the crossbars can be set per chip. Four methods, applied in
the order given (each sees the chip as the ones before left it):

- ``"bn"``: every BatchNorm's running statistics re-estimated on the chip (AdaBS;
  Joshi et al., Nat. Commun. 2020); no labels.
- ``"threshold"``: each neuron layer's threshold scaled, layer by layer in forward
  order, so its firing rate on the calibration set matches the clean model's
  (bisection in log scale); no labels.
- ``"affine"``: a gain and an offset per output column (a Linear's output feature,
  a convolution's output channel) in the digital periphery after the ADC, fitted
  layer by layer by least squares against the clean model's layer output on the
  same inputs; no labels. After ``"bn"``, the BatchNorm statistics are estimated
  again after each layer's fit (the next layer is fitted on the chip as corrected so
  far; statistics of the uncorrected chip would no longer fit its corrected input).
- ``"finetune"``: a few Adam steps on the digital parameters only (biases that no
  device holds, BatchNorm's affine, thresholds, the per-column gains and offsets),
  through the surrogate gradients, minimising the KL divergence from the clean
  model's output (knowledge distillation: no labels).

The clean model is the model as given, before any chip (:func:`reference`); a
restricted chip with output noise reads its noise there too. Everything runs
inside :func:`preserved`, which restores every parameter, buffer and flag of the
model and removes the column corrections on exit, so the model given is unchanged
once the chip is released.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from ..datasets.batches import Batches, prepare_models
from ..hardware import DeviceModel
from ..hardware.readout import output_reads
from ..hardware.times import parse_time
from ..variation.seeding import derive_seed
from .calibrators import (
    BATCHNORM,
    ColumnAffine,
    Reference,
    batchnorm_statistics,
    finetune_digital,
    fit_columns,
    install_columns,
    reference,
    scale_thresholds,
)

__all__ = [
    "CALIBRATIONS",
    "CALIBRATION_KEY",
    "Calibration",
    "Setup",
    "as_calibration",
    "calibrate",
    "calibrated_chip",
    "device_tensors",
    "preserved",
    "setup",
]

CALIBRATIONS = ("bn", "threshold", "affine", "finetune")
"""The calibration methods, in the order a user would usually chain them."""


@dataclass(frozen=True)
class Calibration:
    """How each programmed chip is calibrated (see the module docstring)."""

    methods: tuple[str, ...] = ("bn",)
    """Methods of :data:`CALIBRATIONS`, applied in this order (a string
    ``"bn,threshold"`` is split at commas)."""
    batch_size: int = 64
    """Calibration samples per forward pass (memory: the column fit holds one layer's
    output of a batch for the chip and the clean model)."""
    threshold_iterations: int = 8
    """Bisection steps per neuron layer (each one pass over the calibration set)."""
    threshold_range: float = 4.0
    """A threshold is scaled by a factor in [1 / range, range]."""
    finetune_steps: int = 20
    """Adam steps of ``"finetune"`` (one calibration batch each, cycling)."""
    finetune_lr: float = 5e-3
    """Adam's learning rate of ``"finetune"``."""
    time: float | None = None
    """Device models only: calibrate each chip when read at this time after
    programming (s, or e.g. ``"1h"``) and test it at each row's time with that
    calibration (drift after calibration); None: calibrate at each row's own time."""

    def __post_init__(self) -> None:
        methods = self.methods
        if isinstance(methods, str):
            methods = tuple(m.strip() for m in methods.split(",") if m.strip())
        methods = tuple(methods)
        if not methods:
            raise ValueError(f"no calibration method given; allowed: {list(CALIBRATIONS)}")
        unknown = [m for m in methods if m not in CALIBRATIONS]
        if unknown:
            raise ValueError(f"unknown calibration {unknown}; allowed: {list(CALIBRATIONS)}")
        if len(set(methods)) != len(methods):
            raise ValueError(f"a calibration method is given twice: {list(methods)}")
        object.__setattr__(self, "methods", methods)
        for name in ("batch_size", "threshold_iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        steps = self.finetune_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"finetune_steps must be an integer >= 0, got {steps!r}")
        if not (math.isfinite(self.threshold_range) and self.threshold_range > 1.0):
            raise ValueError(f"threshold_range must be > 1, got {self.threshold_range}")
        if not (math.isfinite(self.finetune_lr) and self.finetune_lr > 0.0):
            raise ValueError(f"finetune_lr must be > 0, got {self.finetune_lr}")
        if self.time is not None:
            object.__setattr__(self, "time", parse_time(self.time))

    @property
    def label(self) -> str:
        """The methods joined by ``+``: ``"bn+threshold"``."""
        return "+".join(self.methods)

    def to_dict(self) -> dict[str, Any]:
        """Every field, for the report."""
        return {**asdict(self), "methods": list(self.methods)}


def as_calibration(value: Calibration | str | Sequence[str]) -> Calibration:
    """A :class:`Calibration` from itself, ``"bn,threshold"`` or ``["bn", "affine"]``."""
    if isinstance(value, Calibration):
        return value
    if isinstance(value, str):
        return Calibration(methods=value)  # type: ignore[arg-type]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return Calibration(methods=tuple(value))
    raise TypeError(
        f"calibrate must be a Calibration, a string like 'bn,threshold' or a list of "
        f"{list(CALIBRATIONS)}, got {value!r}"
    )


@contextlib.contextmanager
def preserved(model: nn.Module) -> Iterator[list[RemovableHandle]]:
    """Inside the block a calibration may change ``model``'s digital state; on exit
    every parameter and buffer is restored to its value on entry (the same tensors,
    copied back), with its ``requires_grad`` and ``.grad``, BatchNorm's momentum and
    every module's mode, and the hooks the block appends to the yielded list are removed."""
    tensors = dict(model.named_parameters())
    tensors.update(dict(model.named_buffers()))
    saved = {k: t.detach().clone() for k, t in tensors.items()}
    flags = {k: t.requires_grad for k, t in tensors.items()}
    grads = {k: None if t.grad is None else t.grad.clone() for k, t in tensors.items()}
    momenta = {m: m.momentum for m in model.modules() if isinstance(m, BATCHNORM)}
    modes = {m: m.training for m in model.modules()}
    handles: list[RemovableHandle] = []
    try:
        yield handles
    finally:
        for h in handles:
            h.remove()
        with torch.no_grad():
            for k, t in tensors.items():
                t.copy_(saved[k])
                t.grad = grads[k]
        for k, t in tensors.items():
            t.requires_grad_(flags[k])
        for m, momentum in momenta.items():
            m.momentum = momentum
        for m, training in modes.items():
            m.training = training


def calibrate(
    model: nn.Module,
    ref: Reference,
    batches: Batches,
    calibration: Calibration,
    handles: list[RemovableHandle],
    frozen: Sequence[torch.Tensor] = (),
) -> dict[str, Any]:
    """Calibrate the chip ``model`` is programmed as (call inside :func:`preserved`,
    whose list ``handles`` receives the column corrections, and inside the chip's
    output reads where it has output noise). ``frozen``: tensors a device holds
    (never tuned). Returns what was set: ``seconds``, ``threshold_scales`` per
    neuron layer, ``finetune_loss`` (first and last step)."""
    start = time.perf_counter()
    info: dict[str, Any] = {}
    affine: dict[str, ColumnAffine] = {}
    if {"affine", "finetune"} & set(calibration.methods):  # identity until fitted or tuned
        affine = install_columns(model, handles)
    for method in calibration.methods:
        if method == "bn":
            batchnorm_statistics(model, batches)
        elif method == "threshold":
            info["threshold_scales"] = scale_thresholds(
                model, ref, batches, calibration.threshold_iterations,
                calibration.threshold_range, frozen,
            )  # fmt: skip
        elif method == "affine":
            restat = "bn" in calibration.methods[: calibration.methods.index("affine")]
            fit_columns(model, ref, batches, affine, restat)
        else:
            info["finetune_loss"] = finetune_digital(
                model, ref, batches, calibration.finetune_steps, calibration.finetune_lr,
                affine, frozen,
            )  # fmt: skip
    info["seconds"] = time.perf_counter() - start
    return info


# -- one chip, calibrated and tested ------------------------------------------------------

CALIBRATION_KEY = 1 << 21
"""Key of the calibration streams (above every chip index, ``MAX_DRAWS``): a chip is
calibrated on reads rooted at ``derive_seed(chip seed, CALIBRATION_KEY)`` (output
noise and dynamic weight reads; it is tested on its own), the calibration inputs are
encoded from ``derive_seed(seed, CALIBRATION_KEY)``."""


def device_tensors(v: Any, model: nn.Module) -> list[torch.Tensor]:
    """The tensors of ``model`` the condition ``v`` perturbs (devices hold them)."""
    try:
        targets = v.targets(model)
    except ValueError:
        return []
    return [getattr(t.module, t.attr) for t in targets]


def calibrated_chip(
    model: nn.Module,
    chip: Any,
    seed: int,
    ref: Reference,
    batches: Batches,
    calibration: Calibration,
    test: Any,
    program: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """Program ``model`` as chip ``seed`` of ``chip`` (a perturbation; ``program=False``:
    the clean weights, ``chip`` only says which tensors devices hold), calibrate it (at
    ``calibration.time`` for a device model, when set) on reads of its own, then run
    ``test()`` on the chip programmed afresh, on the very reads an uncalibrated test
    of chip ``seed`` sees, and release it: ``(test's result, calibrate's info)``.
    ``model`` is unchanged afterwards."""
    read = derive_seed(seed, CALIBRATION_KEY)
    frozen = [] if chip is None else device_tensors(chip, model)
    at = chip
    if calibration.time is not None and isinstance(chip, DeviceModel):
        at = chip.at_time(calibration.time)  # calibrated then, tested later: it drifts on

    def programmed(v: Any, reads: int | None) -> contextlib.AbstractContextManager[Any]:
        if v is None or not program:
            return contextlib.nullcontext()
        if reads is None or v.mode == "static":
            return v.applied(model, seed=seed)
        return v.applied(model, seed=seed, reads=reads)

    with preserved(model) as handles:
        with programmed(at, read), output_reads(model, seed=read):
            info = calibrate(model, ref, batches, calibration, handles, frozen)
        with programmed(chip, None), output_reads(model, seed=seed):
            return test(), info


@dataclass
class Setup:
    """An evaluation's calibration: how, on what, against which clean models."""

    calibration: Calibration
    """How every chip is calibrated."""
    batches: dict[str, Batches]
    """The encoded calibration set per model."""
    references: dict[str, Reference]
    """The clean model per method."""
    record: dict[str, Any]
    """What the report records (``config["calibration"]``)."""


def _sample_hashes(batches: Batches) -> list[bytes]:
    out = []
    for x, _ in batches.raw:
        flat = x.detach().to("cpu", torch.float64).reshape(len(x), -1)
        out += [hashlib.blake2b(row.numpy().tobytes(), digest_size=16).digest() for row in flat]
    return out


def setup(
    named: dict[str, nn.Module],
    calibrate: Calibration | str | Sequence[str] | None,
    data: Any,
    test: dict[str, Batches],
    encoder: Any,
    time_steps: Any,
    seed: int,
    cache_mb: float,
    conditions: Sequence[Any] = (),
) -> Setup | None:
    """The calibration of ``evaluate(calibrate=..., calibration_data=...)``; None
    without one. A calibration set that lies wholly in the test data is refused."""
    if calibrate is None:
        if data is not None:
            raise ValueError("calibration_data is given without calibrate= (which methods?)")
        return None
    calibration = as_calibration(calibrate)
    devices = [v for v in conditions if isinstance(v, DeviceModel)]
    if calibration.time is not None and not devices:
        raise ValueError(
            f"Calibration.time={calibration.time:g} s calibrates device models at a time "
            "after programming; the conditions hold no device model (snnvar.hardware.PCM, ...)"
        )
    early = sorted({v.effective_time for v in devices if calibration.time is not None
                    and v.effective_time < calibration.time})  # fmt: skip
    if early:
        raise ValueError(
            f"Calibration.time={calibration.time:g} s is after the read times {early} s: a "
            "chip is calibrated before it is tested (calibrate earlier, or read later)"
        )
    if data is None:
        raise ValueError(
            "calibrate= needs calibration_data: samples of the training split, disjoint "
            "from the test data"
        )
    root = derive_seed(seed, CALIBRATION_KEY)
    batches = prepare_models(
        data, named, encoder, time_steps, calibration.batch_size, root, cache_mb
    )
    first = next(iter(batches.values()))
    mine = _sample_hashes(first)
    theirs = set(_sample_hashes(next(iter(test.values()))))
    shared = sum(h in theirs for h in mine)
    if shared == len(mine):
        raise ValueError(
            f"every one of the {len(mine)} calibration samples is in the test data: "
            "calibrate on samples of the training split"
        )
    if shared:
        warnings.warn(
            f"{shared} of the {len(mine)} calibration samples are also in the test data "
            "(recorded as config['calibration']['shared_with_test']); the calibration set "
            "should be disjoint from it",
            stacklevel=3,
        )
    references = {k: reference(m, batches[k], read_seed=root) for k, m in named.items()}
    record = {
        **calibration.to_dict(),
        "samples": first.samples,
        "shared_with_test": shared,
        "encoding_seed": root,
    }
    return Setup(calibration, batches, references, record)
