"""Event streams: reading N-MNIST files, saccade selection, frames, denoising, caching.

Events are tonic's structured arrays with fields ``x, y, t, p`` (t in
microseconds). Frames are time-major ``[T, 2, H, W]`` float32 event counts
(polarity OFF, ON), made with tonic's ``ToFrame``; denoising is tonic's
``Denoise`` (an event survives if a neighbour fired within ``filter_time`` µs).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..files import atomic_path, write_text

__all__ = [
    "EVENT_DTYPE",
    "NMNIST_SENSOR",
    "FrameCache",
    "FrameSpec",
    "read_nmnist_bin",
    "to_frames",
]

NMNIST_SENSOR = (34, 34, 2)
"""N-MNIST sensor size (width, height, polarities), as tonic declares it."""

EVENT_DTYPE = np.dtype([("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
"""tonic's event dtype for N-MNIST."""

SACCADE_US = 100_000
"""N-MNIST records three saccades of about 100 ms each."""


def read_nmnist_bin(path: Path, sensor: tuple[int, int, int] = NMNIST_SENSOR) -> np.ndarray:
    """Read an N-MNIST ``.bin`` file (40-bit events, overflow records) with tonic.

    Raises ``ValueError`` naming the file if it holds no events (empty: a
    truncated download or copy would otherwise become an all-zero sample), its
    size is not a multiple of 5 bytes or an event lies outside the sensor.
    """
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(f"{path}: the file is empty (0 bytes, no events); copy it again")
    if size % 5:
        raise ValueError(f"{path}: {size} bytes is not a whole number of 5-byte events")
    from tonic.io import read_mnist_file  # lazy: tonic pulls in scipy

    events = read_mnist_file(str(path), dtype=EVENT_DTYPE)
    if not len(events):
        raise ValueError(f"{path}: {size} bytes but no events (overflow records only)")
    if events["x"].max() >= sensor[0] or events["y"].max() >= sensor[1] or events["p"].max() > 1:
        raise ValueError(
            f"{path}: events outside the {sensor[0]}x{sensor[1]} sensor "
            f"(max x {events['x'].max()}, max y {events['y'].max()})"
        )
    return events


@dataclass(frozen=True)
class FrameSpec:
    """How events become frames; its fields key the frame cache."""

    time_bins: int | None = 25
    """Number of equal time bins T per sample (exclusive with ``time_window``)."""
    time_window: float | None = None
    """Fixed bin length in µs instead (T then depends on the sample's duration;
    tonic drops an incomplete last window)."""
    first_saccade_only: bool = False
    """Keep only events of the first saccade (t < 100 ms)."""
    denoise_us: float | None = None
    """tonic Denoise filter time in µs; None: no denoising."""

    def __post_init__(self) -> None:
        if (self.time_bins is None) == (self.time_window is None):
            raise ValueError(
                f"give exactly one of time_bins and time_window, got time_bins="
                f"{self.time_bins!r}, time_window={self.time_window!r}"
            )
        if self.time_bins is not None and (
            isinstance(self.time_bins, bool)
            or not isinstance(self.time_bins, int)
            or self.time_bins < 1
        ):
            raise ValueError(f"time_bins must be an integer >= 1, got {self.time_bins!r}")
        if self.time_window is not None and not self.time_window > 0:
            raise ValueError(f"time_window must be > 0 µs, got {self.time_window!r}")
        if self.denoise_us is not None and not self.denoise_us > 0:
            raise ValueError(f"denoise_us must be > 0 µs or None, got {self.denoise_us!r}")

    def key(self, sensor: tuple[int, int, int]) -> str:
        """A short hash of the parameters (and sensor) for cache directories."""
        text = json.dumps({**asdict(self), "sensor": list(sensor)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def to_frames(events: np.ndarray, spec: FrameSpec, sensor: tuple[int, int, int]) -> np.ndarray:
    """Events -> float32 frames ``[T, 2, H, W]`` following ``spec``."""
    import tonic.transforms  # lazy: tonic pulls in scipy

    if spec.first_saccade_only:
        events = events[events["t"] < SACCADE_US]
    if spec.denoise_us is not None and len(events):
        events = tonic.transforms.Denoise(filter_time=spec.denoise_us)(events)
    if spec.time_bins is not None:
        t = spec.time_bins
        if len(events) == 0:
            return np.zeros((t, sensor[2], sensor[1], sensor[0]), dtype=np.float32)
        frames = tonic.transforms.ToFrame(sensor_size=sensor, n_time_bins=t)(events)
        if len(frames) < t:  # tonic drops empty trailing bins for very short streams
            pad = np.zeros((t - len(frames), *frames.shape[1:]), dtype=frames.dtype)
            frames = np.concatenate([frames, pad])
    else:
        if len(events) == 0:
            return np.zeros((1, sensor[2], sensor[1], sensor[0]), dtype=np.float32)
        frames = tonic.transforms.ToFrame(sensor_size=sensor, time_window=spec.time_window)(events)
    return frames.astype(np.float32)


class FrameCache:
    """Frames on disk under ``<dir>/<spec key>/<sample id>.npy``, written atomically.

    A sample is written only when fully converted (a temporary file renamed
    into place), so an interrupted run never leaves a partial frame behind.
    """

    def __init__(self, directory: Path, spec: FrameSpec, sensor: tuple[int, int, int]):
        self.directory = directory / spec.key(sensor)
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = self.directory / "spec.json"
        if not meta.exists():
            write_text(meta, json.dumps({**asdict(spec), "sensor": list(sensor)}, indent=2))
        self.hits = 0
        self.misses = 0

    def get(self, sample_id: str, make) -> np.ndarray:
        path = self.directory / f"{sample_id}.npy"
        if path.exists():
            self.hits += 1
            return np.load(path)
        self.misses += 1
        frames = make()
        with atomic_path(path) as tmp:
            np.save(tmp, frames)
        return frames
