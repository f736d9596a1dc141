"""A training run as a directory: ``run.json`` (what was trained, how, with which
seed), the Trainer's ``checkpoint.pt`` and ``metrics.csv`` / ``metrics.json``.

:func:`train_run` creates one from a :class:`RunSpec`; :func:`load_run`
rebuilds the trained model from it (for ``snnvar evaluate`` and for users).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from . import datasets, models
from .evaluation.report import prepare_out_dir
from .training import METHODS, SWAConfig, TrainConfig, Trainer, create_method, create_optimizer
from .variation import Variation

__all__ = ["RunSpec", "load_run", "model_for", "train_run"]


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a training run (written to ``run.json``)."""

    model: str = "spiking_cnn1"
    """A name of :func:`snnvar.models.available`."""
    model_options: dict[str, Any] = field(default_factory=dict)
    """Options of the model (e.g. ``hidden``, ``beta``); ``in_shape`` and
    ``num_classes`` come from the data set unless given."""
    spiking: bool = True
    """SNN (True) or the ReLU ANN of the same architecture."""
    dataset: str = "digits"
    """A name of :func:`snnvar.datasets.available`."""
    method: str = "sgd"
    """A name of :data:`snnvar.training.METHODS`."""
    method_options: dict[str, Any] = field(default_factory=dict)
    """The method's hyperparameters (e.g. ``{"w_th": 0.5}``, ``{"samples": 4}``)."""
    sigma: float = 0.1
    """σ of the training variation (WVAT's HSV, relative to each layer's range)."""
    gamma: float = 1.0
    """WVAT's range coefficient γ of the training variation."""
    optimizer: str = "adam"
    """Base optimizer: ``adam`` or ``sgd`` (with momentum 0.9)."""
    lr: float = 1e-3
    """Learning rate (cosine-annealed to 0 over the epochs when ``cosine``)."""
    cosine: bool = True
    """Cosine learning-rate schedule over the run."""
    weight_decay: float = 0.0
    """Weight decay of the base optimizer."""
    epochs: int = 10
    """Epochs to train."""
    batch_size: int = 128
    """Samples per step."""
    time_steps: int = 25
    """T of the spike encoder."""
    encoder: str = "rate"
    """How inputs become spikes (``none`` for an ANN)."""
    swa_start: int | None = None
    """First epoch of stochastic weight averaging; None: no SWA."""
    warmup_epochs: int = 0
    """Epochs of the plain base optimizer before the method takes over."""
    seed: int = 0
    """Seed of initialisation, shuffling, encoding and the method's perturbations."""

    def __post_init__(self) -> None:
        if self.model not in models.available():
            raise ValueError(f"unknown model {self.model!r}; available: {models.available()}")
        if self.dataset not in datasets.available():
            raise ValueError(
                f"unknown data set {self.dataset!r}; available: {datasets.available()}"
            )
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; allowed: {list(METHODS)}")
        if not 0.0 <= self.sigma <= 1.0:
            raise ValueError(f"sigma must lie in [0, 1], got {self.sigma}")
        self.train_config()  # epochs, batch size, encoder, warm-up: fail before any output

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown run settings {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    def train_config(self, progress: bool = False) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            time_steps=self.time_steps,
            encoder=self.encoder,
            seed=self.seed,
            progress=progress,
            warmup_epochs=self.warmup_epochs,
        )


def _shape_and_classes(data: Dataset, encoder: str) -> tuple[tuple[int, ...], int]:
    x, _ = data[0]
    shape = tuple(x.shape[1:] if encoder == "frames" else x.shape)
    classes = getattr(data, "classes", None)
    return shape, len(classes) if classes else 10


def model_for(spec: RunSpec, data: Dataset | None = None) -> nn.Module:
    """The (untrained, seeded) model of ``spec``; shape and classes from ``data``."""
    options = dict(spec.model_options)
    if data is not None:
        shape, classes = _shape_and_classes(data, spec.encoder)
        options.setdefault("in_shape", shape)
        options.setdefault("num_classes", classes)
    torch.manual_seed(spec.seed)
    return models.create(spec.model, spiking=spec.spiking, **options)


def train_run(
    spec: RunSpec,
    out_dir: str | Path,
    overwrite: bool = False,
    resume: bool = False,
    root: str | Path | None = None,
    progress: bool = False,
    validate: bool = True,
) -> tuple[nn.Module, Trainer]:
    """Train ``spec`` into ``out_dir`` (a new directory unless ``overwrite`` or ``resume``)."""
    out = Path(out_dir)
    if resume:
        saved = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else None
        if saved is None:
            raise FileNotFoundError(f"no run to resume at {out} (run.json is missing)")
        if RunSpec.from_dict(saved) != spec:
            raise ValueError(f"the run at {out} was made with other settings: {saved}")
    else:
        prepare_out_dir(out, overwrite)
    train = datasets.get(spec.dataset, root=root, train=True)
    test = datasets.get(spec.dataset, root=root, train=False) if validate else None
    model = model_for(spec, train)
    base = create_optimizer(spec.optimizer, model, spec.lr, weight_decay=spec.weight_decay)
    variation = Variation(sigma=spec.sigma, gamma=spec.gamma)
    opt = create_method(spec.method, model, base, variation, seed=spec.seed, **spec.method_options)
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=spec.epochs) if spec.cosine else None
    )
    swa = None if spec.swa_start is None else SWAConfig(start_epoch=spec.swa_start)
    (out / "run.json").write_text(json.dumps(asdict(spec), indent=1))
    trainer = Trainer(
        model, opt, spec.train_config(progress), out_dir=out, scheduler=sched, swa=swa
    )
    trainer.fit(train, test, resume=resume)
    return model, trainer


