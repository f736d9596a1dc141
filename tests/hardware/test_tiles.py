"""snnvar.hardware.tiles and the tiled restricted layers: a layer split over arrays
adds its tiles' partial outputs; each tile has its own ADC range (absolute, or
relative to its own full scale), its own weight window; the bias is a row of the
first array or digital; the ranges of a deployed chip are fixed at programming."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnvar import Variation, models
from snnvar.hardware import (
    Restrictions,
    deploy,
    describe,
    restrict,
    single_restrictions,
    tiles,
)
from snnvar.hardware.quantize import quantize_each
from snnvar.hardware.tiles import (
    block_max,
    conv_partials,
    element_max,
    linear_partials,
    split_sizes,
    tile_shape,
)

FLOAT = {"rtol": 1e-5, "atol": 1e-5}
"""A sum of partial products against one product in float32 (a different order)."""


def test_split_sizes_are_aihwkits_near_equal_blocks() -> None:
    assert split_sizes(784, 256) == [196, 196, 196, 196]
    assert split_sizes(10, 4) == [4, 3, 3]
    assert split_sizes(512, 512) == [512]
    assert split_sizes(5, None) == [5]
    assert split_sizes(7, 1) == [1] * 7
    with pytest.raises(ValueError, match="at least one row"):
        split_sizes(0, 4)
    w = torch.zeros(30, 20, 3, 3)  # 180 im2col rows, 30 columns
    assert tile_shape(w, 64, 16) == ([60, 60, 60], [15, 15])


def test_partials_add_up_to_the_layer(monkeypatch) -> None:
    torch.manual_seed(0)
    x, w = torch.randn(5, 70), torch.randn(9, 70)
    rows = split_sizes(70, 32)  # 24, 23, 23: padded blocks
    parts = linear_partials(x, w, rows)
    assert parts.shape == (5, 3, 9)
    torch.testing.assert_close(parts.sum(-2), F.linear(x, w), **FLOAT)
    torch.testing.assert_close(parts[:, 1], F.linear(x[:, 24:47], w[:, 24:47]), **FLOAT)
    x3 = torch.randn(2, 4, 64)  # equal blocks (views), extra leading dimensions
    torch.testing.assert_close(linear_partials(x3, w[:, :64], [32, 32]).sum(-2),
                               F.linear(x3, w[:, :64]), **FLOAT)  # fmt: skip
    for conv in (nn.Conv2d(6, 4, 3, padding=1, stride=2), nn.Conv2d(6, 4, (3, 2), dilation=2,
                 padding=(2, 1), padding_mode="reflect")):  # fmt: skip
        xi = torch.randn(2, 6, 9, 8)
        rows = split_sizes(conv.weight[0].numel(), 20)
        parts = conv_partials(conv, xi, conv.weight, rows)
        assert parts.shape[1] == len(rows) > 1
        torch.testing.assert_close(parts.sum(1), conv._conv_forward(xi, conv.weight, None), **FLOAT)
        mask = torch.zeros(conv.weight[0].numel())
        mask[rows[0] : rows[0] + rows[1]] = 1  # block 1 alone: the weights outside it zero
        alone = conv.weight * mask.view(conv.weight[0].shape)
        torch.testing.assert_close(parts[:, 1], conv._conv_forward(xi, alone, None), **FLOAT)
        single = conv_partials(conv, xi[0], conv.weight, rows)  # an unbatched input
        torch.testing.assert_close(single, parts[0], **FLOAT)
        with monkeypatch.context() as m:  # the other way: unfold and one batched product
            m.setattr(tiles, "MASKED_CONV_TILES", 0)
            torch.testing.assert_close(conv_partials(conv, xi, conv.weight, rows), parts, **FLOAT)
            single = conv_partials(conv, xi[0], conv.weight, rows)
            torch.testing.assert_close(single, parts[0], **FLOAT)


def test_block_max_per_tile_and_per_column() -> None:
    w = torch.tensor([[1.0, -5.0, 2.0], [0.5, 0.0, -3.0], [4.0, 1.0, 0.0]])  # 3 out, 3 in
    rows, cols = [2, 1], [2, 1]  # row blocks {0,1} {2}; column blocks {0,1} {2}
    assert torch.equal(block_max(w, rows, cols), torch.tensor([[5.0, 5.0, 4.0], [3.0, 3.0, 0.0]]))
    per_col = block_max(w, rows, cols, per_column=True)
    assert torch.equal(per_col, torch.tensor([[5.0, 0.5, 4.0], [2.0, 3.0, 0.0]]))
    expected = torch.tensor([[5.0, 5.0, 3.0], [5.0, 5.0, 3.0], [4.0, 4.0, 0.0]])
    assert torch.equal(element_max(w, rows, cols), expected)


def test_quantize_each_has_a_range_per_entry_and_zero_for_an_empty_one() -> None:
    x = torch.tensor([[0.26, -3.0, 0.9], [0.26, 5.0, 0.1]], requires_grad=True)
    half = torch.tensor([[1.0], [0.0]])
    y = quantize_each(x, 5, half)  # levels -1, -0.5, 0, 0.5, 1 on row 0; row 1: all 0
    assert torch.equal(y.detach(), torch.tensor([[0.5, -1.0, 1.0], [0.0, 0.0, 0.0]]))
    y.sum().backward()  # straight through inside the range, nothing outside or where off
    assert torch.equal(x.grad, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="at least 2 levels"):
        quantize_each(x, 1, half)


def _layers() -> list[tuple[nn.Module, torch.Tensor]]:
    torch.manual_seed(1)
    return [
        (nn.Linear(90, 12), torch.randn(7, 90)),
        (nn.Conv2d(10, 6, 3, padding=1), torch.randn(3, 10, 5, 5)),
    ]


@pytest.mark.parametrize("index", [0, 1])
def test_a_tiled_layer_without_converters_is_the_layer(index) -> None:
    layer, x = _layers()[index]
    for hw in (Restrictions(array_rows=32, array_cols=5), Restrictions(digital_bias=True)):
        chip = restrict(nn.Sequential(layer), hw).eval()
        torch.testing.assert_close(chip(x), layer(x), **FLOAT)


@pytest.mark.parametrize("index", [0, 1])
def test_each_tile_has_its_own_adc_and_the_bias_is_a_row_or_digital(index) -> None:
    layer, x = _layers()[index]
    rows = split_sizes(layer.weight[0].numel(), 32)
    w = layer.weight.detach()
    linear = isinstance(layer, nn.Linear)

    def split(x: torch.Tensor) -> list[torch.Tensor]:
        parts = linear_partials(x, w, rows) if linear else conv_partials(layer, x, w, rows)
        return list(parts.unbind(-2 if linear else 1))

    parts = split(x)
    channel = (-1,) if linear else (-1, 1, 1)
    b = layer.bias.detach().view(channel)
    swing, levels = 0.4, 2**4 - 1

    def adc(y: torch.Tensor, half: torch.Tensor | float) -> torch.Tensor:
        half = torch.as_tensor(half)
        step = 2 * half / (levels - 1)
        return torch.round((y.clamp(-half, half) + half) / step) * step - half

    as_row = adc(parts[0] + b, swing) + sum(adc(p, swing) for p in parts[1:])
    hw = Restrictions(array_rows=32, output_swing=swing, output_bits=4)
    with torch.no_grad():
        torch.testing.assert_close(restrict(nn.Sequential(layer), hw).eval()(x), as_row, **FLOAT)
        digital = sum(adc(p, swing) for p in parts) + b
        out = restrict(nn.Sequential(layer), Restrictions(**{**hw.to_dict(), "digital_bias": True}))
        torch.testing.assert_close(out.eval()(x), digital, **FLOAT)
        # relative range: ±bound · input_range · max|W| of each tile (input clipped at ±3)
        rel = Restrictions(array_rows=32, array_cols=4, input_range=3.0, output_bound=0.5,
                           output_bits=4, digital_bias=True)  # fmt: skip
        cols = split_sizes(w.shape[0], 4)
        half = 0.5 * 3.0 * block_max(w.reshape(w.shape[0], -1), rows, cols)
        parts = split(x.clamp(-3.0, 3.0))
        expected = sum(adc(p, h.view(channel)) for p, h in zip(parts, half, strict=True)) + b
        torch.testing.assert_close(restrict(nn.Sequential(layer), rel).eval()(x), expected, **FLOAT)


def test_weight_levels_span_each_arrays_own_range() -> None:
    w = torch.tensor([[1.0, 0.2, 0.05, 0.11]])
    layer = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(w)
    chip = deploy(restrict(nn.Sequential(layer), Restrictions(weight_levels=3, array_rows=2)))
    # tile 1 (1.0, 0.2): levels -1, 0, 1; tile 2 (0.05, 0.11): levels -0.11, 0, 0.11
    assert torch.equal(chip[0].weight.detach(), torch.tensor([[1.0, 0.0, 0.0, 0.11]]))
    whole = deploy(restrict(nn.Sequential(layer), Restrictions(weight_levels=3)))
    assert torch.equal(whole[0].weight.detach(), torch.tensor([[1.0, 0.0, 0.0, 0.0]]))


def test_a_deployed_chips_adc_ranges_are_set_at_programming() -> None:
    layer, x = _layers()[0]
    hw = Restrictions(array_rows=32, input_range=3.0, output_bound=0.2, output_bits=6)
    chip = deploy(restrict(nn.Sequential(layer), hw))
    ref = chip[0].weight.detach().clone()
    rows = split_sizes(90, 32)
    expected_half = 0.2 * 3.0 * block_max(ref, rows, [12])
    v = Variation(0.3)
    with torch.no_grad(), v.applied(chip, seed=3):
        read, bias = chip[0].weight.detach().clone(), chip[0].bias.detach().clone()
        y = chip(x)
    assert not torch.equal(read, ref)
    parts = list(linear_partials(x.clamp(-3, 3), read, rows).unbind(-2))
    parts[0] = parts[0] + bias  # the bias: a row of the first array

    def adc(p: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        s = 2 * h / (2**6 - 2)
        return torch.round((torch.maximum(torch.minimum(p, h), -h) + h) / s) * s - h

    expected = sum(adc(p, h) for p, h in zip(parts, expected_half, strict=True))
    torch.testing.assert_close(y, expected, **FLOAT)
    # the undeployed model takes the ranges from the clean programmed weights too
    restricted = restrict(nn.Sequential(layer), hw).eval()
    with torch.no_grad(), v.applied(restricted, seed=3):
        torch.testing.assert_close(restricted(x), y, **FLOAT)


def test_tiled_hrat_trains_an_snn_and_deploys() -> None:
    torch.manual_seed(0)
    model = models.create("spiking_cnn1", in_shape=(1, 8, 8), hidden=16, batch_norm=True)
    hw = Restrictions(array_rows=64, array_cols=8, input_range=1.0, input_bits=8,
                      output_bound=4.0, output_bits=6, weight_levels=15, fuse_batchnorm=True,
                      learn_input_scale=True)  # fmt: skip
    chip = restrict(model, hw).train()
    out = chip(torch.rand(3, 4, 1, 8, 8))
    out.sum().backward()
    grads = {n: p.grad for n, p in chip.named_parameters() if "weight" in n}
    assert grads and all(g is not None and bool(g.abs().sum() > 0) for g in grads.values())
    deployed = deploy(chip)
    with torch.no_grad():
        y = deployed(torch.rand(3, 4, 1, 8, 8))
    assert y.shape == out.shape and bool(torch.isfinite(y).all())


def test_bad_tiles_are_refused_by_name() -> None:
    bad = [
        ({"array_rows": 0}, "array_rows must be an integer >= 1"),
        ({"array_cols": 1.5}, "array_cols must be an integer >= 1"),
        ({"output_bound": 4.0}, "output_bound needs input_range"),
        ({"output_bound": -1.0, "input_range": 1.0}, "output_bound must be > 0"),
        ({"output_bound": 4.0, "output_swing": 2.0, "input_range": 1.0}, "not both"),
        ({"bound_per_column": True}, "bound_per_column needs output_bound"),
        ({"digital_bias": 1}, "digital_bias must be True or False"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            Restrictions(**kwargs)
    depthwise = nn.Sequential(nn.Conv2d(8, 8, 3, groups=8), nn.Conv2d(8, 2, 1))
    with pytest.raises(ValueError, match=r"'0' over arrays: it has groups=8"):
        restrict(depthwise, Restrictions(array_rows=4))
    restrict(depthwise, Restrictions(array_rows=9))  # one array per output: fine


def test_labels_round_trip_and_ablation_keeps_the_arrays() -> None:
    hw = Restrictions(array_rows=128, input_range=1.0, input_bits=8, output_bound=10.0,
                      output_bits=8, bound_per_column=True, digital_bias=True,
                      weight_levels=15)  # fmt: skip
    assert hw.label() == "w15, in8@±1, out8@±10fs/col, tiles 128×∞, bias digital"
    assert Restrictions.from_dict(hw.to_dict()) == hw
    rows = single_restrictions(hw)
    assert list(rows) == ["weights", "input", "output bound", "ADC", "all"]
    assert rows["weights"].array_rows == 128 and rows["ADC"].output_bits == 8
    assert rows["output bound"].output_bits is None and rows["ADC"].tiled


def test_the_command_line_deploys_a_run_on_arrays(tmp_path, capsys) -> None:
    from snnvar import datasets
    from snnvar.evaluation import Report
    from snnvar.runs import load_run
    from tests.cli.invoke import cli

    (tmp_path / "hw.toml").write_text(
        "[hardware]\narray_rows = 24\ninput_range = 1.0\ninput_bits = 8\n"
        "output_bound = 4.0\noutput_bits = 4\ndigital_bias = true\n"
    )
    tiny = ("--model", "fc2", "--model-option", "hidden=(16,)", "--epochs", "2", "--lr",
            "0.01", "--ann", "--no-progress")  # fmt: skip
    assert cli(capsys, "train", *tiny, "--out", tmp_path / "sgd")[0] == 0
    code, _, err = cli(capsys, "evaluate", tmp_path / "sgd", "--hardware", tmp_path / "hw.toml",
                       "--sigmas", "0", "--draws", "1", "--no-progress",
                       "--out", tmp_path / "ev")  # fmt: skip
    assert code == 0, err
    hw = Restrictions(array_rows=24, input_range=1.0, input_bits=8, output_bound=4.0,
                      output_bits=4, digital_bias=True)  # fmt: skip
    report = Report.load(tmp_path / "ev")
    assert [m["hardware"] for m in report.models.values()] == [hw.to_dict()]
    chip = deploy(restrict(load_run(tmp_path / "sgd")[0], hw))  # 64 inputs: 3 arrays of 22, 21
    layers = describe(chip)
    assert [(d["row_blocks"], d["column_blocks"]) for d in layers] == [([22, 21, 21], [16]),
                                                                       ([16], [10])]  # fmt: skip
    test = datasets.get("digits", train=False)
    x = torch.stack([test[i][0] for i in range(len(test))])
    y = torch.tensor([int(test[i][1]) for i in range(len(test))])
    with torch.no_grad():
        acc = int((chip(x).argmax(-1) == y).sum()) / len(y)
    assert report.row(report.methods[0], 0.0).accuracies == [acc]
    assert acc > 0.3  # a model that learned something (chance: 0.1), so the outputs matter


def test_a_bias_row_counts_in_its_tiles_full_scale() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(100, 4)
    with torch.no_grad():
        layer.weight.mul_(0.1)  # |W| <= 0.01 (the init's bound is 1/sqrt(100))
        layer.bias.fill_(3.0)
    x = torch.rand(6, 100) * 0.1  # each tile's |partial| <= 50 · 0.01 · 0.1 = 0.05
    hw = Restrictions(array_rows=50, input_range=1.0, output_bound=20.0)
    with torch.no_grad():
        # tile ranges ±20 · 0.01 · 1 = ±0.2 hold the partial sums; the first tile's is
        # ±20 · max(max|W|, |b|) = ±60, so its bias row is not clipped at ±0.2
        y = deploy(restrict(nn.Sequential(layer), hw))(x)
        torch.testing.assert_close(y, layer(x), **FLOAT)
        digital = Restrictions(**{**hw.to_dict(), "digital_bias": True})
        torch.testing.assert_close(deploy(restrict(nn.Sequential(layer), digital))(x),
                                   layer(x), **FLOAT)  # fmt: skip


def test_the_adc_ranges_move_with_the_chip_and_follow_loaded_weights() -> None:
    layer, x = _layers()[0]
    hw = Restrictions(array_rows=32, input_range=3.0, output_bound=0.2)  # clips, no bits
    chip = deploy(restrict(nn.Sequential(layer), hw))
    with torch.no_grad():
        y = chip(x)
        wide = copy.deepcopy(chip).double()  # moved: its ranges with it
        torch.testing.assert_close(wide(x.double()), y.double(), **FLOAT)
        other_layer = nn.Linear(90, 12)
        other = deploy(restrict(nn.Sequential(other_layer), hw))
        chip.load_state_dict(other.state_dict())  # programmed anew: the other's ranges
        torch.testing.assert_close(chip(x), other(x), rtol=0, atol=0)
