"""Evaluation under variation: many simulated chips per level, paired across
models; spikes, firing rates and synaptic operations per layer; loss
landscapes and weight histograms (the WVAT paper's Figs. 7 and 8); reports as
JSON, CSV, Markdown and PNG plots."""

from .histograms import weight_histograms
from .landscape import loss_landscape
from .montecarlo import Batches, chip_seed, evaluate, is_identity, prepare, run_pass, variations
from .plots import plot_accuracy, plot_histograms, plot_landscape
from .report import REQUIRED_ROW_KEYS, Report, prepare_out_dir
from .synops import SynOpsRecord, count_synops, fanout

__all__ = [
    "REQUIRED_ROW_KEYS",
    "Batches",
    "Report",
    "SynOpsRecord",
    "chip_seed",
    "count_synops",
    "evaluate",
    "fanout",
    "is_identity",
    "loss_landscape",
    "plot_accuracy",
    "plot_histograms",
    "plot_landscape",
    "prepare",
    "prepare_out_dir",
    "run_pass",
    "variations",
    "weight_histograms",
]
