"""Monte-Carlo evaluation: exact σ = 0, paired chips, statistics, spikes and SynOps."""

from __future__ import annotations

import copy
import statistics

import pytest
import torch
from torch import nn
from torch.utils.data import Subset

import snnvar
from snnvar import Variation, datasets, models
from snnvar.evaluation import Report, chip_seed, count_synops, fanout, prepare, run_pass
from snnvar.hardware import PCM, RRAM
from snnvar.training import TrainConfig, Trainer
from snnvar.variation.seeding import derive_seed


@pytest.fixture(scope="module")
def data() -> Subset:
    return Subset(datasets.get("digits", train=False), range(120))


@pytest.fixture(scope="module")
def snn() -> nn.Module:
    """fc2 trained for 3 epochs on the digits (about 85 % accuracy)."""
    torch.manual_seed(0)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(48,))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    cfg = TrainConfig(epochs=3, batch_size=64, time_steps=6, seed=0, progress=False)
    Trainer(model, opt, cfg).fit(datasets.get("digits"))
    return model


def test_sigma_zero_is_exactly_the_plain_accuracy(snn, data) -> None:
    report = snnvar.evaluate(snn, data, Variation(0.0), draws=4, seed=3, time_steps=6)
    row = report.results[0]
    # by hand: the same per-batch encoding generators, no engine at all
    correct = 0
    loader = torch.utils.data.DataLoader(data, batch_size=256)
    with torch.no_grad():
        for i, (x, y) in enumerate(loader):
            gen = torch.Generator().manual_seed(derive_seed(3, 1 << 20, i))
            correct += int((snn(datasets.rate(x, 6, gen)).argmax(-1) == y).sum())
    assert row.accuracies == [correct / 120] * 4
    assert row.accuracy_std == 0.0 and row.draws == 4
    # the shortcut is truthful: through the engine at σ = 0 the weights are the same
    batches = prepare(data, snn, time_steps=6, seed=3)
    for mode in ("static", "dynamic"):
        with Variation(0.0, mode=mode).applied(snn, seed=1):
            assert run_pass(snn, batches).accuracy == correct / 120


def test_models_evaluated_together_see_identical_chips(snn, data) -> None:
    twin = copy.deepcopy(snn)
    v = Variation(0.15)
    pair = snnvar.evaluate({"a": snn, "b": twin}, data, v, draws=5, seed=7, time_steps=6)
    alone = snnvar.evaluate({"b": twin}, data, v, draws=5, seed=7, time_steps=6)
    a, b = pair.row("a", 0.15), pair.row("b", 0.15)
    assert a.accuracies == b.accuracies == alone.row("b", 0.15).accuracies
    assert a.seeds == [chip_seed(7, k) for k in range(5)]
    assert len(set(a.accuracies)) > 1  # the chips differ from each other


def test_chip_k_is_the_draw_of_its_seed(snn, data) -> None:
    seen = []
    first = next(m for m in snn.modules() if isinstance(m, nn.Linear))
    h = first.register_forward_hook(lambda m, i, o: seen.append(m.weight.detach().clone()))
    try:
        snnvar.evaluate(snn, data, Variation(0.1), draws=2, seed=5, time_steps=2, spikes=False)
    finally:
        h.remove()
    name = next(n for n, m in snn.named_modules() if m is first) + ".weight"
    assert torch.equal(seen[0], first.weight.detach())  # the clean pass (the yield's reference)
    for k in range(2):
        expected = first.weight + Variation(0.1).sample(snn, seed=chip_seed(5, k))[name]
        assert torch.equal(seen[1 + k], expected.detach())  # one batch per chip


def _chip_accuracies_by_hand(model, data, v: Variation, seed: int, draws: int, steps: int):
    """Per-chip accuracy without run_pass: the chip's seed applied by hand, inputs
    rate-encoded with the same per-batch generators (one batch of 120 samples)."""
    x, y = next(iter(torch.utils.data.DataLoader(data, batch_size=256)))
    gen = torch.Generator().manual_seed(derive_seed(seed, 1 << 20, 0))
    spikes = datasets.rate(x, steps, gen)
    model.eval()
    out = []
    with torch.no_grad():
        for k in range(draws):
            with v.applied(model, seed=chip_seed(seed, k)):
                out.append(int((model(spikes).argmax(-1) == y).sum()) / len(y))
    return out


