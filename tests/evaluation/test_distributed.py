"""Chips across torch.distributed ranks (2 gloo processes): the sharded report equals
the one-process report chip for chip; a rank that fails ends every rank."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from snnvar import Variation, evaluate, models
from snnvar.distributed import RankError, gather_work, rank_and_world
from snnvar.hardware import PCM


def _setup():
    torch.manual_seed(0)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(24,), threshold=0.5).eval()
    g = torch.Generator().manual_seed(1)
    data = (torch.rand(48, 1, 8, 8, generator=g), torch.randint(0, 10, (48,), generator=g))
    levels = {"gauss": Variation(sigma=0.0), "pcm": PCM()}
    return model, data, levels


def _report():
    model, data, levels = _setup()
    ann = models.create("fc2", spiking=False, in_shape=(1, 8, 8), hidden=(24,))
    models.transfer(model, ann)
    return evaluate(
        {"snn": model, "ann": ann}, data, levels, sigmas=[0.0, 0.1], times=[1.0, 3600.0],
        draws=3, seed=5, time_steps={"snn": 4, "ann": 1}, encoder={"snn": "rate", "ann": "none"},
    )  # fmt: skip


def _worker(rank: int, world: int, store: str, out: str, mode: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world,
                            timeout=__import__("datetime").timedelta(seconds=20))  # fmt: skip
    try:
        if mode == "report":
            torch.save(_report().to_dict(), f"{out}/rank{rank}.pt")
        elif mode == "raise":

            def work(unit: int) -> int:
                if rank == 1 and unit == 3:
                    raise ValueError("bad chip 3")
                return unit * 10

            try:
                gather_work(list(range(6)), work)
            except RankError as err:
                with open(f"{out}/rank{rank}.txt", "w") as f:
                    f.write(str(err))
        elif mode == "die":
            dist.barrier()  # both ends of gloo's mesh are connected before rank 1 dies
            if rank == 1:
                os._exit(3)  # dies without reporting
            start = time.monotonic()
            try:
                gather_work(list(range(4)), lambda u: u)
                outcome = "returned"
            except Exception as err:
                outcome = type(err).__name__
            with open(f"{out}/rank{rank}.txt", "w") as f:
                f.write(f"{outcome} {time.monotonic() - start:.1f}")
    finally:
        if mode != "die":
            dist.destroy_process_group()


def _spawn(tmp_path, mode: str) -> None:
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path), mode), nprocs=2)


def _without_ranks(report: dict) -> dict:
    rows = [{k: v for k, v in r.items() if k != "ranks"} for r in report["results"]]
    config = {k: v for k, v in report["config"].items() if k != "world_size"}
    return {**report, "results": rows, "config": config}


def test_sharded_report_equals_the_one_process_report(tmp_path) -> None:
    _spawn(tmp_path, "report")
    a, b = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2))
    single = _report().to_dict()
    assert a == b  # every rank returns the whole report
    assert a["config"]["world_size"] == 2 and single["config"]["world_size"] == 1
    assert _without_ranks(a) == _without_ranks(single)  # bit for bit, chip for chip
    chips = [r for r in a["results"] if r["variation_label"] != "gauss" or r["sigma"] != 0.0]
    assert {rank for r in chips for rank in r["ranks"]} == {0, 1}
    assert all(set(r["ranks"]) == {0} for r in single["results"])
    assert len(a["results"]) == 2 * (2 + 2)  # two models x (two sigmas + two times)


def test_a_rank_that_raises_ends_every_rank_with_its_error(tmp_path) -> None:
    start = time.monotonic()
    _spawn(tmp_path, "raise")
    for r in range(2):
        text = (tmp_path / f"rank{r}.txt").read_text()
        assert text == "rank 1 of 2 failed: ValueError: bad chip 3"
    assert time.monotonic() - start < 60


def test_a_rank_that_dies_does_not_hang_the_others(tmp_path) -> None:
    ctx = mp.get_context("spawn")  # separate processes: nothing terminates the survivor
    procs = [
        ctx.Process(target=_worker, args=(r, 2, str(tmp_path / "store"), str(tmp_path), "die"))
        for r in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=90)
    assert not any(p.is_alive() for p in procs)
    assert procs[1].exitcode == 3
    outcome, seconds = (tmp_path / "rank0.txt").read_text().split()
    assert outcome != "returned" and float(seconds) < 30  # an error, within the timeout


def test_without_a_process_group_everything_runs_here() -> None:
    assert rank_and_world() == (0, 1)
    assert gather_work([1, 2, 3], lambda u: u * 2) == ([2, 4, 6], [0, 0, 0])
    with pytest.raises(ValueError, match="own error"):
        gather_work([1], lambda u: (_ for _ in ()).throw(ValueError("own error")))


TINY = ("--model", "fc2", "--model-option", "hidden=(16,)", "--epochs", "1", "--time-steps", "3",
        "--encoder", "direct", "--no-progress")  # fmt: skip


def test_snnvar_evaluate_under_torchrun(tmp_path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "snnvar", "train", *TINY, "--out", str(run)],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    args = ["evaluate", str(run), "--sigmas", "0,0.1", "--draws", "3", "--no-progress"]
    one = subprocess.run([sys.executable, "-m", "snnvar", *args, "--out", str(tmp_path / "one")],
                         capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert one.returncode == 0, one.stderr
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "snnvar", *args, "--out", str(tmp_path / "two")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("report written to") == 1  # rank 0 alone prints and writes
    assert "(chips computed on 2 ranks)" in two.stdout
    a = json.loads((tmp_path / "one" / "report.json").read_text())
    b = json.loads((tmp_path / "two" / "report.json").read_text())
    assert [r["accuracies"] for r in a["results"]] == [r["accuracies"] for r in b["results"]]
    # unit 0: the clean pass (rank 0); units 1-3: chips 0-2 at σ = 0.1, ranks 1, 0, 1
    assert b["config"]["world_size"] == 2 and b["results"][1]["ranks"] == [1, 0, 1]
    again = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "snnvar", *args, "--out", str(tmp_path / "two")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert again.returncode != 0 and "already holds files" in again.stderr
    train = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "snnvar", "train", *TINY, "--out", str(tmp_path / "t")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    assert train.stdout.count("run written to") == 1 and "(2 processes" in train.stdout
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert metrics[0]["world_size"] == 2
    demo = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "snnvar", "demo", "--quick", "--out", str(tmp_path / "d")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert demo.returncode != 0 and "does not run under torchrun" in demo.stderr
    assert not (tmp_path / "d").exists()
