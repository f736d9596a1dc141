"""Device models from files: TOML ``[device]`` tables, JSON records and CSV
measurements (pairs of target and achieved conductance)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from .custom import CustomDevice
from .devices import DeviceModel, IdealDevice
from .faults import StuckAt
from .pcm import PCM
from .rram import RRAM

__all__ = [
    "DEVICE_KINDS",
    "device_from_dict",
    "devices_from_tables",
    "devices_from_toml",
    "faults_from_dict",
    "read_pairs",
]

DEVICE_KINDS: dict[str, type[DeviceModel]] = {
    c.kind: c for c in (PCM, RRAM, CustomDevice, IdealDevice)
}
"""Device model classes by their ``kind`` (the ``kind`` key of ``to_dict`` and TOML)."""


_FAULT_FIELDS = ("low", "high", "at")
"""The settings of a ``faults`` table."""


def faults_from_dict(data: Any) -> StuckAt:
    """:class:`StuckAt` faults from a ``faults`` table (``low``, ``high``, ``at``)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"faults must be a table of StuckAt settings, got {data!r}")
    unknown = sorted(set(data) - set(_FAULT_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown faults setting(s) {unknown}; allowed: {list(_FAULT_FIELDS)} (the device "
            "model that holds the faults sets the rest)"
        )
    return StuckAt(**data)


def device_from_dict(data: Mapping[str, Any], base_dir: str | Path | None = None) -> DeviceModel:
    """A device model from :meth:`DeviceModel.to_dict` or a TOML ``[device]`` table:
    ``kind`` (``pcm``, ``rram``, ``custom``, ``ideal``) and the class's field names;
    ``faults`` a table of :class:`StuckAt` fields (``faults_from_dict``); a custom
    device's ``sigma`` as
    ``[[g, sigma], ...]``, or ``measurements = "file.csv"`` (two columns: target,
    achieved conductance, µS; a header line and ``#`` comments allowed; relative to
    ``base_dir``); ``time`` as seconds or e.g. ``"1h"``."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a device model must be a table, got {type(data).__name__}")
    data = dict(data)
    kind = data.pop("kind", None)
    if kind not in DEVICE_KINDS:
        raise ValueError(f"unknown device kind {kind!r}; allowed: {list(DEVICE_KINDS)}")
    cls = DEVICE_KINDS[kind]
    allowed = {f.name for f in fields(cls)} | ({"measurements", "bins"} if cls is CustomDevice
                                               else set())  # fmt: skip
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"unknown {kind} device setting(s) {unknown}; allowed: {sorted(allowed)}")
    if data.get("faults") is not None:
        data["faults"] = faults_from_dict(data["faults"])
    for name, value in list(data.items()):
        if isinstance(value, list):
            data[name] = _tupled(value)
    if cls is CustomDevice and "measurements" in data:
        if "sigma" in data:
            raise ValueError("give a custom device's sigma or its measurements, not both")
        path = Path(data.pop("measurements"))
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        target, achieved = read_pairs(path)
        bins = data.pop("bins", 16)
        return CustomDevice.from_measurements(target, achieved, bins=bins, **data)
    try:
        return cls(**data)
    except TypeError as err:
        raise ValueError(f"bad {kind} device settings {data}: {err}") from None


def _tupled(value: Any) -> Any:
    """Lists (TOML arrays, JSON) as tuples, nested."""
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value


def read_pairs(path: Path) -> tuple[list[float], list[float]]:
    """Two columns (target, achieved conductance) from a CSV file: one header line
    and ``#`` comments allowed, ``,`` or ``;`` between the cells."""
    if not path.is_file():
        raise ValueError(f"the measurements file {path} does not exist")
    from ..files import is_header

    target, achieved = [], []
    first = True
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        cells = [c.strip() for c in line.replace(";", ",").split(",")]
        if first and is_header(cells):  # one header line: text in every column
            first = False
            warnings.warn(f"{path}:{n}: {line!r} read as a header", stacklevel=2)
            continue
        first = False
        try:
            values = [float(c) for c in cells]
        except ValueError:
            raise ValueError(f"{path}:{n}: not two numbers: {line!r}") from None
        if len(values) != 2:
            raise ValueError(f"{path}:{n}: expected target,achieved, got {line!r}")
        target.append(values[0])
        achieved.append(values[1])
    if len(target) < 2:
        raise ValueError(f"{path} holds fewer than two measurements")
    return target, achieved


def devices_from_tables(
    tables: Mapping[str, Any] | Sequence[Mapping[str, Any]], base_dir: str | Path | None = None,
    where: str = "the device model",
) -> dict[str, DeviceModel]:  # fmt: skip
    """Label -> device model from one ``[device]`` table or a list of ``[[device]]``
    tables (each may carry a ``name``, its label; else :meth:`DeviceModel.label`);
    errors name ``where`` and the table."""
    single = isinstance(tables, Mapping)
    items = [tables] if single else list(tables)
    if not items:
        raise ValueError(f"{where}: no device table")
    out: dict[str, DeviceModel] = {}
    for i, table in enumerate(items, start=1):
        if not isinstance(table, Mapping):
            raise ValueError(f"{where}: device table {i} is {table!r}, not a table")
        table = dict(table)
        name = table.pop("name", None)
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{where}: device table {i}: name must be a non-empty string")
        try:
            device = device_from_dict(table, base_dir)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}{'' if single else f', table {i}'}: {err}") from None
        label = name or device.label()
        if label in out:
            raise ValueError(f"{where}: two device tables are labelled {label!r}; name them")
        out[label] = device
    return out


def devices_from_toml(path: str | Path) -> dict[str, DeviceModel]:
    """Label -> device model of a TOML file with a ``[device]`` table or ``[[device]]``
    tables (:func:`devices_from_tables`; data files relative to the file)."""
    from ..files import read_toml

    path = Path(path)
    data = read_toml(path, "device")
    if set(data) != {"device"}:
        raise ValueError(
            f"device file {path} must hold a [device] table or [[device]] tables, got keys "
            f"{sorted(data)}"
        )
    return devices_from_tables(data["device"], path.parent, where=str(path))
