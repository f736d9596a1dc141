"""Device models from files: JSON records, TOML tables, CSV measurements."""

from __future__ import annotations

import pytest

import snnvar
from snnvar.hardware import (
    PCM,
    RRAM,
    CustomDevice,
    IdealDevice,
    StuckAt,
    device_from_dict,
    devices_from_toml,
)


def test_to_dict_round_trips_every_kind() -> None:
    for dev in (
        PCM(compensation="column", faults=StuckAt(low=0.01, at="weight"), time=3600.0),
        PCM(drift_nu=(0.06, 0.01), prog_coeffs=(0.5, 1.0)),
        RRAM(g_max=30.0),
        CustomDevice(sigma=((0.0, 0.2), (25.0, 0.8))),
        IdealDevice(faults=StuckAt(low=0.005, high=0.01)),
        PCM(modules=("Linear",), exclude=("*.2.*",)),
        RRAM(read_std=0.02, mode="dynamic", redraw="pass"),
    ):
        assert device_from_dict(dev.to_dict()) == dev, dev
    with pytest.raises(ValueError, match="callable"):
        CustomDevice(sigma=lambda g: g * 0 + 0.1).to_dict()


def test_a_typo_in_the_first_measurement_is_an_error_not_a_header(tmp_path) -> None:
    """Issue 34: ``1e,1.1`` on the first line was dropped as if it were a header."""
    (tmp_path / "dev.toml").write_text('[device]\nkind = "custom"\nmeasurements = "m.csv"\n')
    rows = "".join(f"{t},{t + d}\n" for t in (5, 20) for d in (-0.3, 0.3, 0.1))
    (tmp_path / "m.csv").write_text("1e,1.1\n" + rows)
    with pytest.raises(ValueError, match=r"m\.csv:1: not two numbers: '1e,1\.1'"):
        devices_from_toml(tmp_path / "dev.toml")
    (tmp_path / "m.csv").write_text("target,achieved\nunit,unit\n" + rows)  # one header only
    with pytest.raises(ValueError, match=r"m\.csv:2: not two numbers: 'unit,unit'"):
        devices_from_toml(tmp_path / "dev.toml")
    (tmp_path / "m.csv").write_text("target,achieved\n" + rows)
    (device,) = devices_from_toml(tmp_path / "dev.toml").values()
    assert device.sigma[0][0] == 5.0


def test_a_devices_switches_take_booleans_only() -> None:
    """Probed beyond issue 34's list: drift = "false" in a [device] table switched
    drift on (a non-empty string is truthy) while the label said drift=false."""
    with pytest.raises(ValueError, match=r"drift must be true or false, got 'false'"):
        snnvar.hardware.devices_from_tables({"kind": "pcm", "drift": "false"})
    with pytest.raises(ValueError, match=r"read_noise must be true or false, got 1"):
        PCM(read_noise=1)
    assert PCM(drift=False).drift is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "flash"}, "unknown device kind 'flash'"),
        ({"kind": "pcm", "gmax": 5}, r"unknown pcm device setting"),
        ({"kind": "pcm", "faults": {"low": 0.1, "g_max": 5.0}}, r"\['g_max'\]; allowed: \['low'"),
        ({"kind": "pcm", "faults": {"low": 0.1, "lo": 0.1}}, r"unknown faults setting\(s\)"),
        ({"kind": "pcm", "faults": 0.1}, "faults must be a table"),
        ({"kind": "stuck", "low": 0.1}, r"unknown device kind 'stuck'; allowed: \['pcm'"),
    ],
)
def test_bad_device_tables_are_refused(data, message) -> None:
    with pytest.raises(ValueError, match=message):
        device_from_dict(data)


def test_faults_alone_are_an_ideal_device_with_them(tmp_path) -> None:
    (tmp_path / "dev.toml").write_text(
        '[device]\nkind = "ideal"\ntime = "1h"\n[device.faults]\nlow = 0.01\nhigh = 0.02\n'
        'at = "weight"\n'
    )
    (device,) = devices_from_toml(tmp_path / "dev.toml").values()
    assert device == IdealDevice(faults=StuckAt(low=0.01, high=0.02, at="weight"), time=3600.0)
    read = device_from_dict({"kind": "pcm", "compensation": "global", "faults": {"low": 0.01}})
    assert read == PCM(compensation="global", faults=StuckAt(low=0.01))
    assert read.to_dict()["faults"] == {"low": 0.01, "high": 0.0, "at": "conductance"}
