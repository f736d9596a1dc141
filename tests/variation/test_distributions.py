"""The unit distributions: each standardised (statistics of its draws, exact moments of
the measured ones), its support and shape, draws on the generator's terms, measured data
standardised in a way that survives any finite values and refused when its spread is
rounding error or the data is bad, names resolved.

The distributions as a Variation draws them (σ, γ, references): test_statistics; their
written forms: test_serialization."""

from __future__ import annotations

import itertools
import math
import re

import pytest
import torch

from snnvar.variation import Empirical, Gaussian, Uniform, Weibull
from snnvar.variation.distributions import DISTRIBUTIONS, UnitDistribution, resolve_distribution


@pytest.mark.parametrize("value", [0.2, 0.1, 1e-300, 3.0e8, -7.5])
def test_equal_values_are_zero_variance_whatever_their_scale(value) -> None:
    """Issue 34: three lines of 0.2 had a std of 2.8e-17, passed the zero check and gave
    every chip the same offset."""
    with pytest.raises(ValueError, match=r"zero variance \(all equal to .*up to rounding"):
        Empirical.from_samples([value] * 3)


def test_spread_far_below_the_values_is_still_spread() -> None:
    e = Empirical.from_samples([1.0, 1.0 + 1e-9, 1.0 - 1e-9])  # 1e-9 relative: measurable
    assert e.values == pytest.approx((0.0, 1.224744871, -1.224744871), abs=1e-6)


def test_values_near_the_float_limit_standardise_exactly() -> None:
    """Issue 34: 1e308, 1e308, -1e308 overflowed mean and std, and the chips got NaN."""
    e = Empirical.from_samples([1e308, 1e308, -1e308])
    expected = (1 / math.sqrt(2), 1 / math.sqrt(2), -math.sqrt(2))
    assert e.values == pytest.approx(expected, rel=1e-12)
    h = Empirical.from_histogram([1.0, 1.0], [-1e308, 0.0, 1e308])
    assert all(math.isfinite(v) for v in h.values)
    assert h.values == pytest.approx(
        Empirical.from_histogram([1.0, 1.0], [-1.0, 0.0, 1.0]).values, rel=1e-12
    )


# ---- every distribution is standardised -------------------------------------------------

N = 200_000


def _draws(dist: UnitDistribution, seed: int = 0, n: int = N) -> torch.Tensor:
    return dist.sample((n,), torch.Generator().manual_seed(seed), dtype=torch.float64)


def assert_unit(z: torch.Tensor, k: float = 5.0) -> None:
    """Mean 0 and std 1 within ``k`` standard errors for ``n`` draws: 1 / sqrt(n) for the
    mean, sqrt((κ − 1) / (4 n)) for the std, κ the kurtosis estimated from the draws
    (1.8 uniform, 3 Gaussian, about 4 for Weibull(1.5), 10 for Weibull(0.8))."""
    n = z.numel()
    centred = z - z.mean()
    kurtosis = float(centred.pow(4).mean() / centred.pow(2).mean() ** 2)
    se_std = math.sqrt((kurtosis - 1) / (4 * n))
    assert abs(float(z.mean())) < k / math.sqrt(n), float(z.mean())
    assert abs(float(z.std()) - 1.0) < k * se_std, (float(z.std()), k * se_std)


def _bimodal() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.cat([torch.randn(300, generator=g) * 0.3 - 2.0, torch.randn(100, generator=g) + 3])


UNIT = {
    "gaussian": Gaussian(),
    "uniform": Uniform(),
    "weibull": Weibull(),
    "weibull(k=0.8)": Weibull(shape=0.8),
    "weibull(k=1)": Weibull(shape=1.0),
    "weibull(k=5)": Weibull(shape=5.0),
    "empirical(samples)": Empirical.from_samples(_bimodal()),
    "empirical(histogram)": Empirical.from_histogram([5, 1, 0, 2, 8], [-3, -1, 0, 1, 2, 6]),
}


@pytest.mark.parametrize("dist", UNIT.values(), ids=UNIT.keys())
def test_draws_have_mean_0_and_std_1(dist: UnitDistribution) -> None:
    assert_unit(_draws(dist))


@pytest.mark.parametrize("dist", UNIT.values(), ids=UNIT.keys())
def test_draws_follow_the_generator(dist: UnitDistribution) -> None:
    """A seed gives the same draws; ``fill_`` overwrites ``out`` in place; ``sample`` has
    the shape and dtype asked for, on the generator's device."""
    a = dist.sample((3, 50), torch.Generator().manual_seed(4))
    assert a.shape == (3, 50) and a.dtype == torch.float32 and a.device.type == "cpu"
    assert torch.equal(a, dist.sample((3, 50), torch.Generator().manual_seed(4)))
    assert not torch.equal(a, dist.sample((3, 50), torch.Generator().manual_seed(5)))
    out = torch.full((3, 50), float("nan"))
    assert dist.fill_(out, torch.Generator().manual_seed(4)) is out
    assert torch.equal(out, a)


