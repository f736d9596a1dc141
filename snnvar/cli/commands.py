"""The commands of ``snnvar``: each maps its flags (and its ``--config`` file's
tables) onto one library call of :mod:`snnvar.runs` and prints what was done."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..conversion import ConversionConfig
from ..demo import run_demo
from ..distributed import init_from_env, is_main, on_main, rank_device
from ..files import check_out_dir, read_toml, removing_new_dirs
from ..hardware import Chip, EnergyCosts, Restrictions, devices_from_tables, devices_from_toml
from ..nir import summary_text
from ..runs import (
    RunSpec,
    WorstCaseSearch,
    convert_run,
    evaluate_runs,
    export_run,
    train_run,
    training_summary,
)
from ..variation import Variation, variation_tables, variations_from_tables
from .errors import CLIError
from .values import OPTION_TABLES, parse_options

__all__ = ["COMMANDS", "join_group"]


# -- the tables of files and of the --config file ----------------------------------------


def _variation_tables(args: argparse.Namespace) -> tuple[Any, Path]:
    """The ``[variation]`` table / ``[[variation]]`` tables of ``--variation FILE`` or
    of the ``--config`` file (not both), and the folder their data files are relative
    to; None when neither gives one."""
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


def _restrictions(args: argparse.Namespace) -> Restrictions | None:
    """The Restrictions of ``--hardware FILE`` or of the config's ``[hardware]`` table
    (not both); None when neither gives them."""
    if args.hardware_file is not None and args.hardware_table is not None:
        raise CLIError(
            f"the hardware is given twice: --hardware {args.hardware_file} and the "
            f"[hardware] table of {args.config}; keep one"
        )
    table, where = args.hardware_table, f"the [hardware] table of {args.chip_file or args.config}"
    if args.hardware_file is not None:
        where = str(args.hardware_file)
        data = read_toml(args.hardware_file, "hardware")
        extra = set(data) - {"hardware", "energy"}
        if "hardware" not in data or extra or not isinstance(data["hardware"], dict):
            raise CLIError(
                f"hardware file {args.hardware_file} must hold one [hardware] table (and "
                f"an [energy] table), got keys {sorted(data)}"
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


def _load_chip(args: argparse.Namespace, sweep: bool = False) -> None:
    """``--chip FILE``: its tables in place of the ``--hardware``, ``--variation``,
    ``--device`` files and the config's tables (checked as a :class:`Chip` first);
    ``sweep``: an evaluation's, whose ``--sigmas`` set the variation's σ (the chip's
    is the training σ)."""
    if args.chip_file is None:
        return
    given = [flag for flag, value in (
        ("--hardware", args.hardware_file), ("--variation", args.variation_file),
        ("--device", args.device_file), ("a [hardware] table", args.hardware_table),
        ("a [variation] table", args.variation_tables), ("a [device] table", args.device_tables),
    ) if value is not None]  # fmt: skip
    if given:
        raise CLIError(f"--chip {args.chip_file} describes the whole chip: leave out {given}")
    try:  # read once, checked whole as a Chip, then its tables go where the flags' go
        data = read_toml(args.chip_file, "chip")
        Chip.from_tables(data, args.chip_file.parent, where=str(args.chip_file))
    except (OSError, ValueError) as err:
        raise CLIError(str(err)) from None
    args.hardware_table = data.get("hardware")
    variation = data.get("variation")
    if sweep and variation is not None:
        variation = {k: v for k, v in variation.items() if k != "sigma"}
    args.variation_tables, args.variation_base = variation, args.chip_file.parent
    args.device_tables, args.device_base = data.get("device"), args.chip_file.parent
    args.energy_table = data.get("energy")


def _energy(args: argparse.Namespace) -> EnergyCosts | None:
    """The costs of ``--energy``: the ``[energy]`` table of ``--hardware FILE``, else the
    defaults; those of ``--chip FILE``'s ``[energy]`` table; None otherwise."""
    if args.energy_table is not None:
        return EnergyCosts.from_dict(args.energy_table)
    if not args.energy:
        return None
    if args.hardware_file is None and args.chip_file is None:
        raise CLIError("--energy prices the chip of --hardware FILE or --chip FILE: give one")
    if args.hardware_file is None:
        return EnergyCosts()
    table = read_toml(args.hardware_file, "hardware").get("energy", {})
    try:
        return EnergyCosts.from_dict(table)
    except ValueError as err:
        raise CLIError(f"{args.hardware_file}: {err}") from None


