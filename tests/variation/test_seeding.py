"""Seeds: derived seeds are SplitMix64 (golden values), deterministic, distinct and
well mixed; root seeds are checked and a generator is consumed by one draw; streams are
keyed by (root, key, domain) as documented, whatever order they are made in."""

from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np
import pytest
import torch

from snnvar.variation.seeding import (
    DOMAINS,
    MAX_SEED,
    check_domain,
    derive_seed,
    root_seed,
    stream,
)

CPU = torch.device("cpu")

# ---- derive_seed ------------------------------------------------------------------------


def test_derive_seed_is_splitmix64() -> None:
    """derive_seed(0, k) is the (k+1)-th output of SplitMix64 seeded 0 (Steele, Lea &
    Flood, OOPSLA 2014; Vigna's reference splitmix64.c), masked to 63 bits."""
    reference = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert [derive_seed(0, k) for k in range(3)] == [r & MAX_SEED for r in reference]


def test_derive_seed_is_pure_and_in_range() -> None:
    assert derive_seed(7) == 7  # no keys: the seed itself
    assert derive_seed(MAX_SEED) == MAX_SEED
    for keys in [(0,), (3, 1), (1 << 20, 2, 0), (5, 5, 5, 5)]:
        a, b = derive_seed(11, *keys), derive_seed(11, *keys)
        assert a == b and isinstance(a, int) and 0 <= a <= MAX_SEED


def test_derived_seeds_are_distinct() -> None:
    """Chips k of seeds s (the evaluation's scheme) never share a seed; nested keys are
    ordered (epoch 1, step 2 is not epoch 2, step 1) and a key is not the seed's neighbour."""
    seeds = [derive_seed(s, k) for s in (0, 1, 2, 12345, MAX_SEED) for k in range(4000)]
    assert len(set(seeds)) == len(seeds)
    pairs = [derive_seed(0, a, b) for a, b in itertools.product(range(60), repeat=2)]
    assert len(set(pairs)) == len(pairs)
    assert derive_seed(3, 1, 2) != derive_seed(3, 2, 1)
    assert derive_seed(3, 0) != derive_seed(4, 0) != derive_seed(3, 1)


def test_derived_seeds_are_well_mixed() -> None:
    """Each of the 63 bits of derive_seed(0, k), k < 4096, is set in half of the seeds:
    within 5 binomial standard errors (sqrt(1/4 / 4096) = 0.0078 each) — consecutive keys
    give unrelated seeds, not neighbours."""
    n = 4096
    seeds = np.array([derive_seed(0, k) for k in range(n)], dtype=np.uint64)
    bits = (seeds[:, None] >> np.arange(63, dtype=np.uint64)) & np.uint64(1)
    freq = bits.mean(axis=0)
    assert np.abs(freq - 0.5).max() < 5 * math.sqrt(0.25 / n), freq
    assert not (seeds >> np.uint64(63)).any()  # the 64th bit is masked


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 2**64 - 1, 1.0, 2.5, True, "3", None])
def test_derive_seed_refuses_what_is_no_seed(seed: object) -> None:
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63 - 1\], got "):
        derive_seed(seed)  # type: ignore[arg-type]


def test_numpy_integers_are_seeds() -> None:
    assert derive_seed(np.int64(5), 2) == derive_seed(5, 2)
    value, device = root_seed(np.int64(9), None)
    assert value == 9 and type(value) is int and device == CPU


# ---- root_seed --------------------------------------------------------------------------


def test_root_seed_from_a_seed() -> None:
    assert root_seed(0, None) == (0, CPU)
    assert root_seed(MAX_SEED, None) == (MAX_SEED, CPU)


