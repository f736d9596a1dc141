"""Residual networks: depth and size against their papers, the block's arithmetic in the
ANN and over time in the SNN, per-read variation inside a block, restrictions, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import snnvar
from snnvar import Variation, models
from snnvar.hardware import PCM, Restrictions, deploy, restrict
from snnvar.hardware.measure import describe
from snnvar.nn import Residual, SpikingSequential, TimeLoop, record_spikes
from snnvar.training import WVAT, TrainConfig, Trainer
from tests.cli.invoke import cli


def _main_path_layers(model: nn.Module) -> int:
    """Weighted layers outside the shortcuts: the depth in a ResNet's name."""
    return sum(
        isinstance(m, nn.Conv2d | nn.Linear) and ".shortcut." not in f".{n}."
        for n, m in model.named_modules()
    )


@pytest.mark.parametrize(
    ("name", "params"),
    # He et al., CVPR 2016, Table 6 (with parameter-free shortcuts; the two projections,
    # 1 x 1 convs with BatchNorm, add 2,752 parameters, within the table's rounding)
    [("resnet20", 0.27), ("resnet32", 0.46), ("resnet44", 0.66), ("resnet56", 0.85),
     ("resnet110", 1.7)],
)  # fmt: skip
def test_cifar_resnets_have_he_et_al_s_depth_and_size(name: str, params: float) -> None:
    model = models.create(name, spiking=False)
    assert _main_path_layers(model) == int(name.removeprefix("resnet"))
    count = sum(p.numel() for p in model.parameters())
    assert count == pytest.approx(params * 1e6, rel=0.03)
    projections = [m for n, m in model.named_modules() if ".shortcut." in f".{n}."]
    assert sum(isinstance(m, nn.Conv2d) for m in projections) == 2  # 16 -> 32, 32 -> 64


def test_resnet18_and_resnet19_depth_and_golden_sizes() -> None:
    r18 = models.create("resnet18", spiking=False)
    assert _main_path_layers(r18) == 18
    # the CIFAR ResNet-18 of the literature (3 x 3 stem, no max pooling): 11,173,962
    assert sum(p.numel() for p in r18.parameters()) == 11_173_962
    r19 = models.create("resnet19")
    assert _main_path_layers(r19) == 19  # stem + 8 blocks x 2 + FC 256 + FC 10
    widths = [m.out_channels for m in r19.modules() if isinstance(m, nn.Conv2d)]
    assert widths[0] == 128 and max(widths) == 512
    # stages of 3 / 3 / 2 blocks at 128 / 256 / 512 channels, strides 1 / 2 / 2, FC 256:
    # pinned by the golden count
    assert sum(p.numel() for p in r19.parameters()) == 12_697_994


def _block(kind: str, spiking: bool) -> Residual:
    model = models.create(
        "resnet20", spiking=spiking, block=kind, width=0.25, in_shape=(3, 8, 8), threshold=0.5
    ).eval()
    return model.layers[3]  # the first block after the stem: identity shortcut


@pytest.mark.parametrize("kind", ["basic", "sew"])
def test_the_block_adds_its_branches_in_the_ann(kind: str) -> None:
    block = _block(kind, spiking=False)
    x = torch.rand(2, 4, 8, 8)
    with torch.no_grad():
        body = block.body(x)
        expected = torch.relu(body + x) if kind == "basic" else body + x
        assert torch.equal(block(x), expected)
        if kind == "sew":  # the body ends in its own activation
            assert (body >= 0).all() and len(block.post) == 0


