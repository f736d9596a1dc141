"""``snnvar.datasets.get(name, ...)``: one entry point for every data set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from . import images
from .digits import Digits, DigitsEvents
from .events import FrameSpec
from .nmnist import NMNIST
from .storage import data_root

__all__ = ["available", "get"]

_FRAME_OPTIONS = frozenset({"time_bins", "time_window", "first_saccade_only", "denoise_us"})
_OPTIONS: dict[str, frozenset[str]] = {
    "mnist": frozenset({"download"}),
    "fashion_mnist": frozenset({"download"}),
    "cifar10": frozenset({"download"}),
    "cifar100": frozenset({"download"}),
    "nmnist": frozenset({"download", "cache", "cache_dir"}) | _FRAME_OPTIONS,
    "digits": frozenset({"size"}),
    "digits_events": _FRAME_OPTIONS,
}
"""Each data set's name and the options :func:`get` accepts for it."""


def available() -> list[str]:
    """The names :func:`get` accepts."""
    return list(_OPTIONS)


def get(
    name: str,
    root: str | os.PathLike[str] | None = None,
    train: bool = True,
    **options: Any,
) -> Dataset:
    """A torch ``Dataset`` of ``(x, y)``.

    ``root``: the data root (else ``$SNNVAR_DATA``, else ``~/.cache/snnvar/data``).
    Options: ``download`` (default True) for the downloadable sets; for
    ``nmnist`` and ``digits_events`` the frame options ``time_bins`` (default
    25), ``time_window`` (µs), ``first_saccade_only``, ``denoise_us``, and for
    ``nmnist`` ``cache`` (default True) and ``cache_dir`` (default
    ``<root>/NMNIST/frames``); for ``digits`` ``size`` (default 8; 32 for VGG).
    """
    if name not in _OPTIONS:
        raise ValueError(f"unknown data set {name!r}; available: {available()}")
    path: Path = data_root(root)
    allowed = _OPTIONS[name]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"unknown options {unknown} for {name!r}; allowed: {sorted(allowed)}")
    download = bool(options.pop("download", True))
    frame_options = {k: options.pop(k) for k in _FRAME_OPTIONS if k in options}
    if "time_window" in frame_options and "time_bins" not in frame_options:
        frame_options["time_bins"] = None
    if name == "mnist":
        return images.IdxImages(images.MNIST_SPEC, path, train, download)
    if name == "fashion_mnist":
        return images.IdxImages(images.FASHION_SPEC, path, train, download)
    if name == "cifar10":
        return images.CIFAR(images.CIFAR10_SPEC, path, train, download)
    if name == "cifar100":
        return images.CIFAR(images.CIFAR100_SPEC, path, train, download)
    if name == "nmnist":
        cache_dir = options.pop("cache_dir", None)
        return NMNIST(
            path,
            train,
            FrameSpec(**frame_options),
            options.pop("cache", True),
            download,
            None if cache_dir is None else Path(cache_dir),
        )
    if name == "digits":
        return Digits(train, **options)
    return DigitsEvents(train, FrameSpec(**frame_options))
