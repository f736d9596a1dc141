"""The contract of what perturbs a chip, and what it draws.

:class:`Perturbation` is what a :class:`~snnvar.Variation` and every device model
(:mod:`snnvar.hardware`: PCM, RRAM, a custom σ(g), an ideal device with faults)
have in common: how often a chip is read (``mode``, ``redraw``), which weights it
holds (``modules``, ``include``, ``exclude``, :meth:`~Perturbation.targets`), the
draws (:meth:`~Perturbation.sample`, :meth:`~Perturbation.applied`), the records
(:meth:`~Perturbation.label`, :meth:`~Perturbation.to_dict`) and the reads of a
device model's chip (:meth:`~Perturbation.chip_weights`,
:meth:`~Perturbation.chip_reads`; ``on_devices`` says whether there are any). The
engine (:mod:`.engine`) draws any perturbation; training methods, :func:`snnvar.evaluate`
and the worst-case attack accept any.

A perturbation without devices (``on_devices`` False) is a variation: the engine
draws its noise from the settings of :class:`VariationSpec`. A :class:`Draw` is one
realisation of either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import torch
from torch import nn

from .selection import Target

if TYPE_CHECKING:
    from .distributions import UnitDistribution

__all__ = ["Draw", "Perturbation", "VariationSpec"]


@runtime_checkable
class Perturbation(Protocol):
    """What perturbs a chip: a :class:`~snnvar.Variation` or a device model
    (``isinstance(x, Perturbation)`` checks that the members are there)."""

    @property
    def mode(self) -> str:
        """``"static"``: one read per chip; ``"dynamic"``: reads redrawn as the model runs."""

    @property
    def redraw(self) -> str:
        """In dynamic mode: ``"step"`` (every call of a layer) or ``"pass"`` (every pass)."""

    @property
    def modules(self) -> tuple[type[nn.Module] | str, ...] | None:
        """Module types (or class names) whose weights are perturbed; None: Linear and Conv."""

    @property
    def include(self) -> tuple[str, ...]:
        """Glob patterns on parameter names: keep only the matching ones."""

    @property
    def exclude(self) -> tuple[str, ...]:
        """Glob patterns on parameter names: drop the matching ones."""

    @property
    def on_devices(self) -> bool:
        """Whether a device model's chips hold the weights: the engine reads them through
        :meth:`chip_weights` / :meth:`chip_reads`; False (a variation): it draws the
        noise from the settings of :class:`VariationSpec`."""

    def targets(self, model: nn.Module) -> list[Target]:
        """The tensors of ``model`` it perturbs (raises if none)."""
        ...

    def sample(
        self,
        model: nn.Module,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        domain: str = "chip",
    ) -> Draw:
        """One simulated chip as a :class:`Draw` of deltas; the model is left untouched."""
        ...

    def applied(
        self,
        model: nn.Module,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        domain: str = "chip",
        reads: int | None = None,
    ) -> AbstractContextManager[Any]:
        """``with p.applied(model, seed=0) as draw:`` the model is perturbed inside the
        block and restored bit for bit on exit; ``reads``: the root of a dynamic
        perturbation's reads (None: ``seed``), the chip programmed from ``seed``."""
        ...

    def label(self) -> str:
        """What tells it apart in a report (σ or the read time aside)."""
        ...

    def to_dict(self, strict: bool = True) -> dict[str, Any]:
        """Its settings as JSON data (``strict``: refuse what cannot be written)."""
        ...

    def chip_weights(self, w: torch.Tensor, generator: torch.Generator) -> torch.Tensor | None:
        """The weights one chip's devices read back for the clean weights ``w``, every
        random number drawn from ``generator`` (a static read); None: no devices."""
        ...

    def chip_reads(
        self, w: torch.Tensor, generator: torch.Generator, read_generator: torch.Generator
    ) -> Callable[[], torch.Tensor] | None:
        """Dynamic reads: one chip programmed for ``w`` from ``generator``, and a function
        whose every call reads it again (fresh read noise from ``read_generator``);
        None: no devices."""
        ...


class VariationSpec(Perturbation, Protocol):
    """What the engine reads of a perturbation without devices: the noise settings of
    :class:`~snnvar.Variation` (see its fields), besides the :class:`Perturbation`."""

    @property
    def sigma(self) -> float:
        """Variation level σ."""

    @property
    def distribution(self) -> str | UnitDistribution:
        """The unit noise ε: a name or a distribution."""

    @property
    def relative_to(self) -> str:
        """The reference s_l the noise is scaled by."""

    @property
    def gamma(self) -> float:
        """WVAT's range coefficient γ."""

    @property
    def mean(self) -> float:
        """Systematic shift μ, in units of s_l."""

    @property
    def clip(self) -> bool:
        """Whether weights are clipped to the device window."""

    @property
    def window(self) -> tuple[float, float] | None:
        """The device window ``(lo, hi)``, or None for each layer's own."""

    @property
    def window_stds(self) -> float:
        """The half-width of a layer's own window, in standard deviations."""

    @property
    def levels(self) -> int | None:
        """The number of programmable levels, or None for analog devices."""


class Draw(Mapping[str, torch.Tensor]):
    """One realisation of a :class:`Perturbation` on a model: name -> delta.

    ``seed`` and ``domain`` reproduce it
    (``variation.sample(model, seed=draw.seed, domain=draw.domain)``). Each
    tensor has its own random stream, so a delta that was not kept (inside
    :meth:`~snnvar.Variation.applied`, static mode) is recomputed bit for bit
    the first time it is read. In dynamic mode the mapping holds the deltas of
    the latest read of each tensor and ``reads`` counts the redraws so far.
    """

    def __init__(
        self,
        variation: Perturbation,
        seed: int,
        names: list[str],
        deltas: dict[str, torch.Tensor] | None = None,
        recompute: Callable[[str], torch.Tensor] | None = None,
        domain: str = "chip",
    ):
        self.variation = variation
        self.seed = seed
        self.domain = domain
        self.reads = 0
        self._names = names
        self._deltas = {} if deltas is None else deltas
        self._recompute = recompute

    @property
    def mode(self) -> str:
        """``"static"`` or ``"dynamic"``, from the perturbation."""
        return self.variation.mode

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self._deltas:
            if name not in self._names or self._recompute is None:
                raise KeyError(name)
            self._deltas[name] = self._recompute(name)
        return self._deltas[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return (
            f"Draw(seed={self.seed}, domain={self.domain!r}, mode={self.mode!r}, "
            f"tensors={len(self)}, reads={self.reads})"
        )


_T = TypeVar("_T")


def require_read(v: Perturbation, value: _T | None) -> _T:
    """A device read of ``v`` (``on_devices``): what ``chip_weights`` / ``chip_reads``
    returned, refused when it is None (a perturbation that says it is on devices
    must read them)."""
    if value is None:
        raise TypeError(
            f"{type(v).__name__} says on_devices but its chip_weights / chip_reads returned "
            "None: a perturbation on devices reads its chip"
        )
    return value
