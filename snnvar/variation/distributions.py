"""Unit noise distributions: zero mean, unit standard deviation.

Every distribution here is standardised so that ``sigma`` keeps one meaning
whatever the shape of the device noise: the standard deviation of the
perturbation is ``gamma * sigma * s_l`` for Gaussian, uniform, Weibull and
measured (empirical) device variation alike (WVAT paper, Appendix A.5, tests
Weibull and uniform noise against Gaussian at equal standard deviation).

Draws use a ``torch.Generator`` and happen on that generator's device.

Serialised forms (:func:`distribution_to_dict` writes them,
:func:`distribution_from_dict` reads them and the forms a user writes in a TOML
``[variation]`` table; file paths are relative to ``base_dir``, the TOML
file's folder)::

    distribution = "gaussian"                    # or "uniform", "weibull" (shape 1.5)
    distribution = { weibull = { shape = 2.0 } }
    distribution = { empirical = "measured.csv" }                   # samples file
    distribution = { empirical = { samples = "measured.npy" } }     # samples file
    distribution = { empirical = { samples = [0.1, 0.3, -0.2] } }   # inline samples
    distribution = { empirical = { histogram = "hist.csv" } }       # or hist.npz
    distribution = { empirical = { counts = [3, 5, 2], edges = [-1.0, 0.0, 1.0, 2.0] } }

Samples and histograms from a user are standardised
(:meth:`Empirical.from_samples`, :meth:`Empirical.from_histogram`; file
formats: :mod:`.measured`). The written form of an :class:`Empirical` holds its
standardised data, ``{ empirical = { values = [...] } }`` or
``{ empirical = { edges = [...], weights = [...] } }``, and is read back
unchanged (bit for bit), so a record does not depend on the data file.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .measured import read_histogram, read_samples, resolve_path

__all__ = [
    "DISTRIBUTIONS",
    "Empirical",
    "Gaussian",
    "Uniform",
    "UnitDistribution",
    "Weibull",
    "distribution_from_dict",
    "distribution_to_dict",
    "resolve_distribution",
]


class UnitDistribution(ABC):
    """A zero-mean, unit-variance distribution that fills tensors from a generator."""

    name: str
    """The distribution's name (``Variation.distribution`` takes it)."""

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


_RELATIVE_ZERO_STD = 1e-12
"""A standard deviation at or below this fraction of the values' largest magnitude is
rounding error: the values are taken as equal (zero variance)."""


def _first(samples: Sequence[float] | torch.Tensor) -> float:
    """The first value of ``samples`` as a float (for messages)."""
    return float(torch.as_tensor(samples, dtype=torch.float64).flatten()[0])


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
        scale = x.abs().max()
        if scale > 0:  # standardise x / max|x|: the same z, no overflow near 1e308
            x = x / scale
        std = x.std(correction=0)
        # zero variance relative to the values' scale: equal values give a std of
        # rounding error (three 0.2s: 2.8e-17), not spread
        if not std > _RELATIVE_ZERO_STD:
            raise ValueError(
                "empirical samples have zero variance (all equal to "
                f"{_first(samples)!r}, up to rounding: std {float(std * scale):.3g} "
                f"against a scale of {float(scale):.3g}); a device distribution needs spread"
            )
        z = (x - x.mean()) / std
        if not torch.isfinite(z).all():
            raise ValueError("empirical samples could not be standardised (non-finite result)")
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
        scale = e.abs().max()  # moments of e / max|e|: the same z, no overflow near 1e308
        e_scaled = e / scale
        left, right = e_scaled[:-1], e_scaled[1:]
        mean = (p * (left + right) / 2).sum()
        second = (p * (left * left + left * right + right * right) / 3).sum()
        var = second - mean * mean
        if not var > _RELATIVE_ZERO_STD**2:
            raise ValueError("the histogram has zero variance; a device distribution needs spread")
        z_edges = (e_scaled - mean) / var.sqrt()
        if not torch.isfinite(z_edges).all():
            raise ValueError("the histogram could not be standardised (non-finite result)")
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


# -- written forms ------------------------------------------------------------------------

_KINDS = ("gaussian", "uniform", "weibull", "empirical")
"""The keys of a distribution table."""

_EMPIRICAL_FORMS: dict[frozenset[str], str] = {
    frozenset({"samples"}): "samples (a file or a list of numbers)",
    frozenset({"histogram"}): "histogram (a file)",
    frozenset({"counts", "edges"}): "counts + edges (lists)",
    frozenset({"values"}): "values (standardised samples, as written by to_dict)",
    frozenset({"edges", "weights"}): "edges + weights (a standardised histogram, as written)",
}

