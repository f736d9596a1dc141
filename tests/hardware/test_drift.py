"""Drift, measured drift exponents and drift compensation."""

from __future__ import annotations

import math

import pytest
import torch

from snnvar.hardware import (
    PCM,
    device_from_dict,
)
from tests.hardware.reads import read_once


def test_noiseless_drift_follows_the_power_law_and_compensation_undoes_it() -> None:
    torch.manual_seed(0)
    w = torch.randn(64, 32)
    t = 86400.0
    base = {"noise_scale": 0.0, "read_noise": False, "drift_nu": (0.05, 0.0), "time": t}
    out = read_once(PCM(**base), w)
    on = out.programmed > 0
    ratio = out.read[on] / out.programmed[on]
    nu = -torch.log(ratio) / math.log(t / 20.0)
    assert torch.allclose(nu, torch.full_like(nu, 0.05), rtol=1e-4, atol=0)
    assert torch.allclose(out.weights, w * (t / 20.0) ** -0.05, rtol=1e-5, atol=1e-7)
    for comp in ("global", "column"):
        fixed = read_once(PCM(**base, compensation=comp), w)
        assert torch.allclose(fixed.weights, w, rtol=1e-5, atol=1e-7), comp
    # column compensation has one scale per output
    assert read_once(PCM(**base, compensation="column"), w).alpha.shape == (64, 1)
    # before t0 nothing drifts (reads before the end of programming read as t0)
    early = read_once(PCM(**{**base, "time": 5.0}), w)
    assert torch.equal(early.read, early.programmed)


def test_measured_drift_exponents_are_interpolated_in_conductance() -> None:
    table = ((0.0, 0.1, 0.0), (10.0, 0.05, 0.0), (25.0, 0.03, 0.0))
    dev = PCM(drift_nu=table, noise_scale=0.0, read_noise=False, time=2000.0)
    w = torch.tensor([0.2, 0.4, 0.7, 1.0])  # w_max 1: G+ = 5, 10, 17.5, 25 µS
    r = read_once(dev, w)
    torch.testing.assert_close(r.nu[0], torch.tensor([0.075, 0.05, 0.04, 0.03]))
    torch.testing.assert_close(r.read[0], r.programmed[0] * 100.0 ** -r.nu[0])
    assert device_from_dict(dev.to_dict()) == dev
    for bad, message in (
        (((10.0, 0.05, 0.0), (5.0, 0.05, 0.0)), "g must increase"),
        (((10.0, 0.05, -0.1), (20.0, 0.05, 0.0)), "drift_nu std must be >= 0"),
        (((10.0, 0.05),), "at least two"),
        ((0.05,), "must be \\(mean, std\\)"),
    ):
        with pytest.raises(ValueError, match=message):
            PCM(drift_nu=bad)