@pytest.mark.parametrize("kind", ["basic", "sew"])
def test_the_spiking_block_over_time(kind: str) -> None:
    block = _block(kind, spiking=True)
    assert block.temporal and isinstance(block.body, SpikingSequential)
    x = (torch.rand(5, 2, 4, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    with torch.no_grad():
        out = block(x)
        body = block.body(x)
        if kind == "basic":  # one neuron layer on the summed current (spiking ResNet)
            assert torch.equal(out, block.post(body + x))
            assert set(out.unique().tolist()) <= {0.0, 1.0}
        else:  # SEW ADD: the sum of the body's and the shortcut's spikes
            assert torch.equal(out, body + x)
            assert set(out.unique().tolist()) == {0.0, 1.0, 2.0}


def test_neuron_layers_inside_blocks_are_recorded_and_named_as_in_the_ann() -> None:
    snn = models.create("resnet20", width=0.25, in_shape=(3, 8, 8), threshold=0.5).eval()
    ann = models.create("resnet20", spiking=False, width=0.25, in_shape=(3, 8, 8))
    copied = models.transfer(ann, snn)
    assert "layers.3.body.0.weight" in copied and "layers.6.shortcut.0.weight" in copied
    with torch.no_grad(), record_spikes(snn) as rec:
        snn(torch.ones(4, 1, 3, 8, 8))
    loops = [n for n, m in snn.named_modules() if isinstance(m, TimeLoop)]
    assert list(rec.layers) == loops and len(loops) == 1 + 9 * 2  # stem + 9 blocks x 2
    assert "layers.3.post.0" in loops


def test_dynamic_variation_redraws_inside_blocks_and_restores() -> None:
    torch.manual_seed(0)
    snn = models.create("resnet20", width=0.25, in_shape=(3, 8, 8), threshold=0.5).eval()
    x = (torch.rand(4, 2, 3, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    targets = Variation(sigma=0.1).targets(snn)
    weighted = [n for n, m in snn.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    # every conv and linear, the projections included; an identity shortcut holds none
    assert sorted(t.name for t in targets) == sorted(f"{n}.weight" for n in weighted)
    before = {k: v.clone() for k, v in snn.state_dict().items()}
    shapes: list[tuple[int, ...]] = []
    conv = snn.layers[3].body[0]
    hook = conv.register_forward_hook(lambda _m, i, _o: shapes.append(tuple(i[0].shape)))
    with torch.no_grad():
        clean = snn(x)
        with Variation(sigma=0.2, mode="dynamic").applied(snn, seed=0):
            noisy = snn(x)
    hook.remove()
    assert shapes[0] == (8, 4, 8, 8)  # clean: the 4 steps batched
    assert shapes[1:] == [(2, 4, 8, 8)] * 4  # per read: one call per step, fresh noise
    assert not torch.equal(noisy, clean)
    for k, v in snn.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_restricted_residual_model_fuses_batchnorm_within_each_branch() -> None:
    torch.manual_seed(0)
    snn = models.create("resnet20", width=0.25, in_shape=(3, 8, 8), threshold=0.5).eval()
    hw = restrict(snn, Restrictions(weight_levels=15, fuse_batchnorm=True))
    rows = {r["layer"]: r for r in describe(hw)}
    assert "layers.6.shortcut.0" in rows and "layers.6.body.0" in rows  # analog: projections
    chip = deploy(hw)
    fused = [n for n, m in chip.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert fused == []  # every BatchNorm folded into its conv, the shortcuts' included
    x = (torch.rand(3, 2, 3, 8, 8, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    with torch.no_grad():
        torch.testing.assert_close(chip(x), hw(x), rtol=0, atol=1e-5)  # same programmed chip


def test_a_device_model_programs_every_analog_layer_and_drifts() -> None:
    torch.manual_seed(0)
    snn = models.create("resnet20", width=0.25, in_shape=(3, 8, 8), threshold=0.5).eval()
    analog = sorted(f"{n}.weight" for n, m in snn.named_modules()
                    if isinstance(m, nn.Conv2d | nn.Linear))  # fmt: skip
    assert sorted(t.name for t in PCM().targets(snn)) == analog
    x = (torch.rand(4, 2, 3, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    before = {k: v.clone() for k, v in snn.state_dict().items()}
    with torch.no_grad():
        outs = {}
        for t in (1.0, 3.15e7):  # a second and a year after programming, the same chip
            with PCM(time=t).applied(snn, seed=2) as draw:
                outs[t] = snn(x)
                # the projection shortcut holds devices like every other conv
                assert draw["layers.6.shortcut.0.weight"].abs().sum() > 0
    assert not torch.equal(outs[1.0], outs[3.15e7])
    for k, v in snn.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_every_chip_of_a_resnet_is_calibrated() -> None:
    torch.manual_seed(0)
    snn = models.create("resnet20", width=0.25, in_shape=(1, 8, 8), threshold=0.5).eval()
    g = torch.Generator().manual_seed(0)
    data = (torch.rand(32, 1, 8, 8, generator=g), torch.randint(0, 10, (32,), generator=g))
    # (no calibration reads labels: zeros)
    calibration = (torch.rand(32, 1, 8, 8, generator=g), torch.zeros(32, dtype=torch.long))
    before = {k: v.clone() for k, v in snn.state_dict().items()}
    report = snnvar.evaluate(
        snn, data, Variation(0.2), sigmas=[0.2], draws=2, time_steps=3, encoder="direct",
        calibrate="bn", calibration_data=calibration, progress=False, seed=1,
    )  # fmt: skip
    rows = {r.method: r for r in report.results}
    assert set(rows) == {"resnet20", "resnet20 [bn]"}  # as programmed, and after AdaBS
    assert rows["resnet20"].seeds == rows["resnet20 [bn]"].seeds  # the same chips
    for k, v in snn.state_dict().items():
        assert torch.equal(v, before[k]), k  # BatchNorm's statistics restored


def test_wvat_trains_a_spiking_resnet() -> None:
    torch.manual_seed(0)
    snn = models.create("resnet20", width=0.25, in_shape=(1, 8, 8), threshold=0.5)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 1, 8, 8, generator=g), torch.randint(0, 10, (64,), generator=g)
    before = {k: v.clone() for k, v in snn.state_dict().items()}
    opt = WVAT(snn, torch.optim.Adam(snn.parameters(), lr=1e-3), Variation(0.1), seed=0)
    cfg = TrainConfig(epochs=1, batch_size=32, encoder="rate", time_steps=4, progress=False)
    history = Trainer(snn, opt, cfg).fit(torch.utils.data.TensorDataset(x, y))
    assert len(history) == 1 and torch.isfinite(torch.tensor(history[0]["train_loss"]))
    changed = {k for k, v in snn.state_dict().items() if not torch.equal(v, before[k])}
    assert {n for n, _ in snn.named_parameters()} <= changed  # every weight learns


def test_bad_residual_arguments() -> None:
    with pytest.raises(ValueError, match=r"unknown block 'and'; allowed: \['basic', 'sew'\]"):
        models.create("resnet20", block="and")
    for width in (0.0, float("inf")):
        with pytest.raises(ValueError, match="width must be a finite number > 0"):
            models.create("resnet20", width=width)
    with pytest.raises(TypeError, match=r"body must be nn.Sequential .* got Conv2d"):
        Residual(nn.Conv2d(2, 2, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"in-place ReLU at '0'.*overwrite the input"):
        Residual(nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(2, 2, 1)))
    with pytest.raises(ValueError, match="too small for its strides"):
        models.create("resnet18", in_shape=(3, 4, 4))
    with pytest.raises(TypeError, match="Residual's shortcut must be SpikingSequential"):
        Residual(SpikingSequential(nn.Identity()), nn.Sequential())
    with pytest.raises(ValueError, match="body is empty"):
        Residual(nn.Sequential())
    block = Residual(nn.Sequential(nn.Conv2d(2, 3, 1)))
    with pytest.raises(ValueError, match=r"body gives \(1, 3, 4, 4\) but the shortcut"):
        block(torch.zeros(1, 2, 4, 4))


def test_command_line_trains_converts_and_evaluates_a_sew_resnet(tmp_path, capsys) -> None:
    arch = ("--model", "resnet20", "--model-option", "width=0.25", "--model-option", "block=sew")
    code, _, err = cli(capsys, "train", *arch, "--ann", "--epochs", "1", "--no-progress",
                       "--out", tmp_path / "ann")  # fmt: skip
    assert code == 0, err
    convert = ("convert", tmp_path / "ann", "--time-steps", "8", "--percentile", "99.9")
    code, out, err = cli(capsys, *convert, "--no-progress", "--out", tmp_path / "snn")
    assert code == 0, err
    assert "layers_3.body.5" in out and "layers_6.shortcut.2" in out  # per-layer thresholds
    evaluate = ("evaluate", tmp_path / "ann", tmp_path / "snn", "--sigmas", "0,0.1", "--draws", "2")
    code, out, err = cli(capsys, *evaluate, "--no-progress", "--out", tmp_path / "ev")
    assert code == 0, err
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["config"]["paired"] is True  # the SNN draws the ANN's chips
    assert len(report["results"]) == 4  # two models x two sigmas