def _devices(args: argparse.Namespace) -> dict[str, Any] | None:
    """Label -> device model of ``--device FILE`` or of the config's ``[device]``
    table(s) (not both); None when neither gives one."""
    if args.device_file is not None and args.device_tables is not None:
        raise CLIError(
            f"the device model is given twice: --device {args.device_file} and the "
            f"[device] table of {args.config}; keep one"
        )
    if args.device_file is not None:
        return devices_from_toml(args.device_file)
    if args.device_tables is not None:
        where = f"the [device] table of {args.config}"
        return devices_from_tables(args.device_tables, args.device_base, where=where)
    return None


def _test_variations(args: argparse.Namespace) -> dict[str, Variation]:
    """Label -> Variation (σ = 0: swept over ``--sigmas``) that ``snnvar evaluate`` tests."""
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


def _run_spec(args: argparse.Namespace) -> RunSpec:
    """``snnvar train``'s run: its flags over its ``--config`` file, as one run table
    for :meth:`RunSpec.from_table` (``--sigma`` / ``--gamma`` on the command line
    replace the variation table's; in the config file, they may not meet it)."""
    table: dict[str, Any] = {}
    for name in RunSpec.settings():
        value = getattr(args, name)
        if name in OPTION_TABLES:
            flag = f"--{OPTION_TABLES[name]}-option"
            value = {**(getattr(args, f"{name}_table") or {}), **parse_options(value, flag)} or None
        if value is not None:
            table[name] = value
    variation, base = _variation_tables(args)
    if isinstance(variation, list):
        raise CLIError(
            f"training takes one [variation] table, got {len(variation)} [[variation]] tables"
        )
    variation = None if variation is None else dict(variation)
    for key in ("sigma", "gamma"):
        value = getattr(args, key)
        if value is not None and key not in args.config_keys and variation is not None:
            variation[key] = value  # the command line's
        elif value is not None:
            table[key] = value
    devices = _devices(args)
    if devices is not None and len(devices) != 1:
        raise CLIError(f"training takes one [device] table, got {len(devices)}")
    table.update(
        variation=variation, hardware=_restrictions(args),
        device=None if devices is None else next(iter(devices.values())),
    )  # fmt: skip
    where = "the command line" if args.config is None else f"{args.config} and the command line"
    return RunSpec.from_table({k: v for k, v in table.items() if v is not None}, base, where)


def _conditions(args: argparse.Namespace) -> dict[str, Any]:
    """Label -> what ``snnvar evaluate``'s chips are drawn from: the variations (the
    default one unless device models alone are given) and the device models."""
    devices = _devices(args)  # bad files fail before anything is loaded
    if args.times is not None and devices is None:
        raise CLIError("--times reads device models: give them with --device FILE")
    given = args.variation_file is not None or args.variation_tables is not None
    conditions = {} if devices is not None and not given else _test_variations(args)
    return {**conditions, **(devices or {})}


# -- the commands ------------------------------------------------------------------------


def _train(args: argparse.Namespace) -> None:
    if args.out is None:
        raise CLIError("snnvar train needs --out DIR")
    if args.resume and args.overwrite:
        raise CLIError("--resume continues the run in --out, --overwrite replaces it: give one")
    _load_chip(args)
    spec = _run_spec(args)
    _, trainer = train_run(
        spec, args.out, overwrite=args.overwrite, resume=args.resume, root=args.data_root,
        progress=not args.no_progress, device=rank_device(args.torch_device),
    )  # fmt: skip
    if is_main():
        print(f"{training_summary(spec, trainer)}\nrun written to {args.out}")


