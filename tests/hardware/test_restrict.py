"""snnvar.hardware: the restricted model computes what the circuit would, keeps the
weight names (same chips), fuses BatchNorm exactly, quantises to the stated levels
with straight-through gradients, and deploys the programmed weights."""

from __future__ import annotations

import contextlib
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
    assert hw.label() == "w15, in8@±1+scale, out4@±8, bias8, bn" and not Restrictions().active


def test_quantize_levels_and_straight_through_gradient() -> None:
    x = torch.tensor([-2.0, -0.7, -0.2, 0.0, 0.26, 0.6, 1.5], requires_grad=True)
    q = quantize(x, 5, 1.0)  # levels -1, -0.5, 0, 0.5, 1
    assert q.tolist() == [-1.0, -0.5, 0.0, 0.0, 0.5, 0.5, 1.0]
    q.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]  # none where it clips
    assert quantize(torch.ones(3), 4, 0.0).tolist() == [0.0, 0.0, 0.0]
    assert quantize(torch.zeros(1), 15, 1.0).item() == 0.0  # odd counts hold zero
    assert quantize(torch.zeros(1), 16, 1.0).abs().item() == pytest.approx(1 / 15)  # even: none
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
    hw = Restrictions(weight_levels=7, bias_bits=3, input_bits=4, input_range=0.5,
                      output_swing=2.0, output_bits=3, fuse_batchnorm=True)  # fmt: skip
    model = _ann()
    chip = deploy(restrict(model, hw))
    assert "layers.1.weight" not in chip.state_dict()  # BatchNorm fused away
    for name, p in chip.named_parameters():
        half = p.detach().abs().max()
        grid = torch.linspace(-half, half, 7)  # 7 weight levels; 2**3 - 1 bias levels
        dist = (p.detach().flatten()[:, None] - grid[None]).abs().min(1).values
        assert float(dist.max()) <= 1e-5 * float(half), name
        assert p.detach().unique().numel() <= 7, name
    # one Linear, identity weights: the output is the ADC of the DAC of the input
    eye = nn.Linear(4, 4)
    with torch.no_grad():
        eye.weight.copy_(torch.eye(4))
        eye.bias.zero_()
    hw = Restrictions(input_bits=2, input_range=1.0, output_swing=0.5, output_bits=2)
    wire = restrict(eye, hw)
    x = torch.tensor([[-3.0, -0.4, 0.2, 0.9]])
    dac = [-1.0, 0.0, 0.0, 1.0]  # 2-bit signed: 3 levels over ±1
    adc = [-0.5, 0.0, 0.0, 0.5]  # clipped to ±0.5, 3 levels
    dac_only = restrict(eye, Restrictions(input_bits=2, input_range=1.0))
    torch.testing.assert_close(dac_only(x), torch.tensor([dac]))
    torch.testing.assert_close(wire(x), torch.tensor([adc]))


def test_only_the_first_layer_of_an_snn_gets_the_dac() -> None:
    hw = Restrictions(input_bits=4, input_range=1.0, learn_input_scale=True)
    layers = describe(restrict(_snn(), hw))
    assert [r["analog_input"] for r in layers] == [True, False, False, False, False, False]
    assert [r["input_scale"] for r in layers] == [1.0, None, None, None, None, None]
    foreign = models.create("spiking_cnn1", neuron="snntorch", in_shape=(1, 8, 8), hidden=16)
    assert [r["analog_input"] for r in describe(restrict(foreign, hw))] == [True] + [False] * 5
    ann_layers = describe(restrict(_ann(), hw))
    assert all(r["analog_input"] for r in ann_layers)


def test_the_learned_input_scale_gets_a_gradient_and_folds_into_the_weights() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(8, 4))
    hw = Restrictions(input_bits=3, input_range=1.0, learn_input_scale=True)
    chip = restrict(model, hw)
    with torch.no_grad():
        chip[0].input_log_scale.fill_(torch.log(torch.tensor(0.7)))
    x = torch.rand(5, 8)
    chip(x).square().sum().backward()
    grad = chip[0].input_log_scale.grad
    assert grad is not None and float(grad) != 0.0
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
    chip = restrict(nn.Sequential(nn.Linear(8, 4)), Restrictions(output_swing=1e-3)).eval()
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


