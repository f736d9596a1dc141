"""``Chip``: one description of a chip, its circuit, its devices and the price of its
events, that ``restrict``, ``snnvar.evaluate``, the training methods and the command
line (``--chip FILE``) take.

A chip file is a TOML file with a ``[hardware]`` table (:class:`Restrictions`' fields:
converters, arrays, output noise, wires), a ``[variation]`` or a ``[device]`` table
(what the devices do: a :class:`~snnvar.Variation` or a device model), and an
``[energy]`` table (:class:`EnergyCosts`' fields); each is optional::

    [hardware]
    array_rows = 256
    input_range = 1.0
    input_bits = 8
    output_bound = 10.0
    output_bits = 6
    output_noise = 0.04

    [device]
    kind = "pcm"

    [energy]
    adc_fom = 2e-15
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from ..variation import Perturbation, Variation
from .energy import EnergyCosts
from .restrict import deploy, restrict, restrictions_of
from .restrictions import Restrictions

__all__ = ["CHIP_TABLES", "Chip"]

CHIP_TABLES = ("hardware", "variation", "device", "energy")
"""The tables of a chip file."""


@dataclass(frozen=True)
class Chip:
    """A chip: its circuit, what its devices do, and the price of its events."""

    circuit: Restrictions = field(default_factory=Restrictions)
    """The circuit around the devices: converters, arrays, output noise, wires
    (:class:`Restrictions`; the default computes the model's own function)."""
    devices: Perturbation | None = None
    """What the weights' devices do: a :class:`~snnvar.Variation` (its σ, or the σ of an
    evaluation's sweep) or a device model (PCM, RRAM, ...); None: exact devices."""
    energy: EnergyCosts | None = None
    """The price of its events (``snnvar.hardware.energy``); None: not priced."""

    def __post_init__(self) -> None:
        if not isinstance(self.circuit, Restrictions):
            raise TypeError(f"circuit must be a Restrictions, got {type(self.circuit).__name__}")
        if self.devices is not None and not isinstance(self.devices, Perturbation):
            raise TypeError(
                "devices must be a snnvar.Variation or a device model (a Perturbation), got "
                f"{type(self.devices).__name__}"
            )
        if self.energy is not None and not isinstance(self.energy, EnergyCosts):
            raise TypeError(f"energy must be an EnergyCosts, got {type(self.energy).__name__}")

    def restrict(self, model: nn.Module) -> nn.Module:
        """``model`` as this chip's circuit computes it (:func:`restrict`), to train
        (HRAT) or to deploy."""
        return restrict(model, self.circuit)

    def deploy(self, model: nn.Module) -> nn.Module:
        """``model`` programmed on this chip: an unrestricted model restricted and
        deployed, a model restricted on this circuit deployed (a deployed one as it
        is); a model restricted on another circuit is refused."""
        own = restrictions_of(model)
        if own is None:
            return deploy(self.restrict(model))
        if own != self.circuit:
            raise ValueError(
                f"the model is restricted on {own.label()}, the chip's circuit is "
                f"{self.circuit.label()}: deploy it on its own, or restrict the unrestricted "
                "model on this chip"
            )
        return deploy(model)

    def label(self) -> str:
        """The circuit, the devices and whether the chip is priced."""
        parts = [f"circuit: {self.circuit.label()}"]
        parts.append(f"devices: {self.devices.label() if self.devices is not None else 'exact'}")
        if self.energy is not None:
            parts.append("priced")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON record with the tables of a chip file."""
        out: dict[str, Any] = {"hardware": self.circuit.to_dict()}
        if isinstance(self.devices, Variation):
            out["variation"] = self.devices.to_dict(strict=False)
        elif self.devices is not None:
            out["device"] = self.devices.to_dict(strict=False)
        if self.energy is not None:
            out["energy"] = self.energy.to_dict()
        return out

    @classmethod
    def from_tables(
        cls, data: Any, base_dir: str | Path | None = None, where: str = "the chip"
    ) -> Chip:
        """From the tables of a chip file (``hardware``, ``variation`` or ``device``,
        ``energy``; data files relative to ``base_dir``); errors name ``where``."""
        from ..variation.files import variations_from_tables
        from .device_files import devices_from_tables

        if not isinstance(data, dict):
            raise ValueError(f"{where}: a chip is a set of tables, got {data!r}")
        unknown = sorted(set(data) - set(CHIP_TABLES))
        if unknown:
            raise ValueError(f"{where}: unknown tables {unknown}; allowed: {list(CHIP_TABLES)}")
        if "variation" in data and "device" in data:
            raise ValueError(
                f"{where}: give the devices once, a [variation] or a [device] table, not both"
            )
        for key in CHIP_TABLES:
            if key in data and not isinstance(data[key], dict):
                raise ValueError(f"{where}: {key} must be one [{key}] table, got {data[key]!r}")
        try:
            circuit = Restrictions.from_dict(data.get("hardware", {}))
            energy = EnergyCosts.from_dict(data["energy"]) if "energy" in data else None
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        devices: Perturbation | None = None
        if "variation" in data:
            (devices,) = variations_from_tables(
                dict(data["variation"]), base_dir, default_sigma=0.0, where=where
            ).values()
        elif "device" in data:
            (device,) = devices_from_tables(data["device"], base_dir, where=where).values()
            devices = device
        return cls(circuit=circuit, devices=devices, energy=energy)

    @classmethod
    def from_aihwkit(
        cls, rpu_config: Any, t_inference: float | str | None = None,
        energy: EnergyCosts | None = None,
    ) -> Chip:  # fmt: skip
        """An aihwkit(-lightning) inference configuration as a chip: its circuit
        (:func:`~snnvar.hardware.from_aihwkit`) and its devices, the noise model and
        drift compensation read ``t_inference`` after programming
        (:func:`~snnvar.hardware.devices_from_aihwkit`; lightning has none)."""
        from .aihwkit import devices_from_aihwkit, from_aihwkit

        devices = devices_from_aihwkit(rpu_config, t_inference)
        if devices is None and t_inference is not None:
            raise ValueError(
                f"t_inference={t_inference!r} given, but the configuration has no noise_model "
                "(no devices to read at a time)"
            )
        return cls(
            circuit=from_aihwkit(rpu_config),
            devices=devices,
            energy=energy,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> Chip:
        """From a chip file (the module docstring)."""
        from ..files import read_toml

        path = Path(path)
        return cls.from_tables(read_toml(path, "chip"), path.parent, where=str(path))
