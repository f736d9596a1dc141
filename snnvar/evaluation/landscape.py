"""Loss along random variation directions (the WVAT paper's Fig. 7).

Direction ``d`` is the unit noise ε of chip seed ``derive_seed(seed, d)``; the
loss is taken at ``w + γ (σ s_l ε + μ s_l)`` for σ on a grid and γ = +1 and −1,
so each direction is a line through the clean weights (shifted by the mean
shift μ, which γ flips with the noise), the same line for every model
(paired). With clipping or levels every point, σ = 0 included, is taken on the
programmed weights. A flat, low curve is a robust network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from torch import nn

from ..datasets.batches import prepare_models
from ..hardware.checks import refuse_undeployed
from ..hardware.readout import noisy_layers, output_reads
from ..variation import Variation
from .montecarlo import chip_seed, is_identity, named_models, run_pass

__all__ = ["loss_landscape"]

DEFAULT_SIGMAS = (0.0, 0.025, 0.05, 0.075, 0.10, 0.125, 0.15)
"""σ grid of the paper's Fig. 7."""


def loss_landscape(
    model: nn.Module | Mapping[str, nn.Module],
    data: Any,
    variation: Variation | None = None,
    *,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    gammas: Sequence[float] = (1.0, -1.0),
    directions: int = 5,
    seed: int = 0,
    encoder: str | Mapping[str, str] | None = None,
    time_steps: int | Mapping[str, int] | None = None,
    batch_size: int = 256,
) -> list[dict[str, Any]]:
    """Rows ``{method, gamma, sigma, direction, seed, loss, accuracy}`` (see module docstring).

    ``encoder`` and ``time_steps``: one for all models or a dict per model name
    (None: each model's own, as in :func:`~snnvar.evaluation.evaluate`).
    ``variation`` gives the noise model (its ``sigma`` and ``gamma`` are replaced, its
    mean shift is multiplied by γ; static mode is used); the default is the WVAT
    paper's HSV.
    """
    if directions < 1:
        raise ValueError(f"directions must be >= 1, got {directions}")
    if not gammas:
        raise ValueError("gammas is empty")
    for s in sigmas:
        if not 0.0 <= s <= 1.0:
            raise ValueError(f"sigma must lie in [0, 1], got {s}")
    base = replace(variation or Variation(sigma=0.0), mode="static")
    named = named_models(model)
    if any(s > 0 for s in sigmas):  # chips: the weights they program
        for method, m in named.items():
            refuse_undeployed(m, "loss_landscape", method)
    prepared = prepare_models(data, named, encoder, time_steps, batch_size, seed)
    rows: list[dict[str, Any]] = []
    for method, m in named.items():
        batches = prepared[method]
        noisy = bool(noisy_layers(m))
        clean = None if noisy else run_pass(m, batches, spikes=False)
        for gamma in gammas:
            for sigma in sigmas:
                point = replace(
                    base, sigma=float(sigma), gamma=float(gamma), mean=float(gamma) * base.mean
                )
                for d in range(directions):
                    s = chip_seed(seed, d)
                    if is_identity(point) and not noisy:
                        result = clean
                    else:  # the chip's weights and output noise, from one seed
                        chip = nullcontext() if is_identity(point) else point.applied(m, seed=s)
                        with chip, output_reads(m, seed=s):
                            result = run_pass(m, batches, spikes=False)
                    rows.append(
                        {
                            "method": method,
                            "gamma": float(gamma),
                            "sigma": float(sigma),
                            "direction": d,
                            "seed": s,
                            "loss": result.loss,
                            "accuracy": result.accuracy,
                        }
                    )
    return rows