@pytest.mark.parametrize("name", ["fc4", "lenet5"])
@pytest.mark.parametrize("spiking", [False, True])
def test_hrats_networks_fuse_batchnorm_exactly(name, spiking) -> None:
    """HRAT's FC-4 and LeNet-5 with BatchNorm after every hidden layer (Conv and FC)."""
    torch.manual_seed(3)
    model = models.create(name, spiking=spiking, batch_norm=True)
    x = torch.rand(8, 1, 28, 28)
    x = datasets.direct(x, 2) if spiking else x
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()
    chip = restrict(model, Restrictions(fuse_batchnorm=True))
    with torch.no_grad():
        torch.testing.assert_close(chip(x), model(x), rtol=0, atol=1e-5)
        torch.testing.assert_close(deploy(chip)(x), model(x), rtol=0, atol=1e-5)
    assert sum(r["batchnorm"] for r in describe(chip)) == (4 if name == "lenet5" else 3)


def test_fused_batchnorm_with_a_bias_a_scale_and_cumulative_momentum_is_batchnorm() -> None:
    """A biased Linear, BatchNorm1d(momentum=None) and a learned input scale a = 0.5:
    the restricted layer trains exactly as Linear + BatchNorm, statistics included."""
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3, momentum=None))
    with torch.no_grad():
        model[0].bias.fill_(2.0)
    hw = Restrictions(input_range=100.0, learn_input_scale=True, fuse_batchnorm=True)
    chip = restrict(model, hw)
    with torch.no_grad():
        chip[0].input_log_scale.fill_(torch.log(torch.tensor(0.5)))
    model.train(), chip.train()
    for _ in range(3):
        x = torch.randn(16, 4)
        torch.testing.assert_close(chip(x), model(x), rtol=0, atol=1e-5)
    mine = chip.state_dict()
    for k, a in model.state_dict().items():  # weights, running statistics, batch count
        torch.testing.assert_close(a.float(), mine[k].float(), rtol=0, atol=1e-5, msg=k)
    model.eval(), chip.eval()
    x = torch.randn(8, 4)
    torch.testing.assert_close(chip(x), model(x), rtol=0, atol=1e-5)
    torch.testing.assert_close(deploy(chip)(x), model(x), rtol=0, atol=1e-5)


def test_per_step_reads_of_a_fused_layer_in_training_are_refused_and_pickling_works() -> None:
    import io

    chip = restrict(_snn(), Restrictions(fuse_batchnorm=True)).train()
    x = datasets.direct(torch.rand(4, 1, 8, 8), 3)
    with (
        pytest.raises(ValueError, match="cannot be read once per step"),
        Variation(0.0, mode="dynamic").applied(chip, seed=0),
    ):
        chip(x)
    with Variation(0.0, mode="dynamic", redraw="pass").applied(chip, seed=0):
        chip(x)  # one read per pass: all steps at once
    chip.eval()
    with Variation(0.0, mode="dynamic").applied(chip, seed=0):
        chip(x)  # inference: running statistics, per step is fine
    buffer = io.BytesIO()
    torch.save(chip, buffer)
    buffer.seek(0)
    back = torch.load(buffer, weights_only=False)
    with torch.no_grad():
        assert torch.equal(back(x), chip(x))
    no_stats = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3, track_running_stats=False))
    with pytest.raises(ValueError, match=r"BatchNorm at '1': it keeps no running statistics"):
        restrict(no_stats, Restrictions(fuse_batchnorm=True))


