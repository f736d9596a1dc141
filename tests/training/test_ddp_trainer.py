"""Training across torch.distributed ranks (2 gloo processes): the Trainer wraps the
model in DistributedDataParallel with a DistributedSampler; with every method, and a
BatchNorm model, the replicas end identical; rank 0 writes; resume is exact."""

from __future__ import annotations

import datetime
import json

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import Subset, TensorDataset

from snnvar import datasets
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import METHODS, TrainConfig, Trainer

OPTIONS = {
    "hasgd": {"samples": 2}, "awp": {"steps": 1},
    "adversarial": {"attack_steps": 2, "beta": 0.5},
}  # fmt: skip


def _spec(method: str, epochs: int = 1) -> RunSpec:
    return RunSpec(
        model="fc4", model_options={"hidden": [24, 16, 12], "batch_norm": True},
        dataset="digits", method=method, method_options=OPTIONS.get(method, {}),
        cosine=False, lr=3e-3,
        train=TrainConfig(epochs=epochs, batch_size=16, time_steps=3, encoder="rate",
                          seed=3, progress=False),
    )  # fmt: skip


def _data() -> Subset:
    return Subset(datasets.get("digits"), range(80))


def _worker(rank: int, world: int, store: str, out: str, mode: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))  # fmt: skip
    try:
        torch.manual_seed(1000 + rank)  # a global RNG of its own: nothing may depend on it
        results = {}
        if mode == "methods":
            for method in METHODS:
                trainer = build_trainer(_spec(method), data=_data())
                trainer.fit(_data())
                results[method] = {"state": trainer.model.state_dict(),
                                   "history": trainer.history}  # fmt: skip
        elif mode == "resume":
            whole = build_trainer(_spec("wvat", 2), data=_data(), out_dir=f"{out}/whole")
            whole.fit(_data())
            first = build_trainer(_spec("wvat", 1), data=_data(), out_dir=f"{out}/part")
            first.fit(_data())
            dist.barrier()  # rank 0's checkpoint is on disk
            rest = build_trainer(_spec("wvat", 2), data=_data(), out_dir=f"{out}/part")
            rest.fit(_data(), resume=True)
            results = {"whole": whole.model.state_dict(), "resumed": rest.model.state_dict(),
                       "history": rest.history}  # fmt: skip
        torch.save(results, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _spawn(tmp_path, mode: str) -> list[dict]:
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path), mode), nprocs=2)
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]


def test_every_method_keeps_the_replicas_identical(tmp_path) -> None:
    a, b = _spawn(tmp_path, "methods")
    initial = build_trainer(_spec("sgd"), data=_data()).model.state_dict()
    assert set(a) == set(METHODS)
    for method in METHODS:
        sa, sb = a[method]["state"], b[method]["state"]
        for k in sa:
            assert torch.equal(sa[k], sb[k]), f"{method}: replicas differ in {k}"
        assert any("running_mean" in k for k in sa)  # a BatchNorm model
        assert any(not torch.equal(sa[k], initial[k]) for k in sa if "weight" in k), method
        assert a[method]["history"] == b[method]["history"]
        row = a[method]["history"][0]
        assert row["world_size"] == 2 and 0 < row["train_accuracy"] <= 1
    # each rank its share: 40 of the 80 samples, 3 batches of 16 (one process: 5)
    assert a["sgd"]["history"][0]["passes"] == 3


def test_two_ranks_resume_bit_for_bit_and_rank_0_writes(tmp_path) -> None:
    a, b = _spawn(tmp_path, "resume")
    for k in a["whole"]:
        assert torch.equal(a["whole"][k], a["resumed"][k]), k
        assert torch.equal(a["resumed"][k], b["resumed"][k]), k
    saved = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=False)
    assert saved["world_size"] == 2 and saved["epoch"] == 2
    metrics = json.loads((tmp_path / "part" / "metrics.json").read_text())
    assert [r["epoch"] for r in metrics] == [1, 2]
    assert not list((tmp_path / "part").glob("*.tmp"))
    one = build_trainer(_spec("wvat", 3), data=_data(), out_dir=tmp_path / "part")
    with pytest.raises(ValueError, match="written by 2 process"):
        one.fit(_data(), resume=True)  # one process cannot continue a two-process run


def test_one_process_is_unchanged() -> None:
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.rand(32, 4, generator=g), torch.randint(0, 2, (32,), generator=g))
    model = torch.nn.Linear(4, 2)
    config = TrainConfig(epochs=1, batch_size=8, encoder="none", progress=False)
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), config)
    trainer.fit(data)
    assert trainer.world_size == 1 and "world_size" not in trainer.history[0]
    assert trainer._forward_model() is model
