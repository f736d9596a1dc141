"""A run's pieces built from its spec: the model, the Trainer (seed -> model ->
base optimizer -> method -> schedule -> SWA, in one place) and the data set with
the run's own options. The command line, conversion's fine-tuning, the
benchmarks and the notebooks build their trainers here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from .. import datasets, models
from ..hardware import restrict, restrictions_of
from ..training import SWAConfig, Trainer, create_method, create_optimizer
from .spec import RunSpec

__all__ = ["build_trainer", "calibration_inputs", "model_for", "run_dataset"]


def _root_dataset(data: Dataset) -> Dataset:
    """The data set a (nested) Subset is taken from."""
    while isinstance(data, Subset):
        data = data.dataset
    return data


def _shape_and_classes(data: Dataset, encoder: str) -> tuple[tuple[int, ...], int]:
    x, _ = data[0]
    shape = tuple(x.shape[1:] if encoder == "frames" else x.shape)
    classes = getattr(_root_dataset(data), "classes", None)  # the data set a subset is of
    return shape, len(classes) if classes else 10


def model_for(spec: RunSpec, data: Dataset | None = None) -> nn.Module:
    """The (untrained, seeded) model of ``spec``; shape and classes from ``data``;
    restricted as ``spec.hardware`` says (:func:`~snnvar.hardware.restrict`)."""
    options = dict(spec.model_options)
    if data is not None:
        shape, classes = _shape_and_classes(data, spec.encoder)
        given = options.get("num_classes", classes)
        if given != classes and hasattr(_root_dataset(data), "classes"):
            raise ValueError(
                f"model option num_classes={given!r}, but {spec.dataset} has {classes} "
                "classes; leave num_classes out (it follows the data)"
            )
        options.setdefault("in_shape", shape)
        options.setdefault("num_classes", classes)
    torch.manual_seed(spec.seed)
    model = models.create(spec.model, spiking=spec.spiking, **options)
    return model if spec.hardware is None else restrict(model, spec.hardware)


def build_trainer(
    spec: RunSpec,
    model: nn.Module | None = None,
    data: Dataset | None = None,
    *,
    out_dir: str | Path | None = None,
    progress: bool | None = None,
    device: str | torch.device | None = None,
) -> Trainer:
    """The Trainer of ``spec``: seed -> model -> base optimizer -> method (with
    ``spec.variation``) -> cosine schedule -> SWA -> loop settings, in one place.

    ``model``: train this one (e.g. a converted SNN to fine-tune; restricted as
    ``spec.hardware`` says unless it is already); None builds
    :func:`model_for(spec, data) <model_for>` (``data`` gives the input shape and
    the classes). Nothing is read or written here; ``out_dir`` is where the
    Trainer will write its checkpoints and metrics. ``progress`` overrides
    ``spec.train.progress``. ``device``: the torch device to train on (the model is
    moved there before the optimizer is built; None: where it is). The model is
    ``trainer.model``.
    """
    if model is None:
        model = model_for(spec, data)
    elif spec.hardware is not None:
        have = restrictions_of(model)
        if have is None:
            model = restrict(model, spec.hardware)
        elif have != spec.hardware:
            raise ValueError(
                f"the model is restricted with {have.label()}, the spec says "
                f"{spec.hardware.label()}"
            )
    if device is not None:
        model = model.to(device)
    base = create_optimizer(spec.optimizer, model, spec.lr, weight_decay=spec.weight_decay)
    method = create_method(
        spec.method, model, base, spec.training_noise, seed=spec.seed, **spec.method_options
    )
    epochs = spec.train.epochs
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(method, epochs) if spec.cosine else None
    swa = None if spec.swa_start is None else SWAConfig(start_epoch=spec.swa_start)
    config = spec.train if progress is None else replace(spec.train, progress=progress)
    return Trainer(model, method, config, out_dir=out_dir, scheduler=schedule, swa=swa)


def run_dataset(spec: RunSpec, root: str | Path | None = None, train: bool = False) -> Dataset:
    """The data set a run was made with: ``spec.dataset`` with the run's own
    ``spec.dataset_options`` (image size, N-MNIST time bins, ...), its test split
    (``train=False``) or its training split. Every path that reloads a run's data
    (evaluate, convert, export, the benchmarks) goes through here, so the model
    sees the inputs it was trained on."""
    return datasets.get(spec.dataset, root=root, train=train, **spec.dataset_options)


def calibration_inputs(spec: RunSpec, samples: int, root: str | Path | None = None) -> torch.Tensor:
    """The first ``samples`` training inputs of ``spec``'s data set (for threshold balancing)."""
    train = run_dataset(spec, root, train=True)
    n = min(samples, len(train))
    if n < 1:
        raise ValueError(f"calibration needs at least 1 sample, got {samples}")
    return torch.stack([train[i][0] for i in range(n)])
