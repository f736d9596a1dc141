"""``--config FILE`` merged under the flags (snnvar/cli/config.py), and the flag each
RunSpec setting is named by in messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from snnvar.cli.config import flag_for, parse_args
from snnvar.cli.errors import CLIError


@pytest.mark.parametrize(
    ("key", "flag"),
    [
        ("train.epochs", "--epochs"),
        ("lr", "--lr"),
        ("model_options", "--model-option"),
        ("variation.sigma", "--sigma"),
        ("variation.relative_to", "[variation] relative_to"),
        ("hardware.weight_levels", "[hardware] weight_levels"),
        ("device_model", "--device"),
        ("device_model.g_max", "[device] g_max"),
    ],
)
def test_each_setting_is_named_by_the_flag_or_table_that_sets_it(key, flag) -> None:
    assert flag_for(key) == flag


def test_the_config_fills_what_the_flags_leave_and_the_flags_win(tmp_path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('epochs = 3\nlr = 0.01\nout = "runs/a"\n[model_options]\nhidden = [8]\n')
    args = parse_args(["train", "--config", str(config), "--lr", "0.1"])
    assert (args.epochs, args.lr, args.out) == (3, 0.1, Path("runs/a"))
    assert args.model_options_table == {"hidden": [8]}
    assert args.config_keys == frozenset({"epochs", "lr", "out", "model_options"})


@pytest.mark.parametrize(
    ("command", "text", "message"),
    [
        ("train", "draws = 3\n", r"unknown key 'draws' in .* for `snnvar train`; allowed:"),
        ("evaluate", "draws = 0\n", r"draws = 0 in .*: must be >= 1, got 0"),
        ("evaluate", "draws = 1.5\n", r"draws = 1.5 in .*: must be an integer"),
        ("evaluate", "hardware = 3\n", r"hardware = 3 in .*: must be a \[hardware\] table$"),
        ("evaluate", "device = 3\n", r"must be a \[device\] table or \[\[device\]\] tables"),
        ("train", "variation = [1]\n", r"variation = \[1\] in .*: must be a \[variation\] table$"),
        ("export", "device = {}\n", r"unknown key 'device'"),
    ],
)
def test_bad_config_values_name_the_key_and_what_is_allowed(tmp_path, command, text,
                                                            message) -> None:  # fmt: skip
    config = tmp_path / "c.toml"
    config.write_text(text)
    extra = ["run"] if command == "export" else []
    with pytest.raises(CLIError, match=message):
        parse_args([command, *extra, "--config", str(config)])
