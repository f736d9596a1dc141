"""Shared fixtures: small models built from plain torch layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class TinyCNN(nn.Module):
    """Conv -> ReLU -> pool -> Linear, with biases: a plain ANN."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


@pytest.fixture
def cnn() -> TinyCNN:
    torch.manual_seed(0)
    return TinyCNN()


@pytest.fixture
def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A deep copy of all parameters and buffers."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(model: nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert after.keys() == before.keys()
    for k, v in before.items():
        assert torch.equal(after[k], v), f"{k} was not restored bit for bit"


@pytest.fixture(autouse=True)
def _registries():
    """What a test or a documentation example registers (a model, a data set, a
    method) is gone after it: the registries hold the built-in entries again."""
    from snnvar.datasets.registry import DATASETS
    from snnvar.models.registry import MODELS
    from snnvar.training.registry import METHODS

    with MODELS.temporary(), DATASETS.temporary(), METHODS.temporary():
        yield
