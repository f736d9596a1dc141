"""Stuck-at faults: a component of a device model."""

from __future__ import annotations

import math

import pytest
import torch

import snnvar
from snnvar.hardware import (
    PCM,
    IdealDevice,
    StuckAt,
)
from tests.hardware.reads import read_once


def test_stuck_fractions_lie_within_their_binomial_error() -> None:
    n = 400 * 500
    out = read_once(IdealDevice(faults=StuckAt(low=0.01, high=0.02)), torch.randn(400, 500))
    for code, p in ((1, 0.01), (2, 0.02)):
        frac = float((out.stuck == code).float().mean())
        assert abs(frac - p) < 4 * math.sqrt(p * (1 - p) / (2 * n)), (code, frac)
    assert torch.all(out.programmed[out.stuck == 1] == 0.0)
    assert torch.all(out.programmed[out.stuck == 2] == 25.0)
    # weight level: stuck at 0 and at ±w_max with the weight's sign
    w = torch.randn(400, 500)
    at_w = read_once(IdealDevice(faults=StuckAt(low=0.05, high=0.05, at="weight")), w)
    low, high = at_w.stuck[0] == 1, at_w.stuck[0] == 2
    assert float(low.float().mean()) == pytest.approx(0.05, abs=4 * math.sqrt(0.05 * 0.95 / n))
    assert torch.all(at_w.weights[low] == 0)
    w_max = float(w.abs().max())
    assert torch.allclose(at_w.weights[high], torch.sign(w[high]) * w_max)
    healthy = at_w.stuck[0] == 0
    assert torch.allclose(at_w.weights[healthy], w[healthy], atol=1e-6)  # ideal devices
    # faults on top of a PCM: stuck devices do not drift
    pcm = read_once(PCM(faults=StuckAt(high=0.1), time=3.15e7), torch.randn(100, 100))
    assert torch.all(pcm.read[pcm.stuck == 2] == 25.0)


def test_faults_are_a_component_not_a_device_model() -> None:
    faults = StuckAt(low=0.01, high=0.02, at="weight")
    assert not isinstance(faults, snnvar.hardware.DeviceModel)
    assert not isinstance(faults, snnvar.Perturbation)
    assert faults.to_dict() == {"low": 0.01, "high": 0.02, "at": "weight"}
    assert faults.label() == "stuck(low=0.01, high=0.02, at=weight)"
    # a chip whose only defect is its faults: an ideal device with them
    chip = IdealDevice(faults=StuckAt(low=0.01))
    assert chip.label() == "ideal, faults=stuck(low=0.01, high=0)"
    with pytest.raises(TypeError, match="faults must be a StuckAt or None, got PCM"):
        PCM(faults=PCM())
    with pytest.raises(TypeError, match="unexpected keyword argument 'mode'"):
        StuckAt(mode="dynamic")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: StuckAt(low=1.5), r"low must lie in \[0, 1\]"),
        (lambda: StuckAt(low=0.6, high=0.6), "low \\+ high must be <= 1"),
        (lambda: StuckAt(at="cell"), "unknown at 'cell'"),
    ],
)
def test_bad_faults_are_refused(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()