@pytest.mark.parametrize(
    ("seed", "generator", "error", "match"),
    [
        (None, None, ValueError, r"pass seed=<int> or generator=<torch\.Generator>"),
        (1, torch.Generator(), ValueError, "give either seed= or generator=, not both"),
        (-1, None, ValueError, r"seed must be an integer in \[0, 2\*\*63 - 1\], got -1"),
        (MAX_SEED + 1, None, ValueError, rf"got {MAX_SEED + 1}"),
        (True, None, ValueError, "got True"),
        (1.5, None, ValueError, "got 1.5"),
        (None, 5, TypeError, "generator must be a torch.Generator, got int"),
    ],
)
def test_root_seed_refuses(seed, generator, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        root_seed(seed, generator)


def test_a_generator_is_consumed_by_one_draw_which_becomes_the_root() -> None:
    g, twin = torch.Generator().manual_seed(21), torch.Generator().manual_seed(21)
    first, device = root_seed(None, g)
    assert device == CPU and 0 <= first <= MAX_SEED
    assert first == int(torch.randint(0, MAX_SEED, (1,), generator=twin))
    assert torch.equal(g.get_state(), twin.get_state())  # exactly one draw consumed
    second, _ = root_seed(None, g)
    assert second != first  # the generator advanced: a new draw


# ---- stream -----------------------------------------------------------------------------


def _blake(text: str) -> int:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & MAX_SEED


@pytest.mark.parametrize(
    ("root", "key", "domain", "text"),
    [
        (5, "fc.weight", "chip", "5/fc.weight"),
        (0, "layers.0.weight", "chip", "0/layers.0.weight"),
        (5, "fc.weight", "train", "train/5/fc.weight"),
        (MAX_SEED, "w", "train", f"train/{MAX_SEED}/w"),
    ],
)
def test_stream_seed_is_the_documented_hash(root: int, key: str, domain: str, text: str) -> None:
    """Chip streams hash "{root}/{key}", training streams "train/{root}/{key}" (blake2b,
    8 bytes, big-endian, 63 bits): a recorded seed keeps meaning the same chip."""
    g = stream(root, key, CPU, domain)
    assert g.initial_seed() == _blake(text)
    assert g.device == CPU


def test_streams_are_deterministic_and_distinct() -> None:
    """The same (root, key, domain) draws the same numbers; another root, key or domain
    draws uncorrelated ones (|r| below 5 / sqrt(n) for n = 4096 normal draws)."""
    n = 4096

    def draw(*args) -> torch.Tensor:
        return torch.randn(n, generator=stream(*args))

    base = draw(3, "conv.weight", CPU, "chip")
    assert torch.equal(base, draw(3, "conv.weight", CPU, "chip"))
    assert torch.equal(base, draw(3, "conv.weight", CPU))  # "chip" is the default
    for other in [
        draw(4, "conv.weight", CPU, "chip"),
        draw(3, "conv.bias", CPU, "chip"),
        draw(3, "conv.weight", CPU, "train"),
    ]:
        corr = float(torch.corrcoef(torch.stack([base, other]))[0, 1])
        assert abs(corr) < 5 / math.sqrt(n), corr


def test_streams_do_not_depend_on_the_order_they_are_made_or_drawn_in() -> None:
    """A tensor's noise depends on (root, key) alone: streams made in reverse order and
    drawn interleaved give every key the numbers it gets alone."""
    keys = ["a.weight", "b.weight", "c.weight"]
    alone = {k: torch.rand(64, generator=stream(9, k, CPU)) for k in keys}
    gens = {k: stream(9, k, CPU) for k in reversed(keys)}
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    for _ in range(4):
        for k in reversed(keys):
            parts[k].append(torch.rand(16, generator=gens[k]))
    for k in keys:
        assert torch.equal(torch.cat(parts[k]), alone[k])


def test_domains() -> None:
    assert DOMAINS == ("chip", "train")
    assert [check_domain(d) for d in DOMAINS] == list(DOMAINS)
    with pytest.raises(
        ValueError, match=r"unknown seed domain 'test'; allowed: \['chip', 'train'\]"
    ):
        check_domain("test")
    with pytest.raises(ValueError, match="unknown seed domain 'Chip'"):
        stream(0, "w", CPU, "Chip")
