"""Datasets: MNIST, Fashion-MNIST, CIFAR-10/100, N-MNIST (via tonic), and the
embedded digits (scikit-learn's 8x8 digits, and saccade events made from them);
spike encoders, and model-ready batches (:func:`prepare`) whose input encoding
follows one seed scheme in training and evaluation (:func:`encoding_seed`).
:func:`register` adds a data set of one's own to :func:`get`.

>>> from snnvar import datasets
>>> train = datasets.get("digits")                       # no download
>>> x, y = train[0]                                      # x: [1, 8, 8]
>>> events = datasets.get("digits_events", time_bins=20) # x: [20, 2, 34, 34]
"""

from . import catalog  # noqa: F401  (registers the built-in data sets)
from .batches import (
    ENCODING_KEY,
    Batches,
    default_encoder,
    encoding_generator,
    encoding_seed,
    prepare,
    prepare_models,
)
from .encoders import ENCODERS, NORMALIZATION, direct, encode, latency, rate, time_major
from .events import FrameSpec, read_nmnist_bin, to_frames
from .registry import available, get, register
from .storage import MissingDataError, data_root

__all__ = [
    "ENCODERS",
    "ENCODING_KEY",
    "NORMALIZATION",
    "Batches",
    "FrameSpec",
    "MissingDataError",
    "available",
    "data_root",
    "default_encoder",
    "direct",
    "encode",
    "encoding_generator",
    "encoding_seed",
    "get",
    "latency",
    "prepare",
    "prepare_models",
    "rate",
    "read_nmnist_bin",
    "register",
    "time_major",
    "to_frames",
]
