"""The one conversion between snnvar's discrete neurons and NIR's continuous ones.

NIR (Pedersen et al., Nat. Commun. 2024) states neurons as ODEs. snnvar's LIF
step ``v_t = β v_{t-1} + x_t`` is NIR's ``LIF`` (``τ dv/dt = (v_leak − v) + R I``)
integrated by forward Euler with step ``dt``::

    v_t = (1 − dt/τ) v_{t-1} + (dt/τ) R x_t     so   β = 1 − dt/τ,   τ = dt / (1 − β),
                                                     R = τ / dt   (then (dt/τ) R = 1),
                                                     v_leak = 0

IF (β = 1) is NIR's ``IF`` (``dv/dt = R I``): ``v_t = v_{t-1} + dt R x_t``, so
``R = 1/dt``. A leaky readout integrator with leak β is NIR's ``LI`` with the
same τ and R, and β = 1 is NIR's ``I`` with ``R = 1/dt``. Both sides spike when
``v > θ`` and reset to ``v_reset = 0`` in the same step. τ and R are written in
float64, so ``1 − dt/τ`` gives back the float32 β bit for bit.

``dt`` is not part of a NIR graph: an importer must use the exporter's. snnvar's
default, 1e-4 s, is the one snntorch 1.0's ``import_from_nir`` hard-codes and
spikingjelly 2.0's ``import_from_nir`` defaults to; snnvar records it in the
graph's metadata (``dt``) and :func:`~snnvar.nir.from_nir` reads it from there.

Units are a convention: τ is written in **seconds**, with ``dt = 1e-4 s``, as
snntorch writes and reads it (a β = 0.9 LIF has τ = 1e-3 s). NIR's own table of
primitives gives τ in milliseconds; no consumer we test (snntorch, spikingjelly,
norse) reads it so, and only ``dt/τ`` enters the discrete neuron: a graph whose τ
and ``dt`` are both scaled by the same factor (both in ms) is the same network.
An importer that assumes ms must be given ``dt`` in ms too (``dt = 0.1``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DEFAULT_DT", "beta_from_tau", "check_dt", "r_from_beta", "tau_from_beta"]

DEFAULT_DT = 1e-4
"""The time step (seconds) assumed by snntorch's NIR import; snnvar's default."""


def check_dt(dt: float) -> float:
    """``dt`` as a float; ``ValueError`` unless it is finite and > 0."""
    if isinstance(dt, bool) or not isinstance(dt, int | float) or not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a finite number of seconds > 0, got {dt!r}")
    return float(dt)


def tau_from_beta(beta: np.ndarray | float, dt: float) -> np.ndarray:
    """NIR's τ (float64) of a leak β in [0, 1): ``dt / (1 − β)``."""
    b = np.asarray(beta, dtype=np.float64)
    if np.any(b >= 1.0) or np.any(b < 0.0):
        raise ValueError(f"a LIF's beta must lie in [0, 1) for a finite tau, got {beta}")
    return check_dt(dt) / (1.0 - b)


def r_from_beta(beta: np.ndarray | float) -> np.ndarray:
    """NIR's R (float64) of a leak β in [0, 1), so that ``(dt/τ) R = 1``: ``1 / (1 − β)``."""
    return 1.0 / (1.0 - np.asarray(beta, dtype=np.float64))


def beta_from_tau(tau: np.ndarray | float, dt: float) -> np.ndarray:
    """The leak β of NIR's τ: ``1 − dt/τ`` (float64); ``ValueError`` for τ < dt."""
    t = np.asarray(tau, dtype=np.float64)
    dt = check_dt(dt)
    if not np.all(np.isfinite(t)) or np.any(t < dt):
        raise ValueError(
            f"tau must be finite and >= dt = {dt:g} s (a leak beta in [0, 1)), got "
            f"{np.unique(t)[:4].tolist()}: is dt the one the graph was exported with?"
        )
    return 1.0 - dt / t
