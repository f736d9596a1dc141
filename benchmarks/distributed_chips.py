"""Chips across processes (issue 22): simulated chips per second of ``snnvar.evaluate``
under ``torchrun --nproc_per_node N`` against one process, on the same cores.

The parent launches ``python -m torch.distributed.run --standalone --nproc_per_node N``
on this script for each N (``OMP_NUM_THREADS`` = cores / N, so every N uses the same
cores); each rank loads the run, evaluates ``--draws`` chips at σ = ``--sigma`` on the
first ``--samples`` test images, and rank 0 reports the wall time of ``evaluate``
and checks the report against N = 1's, accuracy for accuracy.

    python benchmarks/distributed_chips.py RUN --data-root ../shared/data [--procs 1,2]
        [--draws 8] [--samples 1000] [--json benchmarks/results/distributed_chips.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def _worker(args: argparse.Namespace) -> None:
    from snnvar import Variation, evaluate
    from snnvar.distributed import init_from_env, is_main, rank_and_world
    from snnvar.runs import load_run, run_dataset

    init_from_env()
    model, spec = load_run(args.run, root=args.data_root)
    test = run_dataset(spec, root=args.data_root)
    data = torch.utils.data.Subset(test, range(min(args.samples, len(test))))
    start = time.perf_counter()
    report = evaluate(
        model, data, Variation(sigma=args.sigma), draws=args.draws, seed=0,
        encoder=spec.encoder, time_steps=spec.time_steps, batch_size=250,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if is_main():
        row = report.results[0]
        out = {"world_size": rank_and_world()[1], "seconds": seconds,
               "accuracies": row.accuracies, "ranks": row.ranks}  # fmt: skip
        Path(args.result).write_text(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--data-root", type=Path)
    p.add_argument("--procs", default="1,2")
    p.add_argument("--draws", type=int, default=8)
    p.add_argument("--sigma", type=float, default=0.1)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--json", type=Path)
    p.add_argument("--result", help=argparse.SUPPRESS)  # a worker's output file
    args = p.parse_args()
    if args.result:
        _worker(args)
        return
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(v) for v in args.procs.split(",")):
            result = Path(tmp) / f"n{n}.json"
            env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // n))}
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc_per_node", str(n), __file__, str(args.run), "--draws",
                   str(args.draws), "--sigma", str(args.sigma), "--samples", str(args.samples),
                   "--result", str(result)]  # fmt: skip
            if args.data_root:
                cmd += ["--data-root", str(args.data_root)]
            subprocess.run(cmd, check=True, env=env)
            row = json.loads(result.read_text())
            row["chips_per_second"] = args.draws / row["seconds"]
            row["threads_per_process"] = int(env["OMP_NUM_THREADS"])
            rows.append(row)
            print(f"N = {n}: {row['seconds']:.1f} s, {row['chips_per_second']:.3f} chips/s")
    base = rows[0]
    for row in rows:
        row["speedup"] = row["chips_per_second"] / base["chips_per_second"]
        row["same_accuracies"] = row["accuracies"] == base["accuracies"]
    per_chip = base["seconds"] / args.draws
    result = {
        "run": str(args.run), "draws": args.draws, "sigma": args.sigma,
        "samples": args.samples, "rows": rows, "seconds_per_chip_one_process": per_chip,
        "machine": {"platform": platform.platform(), "cores": cores,
                    "torch": torch.__version__},
    }  # fmt: skip
    print(json.dumps(rows, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
