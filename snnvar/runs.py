"""A training run: :class:`RunSpec` says everything that defines it,
:func:`build_trainer` turns it into a ready :class:`~snnvar.training.Trainer`,
and a run directory holds ``run.json`` (the spec, the whole Variation
included), the Trainer's ``checkpoint.pt`` and ``metrics.csv`` / ``metrics.json``.

:func:`train_run` is the directory I/O around :func:`build_trainer`;
:func:`load_run` rebuilds the trained model from a directory (for ``snnvar
evaluate`` and for users). The command line, ``snnvar convert``'s fine-tuning,
the benchmarks and the notebooks all build their trainers with
:func:`build_trainer`.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from . import datasets, models
from .fields import check_types
from .files import check_out_dir, prepare_out_dir, removing_new_dirs, write_bytes, write_text
from .hardware import Restrictions, restrict, restrictions_of
from .hardware.devices import DeviceModel, device_from_dict
from .training import (
    METHODS,
    OPTIMIZERS,
    SWAConfig,
    TrainConfig,
    Trainer,
    create_method,
    create_optimizer,
)
from .training.trainer import state_mismatch
from .variation import Variation

__all__ = [
    "RUN_FORMAT",
    "RunSpec",
    "SettingsDiffer",
    "build_trainer",
    "convert_run",
    "load_run",
    "model_for",
    "run_dataset",
    "run_label",
    "train_run",
]

RUN_FORMAT = 2
"""Layout of ``run.json``: 2 nests the ``variation`` and ``train`` settings (1, the
flat layout of earlier releases with ``sigma`` and ``gamma`` only, still loads)."""

_LEGACY_VARIATION = ("sigma", "gamma")


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
    dataset_options: dict[str, Any] = field(default_factory=dict)
    """Options of the data set, e.g. ``time_bins=25`` for N-MNIST frames."""
    method: str = "sgd"
    """A name of :data:`snnvar.training.METHODS`."""
    method_options: dict[str, Any] = field(default_factory=dict)
    """The method's hyperparameters, e.g. ``w_th=0.5`` (WVAT) or ``samples=4`` (HA-SGD)."""
    variation: Variation = field(default_factory=lambda: Variation(sigma=0.1))
    """The training variation of the methods that take one (WVAT's HSV, noise
    injection, HA-SGD, adversarial regularisation): any :class:`~snnvar.Variation`,
    measured distributions included; σ = 10 % of each layer's range by default."""
    optimizer: str = "adam"
    """Base optimizer: ``adam`` or ``sgd`` (with momentum 0.9)."""
    lr: float = 1e-3
    """Learning rate (cosine-annealed to 0 over the epochs when ``cosine``)."""
    cosine: bool = True
    """Cosine learning-rate schedule over the run."""
    weight_decay: float = 0.0
    """Weight decay of the base optimizer."""
    swa_start: int | None = None
    """First epoch of stochastic weight averaging (unset: no SWA)."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(progress=False))
    """The training loop: epochs, batch size, encoder, T, warm-up epochs and the seed
    (of initialisation, shuffling, encoding and the method's perturbations)."""
    hardware: Restrictions | None = None
    """The chip's circuit restrictions (:class:`~snnvar.hardware.Restrictions`): the
    model is trained as :func:`~snnvar.hardware.restrict` makes it (HRAT, with any
    method on top); None: the unrestricted model."""
    device: DeviceModel | None = None
    """A device model (:class:`~snnvar.hardware.PCM`, ``RRAM``, ``StuckAt``, a custom
    σ(g)) as the training noise of the methods that take one, instead of
    ``variation`` (the WVAT paper trains with its measured device distributions);
    None: ``variation``."""

    def __post_init__(self) -> None:
        check_types(self)
        for name in ("model_options", "dataset_options", "method_options"):
            # as run.json holds them (tuples become lists), so a spec equals its record
            try:
                value = json.loads(json.dumps(getattr(self, name), allow_nan=False))
            except (TypeError, ValueError) as err:
                raise ValueError(
                    f"{name} must hold JSON values (run.json records them): {err}"
                ) from None
            object.__setattr__(self, name, value)
        if self.model not in models.available():
            raise ValueError(f"unknown model {self.model!r}; available: {models.available()}")
        if self.dataset not in datasets.available():
            raise ValueError(
                f"unknown data set {self.dataset!r}; available: {datasets.available()}"
            )
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; allowed: {list(METHODS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; allowed: {list(OPTIMIZERS)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not 0.0 <= self.variation.sigma <= 1.0:
            raise ValueError(f"variation sigma must lie in [0, 1], got {self.variation.sigma}")
        if self.swa_start is not None and not 1 <= self.swa_start <= self.train.epochs:
            raise ValueError(
                f"swa_start must be in [1, epochs] = [1, {self.train.epochs}], got {self.swa_start}"
            )

    # -- shortcuts --------------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The run's seed (``train.seed``)."""
        return self.train.seed

    @property
    def training_noise(self) -> Variation | DeviceModel:
        """What the variation-aware methods draw from: ``device``, else ``variation``."""
        return self.variation if self.device is None else self.device

    @property
    def encoder(self) -> str:
        """How inputs become spikes (``train.encoder``)."""
        return self.train.encoder

    @property
    def time_steps(self) -> int:
        """T of the spike encoder (``train.time_steps``)."""
        return self.train.time_steps

    # -- records ----------------------------------------------------------------------

    @classmethod
    def settings(cls) -> dict[str, type]:
        """The flat names a command line or a TOML file sets: every field but
        ``variation`` and ``train``, and every field of TrainConfig but ``progress``,
        each mapped to the dataclass that holds it."""
        tables = ("variation", "train", "hardware", "device")
        own = {f.name: cls for f in fields(cls) if f.name not in tables}
        loop = {f.name: TrainConfig for f in fields(TrainConfig) if f.name != "progress"}
        return {**own, **loop}

    @classmethod
    def from_settings(
        cls,
        settings: dict[str, Any],
        variation: Variation | None = None,
        hardware: Restrictions | None = None,
        device: DeviceModel | None = None,
    ) -> RunSpec:
        """A spec from flat settings (names of :meth:`settings`; the others keep their
        defaults), a Variation (None: the default), restrictions (None: none) and a
        training device model (None: the variation)."""
        owners = cls.settings()
        unknown = sorted(set(settings) - set(owners))
        if unknown:
            raise ValueError(f"unknown run settings {unknown}; allowed: {sorted(owners)}")
        loop = {k: v for k, v in settings.items() if owners[k] is TrainConfig}
        own = {k: v for k, v in settings.items() if owners[k] is cls}
        extra: dict[str, Any] = {} if variation is None else {"variation": variation}
        return cls(**own, **extra, hardware=hardware, device=device,
                   train=TrainConfig(progress=False, **loop))  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """``run.json``: every setting, the Variation in full (``Variation.to_dict``)."""
        out: dict[str, Any] = {"format": RUN_FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "variation":
                value = value.to_dict()
            elif f.name == "train":
                value = {k: v for k, v in asdict(value).items() if k != "progress"}
            elif f.name in ("hardware", "device") and value is not None:
                value = value.to_dict()
            out[f.name] = value
        return json.loads(json.dumps(out))  # tuples as lists, as read back

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        """The spec of a ``run.json`` (:meth:`to_dict`, or the flat layout of format 1)."""
        if not isinstance(data, dict):
            raise ValueError(f"a run spec must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        form = data.pop("format", 1)
        if form not in (1, RUN_FORMAT):
            raise ValueError(
                f"run.json format {form!r} is not known to this snnvar (it reads 1 and "
                f"{RUN_FORMAT}); upgrade snnvar"
            )
        if form == 1:  # flat: sigma and gamma of a Gaussian HSV, the loop settings inline
            legacy = {k: data.pop(k) for k in _LEGACY_VARIATION if k in data}
            variation = Variation(**{"sigma": 0.1, **legacy}) if legacy else None  # 0.1: the
            # default σ of format 1
            return cls.from_settings(data, variation)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown run settings {unknown}; allowed: {sorted(known)}")
        if "variation" in data:
            data["variation"] = Variation.from_dict(data["variation"])
        if data.get("hardware") is not None:
            data["hardware"] = Restrictions.from_dict(data["hardware"])
        if data.get("device") is not None:
            data["device"] = device_from_dict(data["device"])
        if "train" in data:
            train = data["train"]
            if not isinstance(train, dict):
                raise ValueError(f"train must be a table of settings, got {train!r}")
            allowed = {f.name for f in fields(TrainConfig)} - {"progress"}
            bad = sorted(set(train) - allowed)
            if bad:
                raise ValueError(f"unknown train settings {bad}; allowed: {sorted(allowed)}")
            data["train"] = TrainConfig(progress=False, **train)
        return cls(**data)

    def differences(self, saved: RunSpec) -> list[str]:
        """``"key: saved X, given Y"`` for every setting in which this spec differs
        from ``saved`` (what ``--resume`` reports)."""
        return [f"{k}: saved {a!r}, given {b!r}" for k, a, b in self.differing(saved)]

    def differing(self, saved: RunSpec) -> list[tuple[str, Any, Any]]:
        """``(key, saved value, given value)`` for every setting in which this spec
        differs from ``saved``; keys of nested settings as ``"train.epochs"``."""
        given, old = self.to_dict(), saved.to_dict()
        pairs = []
        for key in given:
            if key in ("variation", "train") or (
                key in ("hardware", "device") and given[key] is not None
                and old.get(key) is not None
            ):  # fmt: skip
                pairs += [(f"{key}.{k}", old[key].get(k), v) for k, v in given[key].items()]
            else:
                pairs.append((key, old.get(key), given[key]))
        return [(k, a, b) for k, a, b in pairs if a != b]


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
    from .distributed import is_main, on_main
    from .evaluation.output import REPORT_FILES

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


def calibration_inputs(spec: RunSpec, samples: int, root: str | Path | None = None) -> torch.Tensor:
    """The first ``samples`` training inputs of ``spec``'s data set (for threshold balancing)."""
    train = run_dataset(spec, root, train=True)
    n = min(samples, len(train))
    if n < 1:
        raise ValueError(f"calibration needs at least 1 sample, got {samples}")
    return torch.stack([train[i][0] for i in range(n)])


def _load_converted(run: Path, root: str | Path | None) -> tuple[nn.Module, RunSpec]:
    from .conversion import ConversionConfig, convert

    info = json.loads((run / "conversion.json").read_text())
    ann, spec = load_run(run / info["source"] if not Path(info["source"]).is_absolute()
                         else info["source"], root)  # fmt: skip
    saved = dict(info["config"])
    if "timesteps" in saved:  # conversion.json of earlier releases
        saved["time_steps"] = saved.pop("timesteps")
    config = ConversionConfig(**saved)
    snn = convert(ann, calibration_inputs(spec, info["calibration"], root), config=config)
    state = torch.load(run / "checkpoint.pt", weights_only=False, map_location="cpu")
    try:
        snn.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(
            f"the checkpoint in {run} does not fit the converted model: {state_mismatch(err)}"
        ) from None
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
    try:
        state = torch.load(ckpt_path, weights_only=False, map_location="cpu")
    except Exception as err:
        raise ValueError(f"{ckpt_path} is not a readable checkpoint: {err}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{ckpt_path} holds no model state")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(
            f"the checkpoint {ckpt_path} does not fit the model: {state_mismatch(err)}"
        ) from None
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
    ``config.time_steps``, after fine-tuning too), ``conversion.md`` and
    ``checkpoint.pt``; with ``finetune_epochs`` the SNN is fine-tuned with spikes
    and ``method`` (default: the ANN's, with its options and training variation)
    by :func:`build_trainer` (Adam at ``lr``, constant rate); the fine-tuning
    spec is recorded in full. ``snnvar evaluate`` and :func:`load_run` read the
    result like any run.
    """
    from .conversion import convert
    from .evaluation import evaluate

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
            return r.results[0]["accuracy_mean"]

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
        write_text(out / "conversion.md", "\n".join(lines) + "\n")
        return info
