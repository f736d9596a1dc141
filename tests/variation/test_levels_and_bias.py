"""Device levels hit exactly; biases varied on their layer's scale."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnvar import Variation
from snnvar.variation import BIAS_REFERENCES, tensor_stats


def _layer(seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    layer = nn.Linear(40, 30)
    with torch.no_grad():
        layer.weight.mul_(3.0)  # wider than the default window: the end levels are used
    return layer


def _grid(w: torch.Tensor, levels: int) -> torch.Tensor:
    stats = tensor_stats(w)
    lo, hi = stats.mean - 3 * stats.std, stats.mean + 3 * stats.std
    step = (hi - lo) / (levels - 1)
    return lo + torch.arange(levels, dtype=torch.float32) * step


@pytest.mark.parametrize("levels", [2, 5, 16])
@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_sigma_zero_weights_lie_exactly_on_the_levels(levels, mode) -> None:
    layer = _layer()
    grid = _grid(layer.weight.detach(), levels)
    seen: list[torch.Tensor] = []
    # a forward hook registered first runs before the engine's swap-out: it sees the read
    layer.register_forward_hook(lambda m, _i, _o: seen.append(m.weight.detach().clone()))
    with Variation(0.0, levels=levels, mode=mode).applied(layer, seed=0):
        layer(torch.ones(1, 40))
    values = seen[0].unique()
    assert len(values) <= levels
    # every value is a grid point, bit for bit (not w + (q - w), an ulp away)
    assert bool(torch.isin(values, grid).all()), values[~torch.isin(values, grid)]


def test_quantised_read_adds_the_noise_to_the_level() -> None:
    """w_read = q + Δw exactly, with Δw the unconstrained draw of the same seed."""
    layer = _layer()
    w = layer.weight.detach().clone()
    noise = Variation(0.05).sample(layer, seed=4)["weight"]
    with Variation(0.0, levels=5).applied(layer, seed=4):
        q = layer.weight.detach().clone()
    with Variation(0.05, levels=5).applied(layer, seed=4) as draw:
        read = layer.weight.detach().clone()
        delta = draw["weight"]
    assert torch.equal(read, q + noise)
    torch.testing.assert_close(read, w + delta, rtol=0, atol=1e-6)


def test_a_quantised_dynamic_read_passes_the_gradient_straight_through() -> None:
    layer = _layer()
    x = torch.randn(8, 40)
    with Variation(0.0, levels=4, mode="dynamic").applied(layer, seed=0):
        layer(x).sum().backward()
    torch.testing.assert_close(layer.weight.grad, x.sum(0).expand(30, 40), rtol=0, atol=1e-5)


def test_a_zero_bias_varies_on_its_layers_scale() -> None:
    """Default: a bias takes its layer weight's reference, s = 6 std(W) (range), as
    [W b] held in one array; so zero biases vary, with std σ · 6 std(W)."""
    torch.manual_seed(0)
    layer = nn.Linear(200, 4000)
    nn.init.zeros_(layer.bias)
    v = Variation(0.1, include_bias=True)
    delta = v.sample(layer, seed=1)["bias"]
    expected = 0.1 * 6 * float(layer.weight.detach().std(unbiased=False))
    # 4000 Gaussian draws: the sample std is within 4 standard errors (4 / sqrt(2·4000))
    assert float(delta.std()) == pytest.approx(expected, rel=4 / (2 * 4000) ** 0.5)
    # relative to the layer's max |W| as well
    m = Variation(0.1, include_bias=True, relative_to="max").sample(layer, seed=1)["bias"]
    absmax = float(layer.weight.detach().abs().max())
    assert float(m.std()) == pytest.approx(0.1 * absmax, rel=4 / (2 * 4000) ** 0.5)
    # the bias's own statistics: a zero bias stays at zero
    own = Variation(0.1, include_bias=True, bias_reference="own").sample(layer, seed=1)["bias"]
    assert float(own.abs().max()) == 0.0


def test_the_bias_reference_is_the_same_in_dynamic_mode() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(50, 2000)
    nn.init.zeros_(layer.bias)
    v = Variation(0.1, include_bias=True, mode="dynamic")
    with v.applied(layer, seed=2) as draw:
        layer(torch.zeros(1, 50))
        delta = draw["bias"]
    expected = 0.1 * 6 * float(layer.weight.detach().std(unbiased=False))
    assert float(delta.std()) == pytest.approx(expected, rel=4 / (2 * 2000) ** 0.5)


def test_a_clipped_bias_takes_its_layers_window() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(10, 6)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([-9.0, -1.0, 0.0, 0.01, 1.0, 9.0]))
    stats = tensor_stats(layer.weight.detach())
    lo, hi = float(stats.mean - 3 * stats.std), float(stats.mean + 3 * stats.std)
    with Variation(0.0, include_bias=True, clip=True).applied(layer, seed=0):
        b = layer.bias.detach().clone()
    assert b.tolist() == pytest.approx([lo, lo, 0.0, 0.01, hi, hi], abs=1e-6)


def test_bias_reference_is_validated() -> None:
    assert BIAS_REFERENCES == ("layer", "own")
    with pytest.raises(ValueError, match=r"unknown bias_reference 'mine'; allowed: \['layer'"):
        Variation(0.1, bias_reference="mine")
