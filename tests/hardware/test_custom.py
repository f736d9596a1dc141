"""A user's device: σ(g) from measurements, points or a callable."""

from __future__ import annotations

import pytest
import torch

from snnvar.hardware import (
    CustomDevice,
)
from tests.hardware.reads import read_once


def test_custom_device_from_measurements_estimates_sigma_per_level() -> None:
    gen = torch.Generator().manual_seed(0)
    target = torch.tensor([5.0, 15.0, 25.0]).repeat_interleave(20000)
    sig = torch.tensor([0.2, 0.5, 0.9]).repeat_interleave(20000)
    achieved = target + sig * torch.randn(target.shape, generator=gen)
    dev = CustomDevice.from_measurements(target, achieved)
    assert [p[0] for p in dev.sigma] == [5.0, 15.0, 25.0]
    for (_, s), true in zip(dev.sigma, (0.2, 0.5, 0.9), strict=True):
        assert s == pytest.approx(true, rel=0.03)
    # interpolated linearly between the points, constant beyond them
    got = dev.programming_sigma(torch.tensor([0.0, 10.0, 30.0]), 20.0)
    assert got[0] == pytest.approx(dev.sigma[0][1])
    assert got[1] == pytest.approx((dev.sigma[0][1] + dev.sigma[1][1]) / 2)
    assert got[2] == pytest.approx(dev.sigma[2][1])


def test_a_nan_sigma_is_refused() -> None:
    with pytest.raises(ValueError, match="negative or NaN"):
        read_once(CustomDevice(sigma=lambda g: g * float("nan")), torch.randn(4, 4))


def test_a_negative_callable_sigma_is_refused_whenread_once() -> None:
    dev = CustomDevice(sigma=lambda g: 0.1 - g)
    with pytest.raises(ValueError, match="σ\\(g\\) is negative"):
        read_once(dev, torch.randn(4, 4))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: CustomDevice(sigma=((0.0, -0.1),)), "must be finite and >= 0"),
        (lambda: CustomDevice(sigma=((5.0, 0.1), (1.0, 0.1))), "must increase"),
        (lambda: CustomDevice(), "at least one"),
    ],
)
def test_bad_sigma_points_are_refused(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()
