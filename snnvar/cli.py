"""The ``snnvar`` command: ``train``, ``evaluate`` and ``demo``.

``snnvar convert`` turns the ANN of a run into an SNN run (threshold
balancing, optional spike-based fine-tuning). Every option is a flag and may
also come from a TOML file (``--config
FILE``; its keys are the flags' names with underscores, flags given on the
command line win). Results go to a run directory that is never overwritten
without ``--overwrite``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


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


def _floats(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


# -- parsers ---------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML file of option values (flags win)")
    p.add_argument("--out", type=Path, help="output directory (created; see --overwrite)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the files of an existing --out"
    )
    p.add_argument("--data-root", type=Path, help="data root (default: $SNNVAR_DATA)")
    p.add_argument("--seed", type=int, default=0, help="root seed (recorded in the outputs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="snnvar",
        description="Spiking neural networks under analog-hardware weight variation: "
        "train with variation-aware methods, evaluate on simulated chips.",
    )
    parser.add_argument("--version", action="version", version=f"snnvar {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train a model with a method (sgd, wvat, hasgd, ...)",
        description="Train a model of the zoo with a training method; writes run.json, "
        "checkpoint.pt (every epoch) and metrics to --out.",
    )
    _common(t)
    t.add_argument("--model", default="spiking_cnn1", help="model name (see snnvar.models)")
    t.add_argument(
        "--model-option", action="append", metavar="KEY=VALUE", help="e.g. hidden=64 (repeat)"
    )
    t.add_argument("--ann", action="store_true", help="train the ReLU ANN of the architecture")
    t.add_argument("--dataset", default="digits", help="data set name (default: digits)")
    t.add_argument("--method", default="sgd", help="training method (default: sgd)")
    t.add_argument(
        "--method-option", action="append", metavar="KEY=VALUE", help="e.g. w_th=0.5 (repeat)"
    )
    t.add_argument("--sigma", type=float, default=0.1, help="training variation σ (0.1)")
    t.add_argument("--gamma", type=float, default=1.0, help="range coefficient γ (1.0)")
    t.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--no-cosine", action="store_true", help="constant learning rate")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--time-steps", type=int, default=25)
    t.add_argument("--encoder", default="rate", help="rate, direct, latency, frames or none")
    t.add_argument("--swa-start", type=int, help="first epoch of weight averaging (SWA)")
    t.add_argument(
        "--warmup-epochs", type=int, default=0, help="plain-optimizer epochs before the method (0)"
    )
    t.add_argument("--resume", action="store_true", help="continue the run in --out")

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
    e.add_argument("--mode", default="static", choices=["static", "dynamic", "both"])
    e.add_argument("--redraw", default="step", choices=["step", "pass"], help="dynamic reads")
    e.add_argument("--time-steps", type=int, help="T (default: the run's)")
    e.add_argument("--batch-size", type=int, default=256)
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
    c.add_argument("--timesteps", type=int, default=64, help="T of the SNN (64)")
    c.add_argument("--encoder", default="direct", choices=["direct", "rate"])
    c.add_argument("--percentile", type=float, default=100.0, help="threshold percentile")
    c.add_argument("--scale", type=float, default=1.0, help="threshold scaling factor")
    c.add_argument("--calibration", type=int, default=256, help="calibration samples (256)")
    c.add_argument("--sweep", type=_ints, default=[], help="more T to report, e.g. 16,32")
    c.add_argument("--finetune-epochs", type=int, default=0, help="spike fine-tuning epochs")
    c.add_argument("--method", help="fine-tuning method (default: the ANN run's)")
    c.add_argument("--lr", type=float, default=1e-4, help="fine-tuning learning rate (Adam)")
    c.add_argument("--batch-size", type=int, default=64)

    d = sub.add_parser(
        "demo",
        help="train SGD, WVAT and HA-SGD on the embedded digits and compare them",
        description="Train the same spiking CNN on scikit-learn's digits with SGD, WVAT and "
        "HA-SGD, evaluate each on simulated chips at σ = 0, 5, 10, 15 %, print the table "
        "and write the report and plots to --out.",
    )
    _common(d)
    d.add_argument("--quick", action="store_true", help="a smaller budget (under 30 s)")
    parser.set_defaults(_commands={"train": t, "evaluate": e, "convert": c, "demo": d})
    return parser


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.config is None:
        return args
    sub = args._commands[args.command]
    try:
        settings = tomllib.loads(args.config.read_text())
    except FileNotFoundError:
        raise CLIError(f"config file {args.config} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise CLIError(f"config file {args.config} is not valid TOML: {err}") from None
    dests = {a.dest for a in sub._actions} - {"help", "config", "_commands"}
    tables = {"model_options": "model_option", "method_options": "method_option"}
    defaults: dict[str, Any] = {}
    for key, value in settings.items():
        key = key.replace("-", "_")
        if key in tables and isinstance(value, dict):
            defaults[tables[key]] = [f"{k}={v!r}" for k, v in value.items()]
        elif key in dests:
            defaults[key] = Path(value) if key in ("out", "data_root") else value
        else:
            raise CLIError(
                f"unknown key {key!r} in {args.config} for `snnvar {args.command}`; "
                f"allowed: {sorted(dests | set(tables))}"
            )
    sub.set_defaults(**defaults)
    return parser.parse_args(argv)


# -- commands --------------------------------------------------------------------------


def _train(args: argparse.Namespace) -> None:
    from .runs import RunSpec, train_run

    if args.out is None:
        raise CLIError("snnvar train needs --out DIR")
    spec = RunSpec(
        model=args.model,
        model_options=_options(args.model_option, "--model-option"),
        spiking=not args.ann,
        dataset=args.dataset,
        method=args.method,
        method_options=_options(args.method_option, "--method-option"),
        sigma=args.sigma,
        gamma=args.gamma,
        optimizer=args.optimizer,
        lr=args.lr,
        cosine=not args.no_cosine,
        weight_decay=args.weight_decay,
        epochs=args.epochs,
        batch_size=args.batch_size,
        time_steps=args.time_steps,
        encoder="none" if args.ann else args.encoder,
        swa_start=args.swa_start,
        warmup_epochs=args.warmup_epochs,
        seed=args.seed,
    )
    _, trainer = train_run(
        spec,
        args.out,
        overwrite=args.overwrite,
        resume=args.resume,
        root=args.data_root,
        progress=not args.no_progress,
    )
    last = trainer.history[-1]
    print(
        f"trained {spec.model} with {spec.method} on {spec.dataset} for {spec.epochs} epochs "
        f"(seed {spec.seed}): train accuracy {100 * last['train_accuracy']:.2f} %, "
        f"test accuracy {100 * last['val_accuracy']:.2f} %"
    )
    print(f"run written to {args.out}")


def _evaluate(args: argparse.Namespace) -> None:
    from . import datasets
    from .evaluation import evaluate, loss_landscape, prepare_out_dir, weight_histograms
    from .runs import load_run
    from .variation import Variation

    if not args.runs:
        raise CLIError("snnvar evaluate needs at least one run directory")
    if args.out is None:
        raise CLIError("snnvar evaluate needs --out DIR")
    if args.draws < 1:
        raise CLIError(f"--draws must be >= 1, got {args.draws}")
    if args.name and len(args.name) != len(args.runs):
        raise CLIError(f"{len(args.name)} --name for {len(args.runs)} runs")
    out = prepare_out_dir(args.out, args.overwrite)
    loaded = [load_run(r, root=args.data_root) for r in args.runs]
    specs = [s for _, s in loaded]
    if len({s.dataset for s in specs}) > 1:
        raise CLIError("runs evaluated together need the same data set")
    names = args.name or [s.method for s in specs]
    if len(set(names)) != len(names):
        names = [f"{n} ({r.name})" for n, r in zip(names, args.runs, strict=True)]
    modes = ["static", "dynamic"] if args.mode == "both" else [args.mode]
    levels = [Variation(sigma=0.0, mode=m, redraw=args.redraw) for m in modes]
    test = datasets.get(specs[0].dataset, root=args.data_root, train=False)
    # every run with its own input encoding and T, all on the same chips (paired by
    # device weight: an ANN and its converted SNN share them)
    named_all = {n: m for n, (m, _) in zip(names, loaded, strict=True)}
    encoders = {n: spec.encoder for n, (_, spec) in zip(names, loaded, strict=True)}
    steps = {
        n: args.time_steps or spec.time_steps for n, (_, spec) in zip(names, loaded, strict=True)
    }
    report = evaluate(
        named_all, test, levels, sigmas=args.sigmas, draws=args.draws, seed=args.seed,
        encoder=encoders, time_steps=steps, batch_size=args.batch_size,
        dataset=specs[0].dataset, progress=not args.no_progress,
    )  # fmt: skip
    if args.landscape:
        report.landscape = loss_landscape(
            named_all, test, seed=args.seed, encoder=encoders, time_steps=steps,
            batch_size=args.batch_size,
        )  # fmt: skip
    report.config["runs"] = [str(r) for r in args.runs]
    if args.histograms:
        try:
            report.histograms = weight_histograms(named_all)
        except ValueError as err:
            print(f"snnvar: no weight histograms: {err}", file=sys.stderr)
    report.write(out)
    print(report.markdown(sigmas=None))
    print(f"report written to {out}")


def _convert(args: argparse.Namespace) -> None:
    from .conversion import ConversionConfig
    from .runs import convert_run

    if args.out is None:
        raise CLIError("snnvar convert needs --out DIR")
    config = ConversionConfig(
        timesteps=args.timesteps, encoder=args.encoder, percentile=args.percentile,
        scale=args.scale, seed=args.seed,
    )  # fmt: skip
    convert_run(
        args.run, args.out, config, calibration=args.calibration, sweep=tuple(args.sweep),
        finetune_epochs=args.finetune_epochs, method=args.method, lr=args.lr,
        batch_size=args.batch_size, overwrite=args.overwrite, root=args.data_root,
        progress=not args.no_progress,
    )  # fmt: skip
    print((args.out / "conversion.md").read_text())
    print(f"converted run written to {args.out}")


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``snnvar`` console script."""
    try:
        args = _parse(argv)
        commands = {"train": _train, "evaluate": _evaluate, "convert": _convert, "demo": _demo}
        commands[args.command](args)
    except (CLIError, ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"snnvar: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
