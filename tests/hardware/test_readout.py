"""Output noise on every read of a tile (``Restrictions.output_noise``): its σ per tile,
its seeded streams (paired by device key, fresh per read, chip vs training domain),
and its use by evaluate, the loss landscape and the training methods."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
from torch import nn

import snnvar
from snnvar import models
from snnvar.evaluation import chip_seed, loss_landscape
from snnvar.hardware import (
    Restrictions,
    ablation,
    deploy,
    output_reads,
    restrict,
    single_restrictions,
)
from snnvar.hardware.readout import noisy_layers
from snnvar.training import Plain

STD_TOLERANCE = 0.03
"""Relative: a sample std over >= 10^5 Gaussian draws lies within 1 % of σ (4
standard errors); 3 % still tells σ from σ·√2."""


def _noise_of(chip: nn.Module, x: torch.Tensor, seed: int = 0) -> list[torch.Tensor]:
    """Per Linear of ``chip`` (deployed, no ADC): its output less ``W′x + b′`` of the input
    it received (the input circuit's clipping applied), i.e. its output noise."""
    seen: list[torch.Tensor] = []

    def hook(m: nn.Module, args: tuple[torch.Tensor], out: torch.Tensor) -> None:
        inp = args[0]
        if m.restrictions.input_range is not None and m.summary()["analog_input"]:
            inp = inp.clamp(-m.restrictions.input_range, m.restrictions.input_range)
        seen.append(out - nn.functional.linear(inp, m.weight, m.bias))

    layers = [m for m in chip.modules() if isinstance(m, nn.Linear)]
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.no_grad(), output_reads(chip, seed=seed):
            chip(x)
    finally:
        for h in handles:
            h.remove()
    return seen


@pytest.mark.parametrize("over_tiles", [False, True])
def test_each_tiles_noise_has_sigma_relative_to_its_full_scale(over_tiles) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(120, 30)
    with torch.no_grad():
        layer.weight[:, 40:80].mul_(3.0)  # the second tile's full scale is the largest
        layer.bias.fill_(0.5)
    hw = Restrictions(array_rows=40, input_range=2.0, output_noise=0.1,
                      noise_over_tiles=over_tiles)  # fmt: skip
    chip = deploy(restrict(nn.Sequential(layer), hw))
    (noise,) = _noise_of(chip, torch.randn(8000, 120))
    w = layer.weight.detach().abs()
    # the bias is a row b′/x_max of the first array driven at x_max: |b′| in its scale
    full = [max(2.0 * float(w[:, :40].max()), 0.5), 2.0 * float(w[:, 40:80].max()),
            2.0 * float(w[:, 80:].max())]  # fmt: skip
    sigma = 0.1 * math.sqrt(sum(f * f for f in full)) / (math.sqrt(3) if over_tiles else 1.0)
    assert abs(float(noise.std()) / sigma - 1) < STD_TOLERANCE
    assert abs(float(noise.mean())) < 4 * sigma / math.sqrt(noise.numel())
    # the columns are independent: their correlation is that of independent draws
    corr = torch.corrcoef(noise[:, :2].T)[0, 1]
    assert abs(float(corr)) < 4 / math.sqrt(len(noise))


def test_a_spiking_layers_full_scale_is_one_spike_times_max_w() -> None:
    torch.manual_seed(1)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,))
    hw = Restrictions(input_range=2.0, output_noise=0.2)
    chip = deploy(restrict(model, hw))
    first, second = _noise_of(chip, torch.rand(40, 500, 1, 8, 8) * 3)
    linears = [m for m in chip.modules() if isinstance(m, nn.Linear)]
    for noise, layer, x_max in zip((first, second), linears, (2.0, 1.0), strict=True):
        w, b = layer.weight.detach().abs().max(), layer.bias.detach().abs().max()
        full = max(x_max * float(w), float(b))
        assert abs(float(noise.std()) / (0.2 * full) - 1) < STD_TOLERANCE


def test_reads_are_seeded_fresh_per_read_and_paired_by_device_key() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 5))
    chip = deploy(restrict(model, Restrictions(input_range=1.0, output_noise=0.05)))
    twin = copy.deepcopy(chip)  # another model on the same chips: the same device keys
    x = torch.rand(16, 30)
    with torch.no_grad():
        with output_reads(chip, seed=7) as root:
            a, a2 = chip(x), chip(x)
        with output_reads(twin, seed=7):
            b = twin(x)
        with output_reads(chip, seed=8):
            c = chip(x)
        with output_reads(chip, seed=7, domain="train"):
            d = chip(x)
    assert root == 7
    assert torch.equal(a, b)  # same seed, same device keys: the same reads
    for other in (a2, c, d):  # the next read, another chip, the training domain
        assert not torch.equal(a, other)
    for m in chip.modules():  # the streams are released
        assert getattr(m, "output_stream", None) is None


