"""Model-ready batches (snnvar.datasets.batches): batching, the encoder a model gets,
caching, sharing across models, and the one input-encoding seed scheme."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import snnvar.evaluation
from snnvar import datasets, models
from snnvar.datasets import (
    ENCODING_KEY,
    Batches,
    default_encoder,
    encoding_generator,
    encoding_seed,
    prepare,
    prepare_models,
)
from snnvar.variation.seeding import derive_seed


def _data(n: int = 70):
    g = torch.Generator().manual_seed(3)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def _snn() -> nn.Module:
    torch.manual_seed(0)
    return models.create("fc2", in_shape=(1, 8, 8), hidden=(12,))


def test_evaluation_reexports_the_datasets_names() -> None:
    assert snnvar.evaluation.Batches is Batches
    assert snnvar.evaluation.prepare is prepare


def test_one_seed_scheme_for_evaluation_and_training() -> None:
    assert ENCODING_KEY == 1 << 20  # the key evaluation has always used: reports keep values
    assert encoding_seed(5, 2) == derive_seed(5, 1 << 20, 2)
    assert encoding_seed(5, 2, 0) == derive_seed(5, 1 << 20, 2, 0)
    seeds = {encoding_seed(5, b, e) for b in range(4) for e in (None, 0, 1, 2)}
    assert len(seeds) == 16  # every (batch, epoch or evaluation) its own stream
    a = torch.rand(3, generator=encoding_generator(5, 2, 1))
    b = torch.rand(3, generator=torch.Generator().manual_seed(encoding_seed(5, 2, 1)))
    assert torch.equal(a, b)


@pytest.mark.parametrize("cache_mb", [0.0, 512.0])
def test_batches_encode_each_batch_from_its_own_generator(cache_mb: float) -> None:
    x, y = _data()
    batches = prepare((x, y), _snn(), time_steps=4, batch_size=32, seed=9, cache_mb=cache_mb)
    assert (batches.encoder, batches.time_steps, len(batches), batches.samples) == (
        "rate", 4, 3, 70
    )  # fmt: skip
    assert (batches.cache is None) == (cache_mb == 0.0)
    for i, (inputs, targets) in enumerate(batches):
        expected = datasets.rate(x[32 * i : 32 * (i + 1)], 4, encoding_generator(9, i))
        assert torch.equal(inputs, expected)
        assert torch.equal(targets, y[32 * i : 32 * (i + 1)])
        assert torch.equal(batches.encoded(i), inputs)  # the same spikes on every pass


def test_data_forms_give_the_same_batches() -> None:
    x, y = _data()
    model = _snn()
    ref = prepare((x, y), model, time_steps=2, batch_size=32)
    for data in (TensorDataset(x, y), DataLoader(TensorDataset(x, y), batch_size=32)):
        other = prepare(data, model, time_steps=2, batch_size=32)
        assert all(torch.equal(a, b) for (a, _), (b, _) in zip(ref, other, strict=True))


def test_default_encoder() -> None:
    ann = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    x = torch.rand(2, 1, 8, 8)
    assert default_encoder(ann, x) == "none"
    assert default_encoder(_snn(), x) == "rate"
    assert default_encoder(_snn(), torch.rand(2, 5, 1, 8, 8)) == "frames"  # [B, T, ...] events
    ann.encoder = "direct"  # a converted SNN names its own
    assert default_encoder(ann, x) == "direct"


def test_prepare_models_shares_batches_per_encoding() -> None:
    x, y = _data()
    ann = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    a, b = _snn(), _snn()
    out = prepare_models((x, y), {"a": a, "b": b, "ann": ann}, time_steps={"a": 3, "b": 3})
    assert out["a"] is out["b"] and out["ann"] is not out["a"]
    assert out["ann"].encoder == "none" and torch.equal(out["ann"].encoded(0), x)
    with pytest.raises(ValueError, match=r"time_steps given for unknown models \['c'\]"):
        prepare_models((x, y), {"a": a}, time_steps={"c": 3})


def test_bad_data() -> None:
    x, y = _data()
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        prepare((x, y), _snn(), batch_size=0)
    with pytest.raises(ValueError, match="differ in length"):
        prepare((x, y[:3]), _snn())
    with pytest.raises(ValueError, match="is empty"):
        prepare((x[:0], y[:0]), _snn())
    with pytest.raises(TypeError, match="must be a Dataset"):
        prepare([x, y], _snn())
    with pytest.raises(ValueError, match="unknown encoder"):
        prepare((x, y), _snn(), encoder="morse")
    with pytest.raises(ValueError, match="time_steps must be an integer >= 1"):
        prepare((x, y), _snn(), time_steps=0)
