"""N-MNIST (Orchard et al., Front. Neurosci. 2015) in its original layout.

``<root>/NMNIST/Train|Test/<digit>/*.bin``, complete or partial: every ``.bin``
found is a sample (tonic's own ``NMNIST`` re-downloads unless all 70,000 files
exist; this loader reads what is there and only downloads when nothing is).
Samples are frames ``[T, 2, 34, 34]`` (see :class:`~snnvar.datasets.events.FrameSpec`),
cached on disk so that later epochs do not re-parse events.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .events import NMNIST_SENSOR, FrameCache, FrameSpec, read_nmnist_bin, to_frames
from .storage import MissingDataError, download, extract

__all__ = ["NMNIST"]

# URLs and MD5s of the official archives (as declared by tonic's NMNIST).
_BASE = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"
_ARCHIVES = {
    "Train": ("train.zip", _BASE + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",
              "20959b8e626244a1b502305a9e6e2031"),
    "Test": ("test.zip", _BASE + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",
             "69ca8762b2fe404d9b9bad1103e97832"),
}  # fmt: skip


_FULL_SIZE = {"Train": 60_000, "Test": 10_000}


class NMNIST(Dataset):
    """N-MNIST event streams as time-major frames, ``(x [T, 2, 34, 34], y)``.

    ``events(i)`` gives the raw tonic events of sample ``i``. Frames are cached
    under ``cache_dir`` (default ``<root>/NMNIST/frames``; give another
    directory when the data root is read-only) or not at all with ``cache=False``.
    """

    sensor_size = NMNIST_SENSOR
    classes = tuple(str(d) for d in range(10))

    def __init__(
        self,
        root: Path,
        train: bool = True,
        spec: FrameSpec | None = None,
        cache: bool = True,
        download_missing: bool = True,
        cache_dir: Path | None = None,
    ):
        self.split = "Train" if train else "Test"
        self.folder = root / "NMNIST" / self.split
        self.spec = spec or FrameSpec()
        self.files = self._scan()
        if not self.files:
            if not download_missing:
                raise MissingDataError(self._missing_message())
            name, url, md5 = _ARCHIVES[self.split]
            archive = download((url,), root / "NMNIST" / name, md5, name="nmnist",
                               expected=[name])  # fmt: skip
            extract(archive, root / "NMNIST")
            self.files = self._scan()
            if not self.files:
                raise MissingDataError(self._missing_message())
        full = _FULL_SIZE[self.split]
        if len(self.files) < full:
            digits = sorted({p.parent.name for p in self.files})
            warnings.warn(
                f"nmnist: partial set, {len(self.files)} of {full} {self.split} samples "
                f"found in {self.folder} (digits {digits})",
                stacklevel=3,
            )
        self.targets = torch.tensor([int(p.parent.name) for p in self.files])
        self.cache = (
            FrameCache(
                (cache_dir or root / "NMNIST" / "frames") / self.split, self.spec, NMNIST_SENSOR
            )
            if cache
            else None
        )

    def _missing_message(self) -> str:
        return (
            f"nmnist: no .bin files in {self.folder}. Put the N-MNIST files there in "
            f"their original layout ({self.split}/<digit>/<id>.bin), or "
            f"{_ARCHIVES[self.split][0]} from {_ARCHIVES[self.split][1]} in {self.folder.parent}"
        )

    def _scan(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        files = []
        for digit in sorted(self.folder.iterdir()):
            if digit.is_dir() and digit.name.isdigit() and int(digit.name) < 10:
                files += sorted(digit.glob("*.bin"))
        return files

    def events(self, i: int) -> np.ndarray:
        """The raw events of sample ``i`` (tonic structured array x, y, t, p)."""
        return read_nmnist_bin(self.files[i], NMNIST_SENSOR)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        def make() -> np.ndarray:
            return to_frames(self.events(i), self.spec, NMNIST_SENSOR)

        if self.cache is None:
            frames = make()
        else:
            path = self.files[i]
            frames = self.cache.get(f"{path.parent.name}_{path.stem}", make)
        return torch.from_numpy(frames), self.targets[i]
