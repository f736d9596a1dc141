"""``--config FILE``: a TOML file of option values, merged under the flags given
on the command line (flags win); values checked as the flags' own."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..fields import describe_type, matches_type
from ..files import read_toml
from .errors import CLIError
from .parser import build_parser
from .values import OPTION_TABLES, chips, count, floats, fraction, ints, radii, seed_value

__all__ = ["flag_for", "parse_args"]


def _check_config_value(action: argparse.Action, key: str, value: Any, path: Path) -> Any:
    """A TOML value for ``action``'s flag, checked as argparse would check the flag's.
    A switch's key takes the value of its setting: ``no_progress = true`` is
    ``--no-progress``, ``cosine = false`` is ``--no-cosine``."""
    where = f"{key} = {value!r} in {path}"
    if action.nargs == 0:  # a switch: the key names the setting it stores
        if not isinstance(value, bool):
            raise CLIError(f"{where}: must be true or false")
        return value
    if action.nargs == "*" and action.type is Path:  # e.g. evaluate's runs
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CLIError(f"{where}: must be a list of paths (strings)")
        return [Path(v) for v in value]
    if action.type in (int, float):
        if not matches_type(value, action.type):  # as the dataclasses check their fields
            raise CLIError(f"{where}: must be {describe_type(action.type)}")
    elif action.type in (seed_value, count, chips, fraction):
        kind = float if action.type is fraction else int
        if not matches_type(value, kind):
            raise CLIError(f"{where}: must be {describe_type(kind)}")
        try:
            return action.type(str(value))
        except argparse.ArgumentTypeError as err:
            raise CLIError(f"{where}: {err}") from None
    elif action.type is Path:
        if not isinstance(value, str):
            raise CLIError(f"{where}: must be a path (a string)")
        return Path(value)  # relative to the working directory, as the flag's
    elif action.type in (floats, ints, radii):
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        try:
            return action.type(str(value))
        except argparse.ArgumentTypeError as err:
            raise CLIError(f"{where}: {err}") from None
    elif isinstance(value, dict | list) or (action.type is None and not isinstance(value, str)):
        raise CLIError(f"{where}: must be a string")
    if action.choices is not None and value not in action.choices:
        raise CLIError(f"{where}: allowed: {list(action.choices)}")
    return value


_NEGATIVE = re.compile(r"^-(\d|\.\d)")


def _join_negative_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``--sigmas -0.1,0.1`` as ``--sigmas=-0.1,0.1``: argparse takes a value that
    starts with ``-`` for a flag (and reports the flag's value missing), unless it is
    a plain negative number. The value then reaches the flag's own check, which
    names it and what is allowed."""
    commands = parser.get_default("_commands") or {}
    sub = commands.get(argv[0]) if argv else None
    one_value = {
        option
        for action in (sub._actions if sub is not None else [])
        if action.nargs is None and action.option_strings
        for option in action.option_strings
    }
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in one_value and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


_TABLE_KEYS = {
    "variation": ("variation_tables", "variation_base"),
    "device": ("device_tables", "device_base"),
    "hardware": ("hardware_table", None),
}
"""The tables a config file may hold beside option values, and where they land."""


def _table_default(key: str, value: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The defaults of a config file's ``[variation]``, ``[device]`` or ``[hardware]``
    table (``[[...]]`` tables for the first two, as ``snnvar evaluate`` takes)."""
    many = key != "hardware" and args.command == "evaluate"  # [[variation]], [[device]]
    if not isinstance(value, dict | list if many else dict):
        tables = f"a [{key}] table" + (f" or [[{key}]] tables" if many else "")
        raise CLIError(f"{key} = {value!r} in {args.config}: must be {tables}")
    dest, base = _TABLE_KEYS[key]
    return {dest: value} | ({base: args.config.parent} if base else {})


def _config_defaults(
    args: argparse.Namespace, actions: dict[str, argparse.Action]
) -> dict[str, Any]:
    """``args.config``'s values as defaults of the subcommand's flags (checked as the
    flags' own), its option tables and its variation / device / hardware tables."""
    options = set(OPTION_TABLES) if args.command == "train" else set()
    tables = {"train": set(_TABLE_KEYS), "evaluate": set(_TABLE_KEYS), "export": {"variation"}}
    extra = tables.get(args.command, set())
    files = {"variation_file", "hardware_file", "device_file"}
    allowed = sorted((set(actions) - files) | options | extra)
    defaults: dict[str, Any] = {}
    for key, value in read_toml(args.config, "config").items():
        key = key.replace("-", "_")
        if key in options:
            if not isinstance(value, dict):
                raise CLIError(
                    f"{key} = {value!r} in {args.config}: must be a table (KEY = VALUE pairs)"
                )
            defaults[f"{key}_table"] = value
        elif key in extra:
            defaults.update(_table_default(key, value, args))
        elif key in actions and key not in files:
            defaults[key] = _check_config_value(actions[key], key, value, args.config)
        else:
            raise CLIError(
                f"unknown key {key!r} in {args.config} for `snnvar {args.command}`; "
                f"allowed: {allowed}"
            )
        defaults.setdefault("config_keys", set()).add(key)
    return defaults


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line ``argv`` (None: ``sys.argv[1:]``) over its ``--config`` file."""
    parser = build_parser()
    argv = _join_negative_values(parser, list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if args.config is None:
        return args
    sub = args._commands[args.command]
    actions = {a.dest: a for a in sub._actions if a.dest not in ("help", "config", "_commands")}
    defaults = _config_defaults(args, actions)
    defaults["config_keys"] = frozenset(defaults.get("config_keys", ()))
    sub.set_defaults(**defaults)
    return parser.parse_args(argv)


def flag_for(key: str) -> str:
    """The flag (or config table key) that sets a RunSpec setting: ``train.epochs``
    -> ``--epochs``, ``model_options`` -> ``--model-option``, ``variation.gamma`` ->
    ``--gamma`` (``[variation] gamma``), ``device_model.g_max`` -> ``[device] g_max``
    (the ``--device`` file's table)."""
    head, _, tail = key.partition(".")
    head = "device" if head == "device_model" else head
    if head in OPTION_TABLES:
        return f"--{OPTION_TABLES[head]}-option"
    if head == "train" or not tail:
        return "--" + (tail or head).replace("_", "-")
    if head == "variation" and tail in ("sigma", "gamma"):
        return f"--{tail}"
    return f"[{head}] {tail}"
