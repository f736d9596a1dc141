"""Device models over time: programming noise by conductance, drift and its
compensation, stuck-at faults, the variation interface, reports and the CLI."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import snnvar
from snnvar import Variation
from snnvar.evaluation import Report, chip_seed
from snnvar.hardware import (
    PCM,
    RRAM,
    CustomDevice,
    StuckAt,
    device_from_dict,
    devices_from_toml,
    parse_time,
    to_conductances,
    to_weights,
)
from snnvar.variation.seeding import stream
from tests.cli.invoke import cli
from tests.conftest import assert_same_state, state

QUIET = {"drift": False, "read_noise": False}


def _read(device, w, seed=0):
    return device.read_tensor(w, torch.Generator().manual_seed(seed))


def test_conductance_pairs_map_back_to_the_weights() -> None:
    w = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0, 3.0])
    gp, gm = to_conductances(w, w_max=2.0, g_min=1.0, g_max=25.0)
    assert gp.tolist() == [1.0, 1.0, 1.0, 7.0, 25.0, 25.0]  # 3.0 clips at g_max
    assert gm.tolist() == [25.0, 7.0, 1.0, 1.0, 1.0, 1.0]
    assert to_weights(gp, gm, 2.0, 1.0, 25.0).tolist() == [-2.0, -0.5, 0.0, 0.5, 2.0, 2.0]


def test_pcm_programming_noise_std_is_sigma_of_g_within_two_percent() -> None:
    # 400k devices at G+ = g_max / 2 (w = w_max / 2): std of G - G_T against the
    # published quadratic σ(0.5) = 0.26348 + 1.9650 / 2 - 1.1731 / 4 µS
    w = torch.full((400, 1000), 0.5)
    out = _read(PCM(w_max=1.0, **QUIET), w)
    expected = 0.26348 + 1.9650 * 0.5 - 1.1731 * 0.25
    measured = float((out.programmed[0] - out.target[0]).std())
    assert measured == pytest.approx(expected, rel=0.02)
    # at g_max the noise is larger: σ(1) = 0.26348 + 1.9650 - 1.1731
    full = _read(PCM(w_max=1.0, **QUIET), torch.ones(400, 1000))
    assert float((full.programmed[0] - full.target[0]).std()) == pytest.approx(
        0.26348 + 1.9650 - 1.1731, rel=0.02
    )
    # a custom σ(g): 0.3 µS everywhere, and g_max scales the PCM fit (g_max / 25)
    flat = _read(CustomDevice(sigma=((0.0, 0.3), (25.0, 0.3)), w_max=1.0), w)
    assert float((flat.programmed[0] - flat.target[0]).std()) == pytest.approx(0.3, rel=0.02)
    big = _read(PCM(g_max=50.0, w_max=1.0, **QUIET), w)
    assert float((big.programmed[0] - big.target[0]).std()) == pytest.approx(2 * expected, rel=0.02)


def test_noiseless_drift_follows_the_power_law_and_compensation_undoes_it() -> None:
    torch.manual_seed(0)
    w = torch.randn(64, 32)
    t = 86400.0
    base = {"noise_scale": 0.0, "read_noise": False, "drift_nu": (0.05, 0.0), "time": t}
    out = _read(PCM(**base), w)
    on = out.programmed > 0
    ratio = out.read[on] / out.programmed[on]
    nu = -torch.log(ratio) / math.log(t / 20.0)
    assert torch.allclose(nu, torch.full_like(nu, 0.05), rtol=1e-4, atol=0)
    assert torch.allclose(out.weights, w * (t / 20.0) ** -0.05, rtol=1e-5, atol=1e-7)
    for comp in ("global", "column"):
        fixed = _read(PCM(**base, compensation=comp), w)
        assert torch.allclose(fixed.weights, w, rtol=1e-5, atol=1e-7), comp
    # column compensation has one scale per output
    assert _read(PCM(**base, compensation="column"), w).alpha.shape == (64, 1)
    # before t0 nothing drifts (reads before the end of programming read as t0)
    early = _read(PCM(**{**base, "time": 5.0}), w)
    assert torch.equal(early.read, early.programmed)


def test_pcm_drift_exponents_follow_the_published_fit() -> None:
    # at g = g_max: μ_ν = clip(0.0244, 0.049, 0.1) = 0.049, σ_ν = clip(-0.0059, 0.008, .) = 0.008
    out = _read(PCM(w_max=1.0), torch.ones(200, 500))
    nu = out.nu[0]
    assert float(nu.mean()) == pytest.approx(0.049, abs=4 * 0.008 / math.sqrt(nu.numel()))
    assert float(nu.std()) == pytest.approx(0.008, rel=0.02)
    # at g = 0 (the unused device of each pair) the clipped maxima: μ 0.1, σ 0.045
    nu0 = out.nu[1]
    assert float(nu0.mean()) == pytest.approx(0.1, abs=0.002)


def test_measured_drift_exponents_are_interpolated_in_conductance() -> None:
    table = ((0.0, 0.1, 0.0), (10.0, 0.05, 0.0), (25.0, 0.03, 0.0))
    dev = PCM(drift_nu=table, noise_scale=0.0, read_noise=False, time=2000.0)
    w = torch.tensor([0.2, 0.4, 0.7, 1.0])  # w_max 1: G+ = 5, 10, 17.5, 25 µS
    r = _read(dev, w)
    torch.testing.assert_close(r.nu[0], torch.tensor([0.075, 0.05, 0.04, 0.03]))
    torch.testing.assert_close(r.read[0], r.programmed[0] * 100.0 ** -r.nu[0])
    assert device_from_dict(dev.to_dict()) == dev
    for bad, message in (
        (((10.0, 0.05, 0.0), (5.0, 0.05, 0.0)), "g must increase"),
        (((10.0, 0.05, -0.1), (20.0, 0.05, 0.0)), "drift_nu std must be >= 0"),
        (((10.0, 0.05),), "at least two"),
        ((0.05,), "must be \\(mean, std\\)"),
    ):
        with pytest.raises(ValueError, match=message):
            PCM(drift_nu=bad)


def test_stuck_fractions_lie_within_their_binomial_error() -> None:
    n = 400 * 500
    out = _read(StuckAt(low=0.01, high=0.02), torch.randn(400, 500))
    for code, p in ((1, 0.01), (2, 0.02)):
        frac = float((out.stuck == code).float().mean())
        assert abs(frac - p) < 4 * math.sqrt(p * (1 - p) / (2 * n)), (code, frac)
    assert torch.all(out.programmed[out.stuck == 1] == 0.0)
    assert torch.all(out.programmed[out.stuck == 2] == 25.0)
    # weight level: stuck at 0 and at ±w_max with the weight's sign
    w = torch.randn(400, 500)
    at_w = _read(StuckAt(low=0.05, high=0.05, at="weight"), w)
    low, high = at_w.stuck[0] == 1, at_w.stuck[0] == 2
    assert float(low.float().mean()) == pytest.approx(0.05, abs=4 * math.sqrt(0.05 * 0.95 / n))
    assert torch.all(at_w.weights[low] == 0)
    w_max = float(w.abs().max())
    assert torch.allclose(at_w.weights[high], torch.sign(w[high]) * w_max)
    healthy = at_w.stuck[0] == 0
    assert torch.allclose(at_w.weights[healthy], w[healthy], atol=1e-6)  # ideal devices
    # faults on top of a PCM: stuck devices do not drift
    pcm = _read(PCM(faults=StuckAt(high=0.1), time=3.15e7), torch.randn(100, 100))
    assert torch.all(pcm.read[pcm.stuck == 2] == 25.0)


def test_one_chip_is_one_programmed_chip_at_every_time_and_setting() -> None:
    w = torch.randn(50, 40)
    reads = [_read(PCM(time=t, compensation=c), w, seed=3) for t in (1, 3600, 3.15e7)
             for c in (None, "global")]  # fmt: skip
    for r in reads[1:]:
        assert torch.equal(r.programmed, reads[0].programmed)
        assert torch.equal(r.nu, reads[0].nu)
    # later reads drift further
    year, hour = reads[4], reads[2]
    assert float(year.read.sum()) < float(hour.read.sum())


def test_device_models_are_variations_seeded_paired_and_restored(mlp) -> None:
    before = state(mlp)
    pcm = PCM(time=3600, compensation="global", faults=StuckAt(low=0.01))
    with pcm.applied(mlp, seed=5) as draw:
        moved = mlp[0].weight.detach().clone()
    assert_same_state(mlp, before)
    assert not torch.equal(moved, before["0.weight"])
    # the Draw holds read - clean; sample gives the same chip without touching the model
    assert torch.equal(draw["0.weight"], moved - before["0.weight"])
    assert torch.equal(pcm.sample(mlp, seed=5)["0.weight"], moved - before["0.weight"])
    # the stream of the device key: the same chip for another model with that weight
    gen = stream(5, "0.weight", torch.device("cpu"), "chip")
    assert torch.equal(pcm.read_weights(before["0.weight"], gen), moved)
    twin = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4))
    twin.load_state_dict(mlp.state_dict())
    assert torch.equal(pcm.sample(twin, seed=5)["0.weight"], draw["0.weight"])
    # training noise comes from another stream
    assert not torch.equal(pcm.sample(mlp, seed=5, domain="train")["0.weight"], draw["0.weight"])
    # the weights the device holds by default: Linear / Conv weights, no biases
    assert [t.name for t in pcm.targets(mlp)] == ["0.weight", "2.weight"]
    with (
        pytest.raises(RuntimeError, match="nested"),
        pcm.applied(mlp, seed=0),
        Variation(0.1).applied(mlp, seed=0),
    ):
        pass
    assert_same_state(mlp, before)


def test_rram_interpolates_its_fits_in_log_time_and_refuses_beyond_them() -> None:
    g = torch.tensor([10.0, 20.0, 40.0])
    rram = RRAM()
    one_day = rram.programming_sigma(g, 86400.0)
    x = g / 40.0
    expected = 0.701 + 22.086 * x - 50.773 * x**2 + 47.095 * x**3 - 16.458 * x**4
    assert torch.allclose(one_day, expected, rtol=1e-6)
    mid = rram.programming_sigma(g, math.sqrt(86400.0 * 172800.0))
    assert torch.allclose(mid, (one_day + rram.programming_sigma(g, 172800.0)) / 2, rtol=1e-6)
    with pytest.raises(ValueError, match="the RRAM fits end at 172800 s"):
        _read(RRAM(time=3.15e7), torch.randn(4, 4))


def test_custom_device_from_measurements_estimates_sigma_per_level() -> None:
    gen = torch.Generator().manual_seed(0)
    target = torch.tensor([5.0, 15.0, 25.0]).repeat_interleave(20000)
    sig = torch.tensor([0.2, 0.5, 0.9]).repeat_interleave(20000)
    achieved = target + sig * torch.randn(target.shape, generator=gen)
    dev = CustomDevice.from_measurements(target, achieved)
    assert [p[0] for p in dev.sigma] == [5.0, 15.0, 25.0]
    for (_, s), true in zip(dev.sigma, (0.2, 0.5, 0.9), strict=True):
        assert s == pytest.approx(true, rel=0.03)
    # interpolated linearly between the points, constant beyond them
    got = dev.programming_sigma(torch.tensor([0.0, 10.0, 30.0]), 20.0)
    assert got[0] == pytest.approx(dev.sigma[0][1])
    assert got[1] == pytest.approx((dev.sigma[0][1] + dev.sigma[1][1]) / 2)
    assert got[2] == pytest.approx(dev.sigma[2][1])


def test_dynamic_reads_share_one_programmed_chip_and_restore(mlp) -> None:
    from dataclasses import replace

    before = state(mlp)
    x = torch.randn(32, 8, generator=torch.Generator().manual_seed(0))
    dev = PCM(read_noise=False, time=3600, compensation="global", faults=StuckAt(low=0.02))
    with dev.applied(mlp, seed=4):
        static = mlp(x)
    # no read noise: every dynamic read is the static chip, bit for bit
    with replace(dev, mode="dynamic").applied(mlp, seed=4) as draw:
        first, second = mlp(x), mlp(x)
    assert torch.equal(first, static) and torch.equal(second, static)
    assert draw.reads == 4 and draw.mode == "dynamic"  # two device layers, two passes
    assert_same_state(mlp, before)
    # the clean weights change inside the block (a training step): the chip is
    # programmed again for them
    ideal = StuckAt(mode="dynamic")
    with ideal.applied(mlp, seed=0):
        with torch.no_grad():
            mlp[0].weight.mul_(2.0)
        doubled = mlp(x)
        with torch.no_grad():
            mlp[0].weight.div_(2.0)
    torch.testing.assert_close(doubled, nn.functional.linear(
        torch.relu(nn.functional.linear(x, 2 * before["0.weight"], before["0.bias"])),
        before["2.weight"], before["2.bias"]), rtol=0, atol=1e-5)  # fmt: skip


def test_dynamic_read_noise_is_fresh_per_read_with_its_std() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(300, 200)
    w = layer.weight.detach().clone()
    reads: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: reads.append(m.weight.detach().clone()))
    dev = PCM(**QUIET, noise_scale=0.0, read_std=0.05, mode="dynamic")
    try:
        with dev.applied(layer, seed=1):
            for _ in range(3):
                layer(torch.zeros(1, 300))
    finally:
        hook.remove()
    assert torch.equal(layer.weight, w)
    # g_min = 0: a weight sits on one device, read as w (1 + 0.05 z) with z ~ N(0, 1)
    rel = torch.stack([(r - w) / w for r in reads]).double()
    n = rel[0].numel()
    for k in range(3):  # sample std within 5 standard errors (1 / sqrt(2 n) relative)
        assert abs(float(rel[k].std()) / 0.05 - 1) < 5 / (2 * n) ** 0.5
    corr = torch.corrcoef(rel.flatten(1))
    off = corr[~torch.eye(3, dtype=torch.bool)]
    assert float(off.abs().max()) < 5 / n**0.5  # independent reads
    # a static read has the same noise once
    static = PCM(**QUIET, noise_scale=0.0, read_std=0.05).sample(layer, seed=1)["weight"]
    assert abs(float((static / w).std()) / 0.05 - 1) < 5 / (2 * n) ** 0.5


def test_dynamic_reads_continue_their_stream_when_the_weights_change() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(40, 30)
    reads: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: reads.append(m.weight.detach().clone()))
    dev = PCM(**QUIET, noise_scale=0.0, read_std=0.05, mode="dynamic")
    x = torch.zeros(1, 40)
    try:
        with dev.applied(layer, seed=2):
            layer(x)
            layer(x)
            with torch.no_grad():
                layer.weight.add_(0.0)  # a new version, the same values
            layer(x)
            layer(x)
            layer.weight.data = layer.weight.data * 2  # no new version: a new storage
            layer(x)
            layer.weight.data.mul_(0.5)  # neither a new version nor a new storage
            layer(x)
    finally:
        hook.remove()
    assert len({tuple(r.flatten().tolist()) for r in reads[:4]}) == 4  # no read repeats
    # the chip was programmed again for the doubled weights: reads around 2 w
    torch.testing.assert_close(reads[4], 2 * reads[3], rtol=0.5, atol=0.0)
    ratio = (reads[4] / reads[0]).median()
    assert abs(float(ratio) - 2.0) < 0.05
    assert abs(float((reads[5] / reads[0]).median()) - 1.0) < 0.05
    # with programming noise, the chip programmed again keeps its devices' draws
    dev = PCM(**QUIET, mode="dynamic")
    seen: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: seen.append(m.weight.detach().clone()))
    w = layer.weight.detach().clone()
    with dev.applied(layer, seed=5):
        layer(x)
        with torch.no_grad():
            layer.weight.add_(0.0)
        layer(x)
    hook.remove()
    assert torch.equal(seen[0], seen[1])  # the same values: the same programmed chip
    assert torch.equal(layer.weight, w)


def test_percentile_mapping_matches_torch_quantile() -> None:
    from snnvar.hardware.conductance import mapping_scale

    gen = torch.Generator().manual_seed(0)
    for n in (1, 2, 7, 1000):
        w = torch.randn(n, generator=gen, dtype=torch.float64)
        for q in (1.0, 50.0, 99.0, 99.9):
            assert mapping_scale(w, q) == float(torch.quantile(w.abs(), q / 100)), (n, q)


def test_pcm_accumulated_read_noise_follows_the_published_one_over_f_fit() -> None:
    g = torch.full((200_000,), 12.5)
    w = g / 25.0  # one layer, w_max = 1: G+ = 12.5 µS on every device
    w[0] = 1.0
    dev = PCM(drift=False, noise_scale=0.0, time=3600.0)
    r = _read(dev, w, seed=4)
    rel = (r.read[0, 1:] / 12.5 - 1).double()
    q_s = min(0.0088 / 0.5**0.65, 0.2)
    expected = q_s * math.sqrt(math.log((3600.0 + 250e-9) / (2 * 250e-9)))
    n = rel.numel()
    assert abs(float(rel.std()) / expected - 1) < 5 / (2 * n) ** 0.5
    assert abs(float(rel.mean())) < 5 * expected / n**0.5
    # a dynamic PCM keeps that accumulated noise as the chip's state: without read_std
    # every read is the static chip (aihwkit: one drifted chip per inference time)
    layer = nn.Linear(4, 3)
    with PCM(time=3600.0).applied(layer, seed=1):
        static = layer.weight.detach().clone()
    seen: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: seen.append(m.weight.detach().clone()))
    with PCM(time=3600.0, mode="dynamic").applied(layer, seed=1):
        layer(torch.zeros(1, 4))
        layer(torch.zeros(1, 4))
    hook.remove()
    assert torch.equal(seen[0], static) and torch.equal(seen[1], static)


def test_rram_compensation_references_the_chip_right_after_programming() -> None:
    w = torch.randn(300, 200, generator=torch.Generator().manual_seed(0))
    late = _read(RRAM(time=172800.0, compensation="global"), w, seed=1)
    early = _read(RRAM(time=1.0), w, seed=1)
    assert torch.equal(late.programmed, early.programmed)  # the reference: at t0
    assert not torch.equal(late.read, early.read)  # relaxation widened the error by t
    assert late.alpha is not None and float(late.alpha) != 1.0
    ref = early.weights.abs().mean() / (late.weights / late.alpha).abs().mean()
    torch.testing.assert_close(late.alpha, ref.to(late.alpha.dtype))


def test_dynamic_device_gradients_pass_straight_through_the_read() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(6, 5)
    x = torch.randn(7, 6)
    seen: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: seen.append(m.weight.detach().clone()))
    with PCM(read_std=0.1, time=3600.0, mode="dynamic").applied(layer, seed=3):
        (layer(x) ** 2).sum().backward()
    hook.remove()
    w_read = seen[0]
    assert not torch.equal(w_read, layer.weight.detach())
    # d/dW sum((W_r x + b)^2) = 2 (W_r x + b)^T x, taken at the read weights
    expected = 2 * (x @ w_read.T + layer.bias.detach()).T @ x
    torch.testing.assert_close(layer.weight.grad, expected, rtol=1e-5, atol=1e-5)


def test_a_nan_sigma_is_refused() -> None:
    with pytest.raises(ValueError, match="negative or NaN"):
        _read(CustomDevice(sigma=lambda g: g * float("nan")), torch.randn(4, 4))


def test_evaluate_refuses_an_unreadable_time_before_any_pass(mlp) -> None:
    calls = []
    hook = mlp.register_forward_hook(lambda *a: calls.append(1))
    x, y = torch.randn(20, 8), torch.randint(0, 4, (20,))
    with pytest.raises(ValueError, match="RRAM"):
        snnvar.evaluate(mlp, (x, y), {"pcm": PCM(), "rram": RRAM()}, times=(1, "1y"),
                        draws=2, encoder="none")  # fmt: skip
    hook.remove()
    assert calls == []


def test_dynamic_device_reads_per_time_step_and_trains_straight_through() -> None:
    from snnvar import nn as snn

    torch.manual_seed(0)
    net = snn.SpikingSequential(nn.Flatten(), nn.Linear(12, 16), snn.TimeLoop(snn.LIF(0.9)),
                                nn.Linear(16, 3), snn.Readout("mean_membrane"))  # fmt: skip
    x = torch.rand(6, 5, 12, generator=torch.Generator().manual_seed(0))
    before = state(net)
    step = RRAM(read_std=0.1, mode="dynamic")
    with step.applied(net, seed=0) as draw:
        out = net(x)
        out.sum().backward()
    assert draw.reads == 6 * 2  # two device layers, six steps
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in net.parameters())
    assert_same_state(net, before)
    with RRAM(read_std=0.1, mode="dynamic", redraw="pass").applied(net, seed=0) as draw:
        net(x)
    assert draw.reads == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PCM(time=-1.0), "must be finite and >= 0"),
        (lambda: StuckAt(low=1.5), r"low must lie in \[0, 1\]"),
        (lambda: StuckAt(low=0.6, high=0.6), "low \\+ high must be <= 1"),
        (lambda: StuckAt(at="cell"), "unknown at 'cell'"),
        (lambda: PCM(compensation="local"), "unknown compensation 'local'"),
        (lambda: PCM(g_max=0.0), "g_max must be > 0"),
        (lambda: PCM(g_min=30.0), "g_min must be below g_max"),
        (lambda: PCM(percentile=0.0), r"percentile must lie in \(0, 100\]"),
        (lambda: CustomDevice(sigma=((0.0, -0.1),)), "must be finite and >= 0"),
        (lambda: CustomDevice(sigma=((5.0, 0.1), (1.0, 0.1))), "must increase"),
        (lambda: CustomDevice(), "at least one"),
        (lambda: device_from_dict({"kind": "flash"}), "unknown device kind 'flash'"),
        (lambda: device_from_dict({"kind": "pcm", "gmax": 5}), r"unknown pcm device setting"),
        (lambda: parse_time("1 week"), "cannot read the time"),
        (lambda: StuckAt(faults=StuckAt()), "leave its faults None"),
        (lambda: PCM(mode="sometimes"), "unknown mode 'sometimes'"),
        (lambda: PCM(redraw="never"), "unknown redraw 'never'"),
        (lambda: PCM(read_std=-0.1), "read_std must be >= 0"),
        (lambda: PCM(faults=StuckAt(mode="dynamic")), "takes only low, high and at"),
        (lambda: PCM(faults=StuckAt(low=0.1, g_max=5.0)), "got g_max=5.0"),
    ],
)
def test_bad_device_settings_are_refused(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_a_negative_callable_sigma_is_refused_when_read() -> None:
    dev = CustomDevice(sigma=lambda g: 0.1 - g)
    with pytest.raises(ValueError, match="σ\\(g\\) is negative"):
        _read(dev, torch.randn(4, 4))


def test_to_dict_round_trips_every_kind() -> None:
    for dev in (
        PCM(compensation="column", faults=StuckAt(low=0.01, at="weight"), time=3600.0),
        PCM(drift_nu=(0.06, 0.01), prog_coeffs=(0.5, 1.0)),
        RRAM(g_max=30.0),
        CustomDevice(sigma=((0.0, 0.2), (25.0, 0.8))),
        StuckAt(low=0.005, high=0.01),
        PCM(modules=("Linear",), exclude=("*.2.*",)),
        RRAM(read_std=0.02, mode="dynamic", redraw="pass"),
    ):
        assert device_from_dict(dev.to_dict()) == dev, dev
    with pytest.raises(ValueError, match="callable"):
        CustomDevice(sigma=lambda g: g * 0 + 0.1).to_dict()
    assert parse_time("1h") == 3600 and parse_time("1d") == 86400 and parse_time(3) == 3.0
    assert parse_time("1y") == pytest.approx(3.15576e7)


def test_evaluate_reads_one_programmed_chip_at_every_time(mlp) -> None:
    torch.manual_seed(1)
    x = torch.randn(200, 8)
    y = mlp(x).argmax(-1)
    noiseless = PCM(noise_scale=0.0, read_noise=False, drift_nu=(0.05, 0.0))
    report = snnvar.evaluate(
        {"net": mlp}, (x, y), {"raw": noiseless, "gdc": replace_comp(noiseless),
                               "pcm": PCM(compensation="global")},
        times=(1, "1h", "1d", "1y"), draws=3,
    )  # fmt: skip
    assert report.times == [1.0, 3600.0, 86400.0, 3.15576e7]
    assert all(r.sigma is None and r.mode == "static" for r in report.results)
    # noiseless drift with exact compensation: every time reads the clean network
    for t in report.times:
        assert report.row("net", variation="gdc", time=t).accuracy_mean == 1.0
    # the chips by hand: chip k, read at 1 day
    accs = []
    with torch.no_grad():
        for k in range(3):
            with PCM(compensation="global", time=86400.0).applied(mlp, seed=chip_seed(0, k)):
                accs.append(int((mlp(x).argmax(-1) == y).sum()) / len(y))
    assert report.row("net", variation="pcm", time=86400).accuracies == accs
    table = report.markdown()
    assert "| net | pcm | " in table and "t = 1 y" in table
    back = Report.from_dict(report.to_dict())
    assert back.row("net", variation="pcm", time=86400).accuracies == accs
    with pytest.raises(ValueError, match="times= reads device models"):
        snnvar.evaluate(mlp, (x, y), Variation(0.1), times=(1,))
    with pytest.raises(ValueError, match="sigmas= sweeps a Variation"):
        snnvar.evaluate(mlp, (x, y), PCM(), sigmas=(0.0, 0.1))
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        snnvar.evaluate(mlp, (x, y), PCM(), times=(-5,))
    # a mixed sweep: the variation over σ, the device at its times
    mixed = snnvar.evaluate(mlp, (x, y), [Variation(0.0), PCM()], sigmas=(0.0, 0.1),
                            times=(1, 3600), draws=2)  # fmt: skip
    assert mixed.sigmas == [0.0, 0.1] and mixed.times == [1.0, 3600.0]


def replace_comp(dev):
    from dataclasses import replace

    return replace(dev, compensation="global")


def test_worst_case_is_below_random_chips_and_restores_the_weights(mlp) -> None:
    from snnvar.evaluation import worst_case, worst_case_attack

    torch.manual_seed(2)
    x = torch.randn(300, 8)
    y = mlp(x).argmax(-1)
    before = state(mlp)
    assert worst_case(mlp, (x, y), zeta=0.0) == 1.0
    found = worst_case_attack(mlp, (x, y), zeta=0.3, steps=10, seed=1)
    assert_same_state(mlp, before)
    assert found.clean_accuracy == 1.0 and found.accuracy < 0.9
    for name, d in found.delta.items():  # inside the relative ball
        assert torch.all(d.abs() <= 0.3 * before[name].abs() + 1e-7)
    # random chips of the same relative size (|Δ| ~ ζ|w| uniform) hurt far less
    rand = snnvar.evaluate(mlp, (x, y), Variation(0.3, relative_to="weight",
                                                  distribution="uniform"), draws=5)  # fmt: skip
    assert found.accuracy < rand.results[0].accuracy_min
    # an SNN, through its surrogate gradients
    snn = snnvar.models.create("fc2", spiking=True, in_shape=(8,), num_classes=4, hidden=(32,))
    snn_state = state(snn)
    hit = worst_case_attack(snn, (x, y), zeta=0.5, steps=3, encoder="direct", time_steps=4)
    assert_same_state(snn, snn_state)
    assert hit.accuracy < hit.clean_accuracy
    with pytest.raises(ValueError, match="zeta must be a number >= 0"):
        worst_case(mlp, (x, y), zeta=-0.1)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        worst_case(mlp, (x, y), steps=0)


def test_training_methods_draw_from_a_device_model(mlp) -> None:
    from snnvar.training import HASGD

    torch.manual_seed(3)
    x = torch.randn(64, 8)
    y = torch.randint(0, 4, (64,))
    opt = HASGD(mlp, torch.optim.SGD(mlp.parameters(), lr=0.1), PCM(), samples=2)
    assert opt.hyperparameters()["variation"]["kind"] == "pcm"

    def closure():
        loss = nn.functional.cross_entropy(mlp(x), y)
        loss.backward()
        return loss

    before = state(mlp)
    opt.step(closure)
    assert not torch.equal(mlp[0].weight, before["0.weight"])  # a step, from clean weights


def test_cli_trains_with_a_device_and_evaluates_at_times(tmp_path, capsys) -> None:
    (tmp_path / "dev.toml").write_text(
        '[device]\nkind = "pcm"\ncompensation = "global"\n[device.faults]\nlow = 0.01\n'
    )
    (tmp_path / "cmp.toml").write_text(
        '[[device]]\nname = "pcm"\nkind = "pcm"\n'
        '[[device]]\nname = "custom"\nkind = "custom"\nmeasurements = "m.csv"\n'
    )
    (tmp_path / "m.csv").write_text(
        "target,achieved\n" + "".join(f"{t},{t + d}\n" for t in (5, 20) for d in (-0.3, 0.3, 0.1))
    )
    found = devices_from_toml(tmp_path / "cmp.toml")
    assert list(found) == ["pcm", "custom"] and found["pcm"] == PCM()
    assert found["custom"].sigma[0][0] == 5.0  # σ(g) per target level of the file
    tiny = ("--model", "fc2", "--model-option", "hidden=(16,)", "--epochs", "1", "--ann",
            "--no-progress")  # fmt: skip
    code, out, err = cli(capsys, "train", *tiny, "--method", "noise_injection", "--device",
                         tmp_path / "dev.toml", "--out", tmp_path / "run")  # fmt: skip
    assert code == 0, err
    assert "device pcm, compensation=global" in out
    spec = snnvar.runs.load_run(tmp_path / "run")[1]
    assert spec.device == PCM(compensation="global", faults=StuckAt(low=0.01))
    code, out, err = cli(
        capsys,
        "evaluate",
        tmp_path / "run",
        "--device",
        tmp_path / "cmp.toml",
        "--times",
        "1,1h,1y",
        "--draws",
        "2",
        "--worst-case",
        "0.05,0.1",
        "--attack-steps",
        "2",
        "--no-progress",
        "--out",
        tmp_path / "ev",
    )
    assert code == 0, err
    report = Report.load(tmp_path / "ev")
    assert report.labels == ["pcm", "custom"] and report.times == [1.0, 3600.0, 3.15576e7]
    assert [w["zeta"] for w in report.worst_case] == [0.05, 0.1]
    assert "worst case, ζ = 10 %" in out and "t = 1 y" in out
    assert (tmp_path / "ev" / "accuracy_time.png").is_file()
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--times", "1h", "--out",
                       tmp_path / "ev2")  # fmt: skip
    assert code == 2 and "--times reads device models" in err
    (tmp_path / "bad.toml").write_text('[device]\nkind = "pcm"\ncompensation = "local"\n')
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--device", tmp_path / "bad.toml",
                       "--out", tmp_path / "ev3")  # fmt: skip
    assert code == 2 and "unknown compensation 'local'" in err
    assert not (tmp_path / "ev3").exists()
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--device", tmp_path / "dev.toml",
                       "--times", "1,-2", "--out", tmp_path / "ev4")  # fmt: skip
    assert code == 2 and "must be finite and >= 0" in err
    (tmp_path / "rram.toml").write_text('[device]\nkind = "rram"\n')
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--device", tmp_path / "rram.toml",
                       "--times", "1,1y", "--out", tmp_path / "ev5")  # fmt: skip
    assert code == 2 and "RRAM" in err and not (tmp_path / "ev5").exists()
    (tmp_path / "rram1y.toml").write_text('[device]\nkind = "rram"\ntime = "1y"\n')
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--device",
                       tmp_path / "rram1y.toml", "--out", tmp_path / "ev7")  # fmt: skip
    assert code == 2 and "RRAM" in err and not (tmp_path / "ev7").exists()
    (tmp_path / "two.toml").write_text(
        '[[device]]\nname = "a"\nkind = "pcm"\n'
        '[[device]]\nname = "b"\nkind = "pcm"\nexclude = ["*.0.*"]\n'
    )
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--device", tmp_path / "two.toml",
                       "--worst-case", "0.1", "--out", tmp_path / "ev6")  # fmt: skip
    assert code == 2 and "select different weights" in err and not (tmp_path / "ev6").exists()


def test_a_typo_in_the_first_measurement_is_an_error_not_a_header(tmp_path) -> None:
    """Issue 34: ``1e,1.1`` on the first line was dropped as if it were a header."""
    (tmp_path / "dev.toml").write_text('[device]\nkind = "custom"\nmeasurements = "m.csv"\n')
    rows = "".join(f"{t},{t + d}\n" for t in (5, 20) for d in (-0.3, 0.3, 0.1))
    (tmp_path / "m.csv").write_text("1e,1.1\n" + rows)
    with pytest.raises(ValueError, match=r"m\.csv:1: not two numbers: '1e,1\.1'"):
        devices_from_toml(tmp_path / "dev.toml")
    (tmp_path / "m.csv").write_text("target,achieved\nunit,unit\n" + rows)  # one header only
    with pytest.raises(ValueError, match=r"m\.csv:2: not two numbers: 'unit,unit'"):
        devices_from_toml(tmp_path / "dev.toml")
    (tmp_path / "m.csv").write_text("target,achieved\n" + rows)
    (device,) = devices_from_toml(tmp_path / "dev.toml").values()
    assert device.sigma[0][0] == 5.0


def test_a_devices_switches_take_booleans_only() -> None:
    """Probed beyond issue 34's list: drift = "false" in a [device] table switched
    drift on (a non-empty string is truthy) while the label said drift=false."""
    with pytest.raises(ValueError, match=r"drift must be true or false, got 'false'"):
        snnvar.hardware.devices_from_tables({"kind": "pcm", "drift": "false"})
    with pytest.raises(ValueError, match=r"read_noise must be true or false, got 1"):
        PCM(read_noise=1)
    assert PCM(drift=False).drift is False
