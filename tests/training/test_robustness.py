"""End to end: variation-aware training keeps accuracy on simulated chips.

A spiking FC network (64-128-10, T = 6, direct input) is trained on the
embedded digits for a fixed budget (30 epochs, Adam 3e-3) with SGD, noise
injection, WVAT at the paper's defaults (p = 1, γ = 1, w_th = 0.5, α = 0.1 as
for the paper's SNNs) and HA-SGD, for three training seeds; every method
trains against the test variation itself, the WVAT paper's HSV at σ = 10 %
(γ = 1). At σ = 10 % (mean over 10 simulated chips, the same chips for every
method and seed) each variation-aware method must lose, averaged over the
seeds, at most half as much accuracy as SGD, and at most 0.6 of it on every
seed.

Why three seeds: the drop ratio of one seed varies by about ±0.04 between
training seeds (SGD loses 8-9 points, measured on 360 test digits and 10
chips), as large as the margin under the 0.5 bar, so one seed alone passes or
fails by chance (the earlier single-seed test tuned WVAT to w_th = 0.2 and
trained at γ = 1.5 for that reason). Measured (2026-12-02, these settings),
drop / SGD's drop for seeds 0, 1, 2: noise injection 0.42, 0.51, 0.42 (mean
0.45); WVAT 0.45, 0.51, 0.48 (0.48); HA-SGD 0.52, 0.49, 0.47 (0.49).
"""

from __future__ import annotations

import statistics

import pytest
import torch

import snnvar
from snnvar import Variation, datasets, models
from snnvar.training import HASGD, WVAT, NoiseInjection, TrainConfig, Trainer

TRAIN_VARIATION = Variation(sigma=0.10)  # the paper's HSV, γ = 1
SEEDS = (0, 1, 2)
METHODS = ("noise_injection", "wvat", "hasgd")


def _train(method: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(128,))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    if method == "noise_injection":
        opt = NoiseInjection(model, opt, TRAIN_VARIATION, seed=seed)
    elif method == "wvat":
        opt = WVAT(model, opt, TRAIN_VARIATION, w_th=0.5, p=1.0, alpha=0.1, seed=seed)
    elif method == "hasgd":
        opt = HASGD(model, opt, TRAIN_VARIATION, samples=2, seed=seed)
    cfg = TrainConfig(
        epochs=30, batch_size=64, time_steps=6, encoder="direct", seed=seed, progress=False
    )
    Trainer(model, opt, cfg).fit(datasets.get("digits"))
    return model


@pytest.fixture(scope="module")
def ratios() -> dict[str, list[float]]:
    """Drop at σ = 10 % relative to SGD's, per method and training seed."""
    out: dict[str, list[float]] = {m: [] for m in METHODS}
    for seed in SEEDS:
        trained = {m: _train(m, seed) for m in ("sgd", *METHODS)}
        report = snnvar.evaluate(
            trained,
            datasets.get("digits", train=False),
            Variation(sigma=0.10),
            sigmas=(0.0, 0.10),
            draws=10,
            seed=0,
            encoder="direct",
            time_steps=6,
            spikes=False,
        )
        drop = {
            m: report.row(m, 0.0).accuracy_mean - report.row(m, 0.10).accuracy_mean for m in trained
        }
        assert report.row("sgd", 0.0).accuracy_mean > 0.95, seed
        assert drop["sgd"] > 0.05, (seed, drop)  # the variation does hurt the SGD network
        for m in METHODS:
            assert report.row(m, 0.0).accuracy_mean > 0.9, (seed, m)
            out[m].append(drop[m] / drop["sgd"])
    return out


@pytest.mark.parametrize("method", METHODS)
def test_variation_aware_training_halves_the_accuracy_drop(ratios, method) -> None:
    assert statistics.fmean(ratios[method]) <= 0.5, ratios[method]
    assert max(ratios[method]) <= 0.6, ratios[method]
