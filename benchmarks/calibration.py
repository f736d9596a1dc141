"""Calibration of each programmed chip and the yield (issue 38).

Trains one spiking network (with BatchNorm, so AdaBS has statistics to set) with
SGD, WVAT and HA-SGD from the same initial weights, then meets every model with
the same chips: the Gaussian HSV at σ = 5 / 10 / 15 % of each layer's range and
PCM read a day, a week and a year after programming without drift compensation
(and, for comparison, with aihwkit's global compensation). Every chip is tested
as programmed and after each calibration (``snnvar.evaluate(calibrate=...)``):
BatchNorm statistics (AdaBS), thresholds, a per-column affine correction, a few
fine-tuning steps of the digital parameters, and all four (bn, affine, threshold,
finetune: the columns corrected before the thresholds are matched), on
``--main-samples`` samples of the training split; then the accuracy against the
number of calibration samples (16 to 1,024) at σ = 10 % and PCM after a year.
Each row gives the mean ± std over the chips, the yield (chips within 1 point of
the model's clean accuracy), the 5th / 50th / 95th percentile chip and the
calibration's seconds per chip.

    python benchmarks/calibration.py [--model spiking_cnn2] [--data-root ../shared/data]
        [--train-samples 20000] [--epochs 2] [--draws 5] [--test-samples 2000]
        [--samples 16,64,256,1024] [--json benchmarks/results/calibration_cnn2_mnist.json]
    python benchmarks/calibration.py --render benchmarks/results/calibration_cnn2_mnist.json

Every figure is written to the JSON as soon as it is measured.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

import snnvar
from snnvar import Variation, datasets
from snnvar.evaluation import Report
from snnvar.hardware import PCM, parse_time
from snnvar.runs import RunSpec, build_trainer, calibration_subset
from snnvar.training import TrainConfig

CALIBRATIONS = {
    "bn": "bn",
    "threshold": "threshold",
    "affine": "affine",
    "finetune": "finetune",
    "all": "bn,affine,threshold,finetune",
}
TIMES = ("1d", "7d", "1y")


def rows(report: Report, samples: int | None) -> list[dict[str, Any]]:
    """The report's rows as flat records (accuracies in %)."""
    out = []
    for r in report.results:
        q = r.percentiles or {}
        out.append({
            "method": r.method.split(" [")[0], "calibration": r.calibration or "none",
            "samples": samples if r.calibration else 0, "condition": r.label,
            "level": r.sigma if r.sigma is not None else r.time,
            "mean": 100 * r.accuracy_mean, "std": 100 * r.accuracy_std,
            "worst": 100 * r.accuracy_min, "clean": 100 * (r.clean_accuracy or 0.0),
            "yield": 100 * (r.yield_fraction or 0.0),
            **{k: 100 * v for k, v in q.items()},
            "seconds_per_chip": r.calibration_seconds,
        })  # fmt: skip
    return out


def level_name(level: float, condition: str) -> str:
    if condition.startswith("gaussian"):
        return f"σ = {100 * level:g} %"
    return {86400.0: "1 day", 604800.0: "1 week", 3.15576e7: "1 year"}.get(level, f"{level:g} s")


