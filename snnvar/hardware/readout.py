"""The seeded streams of a chip's output noise (``Restrictions.output_noise``).

Every analog read of a tile adds Gaussian noise to its partial output before the
ADC (aihwkit's ``forward.out_noise``; Rasch et al., Nat. Commun. 2023): an SNN's
layer is read at every time step, so every step draws anew. The draws come from
the engine's streams (:func:`snnvar.variation.seeding.stream`): a noisy layer's
stream is keyed ``"<device key of its weight>#out"``, so models that share
chips (the same device keys) share their output noise too, and it lies in a
seed domain: ``"chip"`` for test chips (:func:`snnvar.evaluate` uses chip
``k``'s seed, the one its weights are drawn from), ``"train"`` for training
(each step of a method of :mod:`snnvar.training` its ``step_seed``). The
stream continues from read to read inside a block; outside any block a noisy
layer refuses to run, so no read is ever drawn from an unrecorded seed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from ..variation.seeding import check_domain, root_seed, stream
from ..variation.selection import device_keys
from .restrict import restricted_layers

__all__ = ["OUTPUT_STREAM", "noisy_layers", "output_reads"]

OUTPUT_STREAM = "#out"
"""Suffix of the device key of a layer's weight that keys its output-noise stream."""


def noisy_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The restricted layers of ``model`` that add output noise, by path."""
    return {name: m for name, m in restricted_layers(model).items() if m.restrictions.noisy}


@contextlib.contextmanager
def output_reads(
    model: nn.Module,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    domain: str = "chip",
) -> Iterator[int]:
    """Inside the block the noisy layers of ``model`` (``noisy_layers``) draw their
    output noise from the streams rooted at ``seed`` (or one draw of ``generator``) in
    ``domain``; yields the root seed. A model without a noisy layer is left alone.
    Nesting on the same layers is refused (the outer block's reads would be lost)."""
    check_domain(domain)
    root, device = root_seed(seed, generator)
    layers = noisy_layers(model)
    if not layers:
        yield root
        return
    busy = [name for name, m in layers.items() if m.output_stream is not None]
    if busy:
        raise RuntimeError(
            f"output noise is already being read on {busy}; nested output_reads are refused"
        )
    keys = device_keys(model, [f"{name}.weight" for name in layers])
    try:
        for m, key in zip(layers.values(), keys, strict=True):
            m.output_stream = stream(root, f"{key}{OUTPUT_STREAM}", device, domain)
        yield root
    finally:
        for m in layers.values():
            m.output_stream = None
