"""What gets perturbed: defaults, biases, types, patterns, neuron parameters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnvar import Variation


class Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1d = nn.Conv1d(2, 3, 3)
        self.conv3d = nn.Conv3d(1, 2, 2)
        self.deconv = nn.ConvTranspose2d(2, 2, 2)
        self.norm = nn.BatchNorm1d(3)  # weight has dim 1: never a default target
        self.head = nn.Linear(3, 2)
        self.embed = nn.Embedding(4, 3)  # dim 2, but not a crossbar layer by default
        self.threshold = nn.Parameter(torch.ones(3))
        self.register_buffer("leak", torch.full((3,), 0.9))
        self.register_buffer("steps", torch.zeros(3, dtype=torch.long))


def names(v: Variation, model: nn.Module) -> list[str]:
    return [t.name for t in v.targets(model)]


def test_default_selects_crossbar_weights() -> None:
    assert names(Variation(0.1), Mixed()) == [
        "conv1d.weight",
        "conv3d.weight",
        "deconv.weight",
        "head.weight",
    ]


def test_biases_are_opt_in() -> None:
    selected = names(Variation(0.1, include_bias=True), Mixed())
    assert "head.bias" in selected and "conv1d.bias" in selected
    assert "norm.bias" not in selected


def test_module_types_and_class_names() -> None:
    assert names(Variation(0.1, modules=(nn.Linear,)), Mixed()) == ["head.weight"]
    assert names(Variation(0.1, modules=("Embedding", "Linear")), Mixed()) == [
        "head.weight",
        "embed.weight",
    ]


def test_include_and_exclude_patterns() -> None:
    assert names(Variation(0.1, include=("conv*",)), Mixed()) == ["conv1d.weight", "conv3d.weight"]
    assert names(Variation(0.1, exclude=("conv*", "deconv.*")), Mixed()) == ["head.weight"]


def test_named_neuron_parameters_and_buffers() -> None:
    model = Mixed()
    selected = names(Variation(0.1, parameters=("threshold", "leak")), model)
    assert selected[-2:] == ["threshold", "leak"]
    before = model.leak.clone()
    with Variation(0.1, relative_to="absolute", parameters=("leak",)).applied(model, seed=0):
        assert not torch.equal(model.leak, before)
    assert torch.equal(model.leak, before)


def test_tied_weights_are_perturbed_once() -> None:
    a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    b.weight = a.weight
    model = nn.Sequential(a, b)
    assert names(Variation(0.1), model) == ["0.weight"]
    w = a.weight.detach().clone()
    with Variation(0.1).applied(model, seed=0) as draw:
        assert torch.equal(model[1].weight, w + draw["0.weight"])
    assert torch.equal(model[1].weight, w)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"include": ("nothing*",)}, "include pattern 'nothing\\*' matches none"),
        ({"exclude": ("nothing*",)}, "exclude pattern 'nothing\\*' matches none"),
        ({"parameters": ("*.tau",)}, "parameters pattern '\\*.tau' matches no"),
        ({"parameters": ("steps",)}, "matches no parameter or floating-point buffer"),
        ({"exclude": ("*",)}, "selects nothing"),
        ({"modules": (nn.GRU,)}, "selects nothing"),
    ],
)
def test_selection_that_matches_nothing_is_an_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Variation(0.1, **kwargs).targets(Mixed())


def test_model_without_weights_is_an_error() -> None:
    with pytest.raises(ValueError, match="selects nothing in Sequential"):
        Variation(0.1).sample(nn.Sequential(nn.ReLU()), seed=0)
