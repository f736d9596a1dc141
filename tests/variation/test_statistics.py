"""The perturbation has the documented distribution, scale and mean."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from snnvar import Empirical, Variation, Weibull

N = 1000  # a 1000 x 1000 layer: one million draws


def big_layer(seed: int = 0) -> nn.Linear:
    layer = nn.Linear(N, N, bias=False)
    with torch.no_grad():
        layer.weight.copy_(
            torch.randn(N, N, generator=torch.Generator().manual_seed(seed)) * 0.05 + 0.01
        )
    return layer


def bimodal_samples() -> torch.Tensor:
    """A multimodal inter-device distribution (two device populations)."""
    g = torch.Generator().manual_seed(1)
    return torch.cat(
        [torch.randn(3000, generator=g) * 0.3 - 2.0, torch.randn(1000, generator=g) * 0.5 + 3.0]
    )


DISTRIBUTIONS = {
    "gaussian": "gaussian",
    "uniform": "uniform",
    "weibull": "weibull",
    "empirical_samples": Empirical.from_samples(bimodal_samples()),
    "empirical_histogram": Empirical.from_histogram([5, 1, 0, 2, 8], [-3, -1, 0, 1, 2, 6]),
}


def expected_scale(w: torch.Tensor, relative_to: str) -> torch.Tensor:
    w64 = w.double()
    if relative_to == "range":
        return 6 * w64.std(correction=0)
    if relative_to == "max":
        return w64.abs().max()
    if relative_to == "weight":
        return w64.abs()
    return torch.tensor(1.0, dtype=torch.float64)


@pytest.mark.parametrize("relative_to", ["range", "max", "weight", "absolute"])
@pytest.mark.parametrize("dist", list(DISTRIBUTIONS))
def test_std_and_mean_match_definition(dist: str, relative_to: str) -> None:
    layer = big_layer()
    gamma, sigma = 0.8, 0.1
    v = Variation(
        sigma=sigma, gamma=gamma, distribution=DISTRIBUTIONS[dist], relative_to=relative_to
    )
    delta = v.sample(layer, seed=3)["weight"].double()
    z = delta / (gamma * sigma * expected_scale(layer.weight.detach(), relative_to))
    assert_unit(z)


def assert_unit(z: torch.Tensor, k: float = 5.0) -> None:
    """``z`` has mean 0 and std 1 within ``k`` standard errors of its sample size.

    For n draws of kurtosis κ = E[z⁴] / E[z²]², the sample mean has a standard error of
    1 / sqrt(n) and the sample std one of sqrt((κ − 1) / (4 n)) (1 / sqrt(2 n) for a
    Gaussian: 0.0007 for a million draws; κ is estimated from the draws, as the
    distributions differ: 1.8 uniform, 3 Gaussian, 4.4 Weibull(1.5), 1.6 to 2.5 for the
    empirical ones here).
    """
    n = z.numel()
    centred = z - z.mean()
    kurtosis = float(centred.pow(4).mean() / centred.pow(2).mean() ** 2)
    se_std = math.sqrt((kurtosis - 1) / (4 * n))
    assert abs(z.std().item() - 1.0) < k * se_std, (z.std().item(), k * se_std)
    assert abs(z.mean().item()) < k / math.sqrt(n), (z.mean().item(), k / math.sqrt(n))


@pytest.mark.parametrize("relative_to", ["range", "max", "absolute"])
def test_mean_shift(relative_to: str) -> None:
    layer = big_layer()
    s = expected_scale(layer.weight.detach(), relative_to)
    shifted = Variation(sigma=0.05, mean=0.2, relative_to=relative_to).sample(layer, seed=0)[
        "weight"
    ]
    assert abs(shifted.double().mean().item() - 0.2 * s.item()) < 0.01 * s.item()
    only_shift = Variation(sigma=0.0, mean=0.2, relative_to=relative_to).sample(layer, seed=0)
    torch.testing.assert_close(
        only_shift["weight"].double(),
        torch.full((N, N), 0.2 * s.item(), dtype=torch.float64),
        rtol=1e-5,
        atol=0,
    )


def test_weight_relative_mean_shift_is_multiplicative() -> None:
    layer = big_layer()
    delta = Variation(sigma=0.0, mean=0.1, relative_to="weight").sample(layer, seed=0)["weight"]
    torch.testing.assert_close(delta, 0.1 * layer.weight.detach().abs())


def test_distribution_shapes() -> None:
    layer = big_layer()
    z = {
        name: Variation(sigma=1.0, distribution=d, relative_to="absolute")
        .sample(layer, seed=5)["weight"]
        .double()
        .flatten()
        for name, d in DISTRIBUTIONS.items()
    }
    # uniform: bounded by sqrt(3), flat (a quarter of the mass in each quarter of the range)
    assert z["uniform"].abs().max() <= math.sqrt(3) + 1e-6
    assert abs((z["uniform"] > math.sqrt(3) / 2).double().mean().item() - 0.25) < 0.005
    # gaussian: 68.3 % within one std
    assert abs((z["gaussian"].abs() < 1).double().mean().item() - 0.6827) < 0.005
    # weibull(k = 1.5) is right-skewed: skewness 1.072
    skew = (z["weibull"] ** 3).mean().item()
    assert abs(skew - 1.072) < 0.05
    # empirical samples: only the standardised measured values, bimodal (nothing near 0)
    allowed = torch.tensor(Empirical.from_samples(bimodal_samples()).values).float().double()
    assert set(z["empirical_samples"][:2000].tolist()) <= set(allowed.tolist())
    # raw modes at -2 (75 %) and +3 (25 %): raw (-0.5, 1.5) is the empty gap between them,
    # which standardises (mean -0.75, std 2.19) to about (0.11, 1.03)
    emp = z["empirical_samples"]
    assert ((emp > 0.12) & (emp < 1.0)).double().mean().item() < 0.002
    assert abs((emp < 0).double().mean().item() - 0.75) < 0.01
    # empirical histogram: the empty bin [0, 1) of the original axis gets no draws
    hist = DISTRIBUTIONS["empirical_histogram"]
    lo, hi = hist.values[2], hist.values[3]
    inside = ((z["empirical_histogram"] > lo) & (z["empirical_histogram"] < hi)).sum().item()
    assert inside == 0
    assert (
        hist.values[0]
        <= z["empirical_histogram"].min()
        <= z["empirical_histogram"].max()
        <= hist.values[-1]
    )


def test_weibull_shape_parameter() -> None:
    layer = big_layer()
    z = (
        Variation(sigma=1.0, distribution=Weibull(shape=3.6), relative_to="absolute")
        .sample(layer, seed=0)["weight"]
        .double()
    )
    assert_unit(z)
    assert abs((z**3).mean().item()) < 0.05  # k = 3.6 is nearly symmetric


def test_gamma_flips_the_draw_exactly() -> None:
    layer = big_layer()
    plus = Variation(sigma=0.1, gamma=1.0).sample(layer, seed=9)["weight"]
    minus = Variation(sigma=0.1, gamma=-1.0).sample(layer, seed=9)["weight"]
    assert torch.equal(minus, -plus)


def test_sigma_zero_is_exactly_no_change(mlp: nn.Module) -> None:
    draw = Variation(sigma=0.0).sample(mlp, seed=0)
    assert all(torch.count_nonzero(d) == 0 for d in draw.values())
