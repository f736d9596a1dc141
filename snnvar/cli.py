"""The ``snnvar`` command: ``train``, ``evaluate``, ``convert``, ``export`` and ``demo``.

``snnvar train``'s flags are the fields of :class:`~snnvar.runs.RunSpec` and
:class:`~snnvar.training.TrainConfig` (name, default and help text come from
the dataclasses). Every option is a flag and may also come from a TOML file
(``--config FILE``; its keys are the flags' names with underscores, flags
given on the command line win); the training variation is a ``[variation]``
table with :class:`~snnvar.Variation`'s field names (measured device data from
a file too), and ``snnvar evaluate --variation FILE`` tests on chips drawn
from one or several such tables. Results go to a directory that is never
overwritten without ``--overwrite``.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_parser", "main"]


class CLIError(Exception):
    """A usage error: printed as one line, exit status 2."""


def _value(text: str) -> Any:
    """A flag value as a Python literal where it is one (``64``, ``(32, 16)``, ``true``)."""
    lowered = {"true": True, "false": False, "none": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _options(pairs: list[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CLIError(f"{flag} takes KEY=VALUE, got {pair!r}")
        out[key.strip().replace("-", "_")] = _value(value.strip())
    return out


def _ints(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        msg = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _seed(text: str) -> int:
    """A seed in [0, 2**63 - 1] (outside it, seeds would wrap onto others' chips)."""
    from .variation.seeding import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed must lie in [0, 2**63 - 1], got {value}")
    return value


def _floats(text: str) -> list[float]:
    items = text.split(",")
    inner = items[1:-1] if len(items) > 2 else []
    if (len(items) > 1 and not items[0].strip()) or not all(s.strip() for s in inner):
        # "0,,0.1" or ",0.1": a value left out (a trailing comma is allowed)
        raise argparse.ArgumentTypeError(f"an empty item in {text!r}; give numbers between commas")
    try:
        return [float(s) for s in items if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


# -- parsers ---------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser, seed: bool = True) -> None:
    p.add_argument("--config", type=Path, help="TOML file of option values (flags win)")
    p.add_argument("--out", type=Path, help="output directory (created; see --overwrite)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the files of an existing --out"
    )
    p.add_argument("--data-root", type=Path, help="data root (default: $SNNVAR_DATA)")
    if seed:
        p.add_argument(
            "--seed", type=_seed, default=0, help="root seed in [0, 2**63 - 1] (recorded in the "
            "outputs)",
        )  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


_OPTION_TABLES = {
    "model_options": "model",
    "method_options": "method",
    "dataset_options": "dataset",
}
"""RunSpec's option tables and the prefix of their repeatable ``--X-option KEY=VALUE``."""


def _plain(doc: str) -> str:
    """A docstring's first paragraph as help text: reST roles and literals unwrapped
    (``:func:`a.b``` -> ``a.b``, ``:class:`~a.B``` -> ``B``)."""

    def target(m: re.Match[str]) -> str:
        name = m.group(1)
        return name.rsplit(".", 1)[-1] if name.startswith("~") else name

    doc = re.sub(r":\w+:`([^`<]+?)(?: <[^>]+>)?`", target, doc)
    return doc.replace("``", "")


def _run_flags(t: argparse.ArgumentParser) -> None:
    """``snnvar train``'s flags, one per setting of RunSpec and TrainConfig; each flag
    defaults to None (not given), so the dataclass states every default."""
    from dataclasses import MISSING, fields
    from typing import get_type_hints

    from .fields import field_docs
    from .runs import RunSpec
    from .training import ENCODERS, OPTIMIZERS, TrainConfig

    docs = {k: _plain(v) for cls in (RunSpec, TrainConfig) for k, v in field_docs(cls).items()}
    owners = RunSpec.settings()
    hints = {**get_type_hints(RunSpec), **get_type_hints(TrainConfig)}
    spec_fields = {f.name: f for cls in (RunSpec, TrainConfig) for f in fields(cls)}
    for name in owners:
        f = spec_fields[name]
        default = f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]
        doc = docs.get(name, "")
        if name in _OPTION_TABLES:
            t.add_argument(
                f"--{_OPTION_TABLES[name]}-option", dest=name, action="append",
                metavar="KEY=VALUE", help=f"{doc} (repeat the flag)",
            )  # fmt: skip
        elif name == "spiking":
            t.add_argument(
                "--ann", dest="spiking", action="store_const", const=False,
                help="train the ReLU ANN of the architecture (spiking = false; encoder none)",
            )  # fmt: skip
        elif hints[name] is bool:
            flag = f"--no-{name}" if default else f"--{name}"
            t.add_argument(
                flag.replace("_", "-"), dest=name, action="store_const", const=not default,
                help=f"{'turn off: ' if default else ''}{doc}",
            )  # fmt: skip
        else:
            kind = {"int | None": int}.get(str(hints[name]).replace("typing.", ""), hints[name])
            choices = {"optimizer": list(OPTIMIZERS), "encoder": list(ENCODERS)}.get(name)
            t.add_argument(
                f"--{name.replace('_', '-')}", dest=name, type=kind, choices=choices,
                help=f"{doc} (default: {default})",
            )  # fmt: skip
    from .variation import Variation

    sigma = RunSpec().variation.sigma
    t.add_argument(
        "--sigma", type=float, help=f"σ of the training variation (default: {sigma:g}; "
        "overrides the [variation] table's)",
    )  # fmt: skip
    t.add_argument(
        "--gamma", type=float, help=f"WVAT's range coefficient γ of the training variation "
        f"(default: {Variation(0.0).gamma:g})",
    )  # fmt: skip
    t.add_argument(
        "--variation", type=Path, dest="variation_file", metavar="FILE",
        help="TOML file with a [variation] table: the training variation in full "
        "(distribution, reference, mode, clip, levels, measured data from a file, ...)",
    )  # fmt: skip
    t.add_argument(
        "--hardware", type=Path, dest="hardware_file", metavar="FILE",
        help="TOML file with a [hardware] table (snnvar.hardware.Restrictions' fields, or "
        "preset = \"hrat\"): train the model as the restricted chip computes it (HRAT)",
    )  # fmt: skip
    t.add_argument(
        "--device", type=Path, dest="device_file", metavar="FILE",
        help="TOML file with a [device] table (kind = \"pcm\", \"rram\", \"custom\" or "
        "\"stuck\" and the model's settings): the variation-aware methods draw their training "
        "noise from this device model instead of the variation",
    )  # fmt: skip
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    _torch_device_flag(t)


def _torch_device_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--torch-device", metavar="DEVICE",
        help="the PyTorch device to compute on: cpu (default), cuda or cuda:N; under "
        "torchrun with cuda, each rank takes cuda:LOCAL_RANK (--device names device models)",
    )  # fmt: skip


