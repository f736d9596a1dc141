"""Chips paired by device weight, rows told apart by their variation, merges that
keep what they merge, and evaluation side effects (the model's mode)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snnvar
from snnvar import Variation
from snnvar.conversion import convert
from snnvar.evaluation import Report, chip_seed, loss_landscape, prepare, run_pass


def _ann(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))


def _data(n: int = 48):
    g = torch.Generator().manual_seed(7)
    return torch.rand(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


class Renamed(nn.Module):
    """The same device weights as ``_ann`` under other names, mapped back by weight_map."""

    def __init__(self, ann: nn.Sequential) -> None:
        super().__init__()
        self.first = ann[0]
        self.second = ann[2]
        self.weight_map = {"first.weight": "0.weight", "second.weight": "2.weight"}

    def forward(self, x):
        return self.second(torch.relu(self.first(x)))


def test_a_converted_snn_draws_its_anns_noise() -> None:
    ann = _ann()
    x, _ = _data()
    snn = convert(ann, x, time_steps=4, encoder="direct")
    for seed in (0, 5, chip_seed(3, 2)):
        a = Variation(0.1).sample(ann, seed=seed)
        b = Variation(0.1).sample(snn, seed=seed)
        assert sorted(snn.weight_map[n] for n in b) == sorted(a)
        for name in b:
            assert torch.equal(b[name], a[snn.weight_map[name]]), name


def test_models_with_other_parameter_names_share_chips_through_weight_map() -> None:
    ann = _ann()
    twin = Renamed(_ann())
    a = Variation(0.1).sample(ann, seed=11)
    b = Variation(0.1).sample(twin, seed=11)
    assert torch.equal(b["first.weight"], a["0.weight"])
    assert torch.equal(b["second.weight"], a["2.weight"])
    x, y = _data()
    report = snnvar.evaluate({"ann": ann, "renamed": twin}, (x, y), Variation(0.2), draws=4)
    assert report.row("ann", 0.2).accuracies == report.row("renamed", 0.2).accuracies
    assert report.config["paired"] is True
    assert report.models["ann"]["device_weights"] == {"0.weight": [16, 6], "2.weight": [3, 16]}


def test_two_tensors_mapped_to_one_device_weight_are_refused() -> None:
    twin = Renamed(_ann())
    twin.weight_map = {"first.weight": "w", "second.weight": "w"}
    with pytest.raises(
        ValueError, match=r"'first\.weight' and 'second\.weight' stand for the same"
    ):
        Variation(0.1).sample(twin, seed=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_a_wrapped_model_draws_the_same_chip() -> None:
    from torch.optim.swa_utils import AveragedModel

    ann = _ann()
    a = Variation(0.1).sample(ann, seed=3)
    for wrapped, prefix in (
        (AveragedModel(ann), "module."),
        (nn.DataParallel(AveragedModel(ann)), "module.module."),
        (torch.compile(ann), "_orig_mod."),
    ):
        b = Variation(0.1).sample(wrapped, seed=3)
        assert torch.equal(b[prefix + "0.weight"], a["0.weight"]), prefix


def test_a_weight_map_names_device_weights_below_its_owner() -> None:
    """Two converted SNNs of one ANN inside one model are two sets of devices: keyed
    below their owners, they draw different noise (not refused, not shared)."""

    class Pair(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = Renamed(_ann()), Renamed(_ann())

    pair = Pair()
    keys = [t.key for t in Variation(0.1).targets(pair)]
    assert keys == ["a.0.weight", "a.2.weight", "b.0.weight", "b.2.weight"]
    draw = Variation(0.1).sample(pair, seed=0)
    assert not torch.equal(draw["a.first.weight"], draw["b.first.weight"])


def test_ann_and_snn_reports_merge_only_when_paired() -> None:
    ann = _ann()
    x, y = _data()
    snn = convert(ann, x, time_steps=4, encoder="direct")
    common = {"sigmas": (0.0, 0.1), "draws": 3, "seed": 2, "spikes": False}
    a = snnvar.evaluate({"ann": ann}, (x, y), Variation(0.1), **common)
    b = snnvar.evaluate({"snn": snn}, (x, y), Variation(0.1), time_steps=6, **common)
    merged = a.merge(b)
    assert merged.models["ann"]["encoder"] == "none"
    assert merged.models["snn"]["encoder"] == "direct"
    assert merged.models["snn"]["time_steps"] == 6
    assert merged.config["encoder"] is None and merged.config["time_steps"] is None
    assert merged.config["paired"] is True
    # another architecture: other device weights, not the same chips
    torch.manual_seed(1)
    other = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    c = snnvar.evaluate({"other": other}, (x, y), Variation(0.1), **common)
    with pytest.raises(ValueError, match=r"'other' and 'ann' hold different device weights"):
        a.merge(c)
    d = snnvar.evaluate({"snn2": snn}, (x, y), Variation(0.1), **{**common, "seed": 3})
    with pytest.raises(ValueError, match="seeds 2 and 3"):
        a.merge(d)
    with pytest.raises(ValueError, match=r"method names \['ann'\] in both"):
        a.merge(a)
    rated = snnvar.evaluate({"rated": snn}, (x, y), Variation(0.1), encoder="rate", **common)
    other_batches = snnvar.evaluate(
        {"snn3": snn}, (x, y), Variation(0.1), encoder="rate", batch_size=16, **common
    )
    with pytest.raises(ValueError, match=r"batch sizes 256 and 16 with rate-encoded"):
        rated.merge(other_batches)
    old = Report.from_dict({**a.to_dict(), "config": {"draws": 3}})
    with pytest.raises(ValueError, match="does not record its chips"):
        old.merge(b)


def test_evaluate_takes_encoder_and_time_steps_per_model() -> None:
    ann = _ann()
    x, y = _data()
    snn = convert(ann, x, time_steps=4, encoder="direct")
    report = snnvar.evaluate(
        {"ann": ann, "snn": snn}, (x, y), Variation(0.1), draws=2,
        encoder={"ann": "none", "snn": "direct"}, time_steps={"snn": 5}, spikes=False,
    )  # fmt: skip
    assert report.models["ann"]["encoder"] == "none"
    assert (report.models["snn"]["encoder"], report.models["snn"]["time_steps"]) == ("direct", 5)
    # the SNN's row equals its evaluation alone at T = 5: its own inputs were used
    alone = snnvar.evaluate(snn, (x, y), Variation(0.1), draws=2, time_steps=5, spikes=False)
    assert report.row("snn", 0.1).accuracies == alone.results[0].accuracies
    with pytest.raises(ValueError, match=r"encoder given for unknown models \['cnn'\]"):
        snnvar.evaluate({"ann": ann}, (x, y), encoder={"cnn": "none"})


# -- rows told apart by their variation -----------------------------------------------


def test_rows_of_two_distributions_at_one_sigma_do_not_collide() -> None:
    ann = _ann()
    x, y = _data()
    levels = [Variation(0.2), Variation(0.2, distribution="uniform")]
    report = snnvar.evaluate({"sgd": ann}, (x, y), levels, draws=3, spikes=False)
    assert report.labels == ["gaussian, range, static", "uniform, range, static"]
    g = report.row("sgd", 0.2, variation="gaussian, range, static")
    u = report.row("sgd", 0.2, variation="uniform, range, static")
    assert g is not u and g.accuracies != u.accuracies
    with pytest.raises(KeyError, match="choose one with variation="):
        report.row("sgd", 0.2)
    md = report.markdown(sigmas=(0.2,))
    assert "| sgd | gaussian, range, static |" in md and "| sgd | uniform, range, static |" in md
    csv_lines = report.csv().splitlines()
    assert "variation_label" in csv_lines[0] and len(csv_lines) == 3


def test_named_variations_and_label_collisions() -> None:
    from snnvar.variation import Empirical

    ann = _ann()
    x, y = _data()
    measured = Empirical.from_samples(torch.tensor([-2.0, -1.0, 0.5, 0.5, 1.0, 1.0]))
    named = {"gaussian": Variation(0.1), "ftj": Variation(0.1, distribution=measured)}
    report = snnvar.evaluate(ann, (x, y), named, draws=2, spikes=False)
    assert report.labels == ["gaussian", "ftj"]
    other = Empirical.from_samples(torch.tensor([-1.0, 0.0, 1.0, 2.0]))
    a, b = Variation(0.1, distribution=measured), Variation(0.1, distribution=other)
    assert a.label() != b.label()  # two measured data sets are told apart
    with pytest.raises(ValueError, match="given twice"):
        snnvar.evaluate(ann, (x, y), [Variation(0.1), Variation(0.1)], draws=1)


def test_label_names_every_setting_that_differs() -> None:
    v = Variation(0.1, distribution="weibull", relative_to="max", mode="dynamic", redraw="pass",
                  mean=0.05, clip=True, levels=16, include_bias=True)  # fmt: skip
    assert v.label() == "weibull, max, dynamic/pass, mean=0.05, clip, levels=16, bias"
    assert Variation(0.3).label() == Variation(0.0).label() == "gaussian, range, static"


# -- the evaluation leaves the model as it found it ------------------------------------


def test_run_pass_restores_the_callers_mode() -> None:
    ann = _ann()
    x, y = _data()
    batches = prepare((x, y), ann)
    ann.train()
    run_pass(ann, batches)
    assert ann.training
    ann.eval()
    run_pass(ann, batches)
    assert not ann.training


# -- the loss landscape ---------------------------------------------------------------


def test_landscape_at_sigma_zero_takes_the_device_constraints() -> None:
    ann = _ann()
    x, y = _data()
    clean = run_pass(ann, prepare((x, y), ann), spikes=False).loss
    rows = loss_landscape(ann, (x, y), Variation(0.0, levels=3), sigmas=(0.0,), directions=1)
    with Variation(0.0, levels=3).applied(ann, seed=0):
        quantised = run_pass(ann, prepare((x, y), ann), spikes=False).loss
    assert all(r["loss"] == pytest.approx(quantised, rel=1e-6) for r in rows)
    assert quantised != pytest.approx(clean, rel=1e-3)


def test_landscape_gamma_flips_the_mean_shift() -> None:
    ann = _ann()
    x, y = _data()
    shift = Variation(0.0, mean=0.05)
    rows = loss_landscape(ann, (x, y), shift, sigmas=(0.0,), gammas=(1.0, -1.0), directions=1)
    by_gamma = {r["gamma"]: r["loss"] for r in rows}
    for gamma in (1.0, -1.0):
        with Variation(0.0, mean=0.05 * gamma).applied(ann, seed=0):
            expected = run_pass(ann, prepare((x, y), ann), spikes=False).loss
        assert by_gamma[gamma] == pytest.approx(expected, rel=1e-6)
    assert by_gamma[1.0] != pytest.approx(by_gamma[-1.0], rel=1e-3)
