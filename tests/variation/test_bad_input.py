"""Bad input raises a ValueError that names the value and what is allowed."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from snnvar import Empirical, Variation, Weibull, preset


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma": -0.1}, "sigma must be >= 0, got -0.1"),
        ({"sigma": math.nan}, "sigma must be a finite number, got nan"),
        ({"sigma": math.inf}, "sigma must be a finite number"),
        ({"sigma": "0.1"}, "sigma must be a finite number, got '0.1'"),
        ({"sigma": 0.1, "distribution": "cauchy"}, "unknown distribution 'cauchy'; allowed: "),
        ({"sigma": 0.1, "distribution": "empirical"}, "Empirical.from_samples"),
        ({"sigma": 0.1, "relative_to": "mean"}, "unknown relative_to 'mean'; allowed: "),
        ({"sigma": 0.1, "mode": "per_step"}, "unknown mode 'per_step'; allowed: "),
        ({"sigma": 0.1, "levels": 1}, "levels must be an integer >= 2 or None, got 1"),
        ({"sigma": 0.1, "levels": 2.5}, "levels must be an integer >= 2"),
        ({"sigma": 0.1, "window": (1.0, -1.0)}, "window must have low < high"),
        ({"sigma": 0.1, "window": (0.0,)}, "window must be \\(low, high\\)"),
        ({"sigma": 0.1, "window_stds": 0}, "window_stds must be > 0"),
        ({"sigma": 0.1, "gamma": math.nan}, "gamma must be a finite number"),
        ({"sigma": 0.1, "mean": math.inf}, "mean must be a finite number"),
        ({"sigma": 0.1, "clip": "yes"}, "clip must be True or False"),
        ({"sigma": 0.1, "include": (3,)}, "include must hold glob patterns"),
        ({"sigma": 0.1, "modules": ("Linear", 3)}, None),  # checked when selecting
    ],
)
def test_bad_variation_fields(kwargs: dict, message: str | None) -> None:
    if message is None:
        with pytest.raises(ValueError, match="modules entries must be"):
            Variation(**kwargs).targets(nn.Linear(2, 2))
        return
    with pytest.raises(ValueError, match=message):
        Variation(**kwargs)


def test_variation_is_frozen_and_hashable() -> None:
    v = Variation(0.1, include=["a*"])  # lists become tuples
    assert v.include == ("a*",)
    assert hash(v) == hash(Variation(0.1, include=("a*",)))
    with pytest.raises(AttributeError):
        v.sigma = 0.2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Empirical.from_samples([0.3] * 10), "zero variance"),
        (lambda: Empirical.from_samples([1.0]), "at least 2 values"),
        (lambda: Empirical.from_samples([0.0, math.nan]), "NaN"),
        (lambda: Empirical.from_histogram([1, 2], [0, 1]), "one more bin edge than counts"),
        (lambda: Empirical.from_histogram([1, -2], [0, 1, 2]), "counts must be >= 0"),
        (lambda: Empirical.from_histogram([0, 0], [0, 1, 2]), "positive total"),
        (lambda: Empirical.from_histogram([1, 1], [0, 2, 1]), "strictly increasing"),
        (lambda: Empirical(), "needs data"),
        (lambda: Weibull(shape=0), "Weibull shape must be a finite number > 0"),
    ],
)
def test_bad_distributions(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "pass seed=<int> or generator="),
        ({"seed": -1}, "seed must be an integer in \\[0, 2\\*\\*63 - 1\\], got -1"),
        ({"seed": 1.5}, "got 1.5"),
        ({"seed": True}, "got True"),
        ({"seed": 1, "generator": torch.Generator()}, "not both"),
    ],
)
def test_bad_seeds(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Variation(0.1).sample(nn.Linear(2, 2), **kwargs)
    with (
        pytest.raises(ValueError, match=message),
        Variation(0.1).applied(nn.Linear(2, 2), **kwargs),
    ):
        pass


def test_not_a_module() -> None:
    with pytest.raises(TypeError, match=r"expected a torch\.nn\.Module, got Tensor"):
        Variation(0.1).sample(torch.ones(3), seed=0)  # type: ignore[arg-type]


def test_unknown_preset_lists_the_available() -> None:
    with pytest.raises(
        ValueError, match="unknown preset 'hsv'; available: \\['buchel_mismatch_20'"
    ):
        preset("hsv")
