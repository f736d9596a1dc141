"""RRAM: NeuRRAM's fits over time, and compensation on an RRAM chip."""

from __future__ import annotations

import math

import pytest
import torch

from snnvar.hardware import (
    RRAM,
)
from tests.hardware.reads import read_once


def test_rram_interpolates_its_fits_in_log_time_and_refuses_beyond_them() -> None:
    g = torch.tensor([10.0, 20.0, 40.0])
    rram = RRAM()
    one_day = rram.programming_sigma(g, 86400.0)
    x = g / 40.0
    expected = 0.701 + 22.086 * x - 50.773 * x**2 + 47.095 * x**3 - 16.458 * x**4
    assert torch.allclose(one_day, expected, rtol=1e-6)
    mid = rram.programming_sigma(g, math.sqrt(86400.0 * 172800.0))
    assert torch.allclose(mid, (one_day + rram.programming_sigma(g, 172800.0)) / 2, rtol=1e-6)
    with pytest.raises(ValueError, match="the RRAM fits end at 172800 s"):
        read_once(RRAM(time=3.15e7), torch.randn(4, 4))


def test_rram_compensation_references_the_chip_right_after_programming() -> None:
    w = torch.randn(300, 200, generator=torch.Generator().manual_seed(0))
    late = read_once(RRAM(time=172800.0, compensation="global"), w, seed=1)
    early = read_once(RRAM(time=1.0), w, seed=1)
    assert torch.equal(late.programmed, early.programmed)  # the reference: at t0
    assert not torch.equal(late.read, early.read)  # relaxation widened the error by t
    assert late.alpha is not None and float(late.alpha) != 1.0
    ref = early.weights.abs().mean() / (late.weights / late.alpha).abs().mean()
    torch.testing.assert_close(late.alpha, ref.to(late.alpha.dtype))
