"""The weight-perturbation engine shared by training, evaluation and conversion.

>>> import torch, snnvar
>>> model = torch.nn.Linear(4, 3)
>>> v = snnvar.Variation(sigma=0.1)              # WVAT's hardware-simulated variation
>>> draw = v.sample(model, seed=0)               # name -> delta, model untouched
>>> with v.applied(model, seed=0) as chip:       # perturbed inside, restored on exit
...     y = model(torch.ones(1, 4))
"""

from .config import BIAS_REFERENCES, MODES, REDRAWS, Variation
from .constraints import device_window, program
from .distributions import (
    DISTRIBUTIONS,
    Empirical,
    Gaussian,
    Uniform,
    UnitDistribution,
    Weibull,
    resolve_distribution,
)
from .engine import Draw, per_read, perturbation, read_value
from .presets import PRESETS, buchel_mismatch, hasgd_programming, preset, wvat_hsv
from .reference import REFERENCES, TensorStats, scale, tensor_stats
from .seeding import DOMAINS
from .selection import DEFAULT_MODULES, Target, device_keys, select_targets

__all__ = [
    "BIAS_REFERENCES",
    "DEFAULT_MODULES",
    "DISTRIBUTIONS",
    "DOMAINS",
    "MODES",
    "PRESETS",
    "REDRAWS",
    "REFERENCES",
    "Draw",
    "Empirical",
    "Gaussian",
    "Target",
    "TensorStats",
    "Uniform",
    "UnitDistribution",
    "Variation",
    "Weibull",
    "buchel_mismatch",
    "device_keys",
    "device_window",
    "hasgd_programming",
    "per_read",
    "perturbation",
    "preset",
    "program",
    "read_value",
    "resolve_distribution",
    "scale",
    "select_targets",
    "tensor_stats",
    "wvat_hsv",
]
