"""Variation-aware training methods that share the engine.

:class:`Plain` (``sgd``: the base optimizer alone), :class:`NoiseInjection`,
:class:`WVAT`, :class:`HASGD`, :class:`SAM`, :class:`AWP`,
:class:`AdversarialRegularization` (optimizer wrappers sharing :class:`Method`;
the ones that take a Variation share :class:`VariationMethod`), :class:`SWA` on
top of any of them, and the
:class:`Trainer` (checkpoint per epoch, exact resume, metrics log). Methods go by
name in :data:`METHODS` (:func:`create_method`); :func:`register_method` adds one.
"""

from .base import Method, Plain, VariationMethod, derive_seed
from .methods import (
    AWP,
    HASGD,
    SAM,
    WVAT,
    AdversarialRegularization,
    NoiseInjection,
    gradient_ascent_variation,
)
from .registry import (
    METHODS,
    OPTIMIZERS,
    create_method,
    create_optimizer,
    method_options,
    register_method,
)
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
    "Plain",
    "SWAConfig",
    "TrainConfig",
    "Trainer",
    "VariationMethod",
    "create_method",
    "create_optimizer",
    "derive_seed",
    "gradient_ascent_variation",
    "method_options",
    "register_method",
    "update_bn",
]
