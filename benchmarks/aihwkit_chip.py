"""aihwkit's chip under an SNN (issue 37): Spiking-CNN2 and its ANN on the circuits that
``snnvar.hardware.from_aihwkit`` reads from aihwkit's ``InferenceRPUConfig`` and on its
PCM devices over time (``devices_from_aihwkit``: PCMLikeNoiseModel with
GlobalDriftCompensation, aihwkit's defaults).

SGD trains Spiking-CNN2 as an SNN (direct input, T = ``--time-steps``) and as an ANN
(the same layers, ReLU) on MNIST. Both are deployed on these circuits (512 × 512 tiles,
7-bit DAC, 9-bit ADC, bias digital, aihwkit's defaults but for what the name says):

- ``aihwkit defaults``: ``InferenceRPUConfig()`` as it is: noise management ABS_MAX,
  iterative bound management (reductions up to 15.75), no weight scaling (ω = 0:
  ``out_bound`` 12 and ``out_noise`` 0.06 in the units of the weights);
- ``ω = 1``: ``mapping.weight_scaling_omega = 1`` (ranges and noise relative to each
  tile's full scale);
- ``ω = 1, no bound management``; ``ω = 1, fixed input range``: noise management
  off, the DAC over ±1 (what aihwkit-lightning does);

each on ``--draws`` chips of output noise (exact devices); then the ``ω = 1`` chip
with aihwkit's PCM, read 1 hour, 1 day and 1 year after programming (snnvar's time
= t_inference + t_0), with and without global drift compensation. The wall time of
each circuit's evaluation is in the table (the cost of noise and bound management).

    python benchmarks/aihwkit_chip.py [--data-root ../shared/data] [--epochs 1]
        [--train-samples N] [--test-samples 1000] [--draws 3] [--time-steps 5] [--seed 0]
        [--json benchmarks/results/aihwkit_chip.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

import snnvar
from snnvar import datasets
from snnvar.hardware import PCM, Chip, Restrictions
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import TrainConfig

T0 = 20.0
"""aihwkit's PCMLikeNoiseModel t_0 (s)."""

READS = {"1 h": 3600.0, "1 d": 86400.0, "1 y": 365 * 86400.0}
"""aihwkit's t_inference (s after programming ended)."""


def circuits() -> dict[str, Restrictions]:
    """The circuits ``from_aihwkit`` reads from aihwkit's configurations (see the module
    docstring; ``tests/hardware/test_aihwkit_inference.py`` checks the mapping)."""
    base = Restrictions(
        input_range=1.0, input_bits=7, input_scaling=True, output_bound=12.0, output_bits=9,
        output_noise=0.06, bound_management=0.25 / (2 / 126), array_rows=512,
        array_cols=512, digital_bias=True,
    )  # fmt: skip
    return {
        "aihwkit defaults": replace(
            base, output_bound=None, output_swing=12.0, absolute_noise=True
        ),
        "ω = 1": base,
        "ω = 1, no bound management": replace(base, bound_management=None),
        "ω = 1, fixed input range": replace(base, input_scaling=False, bound_management=None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-samples", type=int, help="the first N training samples")
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--time-steps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    opts = {"root": args.data_root, "download": False}
    train = datasets.get("mnist", **opts)
    test = datasets.get("mnist", train=False, **opts)
    test = torch.utils.data.Subset(test, range(min(args.test_samples, len(test))))
    if args.train_samples is not None:
        train = torch.utils.data.Subset(train, range(min(args.train_samples, len(train))))
    trained = {}
    for spiking in (True, False):
        spec = RunSpec(
            model="spiking_cnn2", spiking=spiking, dataset="mnist",
            train=TrainConfig(epochs=args.epochs, batch_size=64, seed=args.seed,
                              encoder="direct" if spiking else "none",
                              time_steps=args.time_steps, progress=False),
        )  # fmt: skip
        trainer = build_trainer(spec, data=train)
        trainer.fit(train)
        trained["SNN" if spiking else "ANN"] = trainer.model.eval()
    train_s = time.perf_counter() - start
    io = {"encoder": {"SNN": "direct", "ANN": "none"}, "time_steps": args.time_steps,
          "spikes": False, "seed": args.seed}  # fmt: skip
    plain = snnvar.evaluate(trained, test, None, draws=1, **io)
    lines = [
        f"Spiking-CNN2 on MNIST ({len(train)} training, {len(test)} test images), SGD "
        f"(Adam 1e-3) {args.epochs} epoch(s), seed {args.seed}; the SNN at T = "
        f"{args.time_steps} (direct input); {args.draws} chips per cell (mean ± std, %). "
        f"Unrestricted: ANN {100 * plain.row('ANN', 0.0).accuracy_mean:.2f}, SNN "
        f"{100 * plain.row('SNN', 0.0).accuracy_mean:.2f}.",
        "",
        "| circuit | label | ANN | SNN | evaluation (s) |",
        "|---|---|---|---|---|",
    ]
    found: dict[str, dict[str, float]] = {}
    for name, circuit in circuits().items():
        t0 = time.perf_counter()
        report = snnvar.evaluate(trained, test, Chip(circuit), draws=args.draws, **io)
        took = time.perf_counter() - t0
        rows = {m: report.row(m, 0.0) for m in trained}
        found[name] = {m: r.accuracy_mean for m, r in rows.items()}
        cells = " | ".join(f"{100 * rows[m].accuracy_mean:.2f} ± {100 * rows[m].accuracy_std:.2f}"
                           for m in ("ANN", "SNN"))  # fmt: skip
        lines.append(f"| {name} | `{circuit.label()}` | {cells} | {took:.0f} |")
    lines += ["", "the ω = 1 chip with aihwkit's PCM (g_max 25 µS), read t_inference after "
              "programming:", "",
              "| devices | " + " | ".join(f"ANN {k} | SNN {k}" for k in READS) + " |",
              "|---" * (1 + 2 * len(READS)) + "|"]  # fmt: skip
    drift: dict[str, dict[str, float]] = {}
    for comp in ("global", None):
        device = PCM(compensation=comp, t0=T0)
        chip = Chip(circuits()["ω = 1"], devices=device)
        times = [t + T0 for t in READS.values()]
        report = snnvar.evaluate(trained, test, chip, times=times, draws=args.draws, **io)
        label = f"PCM, {'global compensation' if comp else 'no compensation'}"
        cells = []
        for k, t in zip(READS, times, strict=True):
            for m in ("ANN", "SNN"):
                r = report.row(m, None, time=t)
                drift.setdefault(label, {})[f"{m} {k}"] = r.accuracy_mean
                cells.append(f"{100 * r.accuracy_mean:.2f} ± {100 * r.accuracy_std:.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", f"training {train_s / 60:.1f} min; wall time "
              f"{(time.perf_counter() - start) / 60:.1f} min on {platform.platform()} "
              f"({torch.get_num_threads()} threads)"]  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(
            {"table": text, "seed": args.seed, "draws": args.draws, "circuits": found,
             "pcm": drift, "args": {k: str(v) for k, v in vars(args).items()}},
            indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
