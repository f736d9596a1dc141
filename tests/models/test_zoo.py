"""Every registered model x {ANN, snnvar, snntorch, norse}: shape, gradients, determinism,
the variation engine; snnvar vs snntorch on whole models; bad input."""

from __future__ import annotations

import copy
import sys

import pytest
import torch
from torch import nn

from snnvar import Variation, models
from snnvar.nn import TimeLoop, record_spikes
from tests.conftest import assert_same_state, state
from tests.tolerances import spike_ties

KINDS = ["ann", "snnvar", "snntorch", "norse"]
STEPS, BATCH = 3, 2


SMALL = {"resnet18": {"width": 0.125}, "resnet19": {"width": 0.125}}
"""Narrower versions of the largest residual networks (the same layers, fewer channels)."""
DEEP = ("resnet32", "resnet44", "resnet56", "resnet110")
"""ResNet-20's builder with more blocks per stage: checked by their layer and parameter
counts (test_cifar_resnets_have_he_et_al_s_depth_and_size), not run through every backend."""
ZOO = [name for name in models.available() if name not in DEEP]


def _make(name: str, kind: str, seed: int = 0, **kw) -> models.Network:
    torch.manual_seed(seed)
    kw = {**SMALL.get(name, {}), **kw}
    if kind == "ann":
        return models.create(name, spiking=False, **kw)
    return models.create(name, neuron=kind, **kw)


