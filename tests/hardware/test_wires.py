"""The wires' resistance (IR drop): the first-order model against an exact nodal solve
of the resistor network, and a restricted layer's tiles through it."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from snnvar.hardware import Restrictions, deploy, restrict, single_restrictions
from snnvar.hardware.wires import MAX_NODES, first_order, nodal_currents, through_wires

SECOND_ORDER = 1.6
"""The first order's error is second order in ρ: at most this times the relative drop
δ = max|ideal − exact| / max|ideal| times the drop itself (measured: 1.1 to 1.4 δ on
8×4 to 32×16 arrays with δ from 7e-3 to 0.2, the table in docs/guide/hardware.md)."""


def _array(n: int, m: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, m, generator=g, dtype=torch.float64), torch.randn(
        6, n, generator=g, dtype=torch.float64
    )


@pytest.mark.parametrize("shape", [(8, 4), (16, 8), (24, 12)])
@pytest.mark.parametrize("rho", [1e-5, 1e-4, 1e-3])
def test_first_order_is_the_exact_solve_to_second_order(shape, rho) -> None:
    g, v = _array(*shape, seed=shape[0])
    ideal, exact = v @ g, nodal_currents(g, v, rho)
    first = v @ first_order(g, rho)
    drop = float((ideal - exact).abs().max())
    delta = drop / float(ideal.abs().max())
    assert 1e-5 < delta < 0.25  # the wires matter, and the drop is small
    assert float((first - exact).abs().max()) <= SECOND_ORDER * delta * drop
    # the drop is a loss: each column's current shrinks towards zero on average
    assert float((exact.abs() - ideal.abs()).mean()) < 0


def test_first_order_is_the_exact_slope_at_zero_resistance() -> None:
    g, v = _array(12, 6, seed=1)
    rho = 1e-7
    exact_slope = (nodal_currents(g, v, rho) - v @ g) / rho
    first_slope = (v @ first_order(g, rho) - v @ g) / rho
    torch.testing.assert_close(first_slope, exact_slope, rtol=1e-3, atol=1e-3)


def test_the_far_cells_lose_the_most() -> None:
    g = torch.ones(8, 8, dtype=torch.float64)
    eff = first_order(g, 1e-3)
    # row j is driven from column 0; column i is read below row 7: cell (0, 7) is the
    # farthest from both ends, cell (7, 0) the nearest
    assert float(eff[0, 7]) == float(eff.min()) and float(eff[7, 0]) == float(eff.max())
    assert bool((eff < g).all())


def test_nodal_currents_refuses_bad_input_by_name() -> None:
    g, v = _array(4, 3, seed=2)
    torch.testing.assert_close(nodal_currents(g, v, 1e-12), v @ g, rtol=1e-8, atol=1e-8)
    with pytest.raises(ValueError, match=r"g must be \[rows, cols\] and v \[batch, rows\]"):
        nodal_currents(g, v[:, :3], 1e-3)
    with pytest.raises(ValueError, match="rho must be > 0"):
        nodal_currents(g, v, 0.0)
    big = torch.zeros(64, MAX_NODES // 128 + 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="nodes; nodal_currents solves at most"):
        nodal_currents(big, torch.zeros(1, 64, dtype=torch.float64), 1e-3)


def test_every_tile_has_its_own_wires_and_signs_their_own_array() -> None:
    torch.manual_seed(0)
    block = torch.randn(5, 10)
    w = torch.cat([block, block], dim=1)  # two row blocks holding the same weights
    scale = block.abs().max().expand(2, 5)
    eff, _ = through_wires(w, [10, 10], [5], 2e-3, scale)
    torch.testing.assert_close(eff[:, :10], eff[:, 10:])  # positions within a tile
    mirrored, _ = through_wires(-w, [10, 10], [5], 2e-3, scale)
    torch.testing.assert_close(mirrored, -eff)  # the negative array mirrors the positive
    one, _ = through_wires(w, [20], [5], 2e-3, scale[:1])
    assert float((one - w).abs().max()) > float((eff - w).abs().max())  # a longer array


def test_a_restricted_layer_reads_through_its_wires() -> None:
    torch.manual_seed(1)
    layer = nn.Linear(30, 4)
    hw = Restrictions(array_rows=15, input_range=2.0, wire_resistance=1e-3)
    chip = deploy(restrict(nn.Sequential(layer), hw))
    x = torch.rand(5, 30) * 2
    w, b = layer.weight.detach(), layer.bias.detach()
    # by hand: the bias b/2 is the first array's 16th row, driven at 2
    first = torch.cat([w[:, :15], (b / 2).unsqueeze(1)], dim=1)
    s1, s2 = float(first.abs().max()), float(w[:, 15:].abs().max())
    gp, gn = (first / s1).clamp(min=0).T, (-first / s1).clamp(min=0).T
    e1 = (first_order(gp, 1e-3) - first_order(gn, 1e-3)).T * s1
    gp, gn = (w[:, 15:] / s2).clamp(min=0).T, (-w[:, 15:] / s2).clamp(min=0).T
    e2 = (first_order(gp, 1e-3) - first_order(gn, 1e-3)).T * s2
    expected = x[:, :15] @ e1[:, :15].T + 2 * e1[:, 15] + x[:, 15:] @ e2.T
    with torch.no_grad():
        torch.testing.assert_close(chip(x), expected, rtol=1e-5, atol=1e-5)
        assert float((chip(x) - layer(x)).abs().max()) > 1e-3  # the wires matter
    # and in training: the gradient reaches the weights through the wires
    trained = restrict(nn.Sequential(layer), hw).train()
    trained(x).sum().backward()
    assert trained[0].weight.grad is not None and bool(trained[0].weight.grad.abs().sum() > 0)


def test_wire_resistance_is_checked_labelled_and_ablated() -> None:
    with pytest.raises(ValueError, match="wire_resistance must be >= 0"):
        Restrictions(wire_resistance=-1e-4)
    hw = Restrictions(wire_resistance=1e-4, array_rows=128, weight_levels=15)
    assert hw.tiled and hw.wired
    assert hw.label() == "w15, tiles 128×∞, wires ρ=0.0001"
    assert Restrictions.from_dict(hw.to_dict()) == hw
    rows = single_restrictions(hw)
    assert list(rows) == ["weights", "wires", "all"]
    assert rows["wires"] == Restrictions(wire_resistance=1e-4, array_rows=128)
    assert not dataclasses.replace(hw, wire_resistance=0.0).wired


def test_a_chips_layer_is_the_nodal_solve_of_its_two_arrays_to_second_order() -> None:
    """End to end: a deployed Linear on one array, negative weights and a bias row,
    against the exact solve of its positive and its negative array."""
    torch.manual_seed(3)
    layer = nn.Linear(12, 5).double()
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.9, -0.2, 0.05, -1.1, 0.3], dtype=torch.float64))
    rho = 2e-3
    chip = deploy(restrict(nn.Sequential(layer), Restrictions(input_range=1.0,
                                                              wire_resistance=rho)))  # fmt: skip
    x = torch.rand(7, 12, dtype=torch.float64) * 2 - 1
    w, b = layer.weight.detach(), layer.bias.detach()
    held = torch.cat([w, b.unsqueeze(1)], dim=1)  # the bias: the last row, driven at 1
    s = float(held.abs().max())  # one tile: its g_max weight
    v = torch.cat([x, torch.ones(7, 1, dtype=torch.float64)], dim=1)
    pos, neg = (held / s).clamp(min=0).T, (-held / s).clamp(min=0).T
    exact = s * (nodal_currents(pos, v, rho) - nodal_currents(neg, v, rho))
    ideal = layer(x).detach()
    with torch.no_grad():
        ours = chip(x)
    dropped = float((ideal - exact).abs().max())
    delta = dropped / float(ideal.abs().max())
    assert 1e-3 < delta < 0.2
    assert float((ours - exact).abs().max()) <= SECOND_ORDER * delta * dropped


def test_an_all_zero_tile_holds_no_current_and_a_too_large_drop_is_refused() -> None:
    layer = nn.Linear(8, 3)
    with torch.no_grad():
        layer.weight[:, 4:] = 0.0  # the second array holds nothing
    chip = deploy(restrict(nn.Sequential(layer), Restrictions(array_rows=4,
                                                              wire_resistance=1e-3)))  # fmt: skip
    with torch.no_grad():
        y = chip(torch.rand(2, 8))
    assert bool(torch.isfinite(y).all())
    big = deploy(restrict(nn.Sequential(nn.Linear(256, 64)),
                          Restrictions(wire_resistance=1e-3)))  # fmt: skip
    with pytest.raises(ValueError, match=r"layer '0': .* drops a cell's current by \d+% to"):
        big(torch.rand(1, 256))
