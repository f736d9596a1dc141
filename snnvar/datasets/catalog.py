"""The built-in data sets, each registered at its loader: MNIST, Fashion-MNIST,
CIFAR-10/100, N-MNIST, and the embedded digits and their saccade events."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from . import images
from .digits import Digits, DigitsEvents
from .events import FrameSpec
from .nmnist import NMNIST
from .registry import register

__all__ = [
    "cifar10",
    "cifar100",
    "digits",
    "digits_events",
    "fashion_mnist",
    "mnist",
    "nmnist",
]


@register("mnist")
def mnist(root: Path, train: bool, download: bool = True) -> Dataset:
    """MNIST: ``(x [1, 28, 28], y)``; ``download``: fetch the files if missing."""
    return images.IdxImages(images.MNIST_SPEC, root, train, bool(download))


@register("fashion_mnist")
def fashion_mnist(root: Path, train: bool, download: bool = True) -> Dataset:
    """Fashion-MNIST: ``(x [1, 28, 28], y)``; ``download``: fetch the files if missing."""
    return images.IdxImages(images.FASHION_SPEC, root, train, bool(download))


@register("cifar10")
def cifar10(root: Path, train: bool, download: bool = True) -> Dataset:
    """CIFAR-10: ``(x [3, 32, 32], y)``; ``download``: fetch the archive if missing."""
    return images.CIFAR(images.CIFAR10_SPEC, root, train, bool(download))


@register("cifar100")
def cifar100(root: Path, train: bool, download: bool = True) -> Dataset:
    """CIFAR-100: ``(x [3, 32, 32], y)``; ``download``: fetch the archive if missing."""
    return images.CIFAR(images.CIFAR100_SPEC, root, train, bool(download))


def _frames(
    time_bins: int | None,
    time_window: float | None,
    first_saccade_only: bool,
    denoise_us: float | None,
) -> FrameSpec:
    """The frame options as a :class:`FrameSpec`: 25 time bins unless a window is given."""
    if time_bins is None and time_window is None:
        time_bins = 25
    return FrameSpec(time_bins, time_window, first_saccade_only, denoise_us)


@register("nmnist")
def nmnist(
    root: Path,
    train: bool,
    download: bool = True,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    time_bins: int | None = None,
    time_window: float | None = None,
    first_saccade_only: bool = False,
    denoise_us: float | None = None,
) -> Dataset:
    """N-MNIST as frames ``(x [T, 2, 34, 34], y)`` (via tonic), cached under
    ``cache_dir`` (default ``<root>/NMNIST/frames``) unless ``cache=False``."""
    spec = _frames(time_bins, time_window, first_saccade_only, denoise_us)
    folder = None if cache_dir is None else Path(cache_dir)
    return NMNIST(root, train, spec, cache, bool(download), folder)


@register("digits")
def digits(root: Path, train: bool, size: int = 8) -> Dataset:
    """scikit-learn's 8x8 digits (no download; ``root`` unused): ``(x [1, size, size], y)``."""
    return Digits(train, size=size)


@register("digits_events")
def digits_events(
    root: Path,
    train: bool,
    time_bins: int | None = None,
    time_window: float | None = None,
    first_saccade_only: bool = False,
    denoise_us: float | None = None,
) -> Dataset:
    """The digits as saccade events, framed like N-MNIST: ``(x [T, 2, 34, 34], y)``."""
    return DigitsEvents(train, _frames(time_bins, time_window, first_saccade_only, denoise_us))
