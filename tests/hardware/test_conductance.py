"""Weights as conductance pairs and the mapping's scale."""

from __future__ import annotations

import torch

from snnvar.hardware import (
    to_conductances,
    to_weights,
)


def test_conductance_pairs_map_back_to_the_weights() -> None:
    w = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0, 3.0])
    gp, gm = to_conductances(w, w_max=2.0, g_min=1.0, g_max=25.0)
    assert gp.tolist() == [1.0, 1.0, 1.0, 7.0, 25.0, 25.0]  # 3.0 clips at g_max
    assert gm.tolist() == [25.0, 7.0, 1.0, 1.0, 1.0, 1.0]
    assert to_weights(gp, gm, 2.0, 1.0, 25.0).tolist() == [-2.0, -0.5, 0.0, 0.5, 2.0, 2.0]


def test_percentile_mapping_matches_torch_quantile() -> None:
    from snnvar.hardware.conductance import mapping_scale

    gen = torch.Generator().manual_seed(0)
    for n in (1, 2, 7, 1000):
        w = torch.randn(n, generator=gen, dtype=torch.float64)
        for q in (1.0, 50.0, 99.0, 99.9):
            assert mapping_scale(w, q) == float(torch.quantile(w.abs(), q / 100)), (n, q)
