"""Energy, latency and area of an inference: the counted events against hand counts,
their prices, and the report rows and plot of evaluate(energy=...)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import snnvar
from snnvar import models
from snnvar.evaluation import Report, chip_seed
from snnvar.hardware import (
    EnergyCosts,
    Restrictions,
    deploy,
    describe,
    energy_meter,
    restrict,
)

REL = 1e-6
"""Float32 sums of the same products in another order."""


def test_a_linear_chips_events_are_the_hand_counts() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    hw = Restrictions(array_rows=2, input_range=1.0, input_bits=4, output_bound=4.0,
                      output_bits=5, digital_bias=True)  # fmt: skip
    chip = deploy(restrict(nn.Sequential(layer), hw))
    x = torch.tensor([[0.5, -1.5, 0.0, 0.25], [1.0, 0.2, -0.3, 0.0]])
    costs = EnergyCosts()
    with torch.no_grad(), energy_meter(chip, costs) as report:
        chip(x)
    assert report.samples == 2
    e = report.layers["0"]
    assert (e.reads, e.dac_conversions, e.adc_conversions, e.additions) == (2, 8, 12, 2 * 3 * 2)
    # two tiles of 2 × 3, each with a positive and a negative array; the bias digital
    assert (e.dac_bits, e.adc_bits, e.devices, e.arrays, e.array_rows, e.array_cols) == (
        4, 5, 2 * 2 * 2 * 3, 2, 2, 3)  # fmt: skip
    assert e.activations == 2 * 3  # an ANN's outputs pass a digital activation
    w = layer.weight.detach().abs()
    v = x.abs().clamp(max=1.0)  # |x| / x_max, clipped at the input range
    g = torch.cat([w[:, :2] / w[:, :2].max(), w[:, 2:] / w[:, 2:].max()], dim=1)  # G/g_max
    cells = float(((v * v) @ g.T).sum())
    assert e.cell_reads == pytest.approx(cells, rel=REL)
    assert e.row_charge == pytest.approx(float((v * v).sum()) * 3, rel=REL)
    pj = report.energy()
    c = costs
    assert pj["dac"] == pytest.approx(8 * c.dac_fom * 2**4 / 2 / 1e-12, rel=REL)
    assert pj["adc"] == pytest.approx(12 * c.adc_fom * 2**5 / 2 / 1e-12, rel=REL)
    assert pj["devices"] == pytest.approx(
        cells * c.g_max * c.read_voltage**2 * c.read_time / 2 / 1e-12, rel=REL)  # fmt: skip
    assert pj["additions"] == pytest.approx(12 * c.addition / 2 / 1e-12, rel=REL)
    assert pj["activations"] == pytest.approx(6 * c.activation / 2 / 1e-12, rel=REL)
    assert pj["neurons"] == pj["spikes"] == 0.0
    assert pj["total"] == pytest.approx(sum(v for k, v in pj.items() if k != "total"))
    assert report.latency() == pytest.approx(1 * (c.read_time + c.adc_time) / 1e-9)
    area = (24 * c.cell_height * c.cell_width * c.feature_size**2
            + 2 * 3 * c.adc_area + 2 * 2 * c.dac_area) / 1e-6  # fmt: skip
    assert report.area() == pytest.approx(area, rel=REL)


def test_a_bias_row_is_read_at_every_read_of_its_first_array() -> None:
    torch.manual_seed(4)
    layer = nn.Linear(4, 3)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.1, -2.0, 0.3]))  # |b|/x_max above max|W| once
    hw = Restrictions(array_rows=2, input_range=2.0)
    chip = deploy(restrict(nn.Sequential(layer), hw))
    x = torch.zeros(5, 4)  # no input: only the bias row is driven
    with torch.no_grad(), energy_meter(chip) as report:
        chip(x)
    e = report.layers["0"]
    w = layer.weight.detach().abs()
    # the first tile's g_max weight: its largest |W′| or |b′|/x_max, one for the tile
    # (the periphery's mapping, which the ADC ranges and the wires use too)
    scale = torch.maximum(w[:, :2].max(), layer.bias.detach().abs().max() / 2)
    assert e.row_charge == 5 * 3  # the bias row, at x_max, across 3 columns
    assert e.cell_reads == pytest.approx(5 * float((layer.bias.detach().abs() / 2 / scale).sum()))
    assert e.array_rows == 3 and e.additions == 5 * 3  # the row; two row blocks summed


def test_spikes_drive_rows_without_dacs_and_neurons_are_counted() -> None:
    torch.manual_seed(1)
    model = models.create("fc2", in_shape=(1, 4, 4), hidden=(6,))
    chip = deploy(restrict(model, Restrictions(input_range=1.0, array_rows=4)))
    x = (torch.rand(5, 3, 1, 4, 4) > 0.5).float()  # T = 5, B = 3 spike trains
    hidden: list[torch.Tensor] = []
    hook = chip.layers[2].register_forward_hook(lambda _m, _a, out: hidden.append(out))
    with torch.no_grad(), energy_meter(chip) as report:
        chip(x)
    hook.remove()
    assert report.samples == 3  # time-major: the batch is the second dimension
    # the analog first layer's inputs reach its input range, a spike reaches 1
    assert [d["x_max"] for d in describe(chip)] == [1.0, 1.0]
    wide = deploy(restrict(model, Restrictions(input_range=2.0, array_rows=4)))
    assert [d["x_max"] for d in describe(wide)] == [2.0, 1.0]
    first, second = report.layers["layers.1"], report.layers["layers.3"]
    assert first.analog and first.dac_conversions == 5 * 3 * 16 and first.driven_rows == 0
    spikes = hidden[0]  # [T, B, 6] spikes of the hidden layer
    assert not second.analog and second.dac_conversions == 0
    assert second.driven_rows == float(spikes.sum())  # one array: one driver per spike
    # a spike charges its row's 10 columns; the bias row is driven at every read
    assert second.row_charge == float(spikes.sum()) * 10 + 5 * 3 * 10
    assert report.spikes == float(spikes.sum())
    assert report.neuron_updates == 5 * 3 * 6
    pj = report.energy()
    assert pj["neurons"] == pytest.approx(5 * 6 * EnergyCosts().neuron_update / 1e-12)
    assert report.latency() == pytest.approx(2 * 5 * 20.0)  # two layers, T reads each
    assert first.activations == second.activations == 0  # outputs feed neurons, readout


def test_a_converted_snn_counts_its_samples_encoded_or_not() -> None:
    from snnvar.conversion import convert

    torch.manual_seed(5)
    ann = models.create("fc2", in_shape=(1, 4, 4), hidden=(6,), spiking=False)
    x = torch.rand(7, 1, 4, 4)
    snn = deploy(restrict(convert(ann, x, time_steps=4), Restrictions(input_range=1.0)))
    with torch.no_grad(), energy_meter(snn) as unencoded:
        snn(x)  # [B, ...]: encoded inside over T = 4
    with torch.no_grad(), energy_meter(snn) as encoded:
        snn(x.unsqueeze(0).expand(4, *x.shape))  # [T, B, ...]
    assert unencoded.samples == encoded.samples == 7


def test_a_convolutions_reads_are_its_output_positions() -> None:
    torch.manual_seed(2)
    conv = nn.Conv2d(2, 4, 3, padding=1, stride=2)
    hw = Restrictions(array_rows=9, input_range=1.0, digital_bias=True)
    chip = deploy(restrict(nn.Sequential(conv), hw))
    x = torch.rand(3, 2, 6, 6)
    with torch.no_grad(), energy_meter(chip) as report:
        y = chip(x)
    e = report.layers["0"]
    positions = y.shape[-1] * y.shape[-2]
    assert e.reads == 3 * positions and e.adc_conversions == 3 * positions * 2 * 4
    cols = F.unfold(x, 3, padding=1, stride=2)  # [B, 18, positions]
    w = conv.weight.detach().reshape(4, -1).abs()
    g = torch.cat([w[:, :9] / w[:, :9].max(), w[:, 9:] / w[:, 9:].max()], dim=1)
    assert e.cell_reads == pytest.approx(float((cols.pow(2).sum((0, 2)) @ g.T).sum()), rel=1e-5)


def test_noise_management_drives_each_tiles_rows_at_its_scaled_inputs() -> None:
    """With input_scaling each tile's rows see |x| / max|x| of that tile's part of each
    vector (a patch, for a convolution): the hand count on the unfolded inputs."""
    torch.manual_seed(3)
    conv = nn.Conv2d(2, 4, 3, padding=1)
    hw = Restrictions(array_rows=9, input_range=1.0, input_scaling=True, digital_bias=True)
    chip = deploy(restrict(nn.Sequential(conv), hw))
    x = torch.rand(2, 2, 5, 5) * 0.1
    with torch.no_grad(), energy_meter(chip) as report:
        chip(x)
    cols = F.unfold(x, 3, padding=1)  # [B, 18, positions]
    top = torch.cat([cols[:, :9].amax(1, keepdim=True).expand(-1, 9, -1),
                     cols[:, 9:].amax(1, keepdim=True).expand(-1, 9, -1)], 1)  # fmt: skip
    v = cols / torch.where(top > 0, top, 1.0)
    w = conv.weight.detach().reshape(4, -1).abs()
    g = torch.cat([w[:, :9] / w[:, :9].max(), w[:, 9:] / w[:, 9:].max()], dim=1)
    e = report.layers["0"]
    assert e.cell_reads == pytest.approx(float((v.pow(2).sum((0, 2)) @ g.T).sum()), rel=1e-5)
    assert e.row_charge == pytest.approx(float(v.pow(2).sum()) * 4, rel=1e-5)


def test_costs_and_meters_refuse_bad_input_by_name() -> None:
    with pytest.raises(ValueError, match="adc_fom must be > 0"):
        EnergyCosts(adc_fom=0.0)
    with pytest.raises(ValueError, match="adc_bits must be an integer >= 1"):
        EnergyCosts(adc_bits=0)
    with pytest.raises(ValueError, match=r"unknown energy costs \['adc'\]; allowed"):
        EnergyCosts.from_dict({"adc": 1.0})
    costs = EnergyCosts(adc_bits=6)
    assert EnergyCosts.from_dict(json.loads(json.dumps(costs.to_dict()))) == costs
    plain = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="energy_meter needs a chip"), energy_meter(plain):
        pass


def test_evaluate_prices_every_chip_and_plots_accuracy_against_energy(tmp_path) -> None:
    torch.manual_seed(3)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 8, 8, generator=g)
    y = x.flatten(1)[:, :10].argmax(1)
    ann = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,), spiking=False)
    hw = Restrictions(array_rows=32, input_range=1.0, input_bits=8, output_bound=8.0,
                      output_bits=6)  # fmt: skip
    chips = {"6 bits": deploy(restrict(ann, hw)),
             "4 bits": deploy(restrict(ann, dataclasses.replace(hw, output_bits=4)))}  # fmt: skip
    report = snnvar.evaluate(chips, (x, y), sigmas=[0.0, 0.1], draws=2, seed=1,
                             energy=EnergyCosts())  # fmt: skip
    six, four = report.row("6 bits", 0.1).energy, report.row("4 bits", 0.1).energy
    assert six is not None and four is not None
    assert six["energy_pj"]["adc"] == pytest.approx(4 * four["energy_pj"]["adc"])
    assert report.config["energy_costs"] == EnergyCosts().to_dict()
    out = report.save(tmp_path / "ev")
    assert (out / "accuracy_energy.png").stat().st_size > 0
    assert "| 6 bits | " in (out / "results.md").read_text() and "energy (nJ)" in (
        out / "results.md").read_text()  # fmt: skip
    assert Report.load(out).row("4 bits", 0.0).energy == report.row("4 bits", 0.0).energy
    with pytest.raises(ValueError, match=r"models \['plain'\] are not restricted"):
        snnvar.evaluate({"plain": ann}, (x, y), sigmas=[0.0], draws=1, energy=EnergyCosts())


def test_the_command_line_prices_the_chip_of_its_hardware_file(tmp_path, capsys) -> None:
    from tests.cli.invoke import cli

    (tmp_path / "hw.toml").write_text(
        "[hardware]\narray_rows = 32\ninput_range = 1.0\ninput_bits = 8\noutput_bound = 8.0\n"
        "output_bits = 6\noutput_noise = 0.01\nwire_resistance = 1e-5\n"
        "[energy]\nadc_fom = 2e-15\n"
    )
    tiny = ("--model", "fc2", "--model-option", "hidden=(16,)", "--epochs", "1", "--ann",
            "--no-progress")  # fmt: skip
    assert cli(capsys, "train", *tiny, "--out", tmp_path / "sgd")[0] == 0
    common = ("evaluate", tmp_path / "sgd", "--sigmas", "0,0.1", "--draws", "2", "--no-progress")
    code, out, err = cli(capsys, *common, "--hardware", tmp_path / "hw.toml", "--energy",
                         "--out", tmp_path / "ev")  # fmt: skip
    assert code == 0, err
    assert "energy (nJ)" in out
    report = Report.load(tmp_path / "ev")
    assert report.config["energy_costs"]["adc_fom"] == 2e-15
    row = report.row(report.methods[0], 0.0)
    assert row.energy is not None and row.energy["energy_pj"]["adc"] > 0
    assert row.seeds == [chip_seed(0, 0), chip_seed(0, 1)]  # each chip priced, on its reads
    assert (tmp_path / "ev" / "accuracy_energy.png").exists()
    code, _, err = cli(capsys, *common, "--energy", "--out", tmp_path / "ev2")
    assert code != 0 and "--energy prices the chip of --hardware FILE" in err
    (tmp_path / "bad.toml").write_text("[hardware]\narray_rows = 32\n[energy]\nadc = 1.0\n")
    code, _, err = cli(capsys, *common, "--hardware", tmp_path / "bad.toml", "--energy",
                       "--out", tmp_path / "ev3")  # fmt: skip
    assert code != 0 and "unknown energy costs ['adc']" in err
