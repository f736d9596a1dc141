"""snnvar: spiking neural networks robust to analog-hardware weight variation.

The weight-perturbation engine (:mod:`snnvar.variation`) is the core; training
methods, spike-level evaluation and ANN-to-SNN conversion all perturb weights
through it.
"""

from importlib.metadata import PackageNotFoundError, version

from . import evaluation, models, nn
from .evaluation import evaluate
from .variation import Draw, Empirical, Variation, Weibull, preset

try:
    __version__ = version("snnvar")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "Draw",
    "Empirical",
    "Variation",
    "Weibull",
    "__version__",
    "evaluate",
    "evaluation",
    "models",
    "nn",
    "preset",
]