def _evaluate(args: argparse.Namespace) -> None:
    if not args.runs:
        raise CLIError("snnvar evaluate needs at least one run directory")
    if args.out is None:
        raise CLIError("snnvar evaluate needs --out DIR")
    if args.name and len(args.name) != len(args.runs):
        raise CLIError(f"{len(args.name)} --name for {len(args.runs)} runs")
    _load_chip(args, sweep=True)
    conditions = _conditions(args)
    hardware = _restrictions(args)
    energy = _energy(args)
    if args.ablation and hardware is None:
        raise CLIError("--ablation takes the restrictions of --hardware FILE")
    search = None
    if args.worst_case:
        search = WorstCaseSearch(tuple(args.worst_case), args.attack_steps, args.attack_loss)
    if args.calibrate is None:
        for flag, value in (("--calibration-time", args.calibration_time),
                            ("--calibration-samples", args.calibration_samples)):  # fmt: skip
            if value is not None:
                raise CLIError(f"{flag} sets how --calibrate calibrates: give both")
    out = check_out_dir(args.out, args.overwrite)  # made when the report is ready
    if (out / "run.json").exists() or (out / "checkpoint.pt").exists():
        raise CLIError(
            f"--out {out} is a run directory (run.json, checkpoint.pt): write the report "
            "into a directory of its own"
        )
    report = evaluate_runs(
        args.runs, conditions, sigmas=args.sigmas, times=args.times, draws=args.draws,
        seed=args.seed, names=args.name, time_steps=args.time_steps, hardware=hardware,
        ablation=args.ablation, worst_case=search, landscape=args.landscape,
        histograms=args.histograms, batch_size=args.batch_size,
        device=rank_device(args.torch_device), root=args.data_root, progress=not args.no_progress,
        energy=energy, calibrate=args.calibrate, calibration_time=args.calibration_time,
        calibration_samples=args.calibration_samples or 256, yield_target=args.yield_target,
    )  # fmt: skip
    with removing_new_dirs(out):  # a failed write leaves no empty directory to block a rerun
        on_main(lambda: report.save(out, overwrite=args.overwrite))  # rank 0 writes
    if is_main():
        print(report.markdown(sigmas=None))
        for table in (report.yield_table(), report.worst_case_table(), report.energy_table()):
            if table:
                print(table)
        world = report.config["world_size"]
        ranks = f" (chips computed on {world} ranks)" if world > 1 else ""
        print(f"report written to {out}{ranks}")


def _convert(args: argparse.Namespace) -> None:
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
    if args.nir is None:
        raise CLIError("snnvar export needs --nir FILE (the graph file to write)")
    given = args.variation_file is not None or args.variation_tables is not None
    if given and args.chip is None:
        raise CLIError(
            "--variation (or a [variation] table in --config) sets the variation of --chip; "
            "give --chip K --sigma S"
        )
    variation = None
    if args.chip is not None and given:
        chosen = _test_variations(args)
        if len(chosen) != 1:
            raise CLIError(
                f"--variation gives {len(chosen)} variations; --chip exports one chip of one"
            )
        (variation,) = chosen.values()
    info = export_run(
        args.run, args.nir, chip=args.chip, sigma=args.sigma, variation=variation,
        seed=args.seed, dt=args.dt, omit_converters=args.omit_converters,
        overwrite=args.overwrite, root=args.data_root,
    )  # fmt: skip
    meta = info["metadata"]
    what = "the trained weights"
    if "chip" in meta:
        variation = f"{meta['chip_variation']}, seed {args.seed}"
        what = f"chip {args.chip} at σ = {args.sigma:g} ({variation})"
    print(summary_text(info))
    print(
        f"\nexported {what} of {args.run} to {args.nir} (dt = {args.dt:g} s; input: "
        f"{meta['encoder']} encoding over T = {meta['time_steps']}, not part of the graph; "
        f"logits: {meta['readout']} of the output); report: {args.nir}.json"
    )


def _demo(args: argparse.Namespace) -> None:
    run_demo(
        out=args.out or Path("snnvar-demo"), quick=args.quick, seed=args.seed,
        overwrite=args.overwrite, progress=not args.no_progress, root=args.data_root,
    )  # fmt: skip


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "train": _train,
    "evaluate": _evaluate,
    "convert": _convert,
    "export": _export,
    "demo": _demo,
}
"""Subcommand -> the function that carries it out."""


def join_group(command: str) -> bool:
    """Under torchrun: ``snnvar evaluate`` (chips shared out across ranks) and ``snnvar
    train`` (DistributedDataParallel, each rank a share of the data) join the process
    group, and rank 0 writes; the other commands are refused rather than run once per
    rank into the same files. Returns True if a group was initialised here."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if command not in ("evaluate", "train"):
        raise CLIError(
            f"`snnvar {command}` does not run under torchrun (every rank would write the "
            "same files); run it as one process. `snnvar evaluate` shares its chips and "
            "`snnvar train` its batches across ranks"
        )
    return init_from_env()


def interrupted_hint(args: argparse.Namespace | None) -> str:
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
        epoch = torch.load(checkpoint, weights_only=False, map_location="cpu")["epoch"]
    except Exception:  # the checkpoint is for the next run to judge, not for this message
        return f"; continue with --resume (checkpoint in {args.out})"
    return f" after epoch {epoch}; continue with --resume (checkpoint in {args.out})"