_STANDARD_TOLERANCE = 1e-6
"""How far from mean 0 / std 1 the written (standardised) form of an Empirical may be."""


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def distribution_to_dict(distribution: str | UnitDistribution) -> str | dict[str, Any]:
    """The JSON form of a distribution, read back exactly by :func:`distribution_from_dict`.

    A name stays a name (lower case), ``Gaussian()`` and ``Uniform()`` become
    their names, ``Weibull(shape=k)`` becomes ``{"weibull": {"shape": k}}`` and
    an :class:`Empirical` ``{"empirical": {"values": [...]}}`` (samples) or
    ``{"empirical": {"edges": [...], "weights": [...]}}`` (histogram), with its
    standardised data. Other :class:`UnitDistribution` classes have no written
    form (``ValueError``).
    """
    if isinstance(distribution, str):
        resolve_distribution(distribution)  # raises for unknown names and "empirical"
        return distribution.lower()
    kind = type(distribution)
    if kind in (Gaussian, Uniform):
        return distribution.name
    if kind is Weibull:
        return {"weibull": {"shape": float(distribution.shape)}}  # type: ignore[attr-defined]
    if isinstance(distribution, Empirical) and kind is Empirical:
        values = [float(x) for x in distribution.values]
        if distribution.weights is None:
            return {"empirical": {"values": values}}
        return {"empirical": {"edges": values, "weights": [float(p) for p in distribution.weights]}}
    raise ValueError(
        f"the distribution {distribution!r} ({kind.__module__}.{kind.__qualname__}) has no "
        "written form; allowed: the names "
        f"{list(DISTRIBUTIONS)}, Gaussian(), Uniform(), Weibull(shape) or Empirical"
    )


def distribution_from_dict(
    value: Any, base_dir: str | os.PathLike[str] | None = None
) -> str | UnitDistribution:
    """A distribution from its written form or a user's TOML form (module doc).

    Names come back as (lower-case) names, so ``"gaussian"`` and
    ``{ gaussian = {} }`` both give ``"gaussian"``. Measured data files are
    resolved relative to ``base_dir`` (None: the current directory) and read
    once; the result holds the data. A :class:`UnitDistribution` is returned as
    it is. Raises ``ValueError`` naming the key, the value and what is allowed.
    """
    if isinstance(value, UnitDistribution):
        return value
    if isinstance(value, str):
        name = value.lower()
        if name in DISTRIBUTIONS:
            return name
        if name == "empirical":
            raise ValueError(
                f"distribution = {value!r} needs measured data: write e.g. "
                'distribution = { empirical = "measured.csv" } or '
                "{ empirical = { samples = [...] } } or "
                '{ empirical = { histogram = "hist.csv" } }'
            )
        raise ValueError(
            f"unknown distribution {value!r}; allowed: the names {list(DISTRIBUTIONS)} or a "
            f"table with one key of {list(_KINDS)}, e.g. {{ weibull = {{ shape = 2.0 }} }}"
        )
    if not isinstance(value, Mapping):
        raise ValueError(
            f"distribution must be a name {list(DISTRIBUTIONS)} or a table with one key of "
            f"{list(_KINDS)}, got {_short(value)}"
        )
    if len(value) != 1:
        raise ValueError(
            f"a distribution table must have exactly one key, one of {list(_KINDS)}; "
            f"got {_short(dict(value))}"
        )
    ((kind, params),) = value.items()
    name = kind.lower() if isinstance(kind, str) else kind
    key = f"distribution.{kind}"
    if name in ("gaussian", "uniform"):
        if not (isinstance(params, Mapping) and not params):
            raise ValueError(
                f"{key} takes no parameters (write distribution = {name!r}), got {_short(params)}"
            )
        return name
    if name == "weibull":
        if not isinstance(params, Mapping):
            raise ValueError(
                f"{key} must be a table such as {{ shape = 2.0 }}, got {_short(params)}"
            )
        unknown = sorted(str(k) for k in params if k != "shape")
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown} in {key} = {_short(dict(params))}; "
                "allowed: ['shape']"
            )
        shape = params.get("shape", Weibull.shape)
        if (
            isinstance(shape, bool)
            or not isinstance(shape, int | float)
            or not (math.isfinite(shape) and shape > 0)
        ):
            raise ValueError(f"{key}.shape must be a finite number > 0, got {shape!r}")
        return Weibull(shape=float(shape))
    if name == "empirical":
        return _empirical_from_dict(key, params, base_dir)
    raise ValueError(
        f"unknown distribution {kind!r} in distribution = {_short(dict(value))}; "
        f"allowed keys: {list(_KINDS)}"
    )


