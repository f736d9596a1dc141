"""The ``snnvar`` command: ``train``, ``evaluate`` and ``demo``.

Every option is a flag and may also come from a TOML file (``--config
FILE``; its keys are the flags' names with underscores, flags given on the
command line win). Results go to a run directory that is never overwritten
without ``--overwrite``. ``snnvar convert`` arrives with the conversion package.
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

    d = sub.add_parser(
        "demo",
        help="train SGD, WVAT and HA-SGD on the embedded digits and compare them",
        description="Train the same spiking CNN on scikit-learn's digits with SGD, WVAT and "
        "HA-SGD, evaluate each on simulated chips at σ = 0, 5, 10, 15 %, print the table "
        "and write the report and plots to --out.",
    )
    _common(d)
    d.add_argument("--quick", action="store_true", help="a smaller budget (under 30 s)")
    parser.set_defaults(_commands={"train": t, "evaluate": e, "demo": d})
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
    for s in specs[1:]:
        if (s.dataset, s.encoder) != (specs[0].dataset, specs[0].encoder):
            raise CLIError("runs evaluated together need the same data set and encoder")
    names = args.name or [s.method for s in specs]
    if len(set(names)) != len(names):
        names = [f"{n} ({r.name})" for n, r in zip(names, args.runs, strict=True)]
    named = {n: m for n, (m, _) in zip(names, loaded, strict=True)}
    modes = ["static", "dynamic"] if args.mode == "both" else [args.mode]
    levels = [Variation(sigma=0.0, mode=m, redraw=args.redraw) for m in modes]
    test = datasets.get(specs[0].dataset, root=args.data_root, train=False)
    steps = args.time_steps or specs[0].time_steps
    common = {
        "seed": args.seed,
        "encoder": specs[0].encoder,
        "time_steps": steps,
        "batch_size": args.batch_size,
    }
    report = evaluate(
        named, test, levels, sigmas=args.sigmas, draws=args.draws, dataset=specs[0].dataset,
        progress=not args.no_progress, **common,
    )  # fmt: skip
    report.config["runs"] = [str(r) for r in args.runs]
    if args.landscape:
        report.landscape = loss_landscape(named, test, **common)
    if args.histograms:
        report.histograms = weight_histograms(named)
    report.write(out)
    print(report.markdown(sigmas=None))
    print(f"report written to {out}")


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
        {"train": _train, "evaluate": _evaluate, "demo": _demo}[args.command](args)
    except (CLIError, ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"snnvar: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
