"""What defines a run: :class:`RunSpec`, as ``run.json`` records it and as a run
file (TOML) or the command line gives it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .. import datasets, models
from ..fields import check_types
from ..files import read_toml
from ..hardware import DeviceModel, Restrictions, device_from_dict, devices_from_tables
from ..training import METHODS, OPTIMIZERS, TrainConfig
from ..variation import Perturbation, Variation, variations_from_tables

__all__ = ["RUN_FORMAT", "RunSpec"]

RUN_FORMAT = 3
"""Layout of ``run.json``: the ``variation``, ``train``, ``hardware`` and
``device_model`` settings nested as their own records."""

_TABLES = ("variation", "hardware", "device")
"""The tables of a run file beside its flat settings (``[device]``: the device model)."""


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
    device_model: DeviceModel | None = None
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
    def training_noise(self) -> Perturbation:
        """What the variation-aware methods draw from: ``device_model``, else ``variation``."""
        return self.variation if self.device_model is None else self.device_model

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
        tables = ("variation", "train", "hardware", "device_model")
        own = {f.name: cls for f in fields(cls) if f.name not in tables}
        loop = {f.name: TrainConfig for f in fields(TrainConfig) if f.name != "progress"}
        return {**own, **loop}

    @classmethod
    def from_settings(
        cls,
        settings: dict[str, Any],
        variation: Variation | None = None,
        hardware: Restrictions | None = None,
        device_model: DeviceModel | None = None,
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
        return cls(**own, **extra, hardware=hardware, device_model=device_model,
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
            elif f.name in ("hardware", "device_model") and value is not None:
                value = value.to_dict()
            out[f.name] = value
        return json.loads(json.dumps(out))  # tuples as lists, as read back

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        """The spec of a ``run.json`` (:meth:`to_dict`)."""
        if not isinstance(data, dict):
            raise ValueError(f"a run spec must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        form = data.pop("format", None)
        if form != RUN_FORMAT:
            raise ValueError(
                f"run.json format {form!r} is not known to this snnvar (it reads {RUN_FORMAT}); "
                "train the run again with this snnvar"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown run settings {unknown}; allowed: {sorted(known)}")
        if "variation" in data:
            data["variation"] = Variation.from_dict(data["variation"])
        if data.get("hardware") is not None:
            data["hardware"] = Restrictions.from_dict(data["hardware"])
        if data.get("device_model") is not None:
            data["device_model"] = device_from_dict(data["device_model"])
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

    @classmethod
    def from_table(
        cls, table: Mapping[str, Any], base_dir: str | Path | None = None, where: str = "the run"
    ) -> RunSpec:
        """A spec from a run table as TOML gives it: the flat settings of
        :meth:`settings` (``model_options`` and the other option dicts as tables),
        ``sigma`` / ``gamma`` of the training variation, a ``[variation]`` table
        (:meth:`~snnvar.Variation.from_dict`'s fields; measured data files relative to
        ``base_dir``), a ``[hardware]`` table (:class:`~snnvar.hardware.Restrictions`'
        fields, or ``preset = "hrat"``) and a ``[device]`` table (the training device
        model, :attr:`device_model`). An ANN (``spiking = false``) reads its inputs as
        they are (encoder ``none``). The three tables may also be given built (a
        Variation, Restrictions, a device model). Errors name ``where`` and the bad key."""
        data = {str(k).replace("-", "_"): v for k, v in table.items()}
        variation_table, hardware, device = (data.pop(k, None) for k in _TABLES)
        shortcuts = {k: data.pop(k) for k in ("sigma", "gamma") if k in data}
        variation = None
        if isinstance(variation_table, Variation):  # built: sigma / gamma replace its own
            variation = replace(variation_table, **shortcuts)
        elif variation_table is not None or shortcuts:
            if variation_table is not None and not isinstance(variation_table, Mapping):
                raise ValueError(
                    f"{where}: variation = {variation_table!r} must be one [variation] table"
                )
            merged = dict(variation_table or {})
            for key, value in shortcuts.items():
                if key in merged:
                    raise ValueError(
                        f"{where}: {key} is given twice: {key} = {value!r} and [variation] "
                        f"{key} = {merged[key]!r}; keep one"
                    )
                merged[key] = value
            (variation,) = variations_from_tables(
                merged, base_dir, default_sigma=cls().variation.sigma,
                where=f"{where}: the training variation",
            ).values()  # fmt: skip
        if hardware is not None and not isinstance(hardware, Restrictions):
            if not isinstance(hardware, Mapping) or not hardware:
                raise ValueError(
                    f"{where}: the [hardware] table is empty or not a table; give the chip's "
                    "restrictions (field names of snnvar.hardware.Restrictions, or preset = "
                    '"hrat"), or leave it out for an unrestricted model'
                )
            try:
                hardware = Restrictions.from_dict(dict(hardware))
            except ValueError as err:
                raise ValueError(f"{where}, [hardware]: {err}") from None
        if device is not None and not isinstance(device, DeviceModel):
            if not isinstance(device, Mapping):
                raise ValueError(f"{where}: a run trains with one [device] table, got {device!r}")
            (device,) = devices_from_tables(device, base_dir, where=f"{where}, [device]").values()
        if data.get("spiking") is False and data.setdefault("encoder", "none") != "none":
            raise ValueError(
                f"{where}: spiking = false trains an ANN: its encoder is none, got "
                f"{data['encoder']!r}"
            )
        try:
            return cls.from_settings(data, variation, hardware, device)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> RunSpec:
        """The spec of a run file: a TOML file holding one run table
        (:meth:`from_table`); data files it names are relative to the file."""
        path = Path(path)
        return cls.from_table(read_toml(path, "run"), path.parent, where=str(path))

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
                key in ("hardware", "device_model") and given[key] is not None
                and old.get(key) is not None
            ):  # fmt: skip
                pairs += [(f"{key}.{k}", old[key].get(k), v) for k, v in given[key].items()]
            else:
                pairs.append((key, old.get(key), given[key]))
        return [(k, a, b) for k, a, b in pairs if a != b]
