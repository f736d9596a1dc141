"""Variation-aware training methods that share the engine.

Done: :class:`NoiseInjection`, :class:`WVAT`, :class:`HASGD`, :class:`SAM`,
:class:`AWP`, :class:`AdversarialRegularization` (optimizer wrappers; SGD is
the base optimizer alone). Still to come (issue 5): SWA helpers, the Trainer,
data-parallel tests.
"""

from .base import Method, derive_seed
from .methods import (
    AWP,
    HASGD,
    SAM,
    WVAT,
    AdversarialRegularization,
    NoiseInjection,
    gradient_ascent_variation,
)

__all__ = [
    "AWP",
    "HASGD",
    "SAM",
    "WVAT",
    "AdversarialRegularization",
    "Method",
    "NoiseInjection",
    "derive_seed",
    "gradient_ascent_variation",
]