# ---- support and shape ------------------------------------------------------------------


def test_uniform_is_flat_on_plus_minus_sqrt3() -> None:
    """Support [−√3, √3) and a quarter of the draws in each quarter of it (5 standard
    errors of a binomial fraction: 5 sqrt(3/16 / n) = 0.0048)."""
    z = _draws(Uniform())
    half = math.sqrt(3.0)
    assert float(z.min()) >= -half and float(z.max()) < half
    counts = torch.histc(z, bins=4, min=-half, max=half) / N
    assert (counts - 0.25).abs().max() < 5 * math.sqrt(3 / 16 / N), counts


@pytest.mark.parametrize(
    ("shape", "mean", "std"),
    [
        (1.0, 1.0, 1.0),  # the exponential distribution
        (2.0, math.sqrt(math.pi) / 2, math.sqrt(1 - math.pi / 4)),  # Rayleigh(1/√2)
        (0.5, 2.0, math.sqrt(20.0)),  # Γ(3) = 2, Γ(5) = 24: std² = 24 − 4
    ],
)
def test_weibull_moments_golden(shape: float, mean: float, std: float) -> None:
    assert Weibull(shape=shape).moments == pytest.approx((mean, std), rel=1e-12)


def test_weibull_1_is_the_standardised_exponential() -> None:
    """k = 1: z = E − 1, E ~ Exp(1): z ≥ −1 and P(z > 1) = e^−2 (within 5 binomial
    standard errors); right-skewed with skewness 2 (within 0.1)."""
    z = _draws(Weibull(shape=1.0))
    assert float(z.min()) >= -1.0
    tail = float((z > 1).double().mean())
    p = math.exp(-2)
    assert abs(tail - p) < 5 * math.sqrt(p * (1 - p) / N)
    assert abs(float((z**3).mean()) - 2.0) < 0.1


@pytest.mark.parametrize("shape", [0.0, -1.5, float("nan"), float("inf")])
def test_weibull_shape_must_be_finite_and_positive(shape: float) -> None:
    got = re.escape(repr(shape))
    with pytest.raises(ValueError, match=rf"Weibull shape must be a finite number > 0, got {got}"):
        Weibull(shape=shape)


def test_labels() -> None:
    assert [d.label for d in DISTRIBUTIONS.values()] == ["gaussian", "uniform", "weibull"]
    assert Weibull(shape=1.5).label == "weibull"
    assert Weibull(shape=2.0).label == "weibull(k=2)"
    assert Weibull(shape=0.75).label == "weibull(k=0.75)"


# ---- measured data: exactly standardised -------------------------------------------------


SAMPLES = [0.3, -1.2, 4.0, 0.3, 2.5, -0.7]


def test_samples_are_standardised_exactly_and_keep_their_order() -> None:
    """z = (x − mean) / population std: mean 0 and std 1 to float64 rounding (fsum), the
    samples' order and an affine change of units (2x + 7) do not matter."""
    e = Empirical.from_samples(SAMPLES)
    n = len(SAMPLES)
    mean = math.fsum(SAMPLES) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in SAMPLES) / n)
    assert e.values == pytest.approx([(x - mean) / std for x in SAMPLES], rel=1e-12)
    assert abs(math.fsum(e.values)) < 1e-12
    assert math.fsum(v * v for v in e.values) / n == pytest.approx(1.0, rel=1e-12)
    assert e.weights is None
    other_units = Empirical.from_samples(torch.tensor(SAMPLES, dtype=torch.float64) * 2 + 7)
    assert other_units.values == pytest.approx(e.values, rel=1e-12, abs=1e-12)


def test_sample_draws_are_the_standardised_samples_equally_often() -> None:
    """Resampling: every draw is one of the standardised values, each value drawn 1/n of
    the time (within 5 binomial standard errors; the tied 0.3 twice as often)."""
    e = Empirical.from_samples(SAMPLES)
    z = _draws(e)
    values = torch.tensor(sorted(set(e.values)), dtype=torch.float64)
    index = torch.searchsorted(values, z)
    assert torch.equal(values[index], z)  # nothing but the values themselves
    freq = torch.bincount(index, minlength=len(values)).double() / N
    expected = torch.tensor([SAMPLES.count(x) for x in sorted(set(SAMPLES))]) / len(SAMPLES)
    se = (expected * (1 - expected) / N).sqrt()
    assert ((freq - expected).abs() < 5 * se).all(), (freq, expected)


