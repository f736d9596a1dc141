"""The parser of the ``snnvar`` command: every subcommand and flag with its help,
and the types that check a flag's value (argparse reports a bad one)."""

from __future__ import annotations

import argparse
import re
from dataclasses import MISSING, fields
from pathlib import Path
from typing import get_type_hints

from ..fields import field_docs
from ..nir.semantics import DEFAULT_DT
from ..runs import DEFAULT_SIGMAS, RunSpec
from ..training import ENCODERS, OPTIMIZERS, TrainConfig
from ..variation import Variation
from ..version import package_version
from .values import (
    OPTION_TABLES,
    chips,
    count,
    floats,
    fraction,
    ints,
    radii,
    seed_value,
    times,
)

__all__ = ["build_parser"]


def _common(p: argparse.ArgumentParser, seed: bool = True) -> None:
    p.add_argument("--config", type=Path, help="TOML file of option values (flags win)")
    p.add_argument("--out", type=Path, help="output directory (created; see --overwrite)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the files of an existing --out"
    )
    p.add_argument("--data-root", type=Path, help="data root (default: $SNNVAR_DATA)")
    if seed:
        p.add_argument(
            "--seed", type=seed_value, default=0,
            help="root seed in [0, 2**63 - 1] (recorded in the outputs)",
        )  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


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
    docs = {k: _plain(v) for cls in (RunSpec, TrainConfig) for k, v in field_docs(cls).items()}
    owners = RunSpec.settings()
    hints = {**get_type_hints(RunSpec), **get_type_hints(TrainConfig)}
    spec_fields = {f.name: f for cls in (RunSpec, TrainConfig) for f in fields(cls)}
    for name in owners:
        f = spec_fields[name]
        default = f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]
        doc = docs.get(name, "")
        if name in OPTION_TABLES:
            t.add_argument(
                f"--{OPTION_TABLES[name]}-option", dest=name, action="append",
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
    _noise_flags(t)
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    _torch_device_flag(t)


def _noise_flags(t: argparse.ArgumentParser) -> None:
    """``snnvar train``'s training noise and chip: ``--sigma``, ``--gamma`` and the
    ``--variation``, ``--hardware`` and ``--device`` files."""
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
    _chip_flag(t, "train on the chip: HRAT on its circuit, the training noise of its devices")
    t.add_argument(
        "--device", type=Path, dest="device_file", metavar="FILE",
        help="TOML file with a [device] table (kind = \"pcm\", \"rram\", \"custom\" or "
        "\"ideal\" with faults, and the model's settings): the variation-aware methods draw "
        "their training noise from this device model instead of the variation",
    )  # fmt: skip


def _torch_device_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--torch-device", metavar="DEVICE",
        help="the PyTorch device to compute on: cpu (default), cuda or cuda:N; under "
        "torchrun with cuda, each rank takes cuda:LOCAL_RANK (--device names device models)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``snnvar`` command: every subcommand and flag, with its help."""
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
    e.add_argument(
        "--sigmas", type=floats, default=list(DEFAULT_SIGMAS),
        help=",".join(f"{s:g}" for s in DEFAULT_SIGMAS),
    )  # fmt: skip
    e.add_argument("--draws", type=chips, default=20, help="simulated chips per σ (20)")
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
        "--times", type=times,
        help="with --device: read each chip at these times after programming, e.g. 1,1h,1d,1y",
    )  # fmt: skip
    e.add_argument(
        "--worst-case", type=radii, metavar="ZETAS",
        help="also each run's worst-case chip, every weight moved by at most ζ times its "
        "magnitude (Büchel et al. 2022), "
        "e.g. 0.05,0.1",
    )  # fmt: skip
    e.add_argument("--attack-steps", type=count, default=10, help="worst-case ascent steps (10)")
    e.add_argument(
        "--attack-loss", choices=("ce", "kl"), default="ce",
        help="what the worst-case ascent maximises: ce, the cross-entropy on the labels "
        "(default), or kl, the KL divergence to the clean network's output without labels "
        "(Büchel et al.'s attack)",
    )  # fmt: skip
    _chip_flag(
        e,
        "evaluate every run programmed on the chip, on chips of its devices (swept "
        "over --sigmas for a variation), priced with its [energy] table",
    )
    e.add_argument(
        "--energy", action="store_true",
        help="with --hardware: price every chip's inference (energy by event, latency, area; "
        "the [energy] table of the --hardware file, else snnvar.hardware.EnergyCosts' "
        "defaults) and plot accuracy against energy",
    )  # fmt: skip
    e.add_argument(
        "--ablation", action="store_true",
        help="with --hardware: also every run on each restriction alone (what each costs), "
        "named 'RUN / restriction'",
    )  # fmt: skip
    e.add_argument(
        "--calibrate", metavar="METHODS",
        help="also calibrate every chip after programming and test it again (rows "
        "'RUN [METHODS]' beside the uncalibrated ones): comma-separated, applied in order, "
        "among bn (BatchNorm statistics on the chip, AdaBS), threshold (neuron thresholds "
        "matched to the clean firing rates), affine (a gain and offset per column by least "
        "squares), finetune (a few steps on the digital parameters)",
    )  # fmt: skip
    e.add_argument(
        "--calibration-samples", type=count,
        help="with --calibrate: calibration samples drawn from the training split, seeded (256)",
    )  # fmt: skip
    e.add_argument(
        "--calibration-time", metavar="TIME",
        help="with --device: calibrate each chip at this time after programming (e.g. 1h) "
        "and test it at each of --times with that calibration (default: at each time)",
    )  # fmt: skip
    e.add_argument(
        "--yield-target", type=fraction, metavar="ACCURACY",
        help="the accuracy (a fraction, e.g. 0.97) a chip must reach to count in the yield "
        "(default: each run's clean accuracy minus 1 point)",
    )  # fmt: skip
    e.add_argument(
        "--mode", choices=["static", "dynamic", "both"], help="of the default variation (static)"
    )
    e.add_argument("--redraw", choices=["step", "pass"], help="dynamic reads (default: step)")
    e.add_argument("--time-steps", type=count, help="T (default: the run's)")
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
        "--time-steps", dest="time_steps", type=count, default=64, help="T of the SNN (64)",
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
    c.add_argument("--sweep", type=ints, default=[], help="more T to report, e.g. 16,32")
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
    x.add_argument("--sigma", type=fraction, help="σ of the chip's variation (with --chip)")
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
        hardware_table=None, device_tables=None, device_base=None, energy_table=None,
        chip_file=None, **dict.fromkeys(_TABLE_DESTS),
    )  # fmt: skip
    return parser


def _chip_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--chip", type=Path, dest="chip_file", metavar="FILE",
        help="TOML file describing the whole chip (snnvar.hardware.Chip): a [hardware] "
        "table, a [variation] or a [device] table, an [energy] table; " + what +
        " (not with --hardware, --variation or --device)",
    )  # fmt: skip


_TABLE_DESTS = tuple(f"{k}_table" for k in OPTION_TABLES)
"""Where the TOML tables model_options, method_options, dataset_options land."""