def table(records: list[dict[str, Any]], calibrations: list[str]) -> str:
    """Accuracy (mean ± std over chips) / yield (%) per method and condition, a column
    per calibration (as programmed first)."""
    labels = ["none", *(CALIBRATIONS[c].replace(",", "+") for c in calibrations)]
    head = ["method", "condition", *(f"{c}: acc / yield" for c in ["none", *calibrations])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    found: dict[tuple[str, str, float], dict[str, dict[str, Any]]] = {}
    for r in records:
        found.setdefault((r["method"], r["condition"], r["level"]), {})[r["calibration"]] = r
    for (method, cond, level), by in found.items():
        cells = [method, f"{cond} {level_name(level, cond)}"]
        for label in labels:
            r = by.get(label)
            cells.append(
                "-" if r is None else f"{r['mean']:.2f} ± {r['std']:.2f} / {r['yield']:.0f}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def sweep_table(records: list[dict[str, Any]], sweep: list[dict[str, Any]]) -> str:
    """Accuracy / yield against the calibration samples, per method, condition and
    calibration (the main run's samples included)."""
    rows = [
        r
        for r in sweep + records
        if r["calibration"] in {s["calibration"] for s in sweep}
        and (r["condition"], r["level"]) in {(s["condition"], s["level"]) for s in sweep}
    ]
    sizes = sorted({r["samples"] for r in rows})
    head = ["method", "condition", "calibration", *(f"{n} samples" for n in sizes)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    found: dict[tuple[str, str, float, str], dict[int, dict[str, Any]]] = {}
    for r in rows:
        key = (r["method"], r["condition"], r["level"], r["calibration"])
        found.setdefault(key, {})[r["samples"]] = r
    for (method, cond, level, cal), by in sorted(found.items(), key=lambda kv: (
            kv[0][1], kv[0][0], kv[0][3])):  # fmt: skip
        cells = [method, f"{cond} {level_name(level, cond)}", cal]
        cells += ["-" if n not in by else f"{by[n]['mean']:.2f} / {by[n]['yield']:.0f}"
                  for n in sizes]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def cost_table(records: list[dict[str, Any]]) -> str:
    """Mean seconds of one chip's calibration per calibration and number of samples."""
    cals = list(dict.fromkeys(r["calibration"] for r in records if r["seconds_per_chip"]))
    sizes = sorted({r["samples"] for r in records if r["seconds_per_chip"]})
    lines = ["| calibration | " + " | ".join(f"{n} samples (s)" for n in sizes) + " |",
             "|" + "---|" * (len(sizes) + 1)]  # fmt: skip
    for cal in cals:
        cells = [cal]
        for n in sizes:
            xs = [
                r["seconds_per_chip"]
                for r in records
                if r["calibration"] == cal and r["samples"] == n and r["seconds_per_chip"]
            ]
            cells.append("-" if not xs else f"{sum(xs) / len(xs):.3g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def clean_line(records: list[dict[str, Any]]) -> str:
    clean = {r["method"]: r["clean"] for r in records}
    return "clean accuracy (%): " + ", ".join(f"{k} {v:.2f}" for k, v in clean.items())


def render(path: Path) -> None:
    """Print every table of a result file."""
    result = json.loads(path.read_text())
    records, sweep = result["records"], result.get("sweep", [])
    print(clean_line(records) + "\n")
    print(result["table"])
    print(sweep_table(records, sweep))
    print(cost_table(records + sweep))
    print("stages (min): " + ", ".join(f"{k} {v / 60:.1f}" for k, v in
                                      result["stages_s"].items()))  # fmt: skip
    print(f"wall time {result['wall_s'] / 60:.1f} min on {result['platform']} "
          f"({result['threads']} threads)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--model", default="spiking_cnn2")
    parser.add_argument("--encoder", default="direct")
    parser.add_argument("--time-steps", type=int, default=5)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--train-samples", type=int, default=20000)
    parser.add_argument("--test-samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hasgd-samples", type=int, default=2)
    parser.add_argument("--wvat-alpha", type=float, default=0.1)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--sigmas", default="0.05,0.10,0.15")
    parser.add_argument("--main-samples", type=int, default=256)
    parser.add_argument("--samples", default="16,64,256,1024")
    parser.add_argument("--calibrations", default=",".join(CALIBRATIONS))
    parser.add_argument("--sweep-calibrations", default="bn,affine,all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default="sgd,wvat,hasgd")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--models", type=Path, help="keep the trained models here (state dicts), reuse them"
    )
    parser.add_argument("--render", type=Path, help="print the tables of a result file and exit")
    args = parser.parse_args()
    if args.render is not None:
        render(args.render)
        return
    start = time.perf_counter()
    local = args.dataset == "digits"
    opts = {} if local else {"root": args.data_root, "download": False}
    train = datasets.get(args.dataset, **opts)
    test = datasets.get(args.dataset, train=False, **opts)
    train = torch.utils.data.Subset(train, range(min(args.train_samples, len(train))))
    test = torch.utils.data.Subset(test, range(min(args.test_samples, len(test))))
    in_shape = tuple(train[0][0].shape)
    base = RunSpec(
        model=args.model, model_options={"batch_norm": True, "in_shape": in_shape},
        spiking=True, dataset=args.dataset, optimizer=args.optimizer, lr=args.lr,
        variation=Variation(0.1),
        train=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, encoder=args.encoder,
                          time_steps=args.time_steps, seed=args.seed, progress=False),
    )  # fmt: skip
    options = {
        "sgd": {},
        "wvat": {"w_th": 0.5, "alpha": args.wvat_alpha},
        "hasgd": {"samples": args.hasgd_samples},
    }
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    result: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()},
                              "records": [], "stages_s": {}}  # fmt: skip

    def save() -> None:
        result["platform"] = platform.platform()
        result["threads"] = torch.get_num_threads()
        result["wall_s"] = time.perf_counter() - start
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1))

    trained = {}
    for name in methods:
        t0 = time.perf_counter()
        spec = replace(base, method=name, method_options=options[name])
        trainer = build_trainer(spec, data=train)
        kept = None if args.models is None else args.models / f"{args.model}_{name}.pt"
        if kept is not None and kept.exists():
            trainer.model.load_state_dict(torch.load(kept, weights_only=True))
        else:
            trainer.fit(train)
            if kept is not None:
                kept.parent.mkdir(parents=True, exist_ok=True)
                torch.save(trainer.model.state_dict(), kept)
        trained[name] = trainer.model.eval()
        result["stages_s"][f"train_{name}"] = time.perf_counter() - t0
        print(f"trained {name} in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    io = {"encoder": args.encoder, "time_steps": args.time_steps, "spikes": False,
          "draws": args.draws, "seed": args.seed}  # fmt: skip
    sigmas = [float(s) for s in args.sigmas.split(",")]
    pcm = PCM()
    conditions = {"gaussian": Variation(0.0), "pcm": pcm}
    root = None if local else args.data_root

    def calibration_set(n: int) -> torch.utils.data.Subset:
        return calibration_subset(base, n, args.seed, root)[0]

    t0 = time.perf_counter()  # the comparator: aihwkit's global drift compensation
    comp = snnvar.evaluate(trained, test, {"pcm + global compensation": replace(
        pcm, compensation="global")}, times=TIMES, **io)  # fmt: skip
    result["records"] += rows(comp, None)
    result["stages_s"]["global_compensation"] = time.perf_counter() - t0
    save()
    chosen = [c.strip() for c in args.calibrations.split(",") if c.strip()]
    for c in chosen:
        t0 = time.perf_counter()
        report = snnvar.evaluate(
            trained, test, conditions, sigmas=sigmas, times=TIMES, **io,
            calibrate=CALIBRATIONS[c], calibration_data=calibration_set(args.main_samples),
        )  # fmt: skip
        got = rows(report, args.main_samples)
        result["records"] += [r for r in got if r["calibration"] != "none" or c == chosen[0]]
        result["stages_s"][f"calibrate_{c}"] = time.perf_counter() - t0
        print(f"calibration {c} in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
        save()
    result["table"] = table([r for r in result["records"] if r["samples"] in
                             (0, args.main_samples)], chosen)  # fmt: skip
    print(result["table"], flush=True)
    save()
    sweep = {"gaussian": Variation(0.10), "pcm": pcm.at_time(parse_time("1y"))}
    result["sweep"] = []
    for n in [int(s) for s in args.samples.split(",")]:
        if n == args.main_samples:
            continue
        for c in [c.strip() for c in args.sweep_calibrations.split(",") if c.strip()]:
            t0 = time.perf_counter()
            report = snnvar.evaluate(trained, test, sweep, **io, calibrate=CALIBRATIONS[c],
                                     calibration_data=calibration_set(n))  # fmt: skip
            result["sweep"] += [r for r in rows(report, n) if r["calibration"] != "none"]
            result["stages_s"][f"sweep_{c}_{n}"] = time.perf_counter() - t0
            print(f"sweep {c} n={n} in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
            save()
    print(f"wall time {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    save()
    if args.json:
        render(args.json)


if __name__ == "__main__":
    main()
