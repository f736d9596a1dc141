"""Named variation presets, each citing where it comes from."""

from __future__ import annotations

from .config import Variation

__all__ = [
    "PRESETS",
    "buchel_mismatch",
    "hasgd_programming",
    "preset",
    "wvat_hsv",
]


def wvat_hsv(sigma: float = 0.10, gamma: float = 1.0) -> Variation:
    """Hardware-simulated variation (HSV) of WVAT.

    Gaussian noise with standard deviation ``sigma`` times each layer's range
    A = [μ − 3σ_w, μ + 3σ_w] (i.e. 6 std(w)); the paper tests σ_v = 5 % and
    10 % and trains at γ = 1. Source: "A weight variation-aware training
    method for hardware neuromorphic chips" (WVAT), Sec. 3.1 and Tables 1-4.
    """
    return Variation(sigma=sigma, distribution="gaussian", relative_to="range", gamma=gamma)


def buchel_mismatch(sigma: float = 0.20) -> Variation:
    """Multiplicative parameter mismatch of mixed-signal neuromorphic chips.

    Each weight becomes ``w (1 + sigma ε)``, ε ~ N(0, 1): Gaussian noise with
    standard deviation proportional to ``|w|``. Source: J. Büchel, F. Faber,
    D. R. Muir, "Network insensitivity to parameter noise via adversarial
    regularization", ICLR 2022 (arXiv 2106.05009), which evaluates relative
    mismatch levels of 10-30 % (20 % is its typical chip level).
    """
    return Variation(sigma=sigma, distribution="gaussian", relative_to="weight")


def hasgd_programming(sigma: float = 0.05, mean: float = 0.0) -> Variation:
    """Programming error proportional to the device's dynamic range (``max |w|``).

    Source: the HA-SGD poster ("Hessian-aware SGD" for analog NVM
    compute-in-memory), Fig. 3: programming error and conductance variation are
    proportional to the dynamic range of the device; networks are trained and
    tested with 5 % device noise, and a systematic device shift ``mean`` can be
    modelled (Fig. 8). IBM aihwkit's programming noise is max-relative too.
    """
    return Variation(sigma=sigma, distribution="gaussian", relative_to="max", mean=mean)


PRESETS = {
    "wvat_hsv_5": lambda: wvat_hsv(0.05),
    "wvat_hsv_10": lambda: wvat_hsv(0.10),
    "buchel_mismatch_20": lambda: buchel_mismatch(0.20),
    "hasgd_programming_5": lambda: hasgd_programming(0.05),
}
"""Named presets (see the functions above for their sources)."""


def preset(name: str) -> Variation:
    """The :class:`Variation` of a named preset; see :data:`PRESETS`."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; available: {sorted(PRESETS)}") from None
