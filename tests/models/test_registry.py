"""Users register their own models; create builds them like the zoo's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnvar import models
from snnvar.models import ACT, Network, NeuronConfig, build
from snnvar.models.registry import MODELS


@pytest.fixture(autouse=True)
def _restore():
    with MODELS.temporary():
        yield


def test_a_registered_model_is_created_with_checked_options() -> None:
    @models.register("tiny_mlp")
    def tiny_mlp(
        spiking: bool,
        neuron: NeuronConfig,
        in_shape: tuple[int, ...] = (1, 8, 8),
        hidden: int = 16,
        num_classes: int = 10,
    ) -> Network:
        plan = [nn.Flatten(), nn.Linear(64, hidden), ACT, nn.Linear(hidden, num_classes)]
        return build("tiny_mlp", plan, in_shape, num_classes, spiking, neuron)

    assert "tiny_mlp" in models.available()
    snn = models.create("tiny_mlp", hidden=8, beta=0.9)
    assert snn(torch.rand(3, 2, 1, 8, 8)).shape == (2, 10)
    ann = models.create("tiny_mlp", spiking=False)
    assert ann(torch.rand(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"model option hidden='8' of 'tiny_mlp' must be"):
        models.create("tiny_mlp", hidden="8")
    with pytest.raises(ValueError, match=r"unknown options \['width'\] for model 'tiny_mlp'"):
        models.create("tiny_mlp", width=2.0)
    with pytest.raises(ValueError, match="model 'tiny_mlp' is already registered"):
        models.register("tiny_mlp", tiny_mlp)
    with pytest.raises(ValueError, match="model 'fc2' is already registered"):
        models.register("fc2", tiny_mlp)


def test_an_unknown_model_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'resnet'; available: \['fc2', 'fc4'"):
        models.create("resnet")
