"""Seeds: one independent random stream per perturbed tensor.

A draw is rooted in one integer seed. Each selected tensor gets its own
``torch.Generator`` seeded from ``(seed, tensor name)``, so

- a layer's noise does not depend on which other layers are selected or on
  the order they are visited (the same chip seen by two selections agrees on
  every shared layer);
- tensors can be drawn in parallel threads with identical results;
- a seed gives the same chip on CPU and CUDA (draws happen on the generator's
  device, a CPU generator unless a ``torch.Generator`` on another device is given).

Streams are keyed by the tensor's *device key* (its name, or the device weight
it stands for: a converted SNN's ``weight_map``, see
:func:`~snnvar.variation.selection.device_keys`) and by a *domain*:
``"chip"`` (simulated chips: :func:`snnvar.evaluate`, ``Variation.sample`` by
default) or ``"train"`` (the perturbations of the training methods). The two
domains hash different strings, so no training draw repeats a test chip,
whatever seeds the user passes.
"""

from __future__ import annotations

import hashlib
import numbers

import torch

__all__ = ["DOMAINS", "MAX_SEED", "derive_seed", "root_seed", "stream"]

MAX_SEED = 2**63 - 1
"""Seeds are integers in [0, MAX_SEED]."""

DOMAINS: tuple[str, ...] = ("chip", "train")
"""Seed domains: ``"chip"`` for simulated test chips, ``"train"`` for training noise."""


def check_domain(domain: str) -> str:
    """``domain`` if it is one of :data:`DOMAINS`, else a ``ValueError``."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown seed domain {domain!r}; allowed: {list(DOMAINS)}")
    return domain


def root_seed(seed: int | None, generator: torch.Generator | None) -> tuple[int, torch.device]:
    """The draw's root seed and the device its streams draw on.

    Exactly one of ``seed`` and ``generator`` must be given. A generator is
    consumed by one draw of a 63-bit integer, which becomes the root seed (so
    the recorded seed alone reproduces the draw).
    """
    if seed is not None and generator is not None:
        raise ValueError("give either seed= or generator=, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        device = torch.device(generator.device)
        value = torch.randint(0, MAX_SEED, (1,), generator=generator, device=device)
        return int(value.item()), device
    if seed is None:
        raise ValueError(
            "a draw needs explicit randomness: pass seed=<int> or generator=<torch.Generator>"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")
    return int(seed), torch.device("cpu")


def stream(root: int, key: str, device: torch.device, domain: str = "chip") -> torch.Generator:
    """The generator of the tensor with device key ``key`` in the draw rooted at ``root``.

    Chip streams hash ``"{root}/{key}"`` (a string that starts with a digit),
    training streams ``"train/{root}/{key}"``: never the same input.
    """
    text = f"{root}/{key}" if check_domain(domain) == "chip" else f"{domain}/{root}/{key}"
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest, "big") & MAX_SEED)


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed from ``seed`` (in [0, MAX_SEED]) and integer keys (SplitMix64
    mixing); pure. A seed outside the range is refused: masking it would give seeds
    that differ the same chips (-1 and 2**64 - 1)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")
    z = int(seed)
    for k in keys:
        z = (z + 0x9E3779B97F4A7C15 * (k + 1)) & ((1 << 64) - 1)
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & ((1 << 64) - 1)
        z = z ^ (z >> 31)
    return z & MAX_SEED
