"""How the tests compare two computations of one function.

``torch.equal`` is for what is exact by construction: the same operations on the
same values in the same order (a tensor restored, a seed drawn twice, a copy, a
model run twice, weights imported bit for bit into the same layers), integer and
boolean tensors, exactly representable values.

Two float32 computations that agree only in exact arithmetic (BatchNorm folded into
a convolution, a spike amplitude folded into the next layer's weights, another
framework's neuron loop, a formula written out by hand, a batch split in two) round
differently, and how they round depends on the kernels MKL and oneDNN pick for the
CPU (AVX2 on one machine, AVX-512 on another; ``MKL_CBWR`` does not pin oneDNN):
equal bits on one machine say nothing about the next. Those tests compare floats
with a tolerance that fits float32 and the depth of the computation, and spikes
with :func:`spike_ties`: a membrane within rounding of the threshold fires in one
computation and not in the other (a tie), and the unit it happens in (the neuron
itself, or the whole sample once the next layers see the changed spike) may differ
from then on. Ties are rare: against float64, the networks of these tests have
none in about 10^6 neuron-steps (float32 logits of up to 16 layers are within 1e-7
of float64's). So at most :data:`MAX_TIES` unit may differ; a real bug (a wrong
threshold, leak, reset or weight) changes far more.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

__all__ = ["MAX_TIES", "spike_ties"]

MAX_TIES = 1
"""Units (neurons or samples) in which two computations may have a threshold tie."""


def _touched(actual: torch.Tensor, expected: torch.Tensor, unit_dims: tuple[int, ...]):
    assert actual.shape == expected.shape, (tuple(actual.shape), tuple(expected.shape))
    differ = actual != expected
    other = tuple(d for d in range(differ.dim()) if d not in unit_dims)
    return differ.any(dim=other) if other else differ, int(differ.sum())


def spike_ties(
    actual: torch.Tensor | Mapping[str, torch.Tensor],
    expected: torch.Tensor | Mapping[str, torch.Tensor],
    unit_dims: tuple[int, ...] = (1,),
    max_ties: int = MAX_TIES,
) -> torch.Tensor:
    """Assert that two spike trains agree but in at most ``max_ties`` units, and return
    which units differ (a bool tensor over ``unit_dims``).

    ``actual`` and ``expected`` are tensors of one shape, or mappings layer -> tensor
    with the same keys (all layers' units together: a tie in one layer changes the
    same sample in the next). The units are the dimensions ``unit_dims``: the sample
    (dimension 1 of time-major ``[T, B, ...]``, the default) for a network, the
    neuron (``(1, 2)`` of ``[T, B, N]``) for one layer of independent neurons. The
    caller compares the floats of the other units (``y[~tied]``).
    """
    if isinstance(expected, Mapping):
        assert isinstance(actual, Mapping) and set(actual) == set(expected), (
            sorted(actual), sorted(expected))  # fmt: skip
        pairs = [(k, actual[k], expected[k]) for k in expected]
    else:
        assert isinstance(actual, torch.Tensor)
        pairs = [("spikes", actual, expected)]
    tied = None
    entries = {}
    for name, a, e in pairs:
        units, n = _touched(a, e, unit_dims)
        tied = units if tied is None else tied | units
        if n:
            entries[name] = n
    assert tied is not None
    n_tied = int(tied.sum())
    assert n_tied <= max_ties, (
        f"spikes differ in {n_tied} of {tied.numel()} units (at most {max_ties} threshold "
        f"tie(s) allowed); differing entries per layer: {entries}"
    )
    return tied
