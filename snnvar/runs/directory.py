"""Run directories: :func:`train_run` writes one (``run.json``, the Trainer's
``checkpoint.pt``, ``metrics.csv`` / ``metrics.json``), :func:`load_run` rebuilds
its trained model (a converted run's SNN too) and :func:`on_chip` deploys it on
the chip it is evaluated on."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..files import check_out_dir, prepare_out_dir, removing_new_dirs, write_text
from ..hardware import Restrictions, deploy, restrict
from ..training.trainer import Trainer, state_mismatch
from .build import build_trainer, calibration_inputs, model_for, run_dataset
from .spec import RunSpec

__all__ = ["SettingsDiffer", "load_run", "on_chip", "run_label", "train_run", "training_summary"]

_RUN_FILES = ("checkpoint.pt", "metrics.json", "metrics.csv", "run.json")


class SettingsDiffer(ValueError):
    """A resumed run given settings other than the ones it was made with."""

    def __init__(self, path: Path, pairs: list[tuple[str, Any, Any]]) -> None:
        listed = "; ".join(f"{k}: saved {a!r}, given {b!r}" for k, a, b in pairs)
        super().__init__(
            f"the run at {path} was made with other settings ({listed}); resume it with the "
            "saved ones"
        )
        self.path = path
        """The run directory."""
        self.pairs = pairs
        """``(key, saved value, given value)`` per differing setting."""


def train_run(
    spec: RunSpec,
    out_dir: str | Path,
    overwrite: bool = False,
    resume: bool = False,
    root: str | Path | None = None,
    progress: bool = False,
    validate: bool = True,
    device: str | torch.device | None = None,
) -> tuple[nn.Module, Trainer]:
    """Train ``spec`` into ``out_dir`` (a new directory unless ``overwrite`` or ``resume``).

    The data sets are loaded first, so a missing data set leaves no directory
    behind; ``run.json`` is written before the first epoch. Under torch.distributed
    (torchrun) every rank trains its share of each batch and rank 0 alone writes.
    """
    out = Path(out_dir)
    if resume and overwrite:
        raise ValueError(
            "resume continues the run in the directory, overwrite replaces it: give one"
        )
    if resume:
        if not (out / "run.json").is_file():
            raise FileNotFoundError(f"no run to resume at {out} (run.json is missing)")
        try:
            saved = RunSpec.from_dict(json.loads((out / "run.json").read_text()))
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{out / 'run.json'} is not valid JSON ({err}); it is damaged: train again into "
                "a new directory (or with --overwrite)"
            ) from None
        done = out / "metrics.json"
        if not (out / "checkpoint.pt").is_file() and done.is_file():
            raise FileNotFoundError(
                f"{out} records finished epochs (metrics.json) but its checkpoint.pt is "
                "missing: the run cannot continue where it stopped; train again into a new "
                "directory (or with --overwrite)"
            )
        differ = spec.differing(saved)
        if differ:
            raise SettingsDiffer(out, differ)
    if not resume:
        check_out_dir(out, overwrite)
    train = run_dataset(spec, root, train=True)
    test = run_dataset(spec, root) if validate else None
    from ..distributed import is_main, on_main
    from ..evaluation.report import REPORT_FILES

    # the model, the method and the data are checked before anything is written
    trainer = build_trainer(spec, data=train, out_dir=out, progress=progress, device=device)
    with removing_new_dirs(out):
        if not resume:  # under torch.distributed rank 0 writes; every rank trains
            on_main(lambda: prepare_out_dir(out, overwrite))
            # an overwritten run's checkpoint and metrics must not be resumed as this one's
            # nor an earlier report's files stay beside it (the directory is one unit)
            on_main(lambda: [(out / n).unlink(missing_ok=True) for n in _RUN_FILES + REPORT_FILES])
            on_main(lambda: write_text(out / "run.json", json.dumps(spec.to_dict(), indent=1)))
        try:  # interrupted before its first checkpoint, a run resumes from its start
            trainer.fit(train, test, resume=resume and trainer.checkpoint_path.is_file())
        except Exception:
            # failed (diverged, a model that does not fit the data) before its first
            # checkpoint: nothing to resume, so nothing of it blocks the rerun (Ctrl-C,
            # not an Exception, keeps run.json for --resume)
            if is_main() and not resume and not trainer.checkpoint_path.is_file():
                (out / "run.json").unlink(missing_ok=True)  # no collective: one rank may fail
            raise
    return trainer.model, trainer


def _load_converted(run: Path, root: str | Path | None) -> tuple[nn.Module, RunSpec]:
    from ..conversion import ConversionConfig, convert

    info = json.loads((run / "conversion.json").read_text())
    ann, spec = load_run(run / info["source"] if not Path(info["source"]).is_absolute()
                         else info["source"], root)  # fmt: skip
    config = ConversionConfig(**info["config"])
    snn = convert(ann, calibration_inputs(spec, info["calibration"], root), config=config)
    _load_checkpoint(snn, run / "checkpoint.pt")
    loop = replace(spec.train, encoder=config.encoder, time_steps=config.time_steps)
    return snn.eval(), replace(spec, train=loop, spiking=True)


def run_label(run_dir: str | Path, spec: RunSpec) -> str:
    """How a report names the run: its method (``"wvat"``), and for a converted run
    what made it (``"sgd→snn"``; ``"sgd→snn+wvat fine-tune"`` when fine-tuned with WVAT)."""
    info_path = Path(run_dir) / "conversion.json"
    if not info_path.is_file():
        return spec.method
    info = json.loads(info_path.read_text())
    tuned = info.get("finetune", {}).get("method")
    return f"{spec.method}→snn" + (f"+{tuned} fine-tune" if tuned else "")


def load_run(run_dir: str | Path, root: str | Path | None = None) -> tuple[nn.Module, RunSpec]:
    """The trained model of a run directory and its spec (a converted run: the
    converted SNN, and its source's spec with the SNN's encoder and T)."""
    run = Path(run_dir)
    if (run / "conversion.json").is_file() and (run / "checkpoint.pt").is_file():
        return _load_converted(run, root)
    spec_path, ckpt_path = run / "run.json", run / "checkpoint.pt"
    for p in (spec_path, ckpt_path):
        if not p.is_file():
            raise FileNotFoundError(
                f"{run} is not a finished snnvar run: {p.name} is missing "
                "(make one with `snnvar train --out DIR`)"
            )
    try:
        spec = RunSpec.from_dict(json.loads(spec_path.read_text()))
    except json.JSONDecodeError as err:
        raise ValueError(f"{spec_path} is not valid JSON: {err}") from None
    model = model_for(spec, run_dataset(spec, root))
    _load_checkpoint(model, ckpt_path)
    return model.eval(), spec


def _load_checkpoint(model: nn.Module, path: Path) -> None:
    """Load a run's ``checkpoint.pt`` into ``model``; a clear error when it is not one."""
    try:
        state = torch.load(path, weights_only=False, map_location="cpu")
    except Exception as err:
        raise ValueError(f"{path} is not a readable checkpoint: {err}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} holds no model state")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(
            f"the checkpoint {path} does not fit the model: {state_mismatch(err)}"
        ) from None


