"""Rate, direct and latency coding to time-major tensors."""

from __future__ import annotations

import pytest
import torch

from snnvar.datasets import direct, latency, rate, time_major


def test_rate_is_seeded_and_has_the_right_rate() -> None:
    x = torch.linspace(0, 1, 11).repeat(4, 1)
    a = rate(x, 2000, generator=torch.Generator().manual_seed(0))
    b = rate(x, 2000, generator=torch.Generator().manual_seed(0))
    c = rate(x, 2000, generator=torch.Generator().manual_seed(1))
    assert a.shape == (2000, 4, 11) and torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(a.mean(0), x, atol=0.04, rtol=0)  # SE <= 0.011


def test_rate_rejects_non_probabilities() -> None:
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\], got values in \[0, 2\]"):
        rate(torch.tensor([0.0, 2.0]), 5, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        rate(torch.tensor([0.5]), 0, generator=torch.Generator())


def test_direct_and_latency() -> None:
    x = torch.tensor([[0.0, 0.5, 1.0]])
    d = direct(x, 4)
    assert d.shape == (4, 1, 3) and torch.equal(d[2], x)
    spikes = latency(x, 5)
    assert spikes.shape == (5, 1, 3)
    assert spikes.sum(0).tolist() == [[0.0, 1.0, 1.0]]  # zero never spikes
    assert spikes[0, 0, 2] == 1 and spikes[2, 0, 1] == 1  # larger values spike earlier


def test_time_major() -> None:
    batch = torch.zeros(8, 25, 2, 34, 34)
    assert time_major(batch).shape == (25, 8, 2, 34, 34)
    with pytest.raises(ValueError, match=r"expected a batch \[B, T, \.\.\.\]"):
        time_major(torch.zeros(3, 4))
