"""Runs: what defines one (:class:`RunSpec`, a run file read by
:meth:`RunSpec.from_toml`), what it builds (:func:`build_trainer`), its directory
(:func:`train_run`, :func:`load_run`) and what is done with trained runs:
:func:`convert_run` (ANN -> SNN), :func:`evaluate_runs` (many runs on the same
simulated chips) and :func:`export_run` (NIR). The ``snnvar`` command, the
benchmarks and the notebooks go through these functions.

=================  ==========================================================
``spec``           RunSpec: run.json, run files (TOML), flat command-line settings
``build``          the model, the Trainer and the data set of a spec
``directory``      run directories: train into one, load one, deploy on a chip
``convert``        a run's ANN converted into an SNN run
``evaluate``       run directories on the same simulated chips -> Report
``export``         a run's SNN (or one chip of it) as a NIR graph
=================  ==========================================================
"""

from __future__ import annotations

from .build import build_trainer, calibration_inputs, model_for, run_dataset
from .convert import conversion_markdown, convert_run
from .directory import (
    SettingsDiffer,
    load_run,
    on_chip,
    run_label,
    train_run,
    training_summary,
)
from .evaluate import DEFAULT_SIGMAS, WorstCaseSearch, calibration_subset, evaluate_runs
from .export import export_run
from .spec import RUN_FORMAT, RunSpec

__all__ = [
    "DEFAULT_SIGMAS",
    "RUN_FORMAT",
    "RunSpec",
    "SettingsDiffer",
    "WorstCaseSearch",
    "build_trainer",
    "calibration_inputs",
    "calibration_subset",
    "conversion_markdown",
    "convert_run",
    "evaluate_runs",
    "export_run",
    "load_run",
    "model_for",
    "on_chip",
    "run_dataset",
    "run_label",
    "train_run",
    "training_summary",
]
