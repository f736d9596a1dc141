"""Conversion of a run's ANN into an SNN run (Rathi et al., 2020): thresholds
balanced on the run's training data, accuracy by T, optional spike fine-tuning,
``conversion.json`` / ``conversion.md`` beside the SNN's checkpoint."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..conversion import ConversionConfig, convert
from ..evaluation import evaluate
from ..files import check_out_dir, prepare_out_dir, removing_new_dirs, write_bytes, write_text
from ..training import TrainConfig
from .build import build_trainer, calibration_inputs, run_dataset
from .directory import load_run

__all__ = ["conversion_markdown", "convert_run"]


def convert_run(
    source: str | Path,
    out_dir: str | Path,
    config: ConversionConfig,
    calibration: int = 256,
    sweep: tuple[int, ...] = (),
    finetune_epochs: int = 0,
    method: str | None = None,
    lr: float = 1e-4,
    batch_size: int = 64,
    overwrite: bool = False,
    root: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Convert the ANN of run ``source`` into an SNN run in ``out_dir`` (Rathi et al., 2020).

    Writes ``conversion.json`` (source, config, calibration samples, per-layer
    thresholds, ANN accuracy, SNN accuracy for each T of ``sweep`` and of
    ``config.time_steps``, after fine-tuning too), ``conversion.md`` and
    ``checkpoint.pt``; with ``finetune_epochs`` the SNN is fine-tuned with spikes
    and ``method`` (default: the ANN's, with its options and training variation)
    by :func:`build_trainer` (Adam at ``lr``, constant rate); the fine-tuning
    spec is recorded in full. ``snnvar evaluate`` and :func:`load_run` read the
    result like any run.
    """
    if (
        isinstance(finetune_epochs, bool)
        or not isinstance(finetune_epochs, int)
        or (finetune_epochs < 0)
    ):
        raise ValueError(f"finetune_epochs must be an integer >= 0, got {finetune_epochs!r}")
    ann, spec = load_run(source, root)
    if spec.spiking:
        raise ValueError(f"{source} is an SNN run; convert an ANN (`snnvar train --ann`)")
    if spec.hardware is not None:
        raise ValueError(
            f"{source} was trained on restricted hardware ({spec.hardware.label()}); "
            "conversion takes an unrestricted ANN: convert one, then evaluate the SNN on the "
            "chip with `snnvar evaluate --hardware`"
        )
    check_out_dir(out_dir, overwrite)
    calib = calibration_inputs(spec, calibration, root)
    test = run_dataset(spec, root)
    out_dir = Path(out_dir)
    with removing_new_dirs(out_dir):  # a failed conversion leaves no empty directory

        def accuracy(model: nn.Module, encoder: str, steps: int | None) -> float:
            r = evaluate(model, test, draws=1, encoder=encoder, time_steps=steps, spikes=False)
            return r.results[0].accuracy_mean

        info: dict[str, Any] = {
            "source": str(Path(source).resolve()),
            "config": asdict(config),
            "calibration": len(calib),
            "seed": config.seed,
            "ann_accuracy": accuracy(ann, "none", None),
            "accuracy_vs_time_steps": [],
        }
        for steps in sorted(set(sweep) | {config.time_steps}):
            converted = convert(ann, calib, config=replace(config, time_steps=steps))
            acc = accuracy(converted, config.encoder, steps)
            info["accuracy_vs_time_steps"].append({"time_steps": steps, "accuracy": acc})
            if steps == config.time_steps:
                snn = converted  # the run's SNN: converted once, not again
        info["thresholds"] = snn.thresholds
        info["method"] = "converted"
        if finetune_epochs > 0:
            name = method or spec.method
            tune = replace(
                spec,
                spiking=True,
                method=name,
                method_options=spec.method_options if name == spec.method else {},
                optimizer="adam",
                lr=lr,
                cosine=False,
                weight_decay=0.0,
                swa_start=None,
                train=TrainConfig(
                    epochs=finetune_epochs, batch_size=batch_size, time_steps=config.time_steps,
                    encoder=config.encoder, seed=spec.seed, progress=False,
                ),
            )  # fmt: skip
            out = prepare_out_dir(out_dir, overwrite)
            tuner = build_trainer(tune, snn, out_dir=out, progress=progress)
            tuner.fit(run_dataset(spec, root, train=True))
            info["method"] = f"{name}+finetune"
            info["finetune"] = {"epochs": finetune_epochs, "method": name, "lr": lr,
                                "spec": tune.to_dict()}  # fmt: skip
            info["finetuned_accuracy"] = accuracy(snn, config.encoder, config.time_steps)
        else:
            out = prepare_out_dir(out_dir, overwrite)
            buffer = io.BytesIO()  # see Trainer._write: a full disk as an OSError
            torch.save({"model": snn.state_dict()}, buffer)
            write_bytes(out / "checkpoint.pt", buffer.getvalue())
        write_text(out / "conversion.json", json.dumps(info, indent=1))
        write_text(out / "conversion.md", conversion_markdown(info))
        return info


def conversion_markdown(info: dict[str, Any]) -> str:
    """``conversion.md``: the ANN's accuracy, the SNN's by T, the thresholds per layer
    and the accuracy after fine-tuning, from a ``conversion.json`` record."""
    lines = [
        f"ANN accuracy: {100 * info['ann_accuracy']:.2f} %",
        "",
        "| T | converted SNN accuracy (%) |",
        "|---|---|",
        *(
            f"| {r['time_steps']} | {100 * r['accuracy']:.2f} |"
            for r in info["accuracy_vs_time_steps"]
        ),
        "",
        "| layer | threshold |",
        "|---|---|",
        *(f"| {k} | {v:.4g} |" for k, v in info["thresholds"].items()),
    ]
    if "finetuned_accuracy" in info:
        lines += ["", f"after fine-tuning: {100 * info['finetuned_accuracy']:.2f} %"]
    return "\n".join(lines) + "\n"