def on_chip(
    model: nn.Module, spec: RunSpec, hardware: Restrictions | None = None, run: str | Path = "run"
) -> tuple[nn.Module, RunSpec]:
    """A run's model as an evaluation sees it: deployed on its own restricted chip
    (an HRAT run), on ``hardware``, or as it is; with the spec that says so.
    ``run`` names the run in the error for a run trained on other restrictions."""
    if spec.hardware is not None:
        if hardware is not None and hardware != spec.hardware:
            raise ValueError(
                f"{run} was trained on {spec.hardware.label()}; the evaluation's hardware is "
                f"{hardware.label()}: evaluate it on its own chip (leave the hardware out)"
            )
        return deploy(model), spec
    if hardware is None:
        return model, spec
    return deploy(restrict(model, hardware)), replace(spec, hardware=hardware)


def training_summary(spec: RunSpec, trainer: Trainer) -> str:
    """One line on a finished run: what was trained with what (the training noise,
    where the method draws one: sgd, SAM and AWP do not) and its last epoch's
    accuracies (``snnvar train`` prints it)."""
    noise = ""
    if hasattr(trainer.optimizer, "variation"):
        noise = (
            f"; variation {spec.variation.label()}, sigma {spec.variation.sigma:g}"
            if spec.device_model is None
            else f"; device {spec.device_model.label()}"
        )
    last, world = trainer.history[-1], trainer.world_size
    perturbed = getattr(trainer.optimizer, "perturbed_first_pass", False)
    where = (
        " (last epoch, at the perturbed weights it trained on)" if perturbed else " (last epoch)"
    )
    return (
        f"trained {spec.model} with {spec.method} on {spec.dataset} for {spec.train.epochs} "
        f"epochs (seed {spec.seed}{noise}): train accuracy {100 * last['train_accuracy']:.2f} %"
        + f"{where}, test accuracy {100 * last['val_accuracy']:.2f} %"
        + (f" ({world} processes, batch {spec.train.batch_size} each)" if world > 1 else "")
    )
