"""The quantiser's straight-through gradient: 1 inside the interval and on its edges,
0 outside (a saturating converter); the values on a uniform grid."""

from __future__ import annotations

import pytest
import torch

from snnvar.hardware import Restrictions, restrict
from snnvar.hardware.quantize import quantize, quantize_each, ste_round


def _grad(x: torch.Tensor, levels: int, half: torch.Tensor | float) -> torch.Tensor:
    x = x.clone().requires_grad_()
    quantize(x, levels, half).sum().backward()
    assert x.grad is not None
    return x.grad


@pytest.mark.parametrize("half", [1.0, torch.tensor(1.0), torch.tensor(0.75)])
def test_gradient_is_one_at_and_inside_the_edges_and_zero_outside(half) -> None:
    h = float(half)
    x = torch.tensor([-2 * h, -h, -0.5 * h, 0.0, 0.3 * h, h, 1.5 * h])
    grad = _grad(x, 7, half)
    # exactly one at the edges ±half (torch.maximum/minimum split ties 0.5/0.5)
    assert grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]


def test_largest_weight_of_a_layer_gets_its_whole_gradient() -> None:
    """The window is the detached max|W|: the largest weight sits on the edge."""
    w = torch.tensor([[0.2, -0.5], [1.0, -1.0]], requires_grad=True)
    half = w.detach().abs().max()
    quantize(w, 15, half).sum().backward()
    assert w.grad is not None
    assert torch.equal(w.grad, torch.ones_like(w))


def test_restricted_layer_passes_the_whole_gradient_to_its_largest_weight() -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 3, bias=False)
    with torch.no_grad():
        layer.weight[1, 2] = 2.0  # the layer's max|W|: the quantiser's edge
    chip = restrict(torch.nn.Sequential(layer), Restrictions(weight_levels=15))
    x = torch.randn(5, 4)
    chip(x).sum().backward()
    expected = x.sum(0).expand(3, 4)  # d(sum W'x)/dW = sum of inputs, straight through
    grad = chip[0].weight.grad
    assert grad is not None
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-6)


def test_values_lie_on_the_grid_and_saturate() -> None:
    x = torch.linspace(-3, 3, 61)
    q = quantize(x, 5, 2.0)  # levels -2, -1, 0, 1, 2
    assert set(q.tolist()) <= {-2.0, -1.0, 0.0, 1.0, 2.0}
    assert q[0] == -2.0 and q[-1] == 2.0
    assert torch.equal(quantize(torch.tensor([0.4, 0.6, -1.4]), 5, 2.0),
                       torch.tensor([0.0, 1.0, -1.0]))  # fmt: skip


def test_ste_round_is_round_forward_identity_backward() -> None:
    x = torch.tensor([0.2, 0.7, -1.6], requires_grad=True)
    y = ste_round(x)
    assert y.tolist() == [0.0, 1.0, -2.0]
    y.sum().backward()
    assert x.grad is not None and x.grad.tolist() == [1.0, 1.0, 1.0]


def test_bad_levels_and_empty_window() -> None:
    with pytest.raises(ValueError, match="at least 2 levels, got 1"):
        quantize(torch.ones(2), 1, 1.0)
    assert torch.equal(quantize(torch.tensor([1.0, -2.0]), 3, 0.0), torch.zeros(2))


def test_a_tie_rounds_to_the_even_step_with_an_odd_number_of_levels() -> None:
    """0.5 on an 8-bit converter over ±1 is 63.5 steps: to 64, as round(x / step) and
    aihwkit's converters; with an even number of levels the grid has no zero."""
    step = 2.0 / 254
    x = torch.tensor([0.5, -0.5, 1.5 * step, -2.5 * step], dtype=torch.float64)
    got = quantize(x, 255, 1.0)
    torch.testing.assert_close(got, torch.tensor([64, -64, 2, -2], dtype=torch.float64) * step)
    got = quantize_each(x, 255, torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(got, torch.tensor([64, -64, 2, -2], dtype=torch.float64) * step)
    even = quantize(torch.tensor([0.0]), 4, 1.0)  # levels ±1/3, ±1: zero is a tie
    assert abs(float(even)) == pytest.approx(1 / 3)
