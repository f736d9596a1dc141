"""Model-ready batches: data split into (inputs, targets) batches and encoded for a
model, with one seed scheme for the input encoding of training and evaluation.

The spikes of batch ``b`` are drawn from :func:`encoding_generator`, seeded
:func:`encoding_seed(seed, b) <encoding_seed>` when evaluating (every pass over
the data, every chip and every model with the same encoder and T sees the same
spikes) and ``encoding_seed(seed, b, epoch)`` in training epoch ``epoch`` (fresh
spikes each epoch, and each batch's spikes independent of the batches before
it, so a resumed run encodes exactly as the uninterrupted one).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..nn.recording import is_spiking
from ..variation.seeding import derive_seed
from .encoders import ENCODERS, encode

__all__ = [
    "ENCODING_KEY",
    "Batches",
    "default_encoder",
    "encoding_generator",
    "encoding_seed",
    "prepare",
    "prepare_models",
]

ENCODING_KEY = 1 << 20
"""First key of every input-encoding seed (chip seeds use keys 0, 1, 2, ...)."""


def encoding_seed(seed: int, batch: int, epoch: int | None = None) -> int:
    """The seed of the input encoding of batch ``batch`` in a run seeded ``seed``:
    ``derive_seed(seed, ENCODING_KEY, batch)`` when evaluating, and
    ``derive_seed(seed, ENCODING_KEY, batch, epoch)`` in training epoch ``epoch``."""
    if epoch is None:
        return derive_seed(seed, ENCODING_KEY, batch)
    return derive_seed(seed, ENCODING_KEY, batch, epoch)


def encoding_generator(seed: int, batch: int, epoch: int | None = None) -> torch.Generator:
    """A CPU generator seeded :func:`encoding_seed(seed, batch, epoch) <encoding_seed>`."""
    return torch.Generator().manual_seed(encoding_seed(seed, batch, epoch))


@dataclass
class Batches:
    """Model-ready batches: raw data, encoder, and a cache of encoded inputs."""

    raw: list[tuple[torch.Tensor, torch.Tensor]]
    """(inputs, targets) per batch, as the data yields them."""
    encoder: str
    """One of :data:`snnvar.datasets.ENCODERS`."""
    time_steps: int
    """T of the spike encoders."""
    seed: int
    """Root of the per-batch encoding generators (:func:`encoding_generator`)."""
    cache: list[torch.Tensor] | None = None
    """Encoded inputs, when they fit the cache budget."""
    samples: int = field(init=False)
    """Samples over all batches."""

    def __post_init__(self) -> None:
        self.samples = sum(len(y) for _, y in self.raw)
        if self.samples == 0:
            raise ValueError("the evaluation data set is empty")

    def encoded(self, i: int) -> torch.Tensor:
        """The inputs of batch ``i``, encoded (the same tensor values on every call)."""
        if self.cache is not None:
            return self.cache[i]
        gen = encoding_generator(self.seed, i)
        return encode(self.raw[i][0], self.encoder, self.time_steps, gen)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for i, (_, y) in enumerate(self.raw):
            yield self.encoded(i), y

    def __len__(self) -> int:
        return len(self.raw)


def _as_batches(data: Any, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    if isinstance(data, tuple) and len(data) == 2 and all(torch.is_tensor(t) for t in data):
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"inputs and targets differ in length: {len(x)} vs {len(y)}")
        return list(zip(x.split(batch_size), y.split(batch_size), strict=True))
    if isinstance(data, DataLoader):
        loader = data
    elif isinstance(data, Dataset):
        loader = DataLoader(data, batch_size=batch_size, shuffle=False)
    else:
        raise TypeError(
            f"data must be a Dataset, a DataLoader or an (inputs, targets) tuple of tensors, "
            f"got {type(data).__name__}"
        )
    out = []
    for batch in loader:
        if not isinstance(batch, list | tuple) or len(batch) < 2:
            raise ValueError("each batch must be (inputs, targets)")
        out.append((batch[0], batch[1]))
    return out


def default_encoder(model: nn.Module, sample: torch.Tensor) -> str:
    """The model's own ``encoder`` (a converted SNN's), else ``frames`` for event data
    into an SNN, ``rate`` for static data into an SNN, ``none`` for an ANN."""
    own = getattr(model, "encoder", None)
    if isinstance(own, str) and own in ENCODERS:
        return own
    if not is_spiking(model):
        return "none"
    in_shape = getattr(model, "in_shape", None)
    if in_shape is not None and sample.dim() == len(in_shape) + 2:
        return "frames"
    return "rate"


def _encoding(
    model: nn.Module, sample: torch.Tensor, encoder: str | None, time_steps: int | None
) -> tuple[str, int]:
    """The (encoder, T) a model is evaluated with: as given, else the model's own."""
    if time_steps is None:
        own = getattr(model, "time_steps", None)
        time_steps = own if isinstance(own, int) and not isinstance(own, bool) else 25
    if isinstance(time_steps, bool) or not isinstance(time_steps, int) or time_steps < 1:
        raise ValueError(f"time_steps must be an integer >= 1, got {time_steps!r}")
    if encoder is None:
        encoder = default_encoder(model, sample)
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; allowed: {list(ENCODERS)}")
    return encoder, time_steps


