"""Measured distributions: standardised in a way that survives any finite values, and
refused when their spread is rounding error."""

from __future__ import annotations

import math

import pytest

from snnvar.variation import Empirical


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
