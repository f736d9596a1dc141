"""PCM: programming noise σ(g), the published drift fit and 1/f read noise."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from snnvar.hardware import (
    PCM,
    CustomDevice,
)
from tests.hardware.reads import QUIET, read_once


def test_pcm_programming_noise_std_is_sigma_of_g_within_two_percent() -> None:
    # 400k devices at G+ = g_max / 2 (w = w_max / 2): std of G - G_T against the
    # published quadratic σ(0.5) = 0.26348 + 1.9650 / 2 - 1.1731 / 4 µS
    w = torch.full((400, 1000), 0.5)
    out = read_once(PCM(w_max=1.0, **QUIET), w)
    expected = 0.26348 + 1.9650 * 0.5 - 1.1731 * 0.25
    measured = float((out.programmed[0] - out.target[0]).std())
    assert measured == pytest.approx(expected, rel=0.02)
    # at g_max the noise is larger: σ(1) = 0.26348 + 1.9650 - 1.1731
    full = read_once(PCM(w_max=1.0, **QUIET), torch.ones(400, 1000))
    assert float((full.programmed[0] - full.target[0]).std()) == pytest.approx(
        0.26348 + 1.9650 - 1.1731, rel=0.02
    )
    # a custom σ(g): 0.3 µS everywhere, and g_max scales the PCM fit (g_max / 25)
    flat = read_once(CustomDevice(sigma=((0.0, 0.3), (25.0, 0.3)), w_max=1.0), w)
    assert float((flat.programmed[0] - flat.target[0]).std()) == pytest.approx(0.3, rel=0.02)
    big = read_once(PCM(g_max=50.0, w_max=1.0, **QUIET), w)
    assert float((big.programmed[0] - big.target[0]).std()) == pytest.approx(2 * expected, rel=0.02)


def test_pcm_drift_exponents_follow_the_published_fit() -> None:
    # at g = g_max: μ_ν = clip(0.0244, 0.049, 0.1) = 0.049, σ_ν = clip(-0.0059, 0.008, .) = 0.008
    out = read_once(PCM(w_max=1.0), torch.ones(200, 500))
    nu = out.nu[0]
    assert float(nu.mean()) == pytest.approx(0.049, abs=4 * 0.008 / math.sqrt(nu.numel()))
    assert float(nu.std()) == pytest.approx(0.008, rel=0.02)
    # at g = 0 (the unused device of each pair) the clipped maxima: μ 0.1, σ 0.045
    nu0 = out.nu[1]
    assert float(nu0.mean()) == pytest.approx(0.1, abs=0.002)


def test_pcm_accumulated_read_noise_follows_the_published_one_over_f_fit() -> None:
    g = torch.full((200_000,), 12.5)
    w = g / 25.0  # one layer, w_max = 1: G+ = 12.5 µS on every device
    w[0] = 1.0
    dev = PCM(drift=False, noise_scale=0.0, time=3600.0)
    r = read_once(dev, w, seed=4)
    rel = (r.read[0, 1:] / 12.5 - 1).double()
    q_s = min(0.0088 / 0.5**0.65, 0.2)
    expected = q_s * math.sqrt(math.log((3600.0 + 250e-9) / (2 * 250e-9)))
    n = rel.numel()
    assert abs(float(rel.std()) / expected - 1) < 5 / (2 * n) ** 0.5
    assert abs(float(rel.mean())) < 5 * expected / n**0.5
    # a dynamic PCM keeps that accumulated noise as the chip's state: without read_std
    # every read is the static chip (aihwkit: one drifted chip per inference time)
    layer = nn.Linear(4, 3)
    with PCM(time=3600.0).applied(layer, seed=1):
        static = layer.weight.detach().clone()
    seen: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: seen.append(m.weight.detach().clone()))
    with PCM(time=3600.0, mode="dynamic").applied(layer, seed=1):
        layer(torch.zeros(1, 4))
        layer(torch.zeros(1, 4))
    hook.remove()
    assert torch.equal(seen[0], static) and torch.equal(seen[1], static)
