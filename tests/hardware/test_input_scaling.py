"""Noise management (``Restrictions.input_scaling``, aihwkit's ``NoiseManagementType.ABS_MAX``):
each tile divides every input vector by its largest ``|x|`` before its DAC and multiplies
its output back after its ADC. Checked against a reference written from aihwkit's
``AnalogMVM`` (``simulator/tiles/analog_mvm.py``) applied tile by tile."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnvar.hardware import Restrictions, deploy, output_reads, restrict
from snnvar.hardware.tiles import split_sizes
from tests.hardware.analog_mvm import reference_tiles

TOLERANCE = 1e-5
"""Relative, float32: the same sums in another order; a rounding that lands on another
level would differ by a step (≥ 1e-2 of the range here)."""


def _chip(layer: nn.Module, hw: Restrictions) -> nn.Module:
    return deploy(restrict(nn.Sequential(layer), hw)).eval()


def _reference(x2d, w2d, rows, bound, in_bits, out_bits, inp_bound=1.0):  # type: ignore[no-untyped-def]
    """aihwkit's tiles with ``weight_scaling_omega = 1`` and noise management ABS_MAX."""
    return reference_tiles(x2d, w2d, rows, bound, in_bits, out_bits, inp_bound, omega=1.0)


def test_linear_over_tiles_matches_aihwkit_noise_management() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(100, 12)
    hw = Restrictions(array_rows=40, input_range=1.0, input_bits=7, output_bound=4.0,
                      output_bits=9, digital_bias=True, input_scaling=True)  # fmt: skip
    x = torch.randn(64, 100) * torch.rand(64, 1) * 5  # rows of very different sizes
    x[3] = 0.0  # a zero vector: scale 1, output the bias
    with torch.no_grad():
        got = _chip(layer, hw)(x)
        want = _reference(x, layer.weight, split_sizes(100, 40), 4.0, 7, 9) + layer.bias
    assert split_sizes(100, 40) == [34, 33, 33]
    torch.testing.assert_close(got.double(), want, rtol=TOLERANCE, atol=TOLERANCE)
    torch.testing.assert_close(got[3], layer.bias.detach())


def test_conv_scales_every_patch_of_every_tile() -> None:
    torch.manual_seed(1)
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False)  # 27 rows: three tiles of 9
    hw = Restrictions(array_rows=10, input_range=1.0, input_bits=8, output_bound=6.0,
                      output_bits=8, digital_bias=True, input_scaling=True)  # fmt: skip
    x = torch.randn(4, 3, 6, 6) * 3
    with torch.no_grad():
        got = _chip(conv, hw)(x)
        cols = F.unfold(x, 3, padding=1).transpose(1, 2).reshape(-1, 27)  # [B·L, 27]
        want = _reference(cols, conv.weight.reshape(5, -1), split_sizes(27, 10), 6.0, 8, 8)
        want = want.reshape(4, 36, 5).transpose(1, 2).reshape(4, 5, 6, 6)
    torch.testing.assert_close(got.double(), want, rtol=TOLERANCE, atol=TOLERANCE)


def test_one_array_scales_too_and_an_input_bound_below_one_clips() -> None:
    torch.manual_seed(2)
    layer = nn.Linear(30, 4, bias=False)
    hw = Restrictions(input_range=0.5, input_bits=6, output_bound=3.0, output_bits=7,
                      digital_bias=True, input_scaling=True)  # fmt: skip
    x = torch.randn(16, 30)
    with torch.no_grad():
        got = _chip(layer, hw)(x)
        want = _reference(x, layer.weight, [30], 3.0 * 0.5, 6, 7, inp_bound=0.5)
    torch.testing.assert_close(got.double(), want, rtol=TOLERANCE, atol=TOLERANCE)


def test_the_output_is_homogeneous_in_the_input() -> None:
    """The scaled inputs are the same for x and c·x: the chip's output scales by c
    exactly (c a power of two, so x/s is bit for bit the same)."""
    torch.manual_seed(3)
    layer = nn.Linear(50, 8, bias=False)
    hw = Restrictions(array_rows=16, input_range=1.0, input_bits=4, output_bound=2.0,
                      output_bits=4, digital_bias=True, input_scaling=True)  # fmt: skip
    chip = _chip(layer, hw)
    x = torch.randn(32, 50)
    with torch.no_grad():
        assert torch.equal(chip(x * 8.0), chip(x) * 8.0)
        hw = Restrictions(array_rows=16, input_range=1.0, input_bits=4, output_bound=2.0,
                          output_bits=4, digital_bias=True)  # fmt: skip
        plain = _chip(layer, hw)
        assert not torch.allclose(plain(x * 8.0), plain(x) * 8.0)  # without: it clips


def test_output_noise_follows_each_vectors_scale() -> None:
    """σ of the noise is output_noise · input_range · max|W′| of the tile, times the
    vector's scale max|x| (aihwkit's out_noise in the normalised units)."""
    layer = nn.Linear(20, 200, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(-0.5, 0.5)
        layer.weight[0, 0] = 1.0  # max|W′| = 1
    hw = Restrictions(input_range=1.0, output_noise=0.1, digital_bias=True, input_scaling=True)
    chip = _chip(layer, hw)
    x = torch.zeros(1000, 20)
    x[:500, 0], x[500:, 0] = 1.0, 4.0  # scales 1 and 4
    with torch.no_grad(), output_reads(chip, seed=0):
        noise = chip(x) - x @ layer.weight.T
    for rows, sigma in ((slice(0, 500), 0.1), (slice(500, 1000), 0.4)):
        assert noise[rows].std().item() == pytest.approx(sigma, rel=0.03)


def test_training_passes_gradients_through_the_scaled_tiles() -> None:
    torch.manual_seed(4)
    layer = nn.Linear(24, 6)
    hw = Restrictions(array_rows=8, input_range=1.0, input_bits=8, output_bound=8.0,
                      output_bits=8, digital_bias=True, input_scaling=True)  # fmt: skip
    model = restrict(nn.Sequential(layer), hw).train()
    x = torch.randn(10, 24, requires_grad=True)
    model(x).square().sum().backward()
    assert model[0].weight.grad is not None and model[0].weight.grad.abs().sum() > 0
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"digital_bias": True}, "input_scaling needs input_range"),
        ({"input_range": 1.0}, "digital_bias = True"),
        ({"input_range": 1.0, "digital_bias": True, "learn_input_scale": True},
         "not with learn_input_scale"),
        ({"input_range": 1.0, "digital_bias": True, "input_scaling": 1}, "True or False"),
    ],
)  # fmt: skip
def test_bad_settings_are_refused(options, message) -> None:
    with pytest.raises(ValueError, match=message):
        Restrictions(**{"input_scaling": True, **options})


def test_label_and_ablation_name_it() -> None:
    hw = Restrictions(input_range=1.0, input_bits=8, output_bound=4.0, output_bits=6,
                      digital_bias=True, input_scaling=True)  # fmt: skip
    assert "in8@±1/max|x|" in hw.label()
    from snnvar.hardware import single_restrictions

    rows = single_restrictions(hw)
    assert rows["input"].input_scaling and rows["output bound"].input_scaling
    assert rows["ADC"].input_scaling
