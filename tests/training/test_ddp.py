"""Data-parallel training: replicas that share the method's seed apply the same
perturbation at the same step and end with identical weights (2 gloo processes)."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from snnvar import Variation
from snnvar.training import WVAT


def _worker(rank: int, world: int, store: str, out: str, seeds: tuple[int, int]) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)  # the same initial weights on every rank
        model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
        ddp = nn.parallel.DistributedDataParallel(model)
        # A different global RNG on each rank: a method whose choices leaked to it would
        # desynchronise the ranks (different HSV/GAV choices, different numbers of backward
        # passes, mismatched collectives).
        torch.manual_seed(1000 + rank)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
        method = WVAT(ddp, opt, Variation(sigma=0.1), w_th=0.5, alpha=0.1, seed=seeds[rank])
        g = torch.Generator().manual_seed(100 + rank)  # each rank its own data shard
        kinds = []
        for _ in range(6):
            x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)

            def closure(x=x, y=y):
                loss = nn.functional.cross_entropy(ddp(x), y)
                loss.backward()
                return loss

            method.step(closure)
            kinds.append(method.last_kind)
        torch.save({"state": model.state_dict(), "kinds": kinds}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _run(tmp_path, seeds: tuple[int, int]) -> list[dict]:
    """Run the two ranks (``seeds``: each rank's method seed)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path), seeds), nprocs=2)
    return [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]


def test_replicas_stay_identical_under_wvat(tmp_path) -> None:
    a, b = _run(tmp_path, seeds=(7, 7))
    assert a["kinds"] == b["kinds"] and {"hsv", "gav"} <= set(a["kinds"])
    for k, v in a["state"].items():
        assert torch.equal(v, b["state"][k]), f"replicas drifted apart in {k}"
    torch.manual_seed(0)
    initial = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).state_dict()
    assert any(not torch.equal(v, initial[k]) for k, v in a["state"].items())  # it trained