def test_statistics_and_sweep_rows(snn, data) -> None:
    report = snnvar.evaluate(
        snn,
        data,
        [Variation(0.1), Variation(0.1, mode="dynamic")],
        sigmas=(0.0, 0.05, 0.2),
        draws=4,
        time_steps=4,
    )
    assert [(r.mode, r.sigma) for r in report.results] == [
        ("static", 0.0), ("static", 0.05), ("static", 0.2),
        ("dynamic", 0.0), ("dynamic", 0.05), ("dynamic", 0.2),
    ]  # fmt: skip
    for r in report.results:
        v = Variation(r.sigma, mode=r.mode)
        hand = _chip_accuracies_by_hand(snn, data, v, seed=0, draws=4, steps=4)
        # every chip's accuracy exactly as recomputed by hand (a fraction of 120 samples)
        assert r.accuracies == hand, (r.mode, r.sigma)
        # the statistics are those of the hand-computed chips (sample std over chips)
        assert r.accuracy_mean == pytest.approx(statistics.fmean(hand), abs=1e-12)
        assert r.accuracy_std == pytest.approx(statistics.stdev(hand), abs=1e-12)
        assert (r.accuracy_min, r.accuracy_max) == (min(hand), max(hand))
    # Golden values of this model on these chips (measured: clean 0.833; static σ = 20 %:
    # mean 0.329, chips 0.29-0.41; dynamic, redrawn per step: mean 0.571). They move if the
    # noise scale (6 std(w)), the chip seeds or the encoding change.
    mean = {(r.mode, r.sigma): r.accuracy_mean for r in report.results}
    clean, static, dynamic = mean["static", 0.0], mean["static", 0.2], mean["dynamic", 0.2]
    assert 0.75 < clean < 0.92
    assert 0.35 < clean - static < 0.65
    assert dynamic > static + 0.1  # read noise averages over the 4 steps, a chip's does not


