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
    distribution_from_dict,
    distribution_to_dict,
    resolve_distribution,
)
from .engine import (
    per_read,
    perturbation,
    programmed_delta,
    programs,
    read_programmed,
    read_value,
    reading_programmed,
)
from .files import variation_tables, variations_from_tables, variations_from_toml
from .measured import read_histogram, read_samples
from .perturbation import Draw, Perturbation, VariationSpec
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
    "Perturbation",
    "Target",
    "TensorStats",
    "Uniform",
    "UnitDistribution",
    "Variation",
    "VariationSpec",
    "Weibull",
    "buchel_mismatch",
    "device_keys",
    "device_window",
    "distribution_from_dict",
    "distribution_to_dict",
    "hasgd_programming",
    "per_read",
    "perturbation",
    "preset",
    "program",
    "programmed_delta",
    "programs",
    "read_histogram",
    "read_programmed",
    "read_samples",
    "read_value",
    "reading_programmed",
    "resolve_distribution",
    "scale",
    "select_targets",
    "tensor_stats",
    "variation_tables",
    "variations_from_tables",
    "variations_from_toml",
    "wvat_hsv",
]
