"""Tiny data files in each data set's real on-disk format."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of uint8 data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder: Path, n_train: int = 6, n_test: int = 4, gz: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        files = {
            f"{prefix}-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n, 28, 28))),
            f"{prefix}-labels-idx1-ubyte": idx_bytes(np.arange(n) % 10),
        }
        for name, data in files.items():
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)


def write_cifar10(folder: Path, batches: dict[str, int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, n in batches.items():
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(i % 10) for i in range(n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"{i}.png".encode() for i in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch))
    meta = {b"label_names": [f"class{i}".encode() for i in range(10)], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))


def write_cifar100(folder: Path, n: int = 5) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for name in ("train", "test"):
        batch = {
            b"fine_labels": [int(i * 17 % 100) for i in range(n)],
            b"coarse_labels": [0] * n,
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        }
        (folder / name).write_bytes(pickle.dumps(batch))
    meta = {b"fine_label_names": [f"c{i}".encode() for i in range(100)]}
    (folder / "meta").write_bytes(pickle.dumps(meta))


def nmnist_bytes(
    events: list[tuple[int, int, int, int]], overflow_after: int | None = None
) -> bytes:
    """40-bit N-MNIST events (x, y, p, t); an overflow record (y = 240) after index k."""
    out = io.BytesIO()
    for k, (x, y, p, t) in enumerate(events):
        out.write(bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF]))
        if overflow_after is not None and k == overflow_after:
            out.write(bytes([0, 240, 0, 0, 0]))
    return out.getvalue()


def write_nmnist(root: Path, split: str = "Train", digits: tuple[int, ...] = (3, 7)) -> None:
    for d in digits:
        folder = root / "NMNIST" / split / str(d)
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(2):
            events = [(x, (x + d) % 34, x % 2, 1000 * x + 7 * i) for x in range(34)]
            (folder / f"{i:05d}.bin").write_bytes(nmnist_bytes(events))
