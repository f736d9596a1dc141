"""Variation-aware training methods that share the engine.

Done: :class:`NoiseInjection`, :class:`WVAT`, :class:`HASGD`, :class:`SAM`,
:class:`AWP`, :class:`AdversarialRegularization` (optimizer wrappers; SGD is
the base optimizer alone), :class:`SWA` on top of any of them, and the
:class:`Trainer` (checkpoint per epoch, exact resume, metrics log).
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
from .registry import METHODS, OPTIMIZERS, create_method, create_optimizer
from .swa import SWA, SWAConfig, update_bn
from .trainer import ENCODERS, TrainConfig, Trainer

__all__ = [
    "AWP",
    "ENCODERS",
    "HASGD",
    "METHODS",
    "OPTIMIZERS",
    "SAM",
    "SWA",
    "WVAT",
    "AdversarialRegularization",
    "Method",
    "NoiseInjection",
    "SWAConfig",
    "TrainConfig",
    "Trainer",
    "create_method",
    "create_optimizer",
    "derive_seed",
    "gradient_ascent_variation",
    "update_bn",
]
