"""The measurements of ``benchmarks/deep_fragility.py`` and ``nmnist_fragility.py``
(issue 35): the folded network is perturbed on the same chips as the network it came
from, BatchNorm's re-estimation works on a copy, and the gain measures |w·x|."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from snnvar import Variation, models
from snnvar.evaluation import chip_seed

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_folded_network_draws_the_chips_of_the_network_it_came_from() -> None:
    script = load("deep_fragility")
    torch.manual_seed(0)
    ann = models.create("vgg5", spiking=False, width=0.125, in_shape=(1, 16, 16),
                        batch_norm=False).eval()  # fmt: skip
    folded = script.fold(ann)  # nothing to fold: the same function, other parameter names
    x = torch.rand(6, 1, 16, 16)
    torch.testing.assert_close(folded(x), ann(x))
    for k in range(2):
        with torch.no_grad():
            with Variation(0.1).applied(ann, seed=chip_seed(0, k)):
                ours = ann(x)
            with Variation(0.1).applied(folded, seed=chip_seed(0, k)):
                theirs = folded(x)
        # the same ε per device weight: equal up to float32 rounding of the same products
        torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-5)
        if k == 0:
            first = theirs
    assert not torch.allclose(first, ours)  # chip 1 is not chip 0


def test_batchnorm_reestimation_leaves_the_model_alone() -> None:
    script = load("deep_fragility")
    torch.manual_seed(0)
    ann = models.create("vgg5", spiking=False, width=0.125, in_shape=(1, 16, 16)).eval()
    before = copy.deepcopy(ann.state_dict())
    accs = script.chip_accuracies(
        ann, 0.1, 2, 0, torch.rand(8, 1, 16, 16), torch.arange(8) % 10,
        calib=torch.rand(16, 1, 16, 16),
    )  # fmt: skip
    assert len(accs) == 2
    for key, value in ann.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_gain_of_a_random_layer_is_that_of_a_gaussian() -> None:
    """|w·x| / (std(w) ‖x‖) of random weights is |N(0, 1)|: mean sqrt(2/π) ≈ 0.80,
    whatever the bias (it is subtracted)."""
    script = load("nmnist_fragility")
    torch.manual_seed(0)
    layer = nn.Linear(400, 2000)
    nn.init.normal_(layer.weight)
    nn.init.constant_(layer.bias, 5.0)
    model = nn.Sequential(layer)
    gain = script.gains(model, torch.rand(3, 50, 400))["0"]
    assert abs(gain - (2 / torch.pi) ** 0.5) < 0.03