def _torch_device(args: argparse.Namespace) -> Any:
    """The torch device of ``--torch-device`` (under torchrun: cuda:LOCAL_RANK for cuda)."""
    import os

    import torch

    text = getattr(args, "torch_device", None)
    if text is None:
        return None
    try:
        device = torch.device(text)
    except RuntimeError:
        raise CLIError(
            f"--torch-device {text!r}: not a device; allowed: cpu, cuda, cuda:N"
        ) from None
    if device.type not in ("cpu", "cuda"):
        raise CLIError(f"--torch-device {text!r}: allowed: cpu, cuda, cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CLIError(f"--torch-device {text}: this machine has no CUDA device")
        if device.index is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise CLIError(
                f"--torch-device {text}: under torchrun give cuda (each rank takes "
                "cuda:LOCAL_RANK), not one GPU for every rank"
            )
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if device.index >= torch.cuda.device_count():
            raise CLIError(
                f"--torch-device {device}: this machine has {torch.cuda.device_count()} "
                "CUDA device(s)"
            )
    return device


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``snnvar`` command: every subcommand and flag, with its help."""
    from .nir.semantics import DEFAULT_DT
    from .version import package_version

    parser = argparse.ArgumentParser(
        prog="snnvar",
        description="Spiking neural networks under analog-hardware weight variation: "
        "train with variation-aware methods, evaluate on simulated chips.",
    )
    parser.add_argument("--version", action="version", version=f"snnvar {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train a model with a method (sgd, wvat, hasgd, ...)",
        description="Train a model of the zoo with a training method; writes run.json "
        "(every setting, the variation in full), checkpoint.pt (every epoch) and metrics "
        "to --out.",
    )
    _common(t, seed=False)
    _run_flags(t)

    e = sub.add_parser(
        "evaluate",
        help="evaluate trained runs on simulated chips",
        description="Evaluate one or more runs (directories of `snnvar train`) on the same "
        "simulated chips; writes report.json, results.csv, results.md and plots to --out.",
    )
    _common(e)
    e.add_argument("runs", nargs="*", type=Path, help="run directories")
    e.add_argument("--name", action="append", help="method name per run (default: its method)")
    e.add_argument("--sigmas", type=_floats, default=[0.0, 0.05, 0.1, 0.15], help="0,0.05,0.1,0.15")
    e.add_argument("--draws", type=int, default=20, help="simulated chips per σ (20)")
    e.add_argument(
        "--variation", type=Path, dest="variation_file", metavar="FILE",
        help="TOML file with a [variation] table, or several [[variation]] tables to compare "
        "(each swept over --sigmas: leave sigma out; `name` labels it); default: "
        "Gaussian, relative to each layer's range, in --mode",
    )  # fmt: skip
    e.add_argument(
        "--hardware", type=Path, dest="hardware_file", metavar="FILE",
        help="TOML file with a [hardware] table: evaluate every run deployed on that "
        "restricted chip (a run trained with restrictions is deployed on its own)",
    )  # fmt: skip
    e.add_argument(
        "--device", type=Path, dest="device_file", metavar="FILE",
        help="TOML file with a [device] table or [[device]] tables (`name` labels each): "
        "evaluate on chips of these device models (PCM, RRAM, custom σ(g), stuck-at faults) "
        "instead of the default variation (with --variation too: both)",
    )  # fmt: skip
    e.add_argument(
        "--times", type=_times,
        help="with --device: read each chip at these times after programming, e.g. 1,1h,1d,1y",
    )  # fmt: skip
    e.add_argument(
        "--worst-case", type=_floats, metavar="ZETAS",
        help="also each run's worst-case chip, every weight moved by at most ζ times its "
        "magnitude (Büchel et al. 2022), "
        "e.g. 0.05,0.1",
    )  # fmt: skip
    e.add_argument("--attack-steps", type=int, default=10, help="worst-case ascent steps (10)")
    e.add_argument(
        "--attack-loss", choices=("ce", "kl"), default="ce",
        help="what the worst-case ascent maximises: ce, the cross-entropy on the labels "
        "(default), or kl, the KL divergence to the clean network's output without labels "
        "(Büchel et al.'s attack)",
    )  # fmt: skip
    e.add_argument(
        "--ablation", action="store_true",
        help="with --hardware: also every run on each restriction alone (what each costs), "
        "named 'RUN / restriction'",
    )  # fmt: skip
    e.add_argument(
        "--mode", choices=["static", "dynamic", "both"], help="of the default variation (static)"
    )
    e.add_argument("--redraw", choices=["step", "pass"], help="dynamic reads (default: step)")
    e.add_argument("--time-steps", type=int, help="T (default: the run's)")
    e.add_argument(
        "--batch-size", type=int, default=256,
        help="samples per forward pass (memory only: the figures do not depend on it)",
    )  # fmt: skip
    _torch_device_flag(e)
    e.add_argument("--landscape", action="store_true", help="loss along variation directions")
    e.add_argument("--histograms", action="store_true", help="per-layer weight histograms")

    c = sub.add_parser(
        "convert",
        help="convert a trained ANN run into an SNN run (Rathi et al. 2020)",
        description="Convert the ANN of a `snnvar train --ann` run into a spiking network: "
        "BatchNorm fusion, threshold balancing on calibration data, IF neurons with soft "
        "reset; optionally fine-tune it with spikes. Writes conversion.json (thresholds, "
        "ANN vs SNN accuracy by T), conversion.md and checkpoint.pt to --out; "
        "`snnvar evaluate` reads the result like any run.",
    )
    _common(c)
    c.add_argument("run", type=Path, help="an ANN run directory")
    c.add_argument(
        "--time-steps", "--timesteps", dest="time_steps", type=int, default=64,
        help="T of the SNN (64; --timesteps: deprecated spelling)",
    )  # fmt: skip
    c.add_argument(
        "--encoder", default="direct", choices=["direct", "rate"],
        help="how the SNN receives the image: direct (the pixel values as input current "
        "at every step) or rate (Bernoulli spikes)",
    )  # fmt: skip
    c.add_argument("--percentile", type=float, default=100.0, help="threshold percentile")
    c.add_argument("--scale", type=float, default=1.0, help="threshold scaling factor")
    c.add_argument(
        "--reset", default="subtract", choices=["subtract", "zero"],
        help="the IF neurons' reset (subtract; zero: exportable to NIR, less accurate)",
    )  # fmt: skip
    c.add_argument("--calibration", type=int, default=256, help="calibration samples (256)")
    c.add_argument("--sweep", type=_ints, default=[], help="more T to report, e.g. 16,32")
    c.add_argument("--finetune-epochs", type=int, default=0, help="spike fine-tuning epochs")
    c.add_argument("--method", help="fine-tuning method (default: the ANN run's)")
    c.add_argument("--lr", type=float, default=1e-4, help="fine-tuning learning rate (Adam)")
    c.add_argument(
        "--batch-size", type=int, default=64,
        help="batch size of the fine-tuning (--finetune-epochs)",
    )  # fmt: skip

    x = sub.add_parser(
        "export",
        help="write a run's SNN (or one simulated chip of it) as a NIR graph",
        description="Write the SNN of a run (trained, converted or HRAT) as a NIR graph "
        "(nir.write), for simulators and chips that read NIR (snntorch, spikingjelly, "
        "norse, Lava, rockpool, sinabs, ...), and print what was exported; --chip K "
        "--sigma S exports the weights of simulated chip K that `snnvar evaluate --seed "
        "SEED` tests at that σ (the default variation, or a [variation] table; chips of "
        "device models or of --hardware are not exported). The report is also written "
        "beside the graph (FILE.json).",
    )  # fmt: skip
    x.add_argument("--config", type=Path, help="TOML file of option values (flags win)")
    x.add_argument("run", type=Path, help="a run directory (train or convert)")
    x.add_argument("--nir", type=Path, metavar="FILE", help="the graph file to write")
    x.add_argument(
        "--chip", type=int, metavar="K",
        help="export simulated chip K (0-based, as in `snnvar evaluate`) instead of the "
        "trained weights; needs --sigma",
    )  # fmt: skip
    x.add_argument("--sigma", type=float, help="σ of the chip's variation (with --chip)")
    x.add_argument(
        "--variation", type=Path, dest="variation_file", metavar="FILE",
        help="with --chip: a TOML file with one [variation] table (leave sigma out), as "
        "given to `snnvar evaluate --variation`; default: evaluate's default variation",
    )  # fmt: skip
    x.add_argument("--seed", type=int, default=0, help="the evaluation seed of --chip (0)")
    x.add_argument(
        "--dt", type=float, default=DEFAULT_DT,
        help="time step in seconds for NIR's time constants (1e-4, what snntorch assumes)",
    )  # fmt: skip
    x.add_argument(
        "--omit-converters", action="store_true",
        help="an HRAT run with an input DAC or output swing / ADC: export the programmed "
        "weights without those circuits (NIR has none)",
    )  # fmt: skip
    x.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    x.add_argument("--data-root", type=Path, help="data root (default: $SNNVAR_DATA)")
    x.set_defaults(mode=None, redraw=None)  # the chip's variation: evaluate's default

    d = sub.add_parser(
        "demo",
        help="train SGD, WVAT and HA-SGD on the embedded digits and compare them",
        description="Train the same spiking CNN on scikit-learn's digits with SGD, WVAT and "
        "HA-SGD, evaluate each on simulated chips at σ = 0, 5, 10, 15 %, print the table "
        "and write the report and plots to --out.",
    )
    _common(d)
    d.add_argument("--quick", action="store_true", help="a smaller budget (under 30 s)")
    parser.set_defaults(
        _commands={"train": t, "evaluate": e, "convert": c, "export": x, "demo": d},
        variation_tables=None, variation_base=None, config_keys=frozenset(),
        hardware_table=None, device_tables=None, device_base=None,
        **dict.fromkeys(_TABLE_DESTS),
    )  # fmt: skip
    return parser


_TABLE_DESTS = tuple(f"{k}_table" for k in _OPTION_TABLES)
"""Where the TOML tables model_options, method_options, dataset_options land."""

_DEPRECATED_KEYS = {"timesteps": "time_steps"}
"""Old spellings of TOML keys / flags, accepted with a warning for one release."""

_NEGATED_KEYS = {"no_cosine": "cosine", "ann": "spiking"}
"""TOML keys of earlier releases that named the negating flag (``ann = true``):
accepted with a warning, as ``spiking = false``."""


def _check_config_value(action: argparse.Action, key: str, value: Any, path: Path) -> Any:
    """A TOML value for ``action``'s flag, checked as argparse would check the flag's.
    A switch's key takes the value of its setting: ``no_progress = true`` is
    ``--no-progress``, ``cosine = false`` is ``--no-cosine``."""
    from .fields import describe_type, matches_type

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
    elif action.type is _seed:
        if not matches_type(value, int):
            raise CLIError(f"{where}: must be an integer")
        try:
            return _seed(str(value))
        except argparse.ArgumentTypeError as err:
            raise CLIError(f"{where}: {err}") from None
    elif action.type is Path:
        if not isinstance(value, str):
            raise CLIError(f"{where}: must be a path (a string)")
        return Path(value)  # relative to the working directory, as the flag's
    elif action.type in (_floats, _ints):
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


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML file ``path`` (``what``: "config", "hardware") or a one-line error."""
    from .files import read_toml

    try:
        return read_toml(path, what)
    except ValueError as err:
        raise CLIError(str(err)) from None


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


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    argv = _join_negative_values(parser, list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if any(a == "--timesteps" or a.startswith("--timesteps=") for a in (argv or sys.argv[1:])):
        print("snnvar: warning: --timesteps is deprecated; use --time-steps", file=sys.stderr)
    if args.config is None:
        return args
    sub = args._commands[args.command]
    settings = _read_toml(args.config, "config")
    actions = {a.dest: a for a in sub._actions if a.dest not in ("help", "config", "_commands")}
    tables = set(_OPTION_TABLES) if args.command == "train" else set()
    with_variation = args.command in ("train", "evaluate")
    files = {"variation_file", "hardware_file", "device_file"}
    extra = {"variation", "hardware", "device"} if with_variation else set()
    if args.command == "export":
        extra = {"variation"}  # the variation of --chip
    allowed = sorted((set(actions) - files) | tables | extra)
    defaults: dict[str, Any] = {}
    for key, value in settings.items():
        key = key.replace("-", "_")
        if key in _DEPRECATED_KEYS and _DEPRECATED_KEYS[key] in actions:
            print(f"snnvar: warning: {key} in {args.config} is deprecated; use "
                  f"{_DEPRECATED_KEYS[key]}", file=sys.stderr)  # fmt: skip
            key = _DEPRECATED_KEYS[key]
        if key in _NEGATED_KEYS and _NEGATED_KEYS[key] in actions:
            if not isinstance(value, bool):
                raise CLIError(f"{key} = {value!r} in {args.config}: must be true or false")
            print(f"snnvar: warning: {key} in {args.config} is deprecated; use "
                  f"{_NEGATED_KEYS[key]} = {str(not value).lower()}", file=sys.stderr)  # fmt: skip
            key, value = _NEGATED_KEYS[key], not value
        if key in tables:
            if not isinstance(value, dict):
                raise CLIError(
                    f"{key} = {value!r} in {args.config}: must be a table (KEY = VALUE pairs)"
                )
            defaults[f"{key}_table"] = value
        elif key == "variation" and key in extra:
            if not isinstance(value, dict | list):
                raise CLIError(
                    f"variation = {value!r} in {args.config}: must be a [variation] table"
                    + (" or [[variation]] tables" if args.command == "evaluate" else "")
                )
            defaults["variation_tables"] = value
            defaults["variation_base"] = args.config.parent
        elif key == "device" and key in extra:
            if not isinstance(value, dict | list):
                raise CLIError(
                    f"device = {value!r} in {args.config}: must be a [device] table"
                    + (" or [[device]] tables" if args.command == "evaluate" else "")
                )
            defaults["device_tables"] = value
            defaults["device_base"] = args.config.parent
        elif key == "hardware" and key in extra:
            if not isinstance(value, dict):
                raise CLIError(f"hardware = {value!r} in {args.config}: must be a [hardware] table")
            defaults["hardware_table"] = value
        elif key in actions and key not in files:
            defaults[key] = _check_config_value(actions[key], key, value, args.config)
        else:
            raise CLIError(
                f"unknown key {key!r} in {args.config} for `snnvar {args.command}`; "
                f"allowed: {allowed}"
            )
    table = defaults.get("variation_tables")
    for key in ("sigma", "gamma"):
        if isinstance(table, dict) and key in table and key in defaults:
            raise CLIError(
                f"{key} is given twice in {args.config}: {key} = {defaults[key]!r} and "
                f"[variation] {key} = {table[key]!r}; keep one (--{key} on the command line "
                "overrides the table's)"
            )
    defaults["config_keys"] = frozenset(settings)
    sub.set_defaults(**defaults)
    return parser.parse_args(argv)


def _variation_tables(args: argparse.Namespace) -> tuple[Any, Path]:
    """The ``[variation]`` table / ``[[variation]]`` tables of ``--variation FILE`` or
    of the ``--config`` file (not both), and the folder their data files are relative
    to; None when neither gives one."""
    from .variation import variation_tables

    if args.variation_file is not None and args.variation_tables is not None:
        raise CLIError(
            f"the variation is given twice: --variation {args.variation_file} and the "
            f"[variation] table of {args.config}; keep one"
        )
    if args.variation_file is not None:
        tables, single = variation_tables(args.variation_file)
        return (tables[0] if single else tables), args.variation_file.parent
    if args.variation_tables is not None:
        return args.variation_tables, args.variation_base
    return None, Path.cwd()


def _restrictions(args: argparse.Namespace) -> Any:
    """The Restrictions of ``--hardware FILE`` or of the config's ``[hardware]`` table
    (not both); None when neither gives them."""
    from .hardware import Restrictions

    if args.hardware_file is not None and args.hardware_table is not None:
        raise CLIError(
            f"the hardware is given twice: --hardware {args.hardware_file} and the "
            f"[hardware] table of {args.config}; keep one"
        )
    table, where = args.hardware_table, f"the [hardware] table of {args.config}"
    if args.hardware_file is not None:
        where = str(args.hardware_file)
        data = _read_toml(args.hardware_file, "hardware")
        if set(data) != {"hardware"} or not isinstance(data["hardware"], dict):
            raise CLIError(
                f"hardware file {args.hardware_file} must hold one [hardware] table, "
                f"got keys {sorted(data)}"
            )
        table = data["hardware"]
    if table is None:
        return None
    if not table:
        raise CLIError(
            f"{where}: the [hardware] table is empty; give the chip's restrictions (field names "
            'of snnvar.hardware.Restrictions, or preset = "hrat"), or leave the table out for '
            "an unrestricted model"
        )
    try:
        return Restrictions.from_dict(table)
    except ValueError as err:
        raise CLIError(f"{where}: {err}") from None


def _devices(args: argparse.Namespace) -> dict[str, Any] | None:
    """Label -> device model of ``--device FILE`` or of the config's ``[device]``
    table(s) (not both); None when neither gives one."""
    from .hardware.devices import devices_from_tables, devices_from_toml

    if args.device_file is not None and args.device_tables is not None:
        raise CLIError(
            f"the device model is given twice: --device {args.device_file} and the "
            f"[device] table of {args.config}; keep one"
        )
    try:
        if args.device_file is not None:
            return devices_from_toml(args.device_file)
        if args.device_tables is not None:
            return devices_from_tables(
                args.device_tables, args.device_base, where=f"the [device] table of {args.config}"
            )
    except ValueError as err:
        raise CLIError(str(err)) from None
    return None


def _times(text: str) -> list[float]:
    """``1,1h,1d,1y`` -> seconds (argparse type of ``--times``)."""
    from .hardware.devices import parse_time

    try:
        return [parse_time(t) for t in text.split(",") if t.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


# -- commands --------------------------------------------------------------------------


def _train(args: argparse.Namespace) -> None:
    from .runs import RunSpec, train_run

    if args.out is None:
        raise CLIError("snnvar train needs --out DIR")
    if args.resume and args.overwrite:
        raise CLIError("--resume continues the run in --out, --overwrite replaces it: give one")
    settings: dict[str, Any] = {}
    for name in RunSpec.settings():
        value = getattr(args, name)
        if name in _OPTION_TABLES:
            flag = f"--{_OPTION_TABLES[name]}-option"
            value = {**(getattr(args, f"{name}_table") or {}), **_options(value, flag)}
            value = value or None
        if value is not None:
            settings[name] = value
    if settings.get("spiking") is False and settings.setdefault("encoder", "none") != "none":
        raise CLIError(f"--ann trains an ANN: its encoder is none, got {settings['encoder']}")
    tables, base = _variation_tables(args)
    if isinstance(tables, list):
        raise CLIError(
            f"training takes one [variation] table, got {len(tables)} [[variation]] tables"
        )
    table = dict(tables or {})
    for key in ("sigma", "gamma"):
        if key in table and key in args.config_keys and args.variation_file is not None:
            raise CLIError(
                f"{key} is given twice: {key} = {getattr(args, key)!r} in {args.config} and "
                f"{key} = {table[key]!r} in {args.variation_file}; keep one (--{key} on the "
                "command line overrides the file's)"
            )
        if getattr(args, key) is not None:
            table[key] = getattr(args, key)
    variation = None
    if table:
        from .variation import variations_from_tables

        (variation,) = variations_from_tables(
            table, base, default_sigma=RunSpec().variation.sigma, where="the training variation"
        ).values()
    devices = _devices(args)
    if devices is not None and len(devices) != 1:
        raise CLIError(f"training takes one [device] table, got {len(devices)}")
    device = None if devices is None else next(iter(devices.values()))
    spec = RunSpec.from_settings(settings, variation, _restrictions(args), device)
    _, trainer = train_run(
        spec,
        args.out,
        overwrite=args.overwrite,
        resume=args.resume,
        root=args.data_root,
        progress=not args.no_progress,
        device=_torch_device(args),
    )
    from .distributed import is_main

    if not is_main():
        return
    last = trainer.history[-1]
    world = trainer.world_size
    print(
        f"trained {spec.model} with {spec.method} on {spec.dataset} for {spec.train.epochs} "
        f"epochs (seed {spec.seed}"
        + (  # the training noise, where the method draws one (sgd, SAM, AWP do not)
            ""
            if not hasattr(trainer.optimizer, "variation")
            else f"; variation {spec.variation.label()}, sigma {spec.variation.sigma:g}"
            if spec.device is None
            else f"; device {spec.device.label()}"
        )
        + f"): train accuracy {100 * last['train_accuracy']:.2f} %"
        + (
            " (last epoch, at the perturbed weights it trained on)"
            if getattr(trainer.optimizer, "perturbed_first_pass", False)
            else " (last epoch)"
        )
        + ", "
        f"test accuracy {100 * last['val_accuracy']:.2f} %"
        + (f" ({world} processes, batch {spec.train.batch_size} each)" if world > 1 else "")
    )
    print(f"run written to {args.out}")


def _test_variations(args: argparse.Namespace) -> dict[str, Any]:
    """Label -> Variation (σ = 0: swept over ``--sigmas``) that ``snnvar evaluate`` tests."""
    from .variation import Variation, variations_from_tables

    tables, base = _variation_tables(args)
    if tables is None:
        modes = ["static", "dynamic"] if args.mode == "both" else [args.mode or "static"]
        units = [Variation(sigma=0.0, mode=m, redraw=args.redraw or "step") for m in modes]
        return {v.label(): v for v in units}
    if args.mode is not None or args.redraw is not None:
        raise CLIError(
            "--mode and --redraw set the default variation; with a variation file, give "
            "mode and redraw in its tables"
        )
    for i, table in enumerate([tables] if isinstance(tables, dict) else tables, start=1):
        if isinstance(table, dict) and "sigma" in table:
            raise CLIError(
                f"variation table {i} sets sigma = {table['sigma']!r}: an evaluation sweeps "
                "every table over --sigmas; leave sigma out"
            )
    return variations_from_tables(tables, base, default_sigma=0.0, where="the test variation")


def _on_chip(model: Any, spec: Any, hardware: Any, run: Path) -> tuple[Any, Any]:
    """A run's model as the evaluation sees it: deployed on its own restricted chip
    (an HRAT run), on ``hardware`` (``--hardware``), or as it is."""
    from dataclasses import replace

    from .hardware import deploy, restrict

    if spec.hardware is not None:
        if hardware is not None and hardware != spec.hardware:
            raise CLIError(
                f"{run} was trained on {spec.hardware.label()}; --hardware says "
                f"{hardware.label()}: evaluate it on its own chip (leave --hardware out)"
            )
        return deploy(model), spec
    if hardware is None:
        return model, spec
    return deploy(restrict(model, hardware)), replace(spec, hardware=hardware)


def _add_ablation(
    args: argparse.Namespace, hardware: Any, names: list[str], raw: list[tuple[Any, Any]],
    models: dict[str, Any], encoders: dict[str, str], steps: dict[str, int],
) -> None:  # fmt: skip
    """Every unrestricted run also on each restriction alone (``RUN / restriction``)."""
    from .hardware import ablation

    for name, (model, spec), run in zip(names, raw, args.runs, strict=True):
        if spec.hardware is not None:
            raise CLIError(
                f"--ablation takes unrestricted runs; {run} was trained on {spec.hardware.label()}"
            )
        for kind, chip in ablation(model, hardware).items():
            if kind == "all":
                continue  # the run itself, on the chip
            key = f"{name} / {kind}"
            models[key], encoders[key], steps[key] = chip, encoders[name], steps[name]


def _evaluate(args: argparse.Namespace) -> None:
    from .distributed import is_main, on_main
    from .evaluation import (
        evaluate,
        loss_landscape,
        prepare_out_dir,
        weight_histograms,
        worst_case_attack,
        write_report,
    )
    from .evaluation.montecarlo import MAX_DRAWS, labelled_variations
    from .files import check_out_dir, removing_new_dirs
    from .runs import load_run, run_dataset, run_label

    if not args.runs:
        raise CLIError("snnvar evaluate needs at least one run directory")
    if args.out is None:
        raise CLIError("snnvar evaluate needs --out DIR")
    if args.draws < 1:
        raise CLIError(f"--draws must be >= 1, got {args.draws}")
    if args.name and len(args.name) != len(args.runs):
        raise CLIError(f"{len(args.name)} --name for {len(args.runs)} runs")
    devices = _devices(args)  # bad files fail before anything is loaded
    if args.times is not None and devices is None:
        raise CLIError("--times reads device models: give them with --device FILE")
    timed = [k for k, d in (devices or {}).items() if d.time is not None]
    if args.times is not None and timed:
        raise CLIError(
            f"--times and the device table's own time both set when {timed} are read; "
            "give one (--times sweeps the times, a table's time = ... reads it once)"
        )
    if args.attack_steps < 1:
        raise CLIError(f"--attack-steps must be >= 1, got {args.attack_steps}")
    for z in args.worst_case or ():
        if not 0 <= z <= 1:
            raise CLIError(f"--worst-case radii ζ must lie in [0, 1] (as σ does), got {z:g}")
    if args.worst_case and len(set(args.worst_case)) != len(args.worst_case):
        raise CLIError(f"--worst-case gives a radius twice: {args.worst_case}")
    if args.time_steps is not None and args.time_steps < 1:
        raise CLIError(
            f"--time-steps must be >= 1, got {args.time_steps} (leave it out for each run's T)"
        )
    if args.draws > MAX_DRAWS:
        raise CLIError(f"--draws must be <= {MAX_DRAWS:,} chips per level, got {args.draws:,}")
    levels = {} if devices is not None and args.variation_file is None and (
        args.variation_tables is None) else _test_variations(args)  # fmt: skip
    sigmas = args.sigmas if levels else None
    levels.update(devices or {})
    attack_on = None  # the worst-case attack perturbs the weights the devices hold
    if devices:
        selections = {(d.modules, d.include, d.exclude) for d in devices.values()}
        if args.worst_case and len(selections) > 1:
            raise CLIError(
                "--worst-case attacks the weights the devices hold, but the device models "
                "select different weights (modules / include / exclude); evaluate them apart"
            )
        attack_on = next(iter(devices.values()))
    if args.times is not None and not args.times:
        raise CLIError("--times is empty; give times such as 1,1h,1d,1y")
    try:  # the sweep evaluate runs (labels, sigmas, the times each device can be read
        labelled_variations(levels, sigmas, args.times)  # at), checked before --out is made
    except ValueError as err:
        raise CLIError(str(err)) from None
    hardware = _restrictions(args)
    device = _torch_device(args)
    out = check_out_dir(args.out, args.overwrite)  # made when the report is ready
    if (out / "run.json").exists() or (out / "checkpoint.pt").exists():
        raise CLIError(
            f"--out {out} is a run directory (run.json, checkpoint.pt): write the report "
            "into a directory of its own"
        )
    if args.ablation and hardware is None:
        raise CLIError("--ablation takes the restrictions of --hardware FILE")
    raw = [load_run(r, root=args.data_root) for r in args.runs]
    loaded = [_on_chip(m, spec, hardware, r) for (m, spec), r in zip(raw, args.runs, strict=True)]
    specs = [s for _, s in loaded]
    data = {(s.dataset, json.dumps(s.dataset_options, sort_keys=True)) for s in specs}
    if len(data) > 1:  # one test set for all: the same data set with the same options
        listed = "; ".join(
            f"{r}: {s.dataset} {s.dataset_options or '(default options)'}"
            for r, s in zip(args.runs, specs, strict=True)
        )
        raise CLIError(
            f"runs evaluated together need the same data set and data set options ({listed}); "
            "evaluate them apart"
        )
    names = args.name or [run_label(r, s) for r, s in zip(args.runs, specs, strict=True)]
    if len(set(names)) != len(names):
        names = [f"{n} ({r.name})" for n, r in zip(names, args.runs, strict=True)]
    test = run_dataset(specs[0], root=args.data_root)  # with the run's own dataset options
    # every run with its own input encoding and T, all on the same chips (paired by
    # device weight: an ANN and its converted SNN share them)
    named_all = {n: m for n, (m, _) in zip(names, loaded, strict=True)}
    encoders = {n: spec.encoder for n, (_, spec) in zip(names, loaded, strict=True)}
    steps = {
        n: spec.time_steps if args.time_steps is None else args.time_steps
        for n, (_, spec) in zip(names, loaded, strict=True)
    }
    if args.ablation:
        _add_ablation(args, hardware, names, raw, named_all, encoders, steps)
    if device is not None:
        named_all = {k: m.to(device) for k, m in named_all.items()}
    report = evaluate(
        named_all, test, levels, sigmas=sigmas, times=args.times, draws=args.draws,
        seed=args.seed, encoder=encoders, time_steps=steps, batch_size=args.batch_size,
        dataset=specs[0].dataset, progress=not args.no_progress,
    )  # fmt: skip
    for name, model in named_all.items():
        for zeta in args.worst_case or ():
            found = worst_case_attack(
                model, test, zeta=zeta, steps=args.attack_steps, seed=args.seed,
                variation=attack_on, encoder=encoders[name], time_steps=steps[name],
                batch_size=args.batch_size, loss=args.attack_loss,
            )  # fmt: skip
            report.worst_case.append({
                "method": name, "zeta": zeta, "steps": found.steps, "seed": found.seed,
                "objective": found.objective, "accuracy": found.accuracy,
                "clean_accuracy": found.clean_accuracy, "loss": found.loss,
            })  # fmt: skip
    if args.landscape:
        report.landscape = loss_landscape(
            named_all, test, seed=args.seed, encoder=encoders, time_steps=steps,
            batch_size=args.batch_size,
        )  # fmt: skip
    report.config["runs"] = [str(r) for r in args.runs]
    report.config["dataset_options"] = dict(specs[0].dataset_options)
    if args.histograms:
        try:
            report.histograms = weight_histograms(named_all)
        except ValueError as err:
            if is_main():
                print(f"snnvar: no weight histograms: {err}", file=sys.stderr)
    with removing_new_dirs(out):  # a failed write leaves no empty directory to block a rerun
        on_main(lambda: write_report(report, prepare_out_dir(out, args.overwrite)))  # rank 0
    if not is_main():
        return
    print(report.markdown(sigmas=None))
    if report.worst_case:
        print(report.worst_case_table())
    world = report.config["world_size"]
    ranks = f" (chips computed on {world} ranks)" if world > 1 else ""
    print(f"report written to {out}{ranks}")


def _convert(args: argparse.Namespace) -> None:
    from .conversion import ConversionConfig
    from .runs import convert_run

    if args.out is None:
        raise CLIError("snnvar convert needs --out DIR")
    config = ConversionConfig(
        time_steps=args.time_steps, encoder=args.encoder, percentile=args.percentile,
        scale=args.scale, seed=args.seed, reset=args.reset,
    )  # fmt: skip
    convert_run(
        args.run, args.out, config, calibration=args.calibration, sweep=tuple(args.sweep),
        finetune_epochs=args.finetune_epochs, method=args.method, lr=args.lr,
        batch_size=args.batch_size, overwrite=args.overwrite, root=args.data_root,
        progress=not args.no_progress,
    )  # fmt: skip
    print((args.out / "conversion.md").read_text())
    print(f"converted run written to {args.out}")


def _export(args: argparse.Namespace) -> None:
    from . import nir as snn_nir
    from .evaluation.montecarlo import chip_seed
    from .files import write_text
    from .runs import load_run

    if args.nir is None:
        raise CLIError("snnvar export needs --nir FILE (the graph file to write)")
    if (args.chip is None) != (args.sigma is None):
        raise CLIError("--chip K and --sigma S go together (chip K of the variation at σ = S)")
    if (args.variation_file is not None or args.variation_tables is not None) and (
        args.chip is None
    ):
        raise CLIError(
            "--variation (or a [variation] table in --config) sets the variation of --chip; "
            "give --chip K --sigma S"
        )
    from .evaluation.montecarlo import MAX_DRAWS

    if args.chip is not None and not 0 <= args.chip < MAX_DRAWS:
        raise CLIError(
            f"--chip must lie in [0, {MAX_DRAWS - 1:,}] (evaluate's chips), got {args.chip}"
        )
    if args.sigma is not None and not 0 <= args.sigma <= 1:
        raise CLIError(f"--sigma must lie in [0, 1] (as evaluate's --sigmas), got {args.sigma:g}")
    if args.nir.suffix == ".json":
        raise CLIError(f"--nir {args.nir}: give the graph file (e.g. model.nir), not .json")
    report_path = args.nir.with_name(args.nir.name + ".json")
    for p in (args.nir, report_path):
        if p.exists() and not args.overwrite:
            raise FileExistsError(f"{p} exists; pass --overwrite to replace it")
    variation = None
    if args.chip is not None:
        from dataclasses import replace

        levels = _test_variations(args)
        if len(levels) != 1:
            raise CLIError(
                f"--variation gives {len(levels)} variations; --chip exports one chip of one"
            )
        variation = replace(next(iter(levels.values())), sigma=args.sigma)
        if variation.mode != "static":
            raise CLIError(
                "the variation is dynamic (noise redrawn at every read); a graph holds one "
                'static chip: set mode = "static"'
            )
    model, spec = load_run(args.run, root=args.data_root)
    model, spec = _on_chip(model, spec, None, args.run)
    draw = None
    if variation is not None:
        seed = chip_seed(args.seed, args.chip)
        draw = variation.sample(model, seed=seed)
    graph = snn_nir.to_nir(model, dt=args.dt, chip=draw, omit_converters=args.omit_converters)
    graph.metadata.update({
        "run": str(args.run), "method": spec.method, "encoder": spec.encoder,
        "time_steps": spec.time_steps,
    })  # fmt: skip
    chip_info = None
    if draw is not None:
        chip_info = {
            "chip": args.chip, "chip_sigma": args.sigma, "chip_evaluation_seed": args.seed,
            "chip_seed": draw.seed, "chip_variation": variation.label(),
        }  # fmt: skip
        graph.metadata.update(chip_info)
    args.nir.parent.mkdir(parents=True, exist_ok=True)
    snn_nir.write(args.nir, graph)
    info = snn_nir.summary(graph)
    info["file"] = str(args.nir)
    write_text(report_path, json.dumps(info, indent=2) + "\n")
    print(snn_nir.summary_text(info))
    what = (
        f"chip {args.chip} at σ = {args.sigma:g} ({variation.label()}, seed {args.seed})"
        if chip_info
        else "the trained weights"
    )
    print(
        f"\nexported {what} of {args.run} to {args.nir} (dt = {args.dt:g} s; input: "
        f"{spec.encoder} encoding over T = {spec.time_steps}, not part of the graph; "
        f"logits: {graph.metadata['readout']} of the output); report: {report_path}"
    )


def _demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(
        out=args.out or Path("snnvar-demo"),
        quick=args.quick,
        seed=args.seed,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        root=args.data_root,
    )


def _distributed(command: str) -> bool:
    """Under torchrun: ``snnvar evaluate`` (chips shared out across ranks) and ``snnvar
    train`` (DistributedDataParallel, each rank a share of the data) join the process
    group, and rank 0 writes; the other commands are refused rather than run once per
    rank into the same files. Returns True if a group was initialised here."""
    import os

    from .distributed import init_from_env

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if command not in ("evaluate", "train"):
        raise CLIError(
            f"`snnvar {command}` does not run under torchrun (every rank would write the "
            "same files); run it as one process. `snnvar evaluate` shares its chips and "
            "`snnvar train` its batches across ranks"
        )
    return init_from_env()


def _flag_for(key: str) -> str:
    """The flag (or config table key) that sets a RunSpec setting: ``train.epochs``
    -> ``--epochs``, ``model_options`` -> ``--model-option``, ``variation.gamma`` ->
    ``--gamma`` (``[variation] gamma``)."""
    head, _, tail = key.partition(".")
    if head in _OPTION_TABLES:
        return f"--{_OPTION_TABLES[head]}-option"
    if head == "train" or not tail:
        return "--" + (tail or head).replace("_", "-")
    if head == "variation" and tail in ("sigma", "gamma"):
        return f"--{tail}"
    return f"[{head}] {tail}"


def _interrupted_hint(args: argparse.Namespace | None) -> str:
    """Where an interrupted ``snnvar train`` stands, and how to go on."""
    if args is None or getattr(args, "command", None) != "train" or args.out is None:
        return ""
    checkpoint = Path(args.out) / "checkpoint.pt"
    if not checkpoint.is_file():
        return (
            " before the first epoch ended; `snnvar train ... --resume` with the same "
            "settings starts the run"
        )
    try:
        import torch

        epoch = torch.load(checkpoint, weights_only=False, map_location="cpu")["epoch"]
    except Exception:  # the checkpoint is for the next run to judge, not for this message
        return f"; continue with --resume (checkpoint in {args.out})"
    return f" after epoch {epoch}; continue with --resume (checkpoint in {args.out})"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``snnvar`` console script: 0 on success, 2 for a usage
    error (one line naming what is wrong), 1 when a file cannot be written (a
    read-only or full disk) or a process of a torchrun group failed, 130 when
    interrupted (Ctrl-C)."""
    import warnings

    from .distributed import RankError
    from .files import OutputExists
    from .runs import SettingsDiffer

    group = False
    args = None
    # a warning is one line, as the errors are (no source line, no file:line); the
    # process's own format comes back when main returns (main may run in a notebook)
    formatwarning = warnings.formatwarning
    warnings.formatwarning = lambda message, *_a, **_k: f"snnvar: warning: {message}\n"
    try:
        args = _parse(argv)
        group = _distributed(args.command)
        commands = {
            "train": _train, "evaluate": _evaluate, "convert": _convert, "export": _export,
            "demo": _demo,
        }  # fmt: skip
        commands[args.command](args)
    except SettingsDiffer as err:  # named by the flags that set them
        listed = "; ".join(f"{_flag_for(k)}: saved {a!r}, given {b!r}" for k, a, b in err.pairs)
        print(
            f"snnvar: error: the run at {err.path} was made with other settings ({listed}); "
            "give the saved values with --resume, or train into a new --out",
            file=sys.stderr,
        )
        return 2
    except OutputExists as err:  # the library's message speaks Python; this one the CLI's
        print(
            f"snnvar: error: output directory {err.path} already holds files; choose another "
            "--out, or add --overwrite to replace them",
            file=sys.stderr,
        )
        return 2
    except (CLIError, ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"snnvar: error: {err}", file=sys.stderr)
        return 2
    except RankError as err:
        print(f"snnvar: error: {err}", file=sys.stderr)
        return 1
    except FloatingPointError as err:  # training diverged
        print(
            f"snnvar: error: training diverged ({err}); lower --lr or the method's step sizes "
            "(a run that diverged after its first checkpoint keeps its files: rerun with "
            "--overwrite)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"\nsnnvar: interrupted{_interrupted_hint(args)}", file=sys.stderr)
        return 130
    except OSError as err:  # a read-only or full disk: what failed, not a traceback
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"snnvar: error: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = formatwarning
        if group:
            import torch.distributed as dist

            dist.destroy_process_group()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
