"""Device window clipping and multi-level quantisation, in the documented order."""

from __future__ import annotations

import torch
from torch import nn

from snnvar import Variation


def layer_with(weights: torch.Tensor) -> nn.Linear:
    layer = nn.Linear(weights.shape[1], weights.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(weights)
    return layer


def wide_layer() -> nn.Linear:
    return layer_with(torch.randn(200, 300, generator=torch.Generator().manual_seed(0)))


def programmed(v: Variation, layer: nn.Linear) -> torch.Tensor:
    with v.applied(layer, seed=0):
        return layer.weight.detach().clone()


def test_clip_to_default_window_mu_pm_3sigma() -> None:
    layer = wide_layer()
    w = layer.weight.detach().double()
    mu, sd = w.mean(), w.std(correction=0)
    out = programmed(Variation(sigma=0.0, clip=True), layer).double()
    expected = w.clamp(mu - 3 * sd, mu + 3 * sd)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    assert (w > mu + 3 * sd).any() and (w < mu - 3 * sd).any()  # something was clipped


def test_clip_to_explicit_window() -> None:
    layer = wide_layer()
    out = programmed(Variation(sigma=0.0, clip=True, window=(-0.5, 1.0)), layer)
    assert out.min().item() == -0.5 and out.max().item() == 1.0
    inside = (layer.weight > -0.5) & (layer.weight < 1.0)
    assert torch.equal(out[inside], layer.weight.detach()[inside])


def test_quantise_to_levels_over_window() -> None:
    layer = wide_layer()
    out = programmed(Variation(sigma=0.0, window=(-1.0, 1.0), levels=3), layer)
    assert set(out.unique().tolist()) == {-1.0, 0.0, 1.0}
    # rounding to the nearest level
    w = layer.weight.detach()
    assert torch.equal(out[(w > 0.5) & (w < 1)], torch.ones_like(out[(w > 0.5) & (w < 1)]))
    assert torch.equal(out[w.abs() < 0.5], torch.zeros_like(out[w.abs() < 0.5]))


def test_quantise_default_window_has_exactly_n_levels() -> None:
    layer = wide_layer()
    w = layer.weight.detach().double()
    lo = w.mean() - 3 * w.std(correction=0)
    hi = w.mean() + 3 * w.std(correction=0)
    out = programmed(Variation(sigma=0.0, levels=8), layer).double()
    levels = out.unique()
    assert len(levels) == 8
    expected = lo + torch.arange(8, dtype=torch.float64) * (hi - lo) / 7
    torch.testing.assert_close(levels, expected, rtol=0, atol=1e-5)


def test_noise_is_added_after_clip_and_quantise() -> None:
    layer = wide_layer()
    v = Variation(sigma=0.05, clip=True, levels=4)
    q = programmed(Variation(sigma=0.0, clip=True, levels=4), layer).double()
    noisy = programmed(v, layer).double()
    scale = 0.05 * 6 * layer.weight.detach().double().std(correction=0)
    z = (noisy - q) / scale
    assert abs(z.std().item() - 1) < 0.03 and abs(z.mean().item()) < 0.03
    # the noise is not clipped: programmed weights + noise may leave the window
    assert noisy.max() > q.max()


def test_constant_layer_quantises_to_its_value() -> None:
    layer = layer_with(torch.full((3, 4), 0.25))
    out = programmed(Variation(sigma=0.0, levels=4), layer)
    assert torch.equal(out, torch.full((3, 4), 0.25))
