"""Image data sets in their original on-disk formats, without torchvision.

- MNIST and Fashion-MNIST: the four IDX files (``.gz`` or uncompressed) in
  ``<root>/mnist/`` and ``<root>/fashion_mnist/``.
- CIFAR-10 / CIFAR-100: the "python version" pickles in
  ``<root>/cifar-10-batches-py/`` and ``<root>/cifar-100-python/``.

Downloads come from the official sources and are verified against the MD5
published with them (the same values torchvision checks). Files you put in
place yourself are validated structurally (magic number, dimensions, sizes,
pickle keys); a partial CIFAR set loads with a warning saying what was found.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .storage import MissingDataError, download, extract

__all__ = ["CIFAR", "IDX_DTYPES", "IdxImages", "read_idx"]

IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type codes (third byte of the magic number)."""


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped), checking magic, dimensions and size."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read IDX file ({exc})") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise ValueError(f"{path}: bad IDX magic number {data[:4].hex()!r}")
    dtype = np.dtype(IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{path}: IDX header says shape {shape} ({expected} bytes) but the file "
            f"holds {len(data) - header} bytes of data"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


@dataclass(frozen=True)
class _IdxSpec:
    folder: str
    mirrors: tuple[str, ...]
    files: dict[str, tuple[str, str]]  # split/kind -> (file name, md5 of the .gz)
    classes: tuple[str, ...]


MNIST_SPEC = _IdxSpec(
    folder="mnist",
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    files={
        "train/images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train/labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        "test/images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        "test/labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    },
    classes=tuple(str(d) for d in range(10)),
)

FASHION_SPEC = _IdxSpec(
    folder="fashion_mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    files={
        "train/images": ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train/labels": ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        "test/images": ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        "test/labels": ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    },
    classes=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
)  # fmt: skip


class IdxImages(Dataset):
    """MNIST or Fashion-MNIST: ``x`` float32 ``[1, 28, 28]`` in [0, 1], ``y`` int64.

    Looks for each IDX file as ``.gz`` or uncompressed in ``<root>/<folder>/``;
    downloads missing ones when ``download`` is true.
    """

    def __init__(self, spec: _IdxSpec, root: Path, train: bool, download_missing: bool):
        self.spec = spec
        self.folder = root / spec.folder
        self.classes = spec.classes
        split = "train" if train else "test"
        images = self._file(f"{split}/images", download_missing)
        labels = self._file(f"{split}/labels", download_missing)
        x, y = read_idx(images), read_idx(labels)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"{images} / {labels}: expected images [N, H, W] and labels [N], got "
                f"{x.shape} and {y.shape}"
            )
        if y.size and (y.min() < 0 or y.max() >= len(self.classes)):
            raise ValueError(f"{labels}: labels outside 0..{len(self.classes) - 1}")
        self.images = torch.from_numpy(x.copy())
        self.targets = torch.from_numpy(y.astype(np.int64))

    def _file(self, key: str, download_missing: bool) -> Path:
        name, md5 = self.spec.files[key]
        for candidate in (self.folder / name, self.folder / name.removesuffix(".gz")):
            if candidate.exists():
                return candidate
        expected = [n for n, _ in self.spec.files.values()]
        if not download_missing:
            raise MissingDataError(
                f"{self.spec.folder}: {name} not found. Put these files (.gz or "
                f"uncompressed) in {self.folder}:\n  " + "\n  ".join(expected)
            )
        urls = tuple(m + name for m in self.spec.mirrors)
        return download(urls, self.folder / name, md5, name=self.spec.folder, expected=expected)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i].unsqueeze(0).float().div_(255.0), self.targets[i]


@dataclass(frozen=True)
class _CifarSpec:
    folder: str
    archive: str
    url: str
    md5: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_key: bytes
    meta: str
    names_key: bytes


CIFAR10_SPEC = _CifarSpec(
    folder="cifar-10-batches-py",
    archive="cifar-10-python.tar.gz",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    train=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test=("test_batch",),
    label_key=b"labels",
    meta="batches.meta",
    names_key=b"label_names",
)
CIFAR100_SPEC = _CifarSpec(
    folder="cifar-100-python",
    archive="cifar-100-python.tar.gz",
    url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    md5="eb9058c3a382ffc7106e4002c42a8d85",
    train=("train",),
    test=("test",),
    label_key=b"fine_labels",
    meta="meta",
    names_key=b"fine_label_names",
)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a CIFAR python-pickle batch ({exc})") from exc


class CIFAR(Dataset):
    """CIFAR-10 or CIFAR-100: ``x`` float32 ``[3, 32, 32]`` in [0, 1], ``y`` int64."""

    def __init__(self, spec: _CifarSpec, root: Path, train: bool, download_missing: bool):
        self.folder = root / spec.folder
        names = spec.train if train else spec.test
        present = [n for n in names if (self.folder / n).exists()]
        if not present:
            if not download_missing:
                raise MissingDataError(
                    f"{spec.folder}: no batch found. Put the CIFAR python-version files "
                    f"({', '.join(names)}, {spec.meta}) in {self.folder}, or the archive "
                    f"{spec.archive} from {spec.url} in {root}"
                )
            archive = root / spec.archive
            if not archive.exists():
                download((spec.url,), archive, spec.md5, name=spec.folder, expected=[spec.archive])
            extract(archive, root)
            present = [n for n in names if (self.folder / n).exists()]
        if len(present) < len(names):
            missing = [n for n in names if n not in present]
            warnings.warn(
                f"{spec.folder}: partial set, loading {present}; missing {missing}",
                stacklevel=3,
            )
        xs, ys = [], []
        for name in present:
            batch = _unpickle(self.folder / name)
            if not isinstance(batch, dict) or b"data" not in batch or spec.label_key not in batch:
                keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
                raise ValueError(
                    f"{self.folder / name}: expected keys b'data' and {spec.label_key!r}, "
                    f"found {keys}"
                )
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            labels = np.asarray(batch[spec.label_key], dtype=np.int64)
            if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
                raise ValueError(
                    f"{self.folder / name}: expected data [N, 3072] and N labels, got "
                    f"{data.shape} and {labels.shape}"
                )
            xs.append(data.reshape(-1, 3, 32, 32))
            ys.append(labels)
        meta = self.folder / spec.meta
        self.classes: list[str] | None = None
        if meta.exists():
            self.classes = [c.decode() for c in _unpickle(meta)[spec.names_key]]
        self.images = torch.from_numpy(np.concatenate(xs))
        self.targets = torch.from_numpy(np.concatenate(ys))
        n_classes = len(self.classes) if self.classes else (10 if "10" in spec.folder else 100)
        if self.targets.numel() and (self.targets.min() < 0 or self.targets.max() >= n_classes):
            raise ValueError(f"{self.folder}: labels outside 0..{n_classes - 1}")

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i].float().div_(255.0), self.targets[i]
