"""``Chip``: one description of the circuit, the devices and the energy costs, taken by
restrict, evaluate, the training methods and the command line."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snnvar
from snnvar import Variation, models
from snnvar.evaluation import Report
from snnvar.hardware import (
    PCM,
    Chip,
    EnergyCosts,
    Restrictions,
    deploy,
    restrict,
    restrictions_of,
)
from snnvar.training import NoiseInjection

CIRCUIT = Restrictions(array_rows=32, input_range=1.0, input_bits=8, output_bound=8.0,
                       output_bits=6)  # fmt: skip


def _data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 8, 8, generator=g)
    return x, x.flatten(1)[:, :10].argmax(1)


def test_a_chip_file_round_trips_and_bad_files_are_refused_by_name(tmp_path) -> None:
    path = tmp_path / "chip.toml"
    path.write_text(
        "[hardware]\narray_rows = 32\ninput_range = 1.0\ninput_bits = 8\noutput_bound = 8.0\n"
        'output_bits = 6\n[device]\nkind = "pcm"\n[energy]\nadc_fom = 2e-15\n'
    )
    chip = Chip.from_toml(path)
    assert chip.circuit == CIRCUIT and isinstance(chip.devices, PCM)
    assert chip.energy == EnergyCosts(adc_fom=2e-15)
    assert Chip.from_tables(chip.to_dict()) == chip
    assert chip.label().startswith("circuit: in8@±1, out6@±8fs, tiles 32×∞; devices: ")
    bad = [
        ("[wires]\nr = 1\n", r"unknown tables \['wires'\]; allowed"),
        ('[variation]\nsigma = 0.1\n[device]\nkind = "pcm"\n', "not both"),
        ("[hardware]\narray_rows = 0\n", "array_rows must be an integer >= 1"),
        ("[energy]\nadc = 1\n", r"unknown energy costs \['adc'\]"),
        ("hardware = 3\n", "hardware must be one \\[hardware\\] table"),
    ]
    for text, message in bad:
        path.write_text(text)
        with pytest.raises(ValueError, match=message) as err:
            Chip.from_toml(path)
        assert str(path) in str(err.value)
    with pytest.raises(TypeError, match=r"devices must be a snnvar\.Variation"):
        Chip(devices="pcm")  # type: ignore[arg-type]


def test_restrict_and_deploy_take_a_chip() -> None:
    torch.manual_seed(0)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,), spiking=False)
    chip = Chip(CIRCUIT)
    assert restrictions_of(restrict(model, chip)) == CIRCUIT
    deployed = chip.deploy(model)
    x, _ = _data(8)
    with torch.no_grad():
        torch.testing.assert_close(deployed(x), deploy(restrict(model, CIRCUIT))(x))
        torch.testing.assert_close(chip.deploy(chip.restrict(model))(x), deployed(x))
    other = restrict(model, Restrictions(weight_levels=15))
    with pytest.raises(ValueError, match="restricted on w15, the chip's circuit is"):
        chip.deploy(other)


def test_evaluate_on_a_chip_programs_draws_and_prices() -> None:
    torch.manual_seed(1)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,), spiking=False)
    chip = Chip(CIRCUIT, Variation(0.0), EnergyCosts())
    data = _data()
    report = snnvar.evaluate({"sgd": model}, data, chip, sigmas=[0.0, 0.1], draws=2, seed=3)
    by_hand = snnvar.evaluate({"sgd": deploy(restrict(model, CIRCUIT))}, data, Variation(0.0),
                              sigmas=[0.0, 0.1], draws=2, seed=3,
                              energy=EnergyCosts())  # fmt: skip
    for sigma in (0.0, 0.1):
        ours, theirs = report.row("sgd", sigma), by_hand.row("sgd", sigma)
        assert ours.accuracies == theirs.accuracies and ours.energy == theirs.energy
    assert report.models["sgd"]["hardware"] == CIRCUIT.to_dict()


def test_a_training_method_takes_the_chips_devices_on_its_circuit() -> None:
    torch.manual_seed(2)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,), spiking=False)
    chip = Chip(CIRCUIT, Variation(0.1))
    hrat = chip.restrict(model)
    opt = NoiseInjection(hrat, torch.optim.SGD(hrat.parameters(), lr=0.1), chip, seed=0)
    assert opt.variation == Variation(0.1)
    x, y = _data(16)

    def closure() -> torch.Tensor:
        loss = nn.functional.cross_entropy(hrat(x), y)
        loss.backward()
        return loss

    assert torch.isfinite(opt.step(closure))
    with pytest.raises(ValueError, match="the model is unrestricted; the chip's circuit is"):
        NoiseInjection(model, torch.optim.SGD(model.parameters(), lr=0.1), chip)
    with pytest.raises(ValueError, match="the chip's devices are exact"):
        NoiseInjection(hrat, torch.optim.SGD(hrat.parameters(), lr=0.1), Chip(CIRCUIT))


def test_the_command_line_trains_and_evaluates_on_a_chip_file(tmp_path, capsys) -> None:
    from tests.cli.invoke import cli

    chip = tmp_path / "chip.toml"
    chip.write_text(
        "[hardware]\narray_rows = 32\ninput_range = 1.0\ninput_bits = 8\noutput_bound = 8.0\n"
        "output_bits = 6\n[variation]\nsigma = 0.05\n[energy]\nadc_fom = 2e-15\n"
    )
    tiny = ("--model", "fc2", "--model-option", "hidden=(16,)", "--epochs", "1", "--ann",
            "--no-progress")  # fmt: skip
    code, _, err = cli(capsys, "train", *tiny, "--method", "noise_injection", "--chip", chip,
                       "--out", tmp_path / "hrat")  # fmt: skip
    assert code == 0, err
    spec = snnvar.runs.load_run(tmp_path / "hrat")[1]
    assert spec.hardware == CIRCUIT and spec.variation.sigma == 0.05
    assert cli(capsys, "train", *tiny, "--out", tmp_path / "sgd")[0] == 0
    code, _, err = cli(capsys, "evaluate", tmp_path / "sgd", "--chip", chip, "--sigmas",
                         "0,0.1", "--draws", "2", "--no-progress", "--out",
                         tmp_path / "ev")  # fmt: skip
    assert code == 0, err
    report = Report.load(tmp_path / "ev")
    assert report.config["energy_costs"]["adc_fom"] == 2e-15
    assert [m["hardware"] for m in report.models.values()] == [CIRCUIT.to_dict()]
    assert report.row(report.methods[0], 0.1).energy is not None
    code, _, err = cli(capsys, "evaluate", tmp_path / "sgd", "--chip", chip, "--hardware",
                       chip, "--out", tmp_path / "ev2")  # fmt: skip
    assert code != 0 and "describes the whole chip: leave out ['--hardware']" in err
