"""Surrogate gradients for the spike non-linearity, chosen by name.

The forward pass is the Heaviside step ``H(x) = 1 if x > 0 else 0`` of the
membrane above threshold ``x = u - θ`` (strictly greater, as snntorch and
norse). The backward pass replaces ``H'(x)`` with a smooth ``σ'(x)``:

- ``atan``: ``(α/2) / (1 + (π α x / 2)²)``, α = 2 (Fang et al., ICCV 2021;
  snntorch's default);
- ``fast_sigmoid``: ``1 / (1 + k |x|)²``, k = 25 (Zenke & Ganguli, Neural
  Comput. 2018, SuperSpike);
- ``triangle``: ``γ · max(0, 1 − |x| / w)``, γ = 0.3, w = 1 (Bellec et al.,
  NeurIPS 2018; Rathi & Roy, DIET-SNN, 2021, with w = θ);
- ``straight_through``: ``1`` (Bengio et al., 2013).

``surrogate("atan", alpha=4)`` or ``surrogate(FastSigmoid(slope=10))``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import ClassVar

import torch

__all__ = [
    "SURROGATES",
    "ATan",
    "FastSigmoid",
    "StraightThrough",
    "Surrogate",
    "Triangle",
    "surrogate",
]


class _Spike(torch.autograd.Function):
    """Heaviside forward, the surrogate's derivative backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, sg: Surrogate) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.sg = sg
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * ctx.sg.derivative(x), None


class Surrogate:
    """Base class: a spike function with a surrogate derivative.

    Subclasses are frozen dataclasses that define :meth:`derivative`; calling
    an instance on ``x = u − θ`` returns spikes (0/1 in ``x``'s dtype) whose
    gradient is ``derivative(x)``.
    """

    name: ClassVar[str] = ""
    """The surrogate's name in :data:`SURROGATES` (what ``surrogate(name)`` takes)."""

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``σ'(x)``, the stand-in for ``H'(x)``."""
        raise NotImplementedError

    def derivative_(self, x: torch.Tensor) -> torch.Tensor:
        """``σ'(x)`` written over ``x`` (no allocation); used by the fused sequence."""
        return x.copy_(self.derivative(x))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _Spike.apply(x, self)

    def __post_init__(self) -> None:
        """Every parameter (a dataclass field) must be a finite number > 0: a zero or
        negative one gives no or a reversed gradient."""
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if not (isinstance(value, numbers.Real) and not isinstance(value, bool)
                    and math.isfinite(value) and value > 0):  # fmt: skip
                raise ValueError(
                    f"{type(self).__name__}.{f.name} must be a finite number > 0, got {value!r}"
                )


@dataclass(frozen=True)
class ATan(Surrogate):
    """Arc-tangent surrogate (Fang et al., ICCV 2021); snntorch's default."""

    alpha: float = 2.0
    """Sharpness α; the peak derivative at ``x = 0`` is α/2."""

    name: ClassVar[str] = "atan"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return (self.alpha / 2) / (1 + (math.pi / 2 * self.alpha * x) ** 2)

    def derivative_(self, x: torch.Tensor) -> torch.Tensor:
        x.mul_(math.pi / 2 * self.alpha).square_().add_(1).reciprocal_()
        return x if self.alpha == 2.0 else x.mul_(self.alpha / 2)


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """Fast sigmoid, SuperSpike's surrogate (Zenke & Ganguli, 2018)."""

    slope: float = 25.0
    """Slope k; larger is closer to the step."""

    name: ClassVar[str] = "fast_sigmoid"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return 1 / (1 + self.slope * x.abs()) ** 2

    def derivative_(self, x: torch.Tensor) -> torch.Tensor:
        return x.abs_().mul_(self.slope).add_(1).square_().reciprocal_()


@dataclass(frozen=True)
class Triangle(Surrogate):
    """Piecewise-linear surrogate ``γ max(0, 1 − |x|/w)``.

    Bellec et al. (NeurIPS 2018) with γ = 0.3, w = 1; Rathi & Roy (DIET-SNN,
    IEEE TNNLS 2021) and the hybrid-conversion fine-tuning use the same shape
    normalised by the threshold: ``Triangle(width=threshold)``.
    """

    gamma: float = 0.3
    """Peak derivative γ at ``x = 0`` (the "dampening factor")."""
    width: float = 1.0
    """Half-width w of the support; ``w = θ`` gives Rathi & Roy's ``|u − θ|/θ``."""

    name: ClassVar[str] = "triangle"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return self.gamma * (1 - x.abs() / self.width).clamp_min(0)

    def derivative_(self, x: torch.Tensor) -> torch.Tensor:
        return x.abs_().mul_(-1 / self.width).add_(1).clamp_min_(0).mul_(self.gamma)


@dataclass(frozen=True)
class StraightThrough(Surrogate):
    """Straight-through estimator: the gradient passes unchanged (Bengio et al., 2013)."""

    name: ClassVar[str] = "straight_through"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(x)

    def derivative_(self, x: torch.Tensor) -> torch.Tensor:
        return x.fill_(1)


SURROGATES: dict[str, type[Surrogate]] = {
    cls.name: cls for cls in (ATan, FastSigmoid, Triangle, StraightThrough)
}
"""Name -> surrogate class."""


def surrogate(spec: str | Surrogate = "atan", **params: float) -> Surrogate:
    """A surrogate from its name (with parameters) or an instance."""
    if isinstance(spec, Surrogate):
        if params:
            raise ValueError(f"parameters {sorted(params)} given with a surrogate instance {spec}")
        return spec
    if not isinstance(spec, str) or spec not in SURROGATES:
        raise ValueError(f"unknown surrogate {spec!r}; available: {sorted(SURROGATES)}")
    try:
        return SURROGATES[spec](**params)
    except TypeError as err:
        raise ValueError(f"bad parameters {params} for surrogate {spec!r}: {err}") from None
