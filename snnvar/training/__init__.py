"""Variation-aware training methods that share the engine.

Done: :class:`NoiseInjection`, :class:`WVAT`, :class:`HASGD`, :class:`SAM`,
:class:`AWP`, :class:`AdversarialRegularization` (optimizer wrappers; SGD is
the base optimizer alone), and the :class:`Trainer` (checkpoint per epoch,
exact resume, metrics log). Still to come (issue 5): SWA helpers and the
data-parallel test.
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
from .trainer import ENCODERS, TrainConfig, Trainer

__all__ = [
    "AWP",
    "ENCODERS",
    "HASGD",
    "SAM",
    "WVAT",
    "AdversarialRegularization",
    "Method",
    "NoiseInjection",
    "TrainConfig",
    "Trainer",
    "derive_seed",
    "gradient_ascent_variation",
]
