"""snnvar.hardware: the restricted model computes what the circuit would, keeps the
weight names (same chips), fuses BatchNorm exactly, quantises to the stated levels
with straight-through gradients, and deploys the programmed weights."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

from snnvar import Variation, datasets, models
from snnvar.conversion import convert
from snnvar.hardware import (
    PRESETS,
    Restrictions,
    deploy,
    describe,
    quantize,
    restrict,
    restrictions_of,
)
from snnvar.training.base import frozen_norm_stats


def _ann(batch_norm: bool = True) -> nn.Module:
    torch.manual_seed(0)
    m = models.create("spiking_cnn1", spiking=False, in_shape=(1, 8, 8), hidden=16,
                      batch_norm=batch_norm)  # fmt: skip
    m.train()
    with torch.no_grad():
        m(torch.rand(32, 1, 8, 8))  # BatchNorm statistics that are not the defaults
    return m.eval()


def _snn() -> nn.Module:
    torch.manual_seed(0)
    return models.create("spiking_cnn1", in_shape=(1, 8, 8), hidden=16, batch_norm=True).eval()


def test_restrictions_validate_and_round_trip() -> None:
    bad = [
        ({"weight_levels": 1}, "weight_levels must be an integer >= 2"),
        ({"input_bits": 0, "input_range": 1.0}, "input_bits must be an integer >= 1"),
        ({"output_swing": -1.0}, "output_swing must be > 0, got -1.0"),
        ({"input_range": float("nan")}, "input_range must be a finite number"),
        ({"input_bits": 8}, "input_bits needs input_range"),
        ({"output_bits": 6}, "output_bits needs output_swing"),
        ({"learn_input_scale": True}, "learn_input_scale needs input_range"),
        ({"weight_window": 1.0}, "set weight_levels"),
        ({"fuse_batchnorm": "yes"}, "fuse_batchnorm must be True or False, got 'yes'"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            Restrictions(**kwargs)
    with pytest.raises(ValueError, match=r"unknown hardware restrictions \['bits'\]"):
        Restrictions.from_dict({"bits": 4})
    with pytest.raises(ValueError, match=r"unknown hardware preset 'x'; allowed: \['yao2020'"):
        Restrictions.from_dict({"preset": "x"})
    hw = Restrictions.from_dict({"preset": "hrat", "output_bits": 4})
    assert hw == Restrictions(**{**PRESETS["hrat"].to_dict(), "output_bits": 4})
    assert Restrictions.from_dict(hw.to_dict()) == hw
    assert hw.label() == "w16, in8@±1+scale, out4@±8, bias8, bn" and not Restrictions().active


def test_quantize_levels_and_straight_through_gradient() -> None:
    x = torch.tensor([-2.0, -0.7, -0.2, 0.0, 0.26, 0.6, 1.5], requires_grad=True)
    q = quantize(x, 5, 1.0)  # levels -1, -0.5, 0, 0.5, 1
    assert q.tolist() == [-1.0, -0.5, 0.0, 0.0, 0.5, 0.5, 1.0]
    q.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]  # none where it clips
    assert quantize(torch.ones(3), 4, 0.0).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="at least 2 levels"):
        quantize(x, 1, 1.0)


@pytest.mark.parametrize("kind", ["ann", "snn", "converted", "own"])
def test_no_restriction_is_the_same_function_and_keeps_names(kind) -> None:
    x = torch.rand(6, 1, 8, 8)
    if kind == "ann":
        model = _ann()
    elif kind == "snn":
        model, x = _snn(), datasets.direct(x, 3)
    elif kind == "converted":
        model = convert(_ann(), torch.rand(16, 1, 8, 8), time_steps=4, encoder="direct")
        x = datasets.direct(x, 4)
    else:
        torch.manual_seed(1)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 20), nn.BatchNorm1d(20), nn.ReLU(),
                              nn.Linear(20, 10)).eval()  # fmt: skip
    before = copy.deepcopy(model.state_dict())
    chip = restrict(model, Restrictions())
    with torch.no_grad():
        assert torch.equal(chip(x), model(x))
    assert list(chip.state_dict()) == list(model.state_dict())
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert restrictions_of(model) is None and restrictions_of(chip) == Restrictions()
    fused = restrict(model, Restrictions(fuse_batchnorm=True))
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), rtol=0, atol=1e-5)


def test_fused_batchnorm_trains_as_batchnorm_and_updates_once() -> None:
    """In training the fused layer uses the batch's statistics and updates the
    running ones as BatchNorm does; inside frozen_norm_stats it leaves them alone."""
    model = _ann().train()
    chip = restrict(model, Restrictions(fuse_batchnorm=True)).train()
    x = torch.rand(16, 1, 8, 8)
    torch.testing.assert_close(chip(x), model(x), rtol=0, atol=1e-5)
    for (k, a), b in zip(model.state_dict().items(), chip.state_dict().values(), strict=True):
        torch.testing.assert_close(a.float(), b.float(), rtol=0, atol=1e-6, msg=k)
    stats = copy.deepcopy(chip.state_dict())
    with frozen_norm_stats(chip):
        chip(torch.rand(16, 1, 8, 8))
    assert all(torch.equal(v, stats[k]) for k, v in chip.state_dict().items())
    bn = chip.layers[1]
    assert int(bn.num_batches_tracked) == 2 and bn.track_running_stats


def test_deploy_programs_the_levels_and_the_circuit_acts_on_inputs_and_outputs() -> None:
    hw = Restrictions(weight_levels=8, bias_bits=3, input_bits=4, input_range=0.5,
                      output_swing=2.0, output_bits=3, fuse_batchnorm=True)  # fmt: skip
    model = _ann()
    chip = deploy(restrict(model, hw))
    assert "layers.1.weight" not in chip.state_dict()  # BatchNorm fused away
    for name, p in chip.named_parameters():
        half = p.detach().abs().max()
        grid = torch.linspace(-half, half, 8)  # 8 weight levels; 2**3 bias levels
        dist = (p.detach().flatten()[:, None] - grid[None]).abs().min(1).values
        assert float(dist.max()) <= 1e-5 * float(half), name
        assert p.detach().unique().numel() <= 8, name
    # one Linear, identity weights: the output is the ADC of the DAC of the input
    eye = nn.Linear(4, 4)
    with torch.no_grad():
        eye.weight.copy_(torch.eye(4))
        eye.bias.zero_()
    hw = Restrictions(input_bits=2, input_range=1.0, output_swing=0.5, output_bits=2)
    wire = restrict(eye, hw)
    x = torch.tensor([[-3.0, -0.4, 0.2, 0.9]])
    dac = [-1.0, -1 / 3, 1 / 3, 1.0]  # 4 levels over ±1
    adc = [max(min(v, 0.5), -0.5) for v in dac]
    adc = [round((v + 0.5) / (1 / 3)) * (1 / 3) - 0.5 for v in adc]  # 4 levels over ±0.5
    torch.testing.assert_close(wire(x), torch.tensor([adc]))


def test_only_the_first_layer_of_an_snn_gets_the_dac() -> None:
    hw = Restrictions(input_bits=4, input_range=1.0, learn_input_scale=True)
    layers = describe(restrict(_snn(), hw))
    assert [r["analog_input"] for r in layers] == [True, False, False, False, False, False]
    assert [r["input_scale"] for r in layers] == [1.0, None, None, None, None, None]
    ann_layers = describe(restrict(_ann(), hw))
    assert all(r["analog_input"] for r in ann_layers)


def test_the_learned_input_scale_gets_a_gradient_and_folds_into_the_weights() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(8, 4))
    hw = Restrictions(input_bits=3, input_range=1.0, learn_input_scale=True)
    chip = restrict(model, hw)
    with torch.no_grad():
        chip[0].input_scale.fill_(0.7)
    x = torch.rand(5, 8)
    chip(x).square().sum().backward()
    assert chip[0].input_scale.grad is not None and float(chip[0].input_scale.grad) != 0.0
    deployed = deploy(chip)
    torch.testing.assert_close(deployed[0].weight, model[0].weight / 0.7)
    with torch.no_grad():
        torch.testing.assert_close(deployed(x), chip(x))


def test_a_variation_perturbs_the_programmed_levels_on_the_unrestricted_models_chips() -> None:
    model = _ann(batch_norm=False)
    chip = deploy(restrict(model, Restrictions(weight_levels=16)))
    v = Variation(0.1, relative_to="absolute")
    a, b = v.sample(model, seed=3), v.sample(chip, seed=3)
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)  # the same chips
    clean = {k: p.detach().clone() for k, p in chip.named_parameters()}
    with v.applied(chip, seed=3):
        moved = dict(chip.named_parameters())
        for k in b:
            torch.testing.assert_close(moved[k].detach(), clean[k] + b[k])
    assert all(torch.equal(p, clean[k]) for k, p in chip.named_parameters())


def test_saturation_warns_once() -> None:
    chip = restrict(nn.Sequential(nn.Linear(8, 4)), Restrictions(output_swing=1e-3))
    with pytest.warns(UserWarning, match=r"'0': 100% of its outputs saturate"):
        chip(torch.ones(3, 8) * 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chip(torch.ones(3, 8) * 5)


def test_what_cannot_be_restricted_is_named() -> None:
    with pytest.raises(ValueError, match=r"cannot restrict Conv1d at '1'"):
        restrict(nn.Sequential(nn.Linear(2, 2), nn.Conv1d(1, 1, 1)), Restrictions())
    odd = nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"cannot fuse the BatchNorm at '0'"):
        restrict(odd, Restrictions(fuse_batchnorm=True))
    chip = restrict(nn.Sequential(nn.Linear(2, 2)), Restrictions())
    with pytest.raises(ValueError, match="restricted already"):
        restrict(chip, Restrictions())
    with pytest.raises(ValueError, match=r"made by snnvar\.hardware\.restrict"):
        deploy(nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(TypeError, match="must be a Restrictions"):
        restrict(nn.Linear(2, 2), {"weight_levels": 4})