def test_a_noisy_chip_needs_a_block_and_nesting_is_refused() -> None:
    model = nn.Sequential(nn.Linear(6, 3))
    chip = deploy(restrict(model, Restrictions(input_range=1.0, output_noise=0.1)))
    with pytest.raises(RuntimeError, match=r"layer '0' adds output noise .*output_reads"):
        chip(torch.rand(2, 6))
    nested = pytest.raises(RuntimeError, match="nested output_reads")
    with output_reads(chip, seed=0), nested, output_reads(chip, seed=1):
        pass
    with pytest.raises(ValueError, match="unknown seed domain"), output_reads(chip, 0, None, "x"):
        pass
    quiet = deploy(restrict(model, Restrictions(input_range=1.0)))
    assert noisy_layers(quiet) == {}
    with output_reads(quiet, seed=0):  # nothing to read: left alone
        quiet(torch.rand(2, 6))


def test_bad_output_noise_is_refused_by_name() -> None:
    bad = [
        ({"output_noise": -0.1, "input_range": 1.0}, "output_noise must be >= 0"),
        ({"output_noise": float("nan"), "input_range": 1.0}, "output_noise must be"),
        ({"output_noise": 0.1}, "output_noise needs input_range"),
        ({"noise_over_tiles": True}, "noise_over_tiles needs output_noise > 0"),
        ({"noise_over_tiles": 1, "output_noise": 0.1, "input_range": 1.0},
         "noise_over_tiles must be True or False"),
    ]  # fmt: skip
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            Restrictions(**kwargs)
    hw = Restrictions(input_range=1.0, output_noise=0.02, noise_over_tiles=True, array_rows=64)
    assert hw.label() == "in@±1, tiles 64×∞, noise 0.02fs/√tiles"
    assert Restrictions.from_dict(hw.to_dict()) == hw
    rows = single_restrictions(dataclasses.replace(hw, weight_levels=15))
    assert list(rows) == ["weights", "input", "output noise", "all"]
    assert rows["output noise"].output_noise == 0.02 and rows["output noise"].array_rows == 64


def _digits(n: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 8, 8, generator=g)
    return x, (x.flatten(1)[:, :10].argmax(1))


def test_evaluate_reads_each_chips_own_noise_at_sigma_zero_too() -> None:
    torch.manual_seed(3)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(32,), spiking=False)
    x, y = _digits()
    noisy = deploy(restrict(model, Restrictions(input_range=1.0, output_noise=0.5)))
    quiet = deploy(restrict(model, Restrictions(input_range=1.0)))
    report = snnvar.evaluate({"noisy": noisy, "twin": copy.deepcopy(noisy), "quiet": quiet},
                             (x, y), sigmas=[0.0, 0.1], draws=3, seed=5)  # fmt: skip
    clean = report.row("noisy", 0.0).accuracies
    assert len(set(clean)) > 1  # every chip its own reads, not one clean pass
    assert report.row("twin", 0.0).accuracies == clean  # paired: the same reads
    assert len(set(report.row("quiet", 0.0).accuracies)) == 1
    for k in range(3):  # chip k's reads come from chip k's seed
        with torch.no_grad(), output_reads(noisy, seed=chip_seed(5, k)):
            acc = int((noisy(x).argmax(-1) == y).sum()) / len(y)
        assert clean[k] == acc
    assert report.models["noisy"]["hardware"]["output_noise"] == 0.5
    rows = loss_landscape(noisy, (x, y), gammas=[0.0], sigmas=[0.0], directions=2, seed=5)
    assert rows[0]["loss"] != rows[1]["loss"]  # each direction its own chip's reads


def test_training_reads_the_noise_of_each_steps_seed() -> None:
    torch.manual_seed(4)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,), spiking=False)
    hw = Restrictions(input_range=1.0, output_noise=0.3)
    x, y = _digits(64)

    def trained(seed: int) -> torch.Tensor:
        chip = restrict(model, hw).train()
        opt = Plain(chip, torch.optim.SGD(chip.parameters(), lr=0.1), seed=seed)
        for _ in range(3):
            opt.step(lambda: _backward(chip, x, y))
        return torch.cat([p.detach().flatten() for p in chip.parameters()])

    first = trained(0)
    assert torch.equal(first, trained(0))  # seeded
    assert not torch.equal(first, trained(1))  # the noise is read, from the step's seed
    quiet = restrict(model, dataclasses.replace(hw, output_noise=0.0)).train()
    opt = Plain(quiet, torch.optim.SGD(quiet.parameters(), lr=0.1), seed=0)
    for _ in range(3):
        opt.step(lambda: _backward(quiet, x, y))
    assert not torch.equal(first, torch.cat([p.detach().flatten() for p in quiet.parameters()]))


