"""Evaluation under variation: many simulated chips per level, paired across
models; spikes, firing rates and synaptic operations per layer; loss
landscapes and weight histograms (the WVAT paper's Figs. 7 and 8); every chip
calibrated after programming (:class:`Calibration`) and the yield; reports as
JSON, CSV, Markdown (:class:`Report`, rows :class:`Row`) and PNG plots
(:meth:`Report.save` writes both).

``Batches`` and ``prepare`` live in :mod:`snnvar.datasets` (model-ready data) and
are re-exported here."""

from ..datasets.batches import Batches, prepare
from .calibration import CALIBRATIONS, Calibration
from .histograms import weight_histograms
from .landscape import loss_landscape
from .montecarlo import (
    MAX_DRAWS,
    PassResult,
    chip_seed,
    evaluate,
    is_identity,
    run_pass,
    variations,
)
from .plots import plot_accuracy, plot_histograms, plot_landscape, plot_time, plot_yield
from .report import REPORT_FILES, REQUIRED_ROW_KEYS, Report, Row, prepare_out_dir
from .synops import SynOpsRecord, count_synops, fanout
from .worst_case import ATTACK_LOSSES, WorstCase, worst_case, worst_case_attack
from .yields import chip_yield, percentiles

__all__ = [
    "ATTACK_LOSSES",
    "CALIBRATIONS",
    "MAX_DRAWS",
    "REPORT_FILES",
    "REQUIRED_ROW_KEYS",
    "Batches",
    "Calibration",
    "PassResult",
    "Report",
    "Row",
    "SynOpsRecord",
    "WorstCase",
    "chip_seed",
    "chip_yield",
    "count_synops",
    "evaluate",
    "fanout",
    "is_identity",
    "loss_landscape",
    "percentiles",
    "plot_accuracy",
    "plot_histograms",
    "plot_landscape",
    "plot_time",
    "plot_yield",
    "prepare",
    "prepare_out_dir",
    "run_pass",
    "variations",
    "weight_histograms",
    "worst_case",
    "worst_case_attack",
]