def _numbers(key: str, value: Any) -> list[float]:
    """``value`` as a list of finite floats, or a ValueError naming ``key``."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise ValueError(f"{key} must be a list of numbers, got {_short(value)}")
    out = []
    for i, x in enumerate(value):
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            raise ValueError(f"{key}[{i}] must be a finite number, got {x!r}")
        out.append(float(x))
    return out


def _file(key: str, raw: Any, base_dir: str | os.PathLike[str] | None) -> os.PathLike[str]:
    if not isinstance(raw, str | os.PathLike) or not str(raw):
        raise ValueError(f"{key} must be a file path (a string), got {_short(raw)}")
    try:
        return resolve_path(raw, base_dir)
    except ValueError as err:
        raise ValueError(f"{key} = {str(raw)!r}: {err}") from None


def _check_standardised(key: str, value: Any, mean: float, var: float) -> None:
    std = math.sqrt(var) if var > 0 else 0.0
    if abs(mean) > _STANDARD_TOLERANCE or abs(std - 1.0) > _STANDARD_TOLERANCE:
        raise ValueError(
            f"{key} = {_short(value)} is not standardised (mean {mean:.6g}, std {std:.6g}); "
            "this form is the written form of an Empirical. For measured data write "
            "{ empirical = { samples = [...] } } or { empirical = { counts = [...], "
            "edges = [...] } }"
        )


def _empirical_from_dict(
    key: str, params: Any, base_dir: str | os.PathLike[str] | None
) -> Empirical:
    if isinstance(params, str | os.PathLike):
        return _empirical_from_dict(key, {"samples": params}, base_dir)
    if not isinstance(params, Mapping):
        raise ValueError(
            f"{key} must be a samples file path or a table with one of "
            f"{list(_EMPIRICAL_FORMS.values())}, got {_short(params)}"
        )
    keys = frozenset(str(k) for k in params)
    if keys not in _EMPIRICAL_FORMS:
        raise ValueError(
            f"{key} = {_short(dict(params))} has the keys {sorted(keys)}; allowed: one of "
            f"{list(_EMPIRICAL_FORMS.values())}"
        )
    if keys == {"samples"}:
        raw = params["samples"]
        if isinstance(raw, str | os.PathLike):
            path = _file(f"{key}.samples", raw, base_dir)
            try:
                samples = read_samples(path)
            except ValueError as err:
                raise ValueError(f"{key}.samples = {str(raw)!r}: {err}") from None
            try:
                return Empirical.from_samples(samples)
            except ValueError as err:
                raise ValueError(f"{key}.samples = {str(raw)!r} ({str(path)!r}): {err}") from None
        values = _numbers(f"{key}.samples", raw)
        try:
            return Empirical.from_samples(values)
        except ValueError as err:
            raise ValueError(f"{key}.samples = {_short(raw)}: {err}") from None
    if keys == {"histogram"}:
        raw = params["histogram"]
        path = _file(f"{key}.histogram", raw, base_dir)
        try:
            counts, edges = read_histogram(path)
        except ValueError as err:
            raise ValueError(f"{key}.histogram = {str(raw)!r}: {err}") from None
        try:
            return Empirical.from_histogram(counts, edges)
        except ValueError as err:
            raise ValueError(f"{key}.histogram = {str(raw)!r} ({str(path)!r}): {err}") from None
    if keys == {"counts", "edges"}:
        counts_l = _numbers(f"{key}.counts", params["counts"])
        edges_l = _numbers(f"{key}.edges", params["edges"])
        try:
            return Empirical.from_histogram(counts_l, edges_l)
        except ValueError as err:
            raise ValueError(f"{key} = {_short(dict(params))}: {err}") from None
    if keys == {"values"}:
        values = _numbers(f"{key}.values", params["values"])
        if len(values) < 2:
            raise ValueError(f"{key}.values needs at least 2 values, got {_short(values)}")
        n = len(values)
        mean = math.fsum(values) / n
        var = math.fsum((x - mean) ** 2 for x in values) / n
        _check_standardised(f"{key}.values", params["values"], mean, var)
        return Empirical(values=tuple(values), weights=None)
    edges_l = _numbers(f"{key}.edges", params["edges"])
    weights = _numbers(f"{key}.weights", params["weights"])
    if len(edges_l) != len(weights) + 1:
        raise ValueError(
            f"{key} needs one more edge than weights, got {len(edges_l)} edges and "
            f"{len(weights)} weights"
        )
    if any(p < 0 for p in weights) or not math.fsum(weights) > 0:
        raise ValueError(f"{key}.weights must be >= 0 with a positive total, got {_short(weights)}")
    pairs = list(itertools.pairwise(edges_l))
    if not all(b > a for a, b in pairs):
        raise ValueError(f"{key}.edges must be strictly increasing, got {_short(edges_l)}")
    total = math.fsum(weights)
    p = [w / total for w in weights]
    mean = math.fsum(q * (a + b) / 2 for q, (a, b) in zip(p, pairs, strict=True))
    second = math.fsum(q * (a * a + a * b + b * b) / 3 for q, (a, b) in zip(p, pairs, strict=True))
    _check_standardised(f"{key}.edges", params["edges"], mean, second - mean * mean)
    return Empirical(values=tuple(edges_l), weights=tuple(weights))