def _input(model: models.Network, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = ((STEPS,) if model.spiking else ()) + (BATCH, *model.in_shape)
    x = torch.rand(shape, generator=g)
    return (x < 0.5).float() if model.spiking else x


def _settle_batch_norm(model: nn.Module, x: torch.Tensor) -> None:
    """Running statistics = those of ``x``, as after training (fresh BN: mean 0, var 1)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.momentum = None  # cumulative average: one pass sets the statistics
    model.train()
    with torch.no_grad():
        model(x)
    for m in bns:
        m.momentum = 0.1
    model.eval()


def test_registry_lists_the_required_models() -> None:
    assert models.available() == [
        "fc2", "fc4", "lenet5", "resnet110", "resnet18", "resnet19", "resnet20", "resnet32",
        "resnet44", "resnet56", "spiking_cnn1", "spiking_cnn2", "vgg11", "vgg16", "vgg5",
    ]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ZOO)
def test_forward_backward(name: str, kind: str) -> None:
    model = _make(name, kind).train()
    x = _input(model)
    y = model(x)
    assert y.shape == (BATCH, 10)
    assert torch.isfinite(y).all()
    y.pow(2).sum().backward()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert params
    for n, p in params:
        assert p.grad is not None, f"{n} got no gradient"
        assert torch.isfinite(p.grad).all(), n
        assert p.grad.abs().sum() > 0, f"{n} got an all-zero gradient"
    assert all(
        isinstance(m, nn.ReLU) for m in model.modules() if isinstance(m, (nn.ReLU, TimeLoop))
    ) == (kind == "ann")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ZOO)
def test_eval_is_deterministic_and_variation_applies_and_restores(name: str, kind: str) -> None:
    model = _make(name, kind)
    x = _input(model)
    _settle_batch_norm(model, x)
    with torch.no_grad():
        clean = model(x)
        assert clean.abs().sum() > 0
        assert torch.equal(model(x), clean)
        before = state(model)
        v = Variation(sigma=0.1)
        targets = v.targets(model)
        synaptic = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        assert len(targets) == len(synaptic)
        draw = v.sample(model, seed=0)
        by_hand = copy.deepcopy(model)  # holds w + Δ of the chip, written by hand
        for n, p in by_hand.named_parameters():
            if n in draw:
                p.add_(draw[n])
        with v.applied(model, seed=0):
            noisy = model(x)
        assert torch.equal(noisy, by_hand(x))
        assert (noisy - clean).abs().max() > 1e-3 * clean.abs().max()
        assert_same_state(model, before)
        assert torch.equal(model(x), clean)


def test_same_layer_names_in_ann_and_every_backend() -> None:
    names = {}
    for kind in KINDS:
        m = _make("spiking_cnn1", kind)
        names[kind] = [n for n, mod in m.named_modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]
    assert names["ann"] == names["snnvar"] == names["snntorch"] == names["norse"]
    assert len(names["ann"]) == 6  # 16C5, concat(32C3, 8C1), 8C1, FC 288, FC 10


def test_transfer_copies_weights_and_refuses_other_architectures() -> None:
    ann, snn = _make("spiking_cnn2", "ann", seed=1), _make("spiking_cnn2", "snnvar", seed=2)
    copied = models.transfer(ann, snn)
    assert len(copied) == 8  # weight + bias of 2 convs and 2 linears
    for key in copied:
        assert torch.equal(snn.state_dict()[key], ann.state_dict()[key])
    with pytest.raises(ValueError, match=r"cannot transfer weights: layers.0.weight"):
        models.transfer(_make("fc2", "ann"), snn)


@pytest.mark.parametrize("name", ["fc2", "spiking_cnn1", "vgg5"])
def test_snnvar_model_equals_snntorch_model_with_copied_weights(name: str) -> None:
    ours = _make(name, "snnvar", seed=3)
    theirs = _make(name, "snntorch", seed=4)
    x = _input(ours, seed=5)
    _settle_batch_norm(ours, x)
    models.transfer(ours, theirs)  # BatchNorm running statistics included
    theirs.eval()

    def run(model: nn.Module) -> tuple[torch.Tensor, list[torch.Tensor]]:
        with record_spikes(model, keep=True) as rec:
            y = model(x)
        return y, [torch.cat(v.kept, 1) for v in rec.layers.values()]

    # snntorch's neuron operations are not snnvar's: spikes per layer agree but for a
    # threshold tie (units: samples), logits (|y| ~ 1) within float32 rounding elsewhere
    (ya, sa), (yb, sb) = run(ours), run(theirs)
    tied = spike_ties(dict(enumerate(sb)), dict(enumerate(sa)))
    assert sum(float(s.sum()) for s in sa) > 0
    torch.testing.assert_close(ya[~tied], yb[~tied], rtol=1e-5, atol=1e-5)
    ours.train(), theirs.train()
    torch.manual_seed(6)  # the same dropout masks for both
    ya, sa = run(ours)
    torch.manual_seed(6)
    yb, sb = run(theirs)
    tied = spike_ties(dict(enumerate(sb)), dict(enumerate(sa)))
    torch.testing.assert_close(ya[~tied], yb[~tied], rtol=1e-5, atol=1e-5)
    if tied.any():  # the gradients sum over the batch, the tied sample's included
        return
    ya.sum().backward()
    yb.sum().backward()
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=n)


def test_options() -> None:
    m = models.create(
        "vgg11", spiking=False, num_classes=100, batch_norm=False, pool="max", width=0.25
    )
    assert not any(isinstance(x, nn.BatchNorm2d) for x in m.modules())
    assert any(isinstance(x, nn.MaxPool2d) for x in m.modules())
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 100)
    assert m.layers[0].out_channels == 16
    fc = models.create("fc2", in_shape=(1, 8, 8), hidden=(32,), readout="spike_count")
    assert fc(torch.rand(4, 3, 1, 8, 8)).shape == (3, 10)
    assert fc(torch.rand(4, 3, 64)).shape == (3, 10)  # flattened input is accepted
    counts = fc(torch.ones(4, 3, 64))
    assert torch.equal(counts, counts.round()) and counts.max() <= 4  # spike counts
    lif = models.create("spiking_cnn2", beta=0.5, threshold=0.8, learn_threshold=True)
    cells = [m.cell for m in lif.modules() if isinstance(m, TimeLoop)]
    assert all(float(c.beta) == 0.5 and isinstance(c.threshold, nn.Parameter) for c in cells)
    nmnist = models.create("spiking_cnn2", in_shape=(2, 34, 34))
    assert nmnist(torch.rand(2, 1, 2, 34, 34)).shape == (1, 10)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: models.create("resnet8"), ValueError, r"unknown model 'resnet8'.*'vgg16'"),
        (lambda: models.create("fc2", neuron="brian"), ValueError, r"unknown neuron backend"),
        (
            lambda: models.create("fc2", depth=3),
            ValueError,
            r"unknown options \['depth'\].*architecture options.*neuron options",
        ),
        (lambda: models.create("vgg5", pool="sum"), ValueError, r"unknown pooling 'sum'"),
        (lambda: models.create("spiking_cnn2", in_shape=(1, 8, 8)), ValueError, "too small"),
        (lambda: models.create("fc2", readout="rate"), ValueError, r"unknown readout 'rate'"),
        (lambda: models.create("fc2", beta=2.0), ValueError, r"beta must lie in"),
    ],
)
def test_bad_arguments(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()


def test_wrong_input_rank_states_the_layout() -> None:
    snn = models.create("spiking_cnn2")
    with pytest.raises(
        ValueError, match=r"expects input \[T, B, 1, 28, 28\].*rate.*got \(4, 1, 28, 28\)"
    ):
        snn(torch.rand(4, 1, 28, 28))
    ann = models.create("spiking_cnn2", spiking=False)
    with pytest.raises(
        ValueError, match=r"expects input \[B, 1, 28, 28\], got \(2, 4, 1, 28, 28\)"
    ):
        ann(torch.rand(2, 4, 1, 28, 28))
    fc = models.create("fc2")
    with pytest.raises(ValueError, match=r"\[T, B, 1, 28, 28\]"):
        fc(torch.rand(4, 1, 28, 28))  # [B, C, H, W] is not [T, B, ...]


def test_norse_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "norse", None)
    monkeypatch.setitem(sys.modules, "norse.torch", None)
    with pytest.raises(ImportError, match=r"pip install 'snnvar\[norse\]'"):
        models.create("fc2", neuron="norse")
    assert models.create("fc2", spiking=False) is not None  # the ANN needs no neurons