def _bn_linear(bn_eval: bool) -> nn.Module:
    """Linear(64 -> 8) + BatchNorm1d whose γ/σ spans 100x across the 8 channels, fused."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 8), nn.BatchNorm1d(8))
    with torch.no_grad():
        net[1].weight.copy_(torch.logspace(-1, 1, 8))
        net[1].running_var.copy_(torch.logspace(-0.5, 0.5, 8))
    chip = restrict(net, Restrictions(fuse_batchnorm=True))
    chip.train()
    if bn_eval:
        chip[1].eval()
    return chip


@pytest.mark.parametrize("bn_eval", [True, False], ids=["running-stats", "batch-stats"])
def test_training_noise_lands_on_the_programmed_weights(bn_eval) -> None:
    """Issue 33: the noise was drawn on W and then multiplied per channel by γ/σ of the
    fused BatchNorm (per-channel std of ΔW' over 100x apart); it is drawn on W' now."""
    chip = _bn_linear(bn_eval)
    x = torch.eye(64)  # y = W' + b' row by row: the weights the layer computes with
    v = Variation(0.1)
    with frozen_norm_stats(chip), torch.no_grad():
        clean = chip(x)
        with v.applied(chip, seed=4, domain="train") as draw:
            noisy = chip(x)
    seen = (noisy - clean).T  # ΔW' as the layer computed it
    torch.testing.assert_close(seen, draw["0.weight"], rtol=0, atol=1e-5)  # float32 sums
    per_channel = seen.std(1)
    # the same σ·s(W') on every channel: 64 draws per channel, std within ±40 % at 5 sigma
    assert float(per_channel.max() / per_channel.min()) < 2.0
    with frozen_norm_stats(chip), torch.no_grad():
        chip(x)
        w_prog, _ = chip[0].programmed(x)
    expected = 0.1 * 6 * w_prog.std()  # WVAT's A of the programmed weights
    torch.testing.assert_close(seen.std(), expected, rtol=0.1, atol=0)


def test_a_restricted_model_reads_the_same_chip_as_its_deployed_copy() -> None:
    from snnvar.hardware import PCM

    chip = _bn_linear(bn_eval=True).eval()
    deployed = deploy(chip)
    x = torch.randn(16, 64)
    for level in (Variation(0.1), Variation(0.1, clip=True, levels=16), PCM()):
        with torch.no_grad(), level.applied(chip, seed=7) as a:
            y = chip(x)
        with torch.no_grad(), level.applied(deployed, seed=7) as b:
            y_chip = deployed(x)
        # the same devices (key, stream) read on the same programmed values
        torch.testing.assert_close(a["0.weight"], b["0.weight"], rtol=0, atol=1e-6)
        torch.testing.assert_close(y, y_chip, rtol=1e-5, atol=1e-5)


def test_the_gradient_passes_straight_through_the_read_to_the_weights() -> None:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(6, 4))
    chip = restrict(net, Restrictions(weight_levels=15))
    x, target = torch.randn(10, 6), torch.randn(10, 4)
    with Variation(0.2).applied(chip, seed=2, domain="train") as draw:
        ((chip(x) - target) ** 2).sum().backward()
    w_prog, b = chip[0].programmed()
    read = (w_prog.detach() + draw["0.weight"]).requires_grad_()  # W' + ΔW' by hand
    ((nn.functional.linear(x, read, b.detach()) - target) ** 2).sum().backward()
    torch.testing.assert_close(chip[0].weight.grad, read.grad, rtol=1e-5, atol=1e-6)


def test_dynamic_reads_of_a_restricted_model_redraw_on_the_programmed_weights() -> None:
    chip = _bn_linear(bn_eval=True).eval()
    x = torch.eye(64)
    v = Variation(0.1, mode="dynamic", redraw="pass")
    with torch.no_grad():
        clean = chip(x)
        with v.applied(chip, seed=3) as draw:
            first, second = chip(x) - clean, chip(x) - clean
    assert draw.reads == 2 and not torch.allclose(first, second)
    for seen in (first, second):
        per_channel = seen.T.std(1)
        assert float(per_channel.max() / per_channel.min()) < 2.0
    assert torch.equal(chip(x), clean)  # restored: no reader left behind


def _programmed_std(chip: nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """std of the programmed W' (batch statistics of ``x``) and of the float W."""
    with frozen_norm_stats(chip), torch.no_grad():
        w_prog, _ = chip[0].programmed(x)
    return float(w_prog.std()), float(chip[0].weight.detach().std())


@pytest.mark.parametrize("name", ["noise_injection", "hasgd", "wvat"])
def test_a_training_method_trains_a_restricted_model_against_the_chips_noise(name) -> None:
    """The draws a method trains with are the chip's: σ · 6 std(W') (WVAT's A of the
    programmed weights), not σ · 6 std(W) of the float weights the BatchNorm rescales."""
    from snnvar.training import create_method

    chip = _bn_linear(bn_eval=False)
    options = {"w_th": 0.0} if name == "wvat" else {}  # WVAT: HSV only here
    opt = create_method(name, chip, torch.optim.SGD(chip.parameters(), lr=0.1),
                        Variation(0.1), seed=0, **options)  # fmt: skip
    x, y = torch.randn(32, 64), torch.randint(0, 8, (32,))
    prog_std, float_std = _programmed_std(chip, x)
    assert abs(prog_std / float_std - 1) > 0.5  # the two scales differ: the test can tell
    deltas: list[torch.Tensor] = []
    real = opt._draw

    @contextlib.contextmanager
    def spy(seed):
        with real(seed) as draw:
            yield draw
            deltas.append(draw["0.weight"].clone())  # ΔW' as the layer read it

    opt._draw = spy

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(chip(x), y)
        loss.backward()
        return loss

    before = chip[0].weight.detach().clone()
    assert torch.isfinite(opt.step(closure))
    assert deltas and not torch.equal(chip[0].weight, before)
    for delta in deltas:  # 512 draws: the std within 15 %
        torch.testing.assert_close(delta.std().item(), 0.1 * 6 * prog_std, rtol=0.15, atol=0)


def test_wvats_gav_moves_the_programmed_weights_by_alpha_of_the_chips_noise(monkeypatch):
    """GAV = α ∇L/‖∇L‖ ‖ΔW'‖ with the gradient, the draw and the shift in W' units."""
    import snnvar.training.methods as methods
    from snnvar.training import WVAT

    chip = _bn_linear(bn_eval=False)
    opt = WVAT(chip, torch.optim.SGD(chip.parameters(), lr=0.0), Variation(0.1), w_th=1.0,
               alpha=0.1, seed=0)  # fmt: skip
    x, y = torch.randn(32, 64), torch.randint(0, 8, (32,))
    prog_std, _ = _programmed_std(chip, x)
    seen = {}
    real = methods.gradient_ascent_variation

    def spy(grads, deltas, alpha):
        seen["wv"], seen["delta"] = real(grads, deltas, alpha), deltas
        return seen["wv"]

    monkeypatch.setattr(methods, "gradient_ascent_variation", spy)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(chip(x), y)
        loss.backward()
        return loss

    opt.step(closure)
    assert opt.last_kind == "gav"
    delta, wv = seen["delta"]["0.weight"], seen["wv"]["0.weight"]
    torch.testing.assert_close(delta.std().item(), 0.1 * 6 * prog_std, rtol=0.15, atol=0)
    torch.testing.assert_close((wv.norm() / delta.norm()).item(), 0.1, rtol=1e-5, atol=0)
    # a per-channel BatchNorm scale no longer multiplies the shift (1120x before)
    per_channel = wv.norm(dim=1)
    assert float(per_channel.max() / per_channel.min()) < 20


def test_evaluating_an_undeployed_restricted_model_under_variation_is_refused() -> None:
    import snnvar
    from snnvar.evaluation import loss_landscape, worst_case_attack

    chip = _bn_linear(bn_eval=True).eval()
    x, y = torch.randn(20, 64), torch.randint(0, 8, (20,))
    deploy_hint = r"not deployed \(layers \['0'\]\).*snnvar\.hardware\.deploy\(model\)"
    with pytest.raises(
        ValueError, match=r"evaluate: model 'Sequential' is restricted.*" + deploy_hint
    ):
        snnvar.evaluate(chip, (x, y), Variation(0.1), draws=1)
    with pytest.raises(ValueError, match="worst_case_attack: the model is restricted"):
        worst_case_attack(chip, (x, y), zeta=0.1, steps=1)
    with pytest.raises(ValueError, match="loss_landscape: model 'Sequential' is restricted"):
        loss_landscape(chip, (x, y), sigmas=(0.1,), directions=1)
    clean = snnvar.evaluate(chip, (x, y), None, draws=1)  # no chip: allowed
    deployed = snnvar.evaluate(deploy(chip), (x, y), None, draws=1)
    assert clean.results[0].accuracy_mean == deployed.results[0].accuracy_mean
    on_chip = snnvar.evaluate(deploy(chip), (x, y), Variation(0.1), draws=2)
    assert len(on_chip.results[0].accuracies) == 2


def test_an_inner_block_on_other_tensors_of_a_layer_leaves_the_outer_one() -> None:
    chip = _bn_linear(bn_eval=True).eval()
    x = torch.randn(4, 64)
    outer, inner = Variation(0.2), Variation(0.2, include_bias=True, include=["*.bias"])
    with torch.no_grad():
        clean = chip(x)
        with outer.applied(chip, seed=1):
            noisy = chip(x)
            with inner.applied(chip, seed=2):
                both = chip(x)
            after = chip(x)
        restored = chip(x)
    assert not torch.equal(noisy, clean) and not torch.equal(both, noisy)
    assert torch.equal(after, noisy)  # the outer chip is read again, bit for bit
    assert torch.equal(restored, clean)