COUNTS = [4.0, 0.0, 1.0, 5.0]
EDGES = [-2.0, -0.5, 0.0, 1.0, 4.0]


def test_histogram_is_standardised_exactly() -> None:
    """The mixture of uniform bins has mean 0 and variance 1 (bin moments summed with fsum
    from the stored edges and weights); the edges are an affine map of the given ones."""
    h = Empirical.from_histogram(COUNTS, EDGES)
    assert h.weights == pytest.approx([c / sum(COUNTS) for c in COUNTS], rel=1e-15)
    pairs = list(itertools.pairwise(h.values))
    mean = math.fsum(p * (a + b) / 2 for p, (a, b) in zip(h.weights, pairs, strict=True))
    second = math.fsum(
        p * (a * a + a * b + b * b) / 3 for p, (a, b) in zip(h.weights, pairs, strict=True)
    )
    assert abs(mean) < 1e-12
    assert second == pytest.approx(1.0, rel=1e-12)
    widths = [b - a for a, b in pairs]
    ratios = [w / (b - a) for w, (a, b) in zip(widths, itertools.pairwise(EDGES), strict=True)]
    assert ratios == pytest.approx([ratios[0]] * len(ratios), rel=1e-12)


def test_histogram_draws_fill_the_bins_in_proportion() -> None:
    """Each bin gets its share of the draws (5 binomial standard errors), an empty bin
    none, and the draws are uniform within a bin (each half gets half, 5 standard errors)."""
    h = Empirical.from_histogram(COUNTS, EDGES)
    z = _draws(h)
    edges = torch.tensor(h.values, dtype=torch.float64)
    assert float(z.min()) >= h.values[0] and float(z.max()) <= h.values[-1]
    bins = (torch.searchsorted(edges, z, right=True) - 1).clamp(0, len(COUNTS) - 1)
    share = torch.bincount(bins, minlength=len(COUNTS)).double() / N
    p = torch.tensor(h.weights, dtype=torch.float64)
    assert int((bins == 1).sum()) == 0  # the empty bin
    assert ((share - p).abs() < 5 * (p * (1 - p) / N).sqrt() + 1e-12).all(), (share, p)
    last = z[bins == 3]
    upper = float((last > (edges[3] + edges[4]) / 2).double().mean())
    assert abs(upper - 0.5) < 5 * math.sqrt(0.25 / last.numel())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Empirical.from_samples([0.0, math.inf]), "contain NaN or infinite values"),
        (lambda: Empirical.from_samples([]), "at least 2 values, got 0"),
        (lambda: Empirical.from_histogram([1, math.nan], [0, 1, 2]), "must be finite"),
        (lambda: Empirical.from_histogram([1, 1], [0, 1, math.inf]), "must be finite"),
        (lambda: Empirical.from_histogram([1, 1], [0, 1, 1]), "strictly increasing"),
        (lambda: Empirical(values=(0.5,)), r"Empirical needs data: build it with"),
    ],
)
def test_bad_measured_data(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_empirical_equality_hash_repr_and_label() -> None:
    a, b = Empirical.from_samples(SAMPLES), Empirical.from_samples(list(SAMPLES))
    h = Empirical.from_histogram(COUNTS, EDGES)
    assert a == b and hash(a) == hash(b) and a != h
    assert a != Empirical.from_samples([*SAMPLES, 1.0])
    assert repr(a) == "Empirical(samples, n=6)" and repr(h) == "Empirical(histogram, n=4)"
    assert re.fullmatch(r"empirical\(samples n=6 #[0-9a-f]{6}\)", a.label)
    assert re.fullmatch(r"empirical\(histogram n=4 #[0-9a-f]{6}\)", h.label)
    assert a.label == b.label
    assert a.label != Empirical.from_samples([*SAMPLES[:-1], 9.0]).label  # the data differ


# ---- names ------------------------------------------------------------------------------


def test_resolve_distribution() -> None:
    assert resolve_distribution("gaussian") is DISTRIBUTIONS["gaussian"]
    assert resolve_distribution("Uniform") == Uniform()
    assert resolve_distribution("WEIBULL") == Weibull(shape=1.5)
    mine = Weibull(shape=3.0)
    assert resolve_distribution(mine) is mine
    with pytest.raises(ValueError, match=r"'empirical' needs measured data: pass .*from_samples"):
        resolve_distribution("empirical")
    allowed = r"allowed: \['gaussian', 'uniform', 'weibull', 'empirical'\] or a UnitDistribution"
    for bad in ("normal", 3, None):
        with pytest.raises(ValueError, match=rf"unknown distribution {re.escape(repr(bad))}; "
                           + allowed):  # fmt: skip
            resolve_distribution(bad)  # type: ignore[arg-type]
