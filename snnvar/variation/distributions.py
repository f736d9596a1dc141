"""Unit noise distributions: zero mean, unit standard deviation.

Every distribution here is standardised so that ``sigma`` keeps one meaning
whatever the shape of the device noise: the standard deviation of the
perturbation is ``gamma * sigma * s_l`` for Gaussian, uniform, Weibull and
measured (empirical) device variation alike (WVAT paper, Appendix A.5, tests
Weibull and uniform noise against Gaussian at equal standard deviation).

Draws use a ``torch.Generator`` and happen on that generator's device.
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "DISTRIBUTIONS",
    "Empirical",
    "Gaussian",
    "Uniform",
    "UnitDistribution",
    "Weibull",
    "resolve_distribution",
]


class UnitDistribution(ABC):
    """A zero-mean, unit-variance distribution that fills tensors from a generator."""

    name: str

    @property
    def label(self) -> str:
        """A short name that tells this distribution apart in reports."""
        return self.name

    @abstractmethod
    def fill_(self, out: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Overwrite ``out`` (on the generator's device) with independent draws."""

    def sample(
        self,
        shape: Sequence[int],
        generator: torch.Generator,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """A new tensor of ``shape`` filled with draws, on ``generator.device``."""
        out = torch.empty(tuple(shape), dtype=dtype, device=generator.device)
        return self.fill_(out, generator)


@dataclass(frozen=True)
class Gaussian(UnitDistribution):
    """Standard normal noise: the WVAT paper's HSV and most device reports."""

    name = "gaussian"

    def fill_(self, out: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return out.normal_(generator=generator)


@dataclass(frozen=True)
class Uniform(UnitDistribution):
    """Uniform noise on [-sqrt(3), sqrt(3)]: the worst case of WVAT's Appendix A.5."""

    name = "uniform"

    def fill_(self, out: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        half_width = math.sqrt(3.0)
        return out.uniform_(-half_width, half_width, generator=generator)


@dataclass(frozen=True)
class Weibull(UnitDistribution):
    """Right-skewed Weibull noise (WVAT paper, Appendix A.5), standardised.

    ``X = (-log(1 - U))**(1/shape)`` is Weibull(scale 1, ``shape``); it is
    shifted by its mean ``Γ(1 + 1/k)`` and divided by its standard deviation
    ``sqrt(Γ(1 + 2/k) - Γ(1 + 1/k)**2)``.
    """

    shape: float = 1.5
    """Weibull shape k (> 0). Below about 3.6 the distribution is right-skewed."""

    name = "weibull"

    @property
    def label(self) -> str:
        return self.name if self.shape == 1.5 else f"weibull(k={self.shape:g})"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.shape) and self.shape > 0):
            raise ValueError(f"Weibull shape must be a finite number > 0, got {self.shape!r}")

    @property
    def moments(self) -> tuple[float, float]:
        """Mean and standard deviation of the unstandardised Weibull(1, k)."""
        k = self.shape
        mean = math.gamma(1.0 + 1.0 / k)
        std = math.sqrt(math.gamma(1.0 + 2.0 / k) - mean * mean)
        return mean, std

    def fill_(self, out: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mean, std = self.moments
        out.uniform_(generator=generator)  # U in [0, 1)
        out.neg_().log1p_().neg_().pow_(1.0 / self.shape)  # (-log(1 - U))^(1/k)
        return out.sub_(mean).div_(std)


@dataclass(frozen=True, eq=False)
class Empirical(UnitDistribution):
    """Measured device variation: a set of samples or a histogram, standardised.

    Build it with :meth:`from_samples` (e.g. the measured conductance errors of
    many programmed devices, which may be multimodal as for FTJ inter-device
    variation) or :meth:`from_histogram`. Draws are resampled from the
    standardised samples, or taken uniformly within histogram bins chosen with
    the bins' probabilities; both have exactly zero mean and unit variance.
    """

    values: tuple[float, ...] = ()
    """Standardised sample values (from_samples) or bin edges (from_histogram)."""
    weights: tuple[float, ...] | None = None
    """Bin probabilities for a histogram (one fewer than the edges); None for samples."""

    name = "empirical"

    @classmethod
    def from_samples(cls, samples: Sequence[float] | torch.Tensor) -> Empirical:
        """Standardise measured samples (population mean and std) into a distribution."""
        x = torch.as_tensor(samples, dtype=torch.float64).flatten()
        if x.numel() < 2:
            raise ValueError(f"empirical samples need at least 2 values, got {x.numel()}")
        if not torch.isfinite(x).all():
            raise ValueError("empirical samples contain NaN or infinite values")
        std = x.std(correction=0)
        if not std > 0:
            raise ValueError(
                "empirical samples have zero variance (all equal to "
                f"{x[0].item()!r}); a device distribution needs spread"
            )
        z = (x - x.mean()) / std
        return cls(values=tuple(z.tolist()), weights=None)

    @classmethod
    def from_histogram(
        cls,
        counts: Sequence[float] | torch.Tensor,
        bin_edges: Sequence[float] | torch.Tensor,
    ) -> Empirical:
        """Standardise a histogram (counts per bin, increasing bin edges).

        The distribution is the mixture of uniform distributions over the bins;
        its mean and variance are computed exactly and removed.
        """
        c = torch.as_tensor(counts, dtype=torch.float64).flatten()
        e = torch.as_tensor(bin_edges, dtype=torch.float64).flatten()
        if e.numel() != c.numel() + 1:
            raise ValueError(
                f"a histogram needs one more bin edge than counts, got {c.numel()} counts "
                f"and {e.numel()} edges"
            )
        if not (torch.isfinite(c).all() and torch.isfinite(e).all()):
            raise ValueError("histogram counts and edges must be finite")
        if (c < 0).any() or not c.sum() > 0:
            raise ValueError("histogram counts must be >= 0 with a positive total")
        if not (e[1:] > e[:-1]).all():
            raise ValueError("histogram bin edges must be strictly increasing")
        p = c / c.sum()
        left, right = e[:-1], e[1:]
        mean = (p * (left + right) / 2).sum()
        second = (p * (left * left + left * right + right * right) / 3).sum()
        var = second - mean * mean
        if not var > 0:
            raise ValueError("the histogram has zero variance; a device distribution needs spread")
        z_edges = (e - mean) / var.sqrt()
        return cls(values=tuple(z_edges.tolist()), weights=tuple(p.tolist()))

    def __post_init__(self) -> None:
        if len(self.values) < 2:
            raise ValueError(
                "Empirical needs data: build it with Empirical.from_samples(samples) "
                "or Empirical.from_histogram(counts, bin_edges)"
            )

    def _tables(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        values = torch.tensor(self.values, dtype=torch.float64, device=device)
        if self.weights is None:
            return values, None
        cdf = torch.tensor(self.weights, dtype=torch.float64, device=device).cumsum(0)
        return values, cdf / cdf[-1]

    def fill_(self, out: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        values, cdf = self._tables(out.device)
        if cdf is None:
            index = torch.randint(
                len(self.values), out.shape, generator=generator, device=out.device
            )
            return out.copy_(values[index])
        u = torch.rand(out.shape, generator=generator, device=out.device, dtype=torch.float64)
        bins = torch.searchsorted(cdf, u.flatten(), right=True).clamp_(max=cdf.numel() - 1)
        bins = bins.view(out.shape)
        within = torch.rand(out.shape, generator=generator, device=out.device, dtype=torch.float64)
        left, right = values[bins], values[bins + 1]
        return out.copy_(left + within * (right - left))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Empirical)
            and self.values == other.values
            and self.weights == other.weights
        )

    def __hash__(self) -> int:
        return hash((self.values, self.weights))

    def __repr__(self) -> str:
        kind = "samples" if self.weights is None else "histogram"
        n = len(self.values) if self.weights is None else len(self.weights)
        return f"Empirical({kind}, n={n})"

    @property
    def label(self) -> str:
        """``empirical(samples n=N #digest)``: the digest tells two data sets apart."""
        kind = "samples" if self.weights is None else "histogram"
        n = len(self.values) if self.weights is None else len(self.weights)
        digest = hashlib.blake2b(repr((self.values, self.weights)).encode(), digest_size=3)
        return f"empirical({kind} n={n} #{digest.hexdigest()})"


DISTRIBUTIONS: dict[str, UnitDistribution] = {
    "gaussian": Gaussian(),
    "uniform": Uniform(),
    "weibull": Weibull(),
}
"""The distributions that can be named by a string (``"empirical"`` needs data)."""


def resolve_distribution(distribution: str | UnitDistribution) -> UnitDistribution:
    """Turn a name or a distribution object into a :class:`UnitDistribution`."""
    if isinstance(distribution, UnitDistribution):
        return distribution
    if isinstance(distribution, str):
        key = distribution.lower()
        if key in DISTRIBUTIONS:
            return DISTRIBUTIONS[key]
        if key == "empirical":
            raise ValueError(
                "distribution='empirical' needs measured data: pass "
                "distribution=Empirical.from_samples(samples) or "
                "Empirical.from_histogram(counts, bin_edges)"
            )
    allowed = [*DISTRIBUTIONS, "empirical"]
    raise ValueError(
        f"unknown distribution {distribution!r}; allowed: {allowed} or a UnitDistribution"
    )
