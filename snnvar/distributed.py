"""torch.distributed for snnvar: who this process is, work shared out, results gathered.

Under ``torchrun --nproc_per_node N`` (or any initialised default process group),
:func:`snnvar.evaluate` computes each simulated chip whole on one rank (unit ``i``
of the sweep on rank ``i mod N``) and gathers every chip on every rank, so each
rank returns the same report as one process would; the command line lets rank 0
alone write files. Without a process group everything runs in this process.

A rank that raises does not leave the others waiting: the work's outcome is
gathered first, and every rank raises :class:`RankError` naming the rank and its
error. The process group's timeout (``init_from_env(timeout_s=...)``, 1800 s by
default; ``SNNVAR_DIST_TIMEOUT`` on the command line) bounds a rank that dies
without reporting; it must exceed one chip's pass, the longest wait between
collectives. Any initialised default process group makes ``evaluate`` and the
Trainer collective: call them on every rank.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist

__all__ = [
    "RankError",
    "gather_work",
    "init_from_env",
    "is_main",
    "on_main",
    "rank_and_world",
    "rank_device",
]

T = TypeVar("T")


class RankError(RuntimeError):
    """Raised on every rank when one rank's share of the work failed."""


def rank_and_world() -> tuple[int, int]:
    """``(rank, world size)`` of the default process group; ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process writes files and prints results (rank 0, or no group)."""
    return rank_and_world()[0] == 0


def init_from_env(timeout_s: float | None = None) -> bool:
    """Initialise the default process group from torchrun's environment (``RANK``,
    ``WORLD_SIZE``, ``MASTER_ADDR``, ...): NCCL when this process has a GPU, else gloo,
    with a timeout (``timeout_s``, else ``$SNNVAR_DIST_TIMEOUT``, else 1800 s: it must
    exceed the longest piece of work between two collectives, one chip's pass over
    the test set in an evaluation, since ranks wait for each other there). Returns
    True if it initialised one; False when not under torchrun (WORLD_SIZE unset or 1)
    or a group exists already."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not dist.is_available() or dist.is_initialized():
        return False
    if timeout_s is None:
        raw = os.environ.get("SNNVAR_DIST_TIMEOUT", "1800")
        try:
            timeout_s = float(raw)
        except ValueError:
            raise ValueError(f"SNNVAR_DIST_TIMEOUT must be seconds, got {raw!r}") from None
    if not timeout_s > 0:
        raise ValueError(f"the process group's timeout must be > 0 s, got {timeout_s}")
    backend = "gloo"  # CPU tensors; with GPUs, CUDA tensors go through NCCL
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available() and dist.is_nccl_available():
        backend = "cpu:gloo,cuda:nccl"
        if local < torch.cuda.device_count():
            torch.cuda.set_device(local)
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return True


def gather_work(units: Sequence[T], work: Callable[[T], Any]) -> tuple[list[Any], list[int]]:
    """``work(unit)`` for every unit, unit ``i`` computed on rank ``i mod world``;
    returns ``(results in unit order, the rank of each)`` on every rank. One process:
    all units here. Raises :class:`RankError` on every rank if any rank's work raised."""
    rank, world = rank_and_world()
    mine: dict[int, Any] = {}
    error: str | None = None
    for i in range(rank, len(units), world):
        try:
            mine[i] = work(units[i])
        except Exception as err:
            if world == 1:
                raise
            error = f"{type(err).__name__}: {err}"
            break
    if world == 1:
        return [mine[i] for i in range(len(units))], [0] * len(units)
    shares: list[Any] = [None] * world
    dist.all_gather_object(shares, (error, mine))
    failed = [(r, e) for r, (e, _) in enumerate(shares) if e is not None]
    if failed:
        r, e = failed[0]
        raise RankError(f"rank {r} of {world} failed: {e}")
    results: list[Any] = [None] * len(units)
    ranks = [0] * len(units)
    for r, (_, part) in enumerate(shares):
        for i, value in part.items():
            results[i] = value
            ranks[i] = r
    return results, ranks


def on_main(fn: Callable[[], T]) -> T:
    """``fn()`` on rank 0 only, its (picklable) result passed to every rank; if it
    raises, rank 0 raises that error and the others a :class:`RankError` naming it. One
    process: ``fn()``."""
    rank, world = rank_and_world()
    if world == 1:
        return fn()
    box: list[Any] = [None]
    failure: Exception | None = None
    if rank == 0:
        try:
            box = [(None, fn())]
        except Exception as err:  # the others get its name and message (always picklable)
            failure, box = err, [(f"{type(err).__name__}: {err}", None)]
    dist.broadcast_object_list(box, src=0)
    error, value = box[0]
    if failure is not None:
        raise failure
    if error is not None:
        raise RankError(f"rank 0 of {world} failed: {error}")
    return value


def rank_device(name: str | None) -> torch.device | None:
    """The torch device ``name`` (``cpu``, ``cuda``, ``cuda:N``) this process computes
    on; under torchrun ``cuda`` is ``cuda:LOCAL_RANK`` (each rank its own GPU) and
    ``cuda:N`` is refused (every rank would share one). None: None. Raises
    ``ValueError`` naming the device for anything else, or one this machine lacks."""
    if name is None:
        return None
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(
            f"torch device {name!r}: not a device; allowed: cpu, cuda, cuda:N"
        ) from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"torch device {name!r}: allowed: cpu, cuda, cuda:N")
    if device.type == "cpu":
        return device
    if not torch.cuda.is_available():
        raise ValueError(f"torch device {name}: this machine has no CUDA device")
    if device.index is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError(
            f"torch device {name}: under torchrun give cuda (each rank takes cuda:LOCAL_RANK), "
            "not one GPU for every rank"
        )
    if device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if device.index >= torch.cuda.device_count():
        raise ValueError(
            f"torch device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    return device
