"""Users register their own data sets; get loads them like the built-in ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from snnvar import datasets
from snnvar.datasets.registry import DATASETS


@pytest.fixture(autouse=True)
def _restore():
    with DATASETS.temporary():
        yield


def test_a_registered_data_set_is_loaded_with_checked_options(tmp_path) -> None:
    seen = {}

    @datasets.register("noise")
    def noise(root: Path, train: bool, samples: int = 4) -> Dataset:
        seen.update(root=root, train=train)
        g = torch.Generator().manual_seed(0 if train else 1)
        return TensorDataset(torch.rand(samples, 1, 8, 8, generator=g), torch.zeros(samples))

    assert datasets.available()[-1] == "noise"
    test = datasets.get("noise", root=tmp_path, train=False, samples=3)
    assert len(test) == 3 and seen == {"root": tmp_path, "train": False}
    with pytest.raises(ValueError, match=r"unknown options \['size'\] for 'noise'; allowed: "):
        datasets.get("noise", size=2)
    with pytest.raises(ValueError, match="data set 'digits' is already registered"):
        datasets.register("digits", noise)


def test_a_loader_with_keyword_options_takes_any() -> None:
    datasets.register("any", lambda root, train, **options: TensorDataset(torch.zeros(1)))
    assert len(datasets.get("any", whatever=1)) == 1


def test_an_unknown_data_set_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown data set 'imagenet'; available: \['mnist'"):
        datasets.get("imagenet")