def _backward(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss


def test_ablation_has_an_output_noise_chip() -> None:
    model = nn.Sequential(nn.Linear(6, 3))
    chips = ablation(model, Restrictions(input_range=1.0, output_noise=0.1, weight_levels=15))
    assert list(chips) == ["weights", "input", "output noise", "all"]
    assert list(noisy_layers(chips["output noise"])) == ["0"]
    assert noisy_layers(chips["weights"]) == {}


def test_a_copy_holds_no_stream_and_a_saved_random_state_replays_the_reads() -> None:
    from snnvar.training.base import rng_state, set_rng_state

    model = nn.Sequential(nn.Linear(6, 3))
    chip = deploy(restrict(model, Restrictions(input_range=1.0, output_noise=0.1)))
    x = torch.rand(4, 6)
    with torch.no_grad(), output_reads(chip, seed=3):
        copied = copy.deepcopy(chip)
        state = rng_state(chip)  # what the adversarial regulariser keeps between passes
        first = chip(x)
        set_rng_state(state)
        assert torch.equal(chip(x), first)  # the same reads again
    with pytest.raises(RuntimeError, match="adds output noise"):
        copied(x)  # the copy is outside any block: it refuses, it does not run silently


def test_models_that_share_device_keys_share_streams_under_other_names() -> None:
    from snnvar.conversion import convert

    torch.manual_seed(6)
    ann = models.create("fc2", in_shape=(1, 4, 4), hidden=(6,), spiking=False)
    x = torch.rand(8, 1, 4, 4)
    hw = Restrictions(input_range=1.0, output_noise=0.1)
    ann_chip = deploy(restrict(ann, hw))
    snn_chip = deploy(restrict(convert(ann, x, time_steps=4), hw))  # other module names
    a_layers, s_layers = list(noisy_layers(ann_chip)), list(noisy_layers(snn_chip))
    assert a_layers != s_layers  # the converted SNN's layers live elsewhere
    with output_reads(ann_chip, seed=9), output_reads(snn_chip, seed=9):
        seeds_a = [m.output_stream.initial_seed() for m in noisy_layers(ann_chip).values()]
        seeds_s = [m.output_stream.initial_seed() for m in noisy_layers(snn_chip).values()]
    assert seeds_a == seeds_s  # keyed by the ANN weight each SNN layer came from


def test_replicas_read_their_own_output_noise(monkeypatch) -> None:
    import snnvar.training.base as base

    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(6, 3))
    x, y = torch.rand(16, 6), torch.randint(0, 3, (16,))
    hw = Restrictions(input_range=1.0, output_noise=0.5)

    def loss_on(rank: int) -> float:
        monkeypatch.setattr(base, "rank_and_world", lambda: (rank, 2))
        chip = restrict(model, hw)
        opt = Plain(chip, torch.optim.SGD(chip.parameters(), lr=0.1), seed=0)
        return float(opt.step(lambda: _backward(chip, x, y)))

    assert loss_on(0) != loss_on(1)  # the same weights, each replica its own reads
    assert loss_on(1) == loss_on(1)  # and each replica's reads are seeded


def test_the_periphery_is_each_tiles_own() -> None:
    from snnvar.hardware.periphery import periphery

    w = torch.zeros(2, 6)
    w[0, :3] = torch.tensor([0.5, -1.0, 0.2])  # tile 0: max 1.0 (column 0), 0.5 / 0
    w[1, 3:] = torch.tensor([0.1, 0.4, -0.3])  # tile 1: column 1 only
    b = torch.tensor([3.0, 0.0])
    hw = Restrictions(array_rows=3, input_range=2.0, output_bound=4.0, output_noise=0.1,
                      wire_resistance=1e-4)  # fmt: skip
    p = periphery(hw, w, b, [3, 3], [2], 2.0)
    full = torch.tensor([[max(2 * 1.0, 3.0)] * 2, [2 * 0.4] * 2])  # the bias: |b′| in tile 0
    torch.testing.assert_close(p.ranges, 4.0 * full)
    torch.testing.assert_close(p.sigma, 0.1 * full)
    torch.testing.assert_close(p.scale, full / 2.0)
    per_column = periphery(dataclasses.replace(hw, bound_per_column=True), w, b, [3, 3], [2], 2.0)
    torch.testing.assert_close(per_column.ranges, 4.0 * torch.tensor([[3.0, 0.0], [0.0, 0.8]]))
    torch.testing.assert_close(per_column.sigma, 0.1 * torch.tensor([[3.0, 0.0], [0.0, 0.8]]))
    assert periphery(Restrictions(array_rows=3), w, b, [3, 3], [2], 1.0) == (None, None, None)
