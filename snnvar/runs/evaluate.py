"""Run directories evaluated together on the same simulated chips: the one function
behind ``snnvar evaluate`` (:func:`evaluate_runs`), for scripts and notebooks too.

Every run is loaded as it was trained (its data set options, encoder and T),
deployed on its own restricted chip or on the evaluation's ``hardware``, and all
runs meet the same chips (paired by device weight, so an ANN and its converted
SNN share them); the worst-case chip, the loss landscape and the weight
histograms are added on request. Nothing is written: the caller saves the
:class:`~snnvar.evaluation.Report`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Subset

from ..distributed import is_main
from ..evaluation import Report, evaluate, loss_landscape, weight_histograms, worst_case_attack
from ..evaluation.calibration import CALIBRATION_KEY, Calibration
from ..evaluation.montecarlo import MAX_DRAWS, labelled_variations
from ..hardware import DeviceModel, EnergyCosts, Restrictions, ablation
from ..variation import Perturbation, Variation
from ..variation.seeding import derive_seed
from .build import run_dataset
from .directory import load_run, on_chip, run_label
from .spec import RunSpec

__all__ = ["DEFAULT_SIGMAS", "WorstCaseSearch", "calibration_subset", "evaluate_runs"]

DEFAULT_SIGMAS = (0.0, 0.05, 0.1, 0.15)
"""The σ an evaluation sweeps unless told otherwise (the WVAT paper's test levels)."""

ATTACK_LOSSES = ("ce", "kl")


@dataclass(frozen=True)
class WorstCaseSearch:
    """The worst-case chip searched for every run (Büchel et al. 2022), one per radius."""

    zetas: tuple[float, ...]
    """Radii ζ in [0, 1]: every weight moved by at most ζ times its magnitude."""
    steps: int = 10
    """Ascent steps of the search."""
    loss: str = "ce"
    """What the ascent maximises: ``ce`` (cross-entropy on the labels) or ``kl`` (the
    KL divergence to the clean network's output, without labels)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "zetas", tuple(float(z) for z in self.zetas))
        for z in self.zetas:
            if not 0 <= z <= 1:
                raise ValueError(f"worst-case radii ζ must lie in [0, 1] (as σ does), got {z:g}")
        if len(set(self.zetas)) != len(self.zetas):
            raise ValueError(f"the worst case gives a radius twice: {list(self.zetas)}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"worst-case steps must be an integer >= 1, got {self.steps!r}")
        if self.loss not in ATTACK_LOSSES:
            raise ValueError(f"unknown worst-case loss {self.loss!r}; allowed: {ATTACK_LOSSES}")


def _check_conditions(
    conditions: Mapping[str, Any], times: Sequence[float] | None, search: WorstCaseSearch | None
) -> Any:
    """The device model the worst case attacks (None: the model's default selection),
    after checking what ``times`` and ``search`` need of the conditions."""
    devices = {k: c for k, c in conditions.items() if isinstance(c, DeviceModel)}
    if times is not None:
        if not devices:
            raise ValueError("times read device models: give the conditions a device model")
        if not times:
            raise ValueError("times is empty; give times such as 1, 3600 (1 h), 86400 (1 d)")
        timed = [k for k, d in devices.items() if d.time is not None]
        if timed:
            raise ValueError(
                f"times and the device model's own time both set when {timed} are read; "
                "give one (times sweeps the read times, a model's time reads it once)"
            )
    if not devices:
        return None
    selections = {(d.modules, d.include, d.exclude) for d in devices.values()}
    if search is not None and len(selections) > 1:
        raise ValueError(
            "the worst case attacks the weights the devices hold, but the device models "
            "select different weights (modules / include / exclude); evaluate them apart"
        )
    return next(iter(devices.values()))


def _load(
    runs: list[Path], hardware: Restrictions | None, root: str | Path | None
) -> tuple[list[tuple[nn.Module, RunSpec]], list[tuple[nn.Module, RunSpec]]]:
    """Each run as trained, and as the evaluation sees it (on its chip); all of one data set."""
    raw = [load_run(r, root=root) for r in runs]
    loaded = [on_chip(m, spec, hardware, r) for (m, spec), r in zip(raw, runs, strict=True)]
    specs = [s for _, s in loaded]
    if len({(s.dataset, json.dumps(s.dataset_options, sort_keys=True)) for s in specs}) > 1:
        listed = "; ".join(
            f"{r}: {s.dataset} {s.dataset_options or '(default options)'}"
            for r, s in zip(runs, specs, strict=True)
        )
        raise ValueError(
            f"runs evaluated together need the same data set and data set options ({listed}); "
            "evaluate them apart"
        )
    return raw, loaded


def _ablations(
    names: list[str], raw: list[tuple[nn.Module, RunSpec]], runs: list[Path],
    hardware: Restrictions,
) -> dict[str, tuple[nn.Module, str]]:  # fmt: skip
    """Every unrestricted run on each restriction alone: ``"RUN / restriction"`` ->
    (model, the run's name)."""
    out: dict[str, tuple[nn.Module, str]] = {}
    for name, (model, spec), run in zip(names, raw, runs, strict=True):
        if spec.hardware is not None:
            raise ValueError(
                f"the ablation takes unrestricted runs; {run} was trained on "
                f"{spec.hardware.label()}"
            )
        for kind, chip in ablation(model, hardware).items():
            if kind != "all":  # "all": the run itself, on the chip
                out[f"{name} / {kind}"] = (chip, name)
    return out


def calibration_subset(
    spec: RunSpec, samples: int, seed: int, root: str | Path | None = None
) -> tuple[Subset, dict[str, Any]]:
    """``samples`` samples of the training split of ``spec``'s data set, drawn without
    replacement from ``derive_seed(seed, CALIBRATION_KEY, 1)`` (disjoint from the test
    split), and what the report records of the draw."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"calibration_samples must be an integer >= 1, got {samples!r}")
    train = run_dataset(spec, root=root, train=True)
    if samples > len(train):
        raise ValueError(
            f"calibration_samples={samples} exceeds the {len(train)} samples of the "
            f"training split of {spec.dataset!r}"
        )
    draw = derive_seed(seed, CALIBRATION_KEY, 1)  # the encoding's is (seed, KEY)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(draw))
    return Subset(train, order[:samples].tolist()), {"split": "train", "draw_seed": draw}


def evaluate_runs(
    runs: Sequence[str | Path],
    conditions: Mapping[str, Perturbation] | None = None,
    *,
    sigmas: Sequence[float] | None = DEFAULT_SIGMAS,
    times: Sequence[float] | None = None,
    draws: int = 20,
    seed: int = 0,
    names: Sequence[str] | None = None,
    time_steps: int | None = None,
    hardware: Restrictions | None = None,
    ablation: bool = False,
    worst_case: WorstCaseSearch | None = None,
    landscape: bool = False,
    histograms: bool = False,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    root: str | Path | None = None,
    progress: bool = False,
    energy: EnergyCosts | None = None,
    calibrate: Calibration | str | None = None,
    calibration_time: float | str | None = None,
    calibration_samples: int = 256,
    yield_target: float | None = None,
) -> Report:
    """Evaluate run directories on the same simulated chips; the :class:`~snnvar.evaluation.Report`.

    Args:
        runs: run directories (``snnvar train`` / ``snnvar convert``), all of one data
            set with the same options.
        conditions: label -> what the chips are drawn from (any
            :class:`~snnvar.Perturbation`: a :class:`~snnvar.Variation`, swept over
            ``sigmas``, given at σ = 0; or a device model, read at ``times``); None: the
            static Gaussian variation relative to each layer's range.
        sigmas: the σ of the variations (ignored when every condition is a device model).
        times: seconds after programming at which the device models are read.
        draws: simulated chips per condition (1 .. ``MAX_DRAWS``).
        seed: root seed of the chips (recorded in the report).
        names: a name per run (default: its method, ``"sgd→snn"`` for a conversion).
        time_steps: T of every spiking run (None: each run's own).
        hardware: restrictions to deploy every unrestricted run on (a run trained on
            restrictions is deployed on its own).
        ablation: with ``hardware``, also every run on each restriction alone.
        worst_case: search each run's worst-case chip too.
        landscape: the loss along random variation directions.
        histograms: per-layer weight histograms (a warning when the models share no layer).
        batch_size: samples per forward pass (memory only).
        device: the torch device to compute on (None: the CPU).
        root: the data root (None: ``$SNNVAR_DATA``).
        progress: progress bars.
        energy: price every chip's inference (``snnvar.evaluate``'s ``energy``): every
            run must be on a chip (its own restrictions, or ``hardware``).
        calibrate: also calibrate every chip after programming (``snnvar.evaluate``'s
            ``calibrate``: a :class:`~snnvar.evaluation.Calibration` or ``"bn,threshold"``).
        calibration_time: with ``calibrate`` given as methods: device models are
            calibrated at this time after programming (``Calibration.time``).
        calibration_samples: the calibration set: this many samples of the training
            split, drawn without replacement from ``derive_seed(seed, CALIBRATION_KEY, 1)``
            (recorded in ``config["calibration"]``).
        yield_target: the accuracy a chip must reach (None: clean accuracy - 1 point).
    """
    runs = [Path(r) for r in runs]
    if not runs:
        raise ValueError("evaluate_runs needs at least one run directory")
    if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= MAX_DRAWS:
        raise ValueError(f"draws must be an integer in [1, {MAX_DRAWS:,}], got {draws!r}")
    if names is not None and len(names) != len(runs):
        raise ValueError(f"{len(names)} names for {len(runs)} runs")
    if time_steps is not None and time_steps < 1:
        raise ValueError(f"time_steps must be >= 1, got {time_steps} (None: each run's T)")
    if ablation and hardware is None:
        raise ValueError("the ablation takes the restrictions of hardware")
    if calibration_time is not None and not isinstance(calibrate, str):
        raise ValueError(
            "calibration_time is Calibration.time: give it with calibrate as a string of "
            "methods ('bn,affine'), or set time= on the Calibration given"
        )
    if isinstance(calibrate, str):  # checked before any run is loaded
        calibrate = Calibration(methods=calibrate, time=calibration_time)  # type: ignore[arg-type]
    if conditions is None:
        default = Variation(sigma=0.0)
        conditions = {default.label(): default}
    conditions = dict(conditions)
    attack_on = _check_conditions(conditions, times, worst_case)
    if all(isinstance(c, DeviceModel) for c in conditions.values()):
        sigmas = None  # device models alone: each reads its own σ
    labelled_variations(conditions, sigmas, times)  # the sweep, checked before loading
    raw, loaded = _load(runs, hardware, root)
    specs = [s for _, s in loaded]
    names = list(names or [run_label(r, s) for r, s in zip(runs, specs, strict=True)])
    if len(set(names)) != len(names):
        names = [f"{n} ({r.name})" for n, r in zip(names, runs, strict=True)]
    test = run_dataset(specs[0], root=root)  # with the runs' own data set options
    models = {n: m for n, (m, _) in zip(names, loaded, strict=True)}
    encoders = {n: s.encoder for n, s in zip(names, specs, strict=True)}
    steps = {n: s.time_steps if time_steps is None else time_steps
             for n, s in zip(names, specs, strict=True)}  # fmt: skip
    if ablation:
        for key, (chip, name) in _ablations(names, raw, runs, hardware).items():
            models[key], encoders[key], steps[key] = chip, encoders[name], steps[name]
    if device is not None:
        models = {k: m.to(device) for k, m in models.items()}
    calibration_data, drawn = None, None
    if calibrate is not None:
        calibration_data, drawn = calibration_subset(specs[0], calibration_samples, seed, root)
    report = evaluate(
        models, test, conditions, sigmas=sigmas, times=times, draws=draws, seed=seed,
        encoder=encoders, time_steps=steps, batch_size=batch_size, dataset=specs[0].dataset,
        progress=progress, energy=energy, calibrate=calibrate,
        calibration_data=calibration_data, yield_target=yield_target,
    )  # fmt: skip
    if drawn is not None:
        report.config["calibration"].update(drawn)
    for name, model in models.items():
        for zeta in worst_case.zetas if worst_case else ():
            found = worst_case_attack(
                model, test, zeta=zeta, steps=worst_case.steps, seed=seed, variation=attack_on,
                encoder=encoders[name], time_steps=steps[name], batch_size=batch_size,
                loss=worst_case.loss,
            )  # fmt: skip
            report.worst_case.append({
                "method": name, "zeta": zeta, "steps": found.steps, "seed": found.seed,
                "objective": found.objective, "accuracy": found.accuracy,
                "clean_accuracy": found.clean_accuracy, "loss": found.loss,
            })  # fmt: skip
    if landscape:
        report.landscape = loss_landscape(
            models, test, seed=seed, encoder=encoders, time_steps=steps, batch_size=batch_size
        )
    report.config["runs"] = [str(r) for r in runs]
    report.config["dataset_options"] = dict(specs[0].dataset_options)
    if histograms:
        try:
            report.histograms = weight_histograms(models)
        except ValueError as err:
            if is_main():  # once, not per torchrun rank
                warnings.warn(f"no weight histograms: {err}", stacklevel=2)
    return report
