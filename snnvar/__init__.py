"""snnvar: spiking neural networks robust to analog-hardware weight variation.

The weight-perturbation engine (:mod:`snnvar.variation`) is the core; training
methods, spike-level evaluation and ANN-to-SNN conversion all perturb weights
through it.

:mod:`snnvar.conversion`, :mod:`snnvar.datasets`, :mod:`snnvar.training`,
:mod:`snnvar.runs` and :mod:`snnvar.cli` are attributes of the package too,
imported on first access (PEP 562), so ``import snnvar`` stays as fast as the
engine, the models and the evaluation need.
"""

import importlib
from typing import Any

from . import evaluation, models, nn
from .evaluation import evaluate
from .variation import Draw, Empirical, Perturbation, Variation, Weibull, preset
from .version import package_version

__version__ = package_version()

__all__ = [
    "Draw",
    "Empirical",
    "Perturbation",
    "Variation",
    "Weibull",
    "__version__",
    "evaluate",
    "evaluation",
    "models",
    "nn",
    "preset",
]

_LAZY = ("cli", "conversion", "datasets", "runs", "training")
"""Submodules imported on first attribute access."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")  # also binds it on the package
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