def calibration_inputs(spec: RunSpec, samples: int, root: str | Path | None = None) -> torch.Tensor:
    """The first ``samples`` training inputs of ``spec``'s data set (for threshold balancing)."""
    train = datasets.get(spec.dataset, root=root, train=True)
    n = min(samples, len(train))
    if n < 1:
        raise ValueError(f"calibration needs at least 1 sample, got {samples}")
    return torch.stack([train[i][0] for i in range(n)])


def _load_converted(run: Path, root: str | Path | None) -> tuple[nn.Module, RunSpec]:
    from .conversion import ConversionConfig, convert

    info = json.loads((run / "conversion.json").read_text())
    ann, spec = load_run(run / info["source"] if not Path(info["source"]).is_absolute()
                         else info["source"], root)  # fmt: skip
    config = ConversionConfig(**info["config"])
    snn = convert(ann, calibration_inputs(spec, info["calibration"], root), config=config)
    state = torch.load(run / "checkpoint.pt", weights_only=False, map_location="cpu")
    try:
        snn.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(
            f"the checkpoint in {run} does not fit the converted model: {err}"
        ) from None
    spec = replace(spec, encoder=config.encoder, time_steps=config.timesteps, spiking=True)
    return snn.eval(), spec


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
    model = model_for(spec, datasets.get(spec.dataset, root=root, train=False))
    try:
        state = torch.load(ckpt_path, weights_only=False, map_location="cpu")
    except Exception as err:
        raise ValueError(f"{ckpt_path} is not a readable checkpoint: {err}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{ckpt_path} holds no model state")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(f"the checkpoint {ckpt_path} does not fit the model: {err}") from None
    model.eval()
    return model, spec


def convert_run(
    source: str | Path,
    out_dir: str | Path,
    config: Any,
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
    ``config.timesteps``, after fine-tuning too), ``conversion.md`` and
    ``checkpoint.pt``; with ``finetune_epochs`` the SNN is fine-tuned with spikes
    and ``method`` (default: the ANN's) through the Trainer. ``snnvar evaluate``
    and :func:`load_run` read the result like any run.
    """
    from .conversion import convert
    from .evaluation import evaluate

    out = prepare_out_dir(out_dir, overwrite)
    ann, spec = load_run(source, root)
    if spec.spiking:
        raise ValueError(f"{source} is an SNN run; convert an ANN (`snnvar train --ann`)")
    calib = calibration_inputs(spec, calibration, root)
    test = datasets.get(spec.dataset, root=root, train=False)

    def accuracy(model: nn.Module, encoder: str, steps: int | None) -> float:
        r = evaluate(model, test, draws=1, encoder=encoder, time_steps=steps, spikes=False)
        return r.results[0]["accuracy_mean"]

    info: dict[str, Any] = {
        "source": str(Path(source).resolve()),
        "config": asdict(config),
        "calibration": len(calib),
        "seed": config.seed,
        "ann_accuracy": accuracy(ann, "none", None),
        "accuracy_vs_timesteps": [],
    }
    for steps in sorted(set(sweep) | {config.timesteps}):
        converted = convert(ann, calib, config=replace(config, timesteps=steps))
        acc = accuracy(converted, config.encoder, steps)
        info["accuracy_vs_timesteps"].append({"timesteps": steps, "accuracy": acc})
        if steps == config.timesteps:
            snn = converted  # the run's SNN: converted once, not again
    info["thresholds"] = snn.thresholds
    info["method"] = "converted"
    if finetune_epochs > 0:
        name = method or spec.method
        base = create_optimizer("adam", snn, lr)
        variation = Variation(sigma=spec.sigma, gamma=spec.gamma)
        opt = create_method(name, snn, base, variation, seed=spec.seed, **(
            spec.method_options if name == spec.method else {}))  # fmt: skip
        cfg = TrainConfig(
            epochs=finetune_epochs, batch_size=batch_size, time_steps=config.timesteps,
            encoder=config.encoder, seed=spec.seed, progress=progress,
        )  # fmt: skip
        Trainer(snn, opt, cfg, out_dir=out).fit(datasets.get(spec.dataset, root=root))
        info["method"] = f"{name}+finetune"
        info["finetune"] = {"epochs": finetune_epochs, "method": name, "lr": lr}
        info["finetuned_accuracy"] = accuracy(snn, config.encoder, config.timesteps)
    else:
        torch.save({"model": snn.state_dict()}, out / "checkpoint.pt")
    (out / "conversion.json").write_text(json.dumps(info, indent=1))
    lines = [
        f"ANN accuracy: {100 * info['ann_accuracy']:.2f} %",
        "",
        "| T | converted SNN accuracy (%) |",
        "|---|---|",
        *(
            f"| {r['timesteps']} | {100 * r['accuracy']:.2f} |"
            for r in info["accuracy_vs_timesteps"]
        ),
        "",
        "| layer | threshold |",
        "|---|---|",
        *(f"| {k} | {v:.4g} |" for k, v in info["thresholds"].items()),
    ]
    if "finetuned_accuracy" in info:
        lines += ["", f"after fine-tuning: {100 * info['finetuned_accuracy']:.2f} %"]
    (out / "conversion.md").write_text("\n".join(lines) + "\n")
    return info