def test_batchnorm_runs_in_eval_mode_on_every_chip(data) -> None:
    """A model left in train mode: chips see the running statistics, which stay as they are."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10)
    )
    with torch.no_grad():  # running statistics far from those of the data
        for _ in range(3):
            model(torch.randn(64, 1, 8, 8) * 3 + 2)
    model.train()
    bn = model[2]
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    assert int(before["num_batches_tracked"]) == 3
    reference = copy.deepcopy(model).eval()
    v = Variation(0.1)
    report = snnvar.evaluate({"bn": model}, data, v, sigmas=(0.0, 0.1), draws=3, seed=2)
    for k, t in bn.state_dict().items():
        assert torch.equal(t, before[k]), f"{k} changed during the evaluation"
    x = torch.stack([data[i][0] for i in range(len(data))])
    y = torch.tensor([int(data[i][1]) for i in range(len(data))])
    with torch.no_grad():
        clean = int((reference(x).argmax(-1) == y).sum()) / len(y)
        chips = []
        for k in range(3):
            with v.applied(reference, seed=chip_seed(2, k)):
                chips.append(int((reference(x).argmax(-1) == y).sum()) / len(y))
        train_mode = int((copy.deepcopy(reference).train()(x).argmax(-1) == y).sum()) / len(y)
    assert [r.sigma for r in report.results] == [0.0, 0.1]
    assert report.results[0].accuracies == [clean] * 3  # σ = 0: the one clean pass
    assert report.results[1].accuracies == chips
    # the check can tell the modes apart: batch statistics give another accuracy
    assert train_mode != clean


def test_spike_counts_and_synops_per_sample(snn, data) -> None:
    report = snnvar.evaluate(snn, data, draws=1, time_steps=5, encoder="rate")
    row = report.results[0]
    # by hand on the same input spikes
    batches = prepare(data, snn, time_steps=5)
    hidden = next(m for m in snn.modules() if isinstance(m, snnvar.nn.TimeLoop))
    fcs = [m for m in snn.modules() if isinstance(m, nn.Linear)]
    spikes, inputs_on = [], []
    h1 = hidden.register_forward_hook(lambda m, i, o: spikes.append(o.sum()))
    h2 = fcs[0].register_forward_pre_hook(lambda m, i: inputs_on.append((i[0] != 0).sum()))
    with torch.no_grad():
        for x, _ in batches:
            snn(x)
    h1.remove()
    h2.remove()
    per_sample = float(sum(spikes)) / 120
    assert row.spikes_per_sample == pytest.approx(per_sample)
    assert row.synops["layers.1"] == pytest.approx(float(sum(inputs_on)) * 48 / 120)
    assert row.synops["layers.3"] == pytest.approx(per_sample * 10)
    assert 0 < row.rates["layers.2"] == pytest.approx(per_sample / (48 * 5))


def test_fanout_is_exact_for_convolutions() -> None:
    conv = nn.Conv2d(2, 3, 3, padding=1)
    f = fanout(conv, (2, 4, 4))
    assert f[0, 0, 0] == 3 * 4  # a corner reaches 2x2 output positions per channel
    assert f[1, 1, 1] == 3 * 9  # an interior pixel reaches 3x3
    strided = fanout(nn.Conv2d(1, 1, 2, stride=2), (1, 4, 4))
    assert torch.equal(strided, torch.ones(1, 4, 4))  # no overlap: every input one output
    x = (torch.rand(5, 2, 4, 4) > 0.5).float()
    with count_synops(conv) as rec:
        conv(x)
    assert rec.layers[""] == pytest.approx(float((x.sum(0) * f).sum()))
    with pytest.raises(TypeError, match="no fan-out for ReLU"):
        fanout(nn.ReLU(), (3,))


def test_ann_rows_have_no_spikes(data) -> None:
    torch.manual_seed(0)
    ann = models.create("fc2", spiking=False, in_shape=(1, 8, 8), hidden=(32,))
    report = snnvar.evaluate(ann, data, Variation(0.1), draws=2)
    row = report.results[0]
    assert report.config["encoder"] == "none"
    assert row.spikes == {} and row.spikes_per_sample is None


def test_tensor_pairs_and_loaders_are_accepted(snn) -> None:
    x, y = torch.rand(30, 1, 8, 8), torch.randint(0, 10, (30,))
    a = snnvar.evaluate(snn, (x, y), draws=1, time_steps=3, batch_size=8)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    b = snnvar.evaluate(snn, loader, draws=1, time_steps=3, batch_size=8)
    assert a.results[0].accuracies == b.results[0].accuracies
    assert a.config["samples"] == 30


def test_bad_input(snn, data) -> None:
    with pytest.raises(ValueError, match=r"draws must be an integer in \[1, 100,000\], got 0"):
        snnvar.evaluate(snn, data, draws=0)
    with pytest.raises(ValueError, match=r"sigma must lie in \[0, 1\] for an evaluation, got 1.5"):
        snnvar.evaluate(snn, data, Variation(0.1), sigmas=(1.5,))
    with pytest.raises(ValueError, match=r"unknown encoder 'poisson'"):
        snnvar.evaluate(snn, data, encoder="poisson")
    with pytest.raises(ValueError, match="empty"):
        snnvar.evaluate(snn, (torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long)))
    with pytest.raises(TypeError, match="data must be a Dataset"):
        snnvar.evaluate(snn, [1, 2, 3])
    with pytest.raises(TypeError, match="model 'x' is a str"):
        snnvar.evaluate({"x": "not a model"}, data)
    with pytest.raises(ValueError, match="inputs and targets differ in length: 3 vs 2"):
        snnvar.evaluate(snn, (torch.zeros(3, 1, 8, 8), torch.zeros(2, dtype=torch.long)))


def test_evaluate_refuses_an_unreadable_time_before_any_pass(mlp) -> None:
    calls = []
    hook = mlp.register_forward_hook(lambda *a: calls.append(1))
    x, y = torch.randn(20, 8), torch.randint(0, 4, (20,))
    with pytest.raises(ValueError, match="RRAM"):
        snnvar.evaluate(mlp, (x, y), {"pcm": PCM(), "rram": RRAM()}, times=(1, "1y"),
                        draws=2, encoder="none")  # fmt: skip
    hook.remove()
    assert calls == []


def test_evaluate_reads_one_programmed_chip_at_every_time(mlp) -> None:
    """Device conditions: one programmed chip per draw, read at every time."""
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
    """``dev`` with global drift compensation."""
    from dataclasses import replace

    return replace(dev, compensation="global")