def _encoded(
    raw: list[tuple[torch.Tensor, torch.Tensor]],
    encoder: str,
    time_steps: int,
    seed: int,
    cache_mb: float,
) -> Batches:
    batches = Batches(raw, encoder, time_steps, seed)
    steps = time_steps if encoder in ("rate", "direct", "latency") else 1
    nbytes = sum(x.numel() * 4 * steps for x, _ in raw)
    if nbytes <= cache_mb * 2**20:
        batches.cache = [batches.encoded(i) for i in range(len(raw))]
    return batches


def _raw(data: Any, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``data`` as a non-empty list of (inputs, targets) batches."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    raw = _as_batches(data, batch_size)
    if not raw:
        raise ValueError("the evaluation data set is empty")
    return raw


def _per_model(what: str, value: Any, named: Mapping[str, nn.Module]) -> dict[str, Any]:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(named))
        if unknown:
            raise ValueError(f"{what} given for unknown models {unknown}; models: {list(named)}")
        return {k: value.get(k) for k in named}
    return dict.fromkeys(named, value)


def prepare(
    data: Any,
    model: nn.Module,
    encoder: str | None = None,
    time_steps: int | None = None,
    batch_size: int = 256,
    seed: int = 0,
    cache_mb: float = 512.0,
) -> Batches:
    """Batches of ``data`` encoded for ``model`` (``encoder=None``: :func:`default_encoder`;
    ``time_steps=None``: the model's ``time_steps`` attribute, else 25).

    ``data``: a Dataset, a DataLoader or an ``(inputs, targets)`` pair of tensors.
    Encoded inputs are kept in memory up to ``cache_mb`` (the same values either way)."""
    raw = _raw(data, batch_size)
    encoder, time_steps = _encoding(model, raw[0][0], encoder, time_steps)
    return _encoded(raw, encoder, time_steps, seed, cache_mb)


def prepare_models(
    data: Any,
    named: Mapping[str, nn.Module],
    encoder: str | Mapping[str, str] | None = None,
    time_steps: int | Mapping[str, int] | None = None,
    batch_size: int = 256,
    seed: int = 0,
    cache_mb: float = 512.0,
) -> dict[str, Batches]:
    """:func:`prepare` for every model of ``named`` (``encoder`` and ``time_steps``: one
    for all or a dict per name); models with the same encoder and T share one
    :class:`Batches`, so the data is batched and encoded once per encoding."""
    raw = _raw(data, batch_size)
    encoders = _per_model("encoder", encoder, named)
    steps = _per_model("time_steps", time_steps, named)
    shared: dict[tuple[str, int], Batches] = {}
    out = {}
    for k, m in named.items():
        enc, t = _encoding(m, raw[0][0], encoders[k], steps[k])
        if (enc, t) not in shared:
            shared[(enc, t)] = _encoded(raw, enc, t, seed, cache_mb)
        out[k] = shared[(enc, t)]
    return out
