"""The embedded default: scikit-learn's bundled digits, and saccade events made from them.

``digits``: 1,797 real 8x8 handwritten digits (UCI optdigits test set, shipped
inside scikit-learn: no download). Fixed split: a stratified 80/20 split with
``sklearn.model_selection.train_test_split(random_state=0)``, 1,437 train and
360 test samples. ``x`` is float32 ``[1, 8, 8]`` in [0, 1]; ``size=32`` upsamples
bilinearly to ``[1, 32, 32]`` for models built for CIFAR-size input (VGG).

``digits_events``: the same split turned into event streams the way N-MNIST
was recorded (Orchard et al. 2015): the digit, upscaled to 32x32 on a 34x34
sensor, moves along three saccades (a triangle, 100 ms each); a pixel emits an
ON (OFF) event each time its log intensity rises (falls) by ``threshold``
since its last event. Events are tonic's structured arrays (x, y, t, p).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .events import EVENT_DTYPE, FrameSpec, to_frames

__all__ = ["Digits", "DigitsEvents", "digits_split", "saccade_events"]

DIGITS_SENSOR = (34, 34, 2)
"""The simulated sensor: N-MNIST's size."""


def digits_split(train: bool) -> tuple[np.ndarray, np.ndarray]:
    """The fixed split: images float32 [N, 8, 8] in [0, 1] and labels int64."""
    from sklearn.datasets import load_digits  # lazy: scikit-learn takes a second to import
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    return (x_tr, y_tr) if train else (x_te, y_te)


class Digits(Dataset):
    """scikit-learn's 8x8 digits: ``(x [1, size, size], y)``, bilinear upsampling when size > 8."""

    classes = tuple(str(d) for d in range(10))

    def __init__(self, train: bool = True, size: int = 8):
        if isinstance(size, bool) or not isinstance(size, int) or size < 8:
            raise ValueError(f"digits: size must be an integer >= 8 (8x8 images), got {size!r}")
        x, y = digits_split(train)
        images = torch.from_numpy(x)
        if size != 8:
            images = torch.nn.functional.interpolate(
                images[:, None], size=(size, size), mode="bilinear"
            )[:, 0]  # convex weights: stays in [0, 1]
        self.images = images
        self.targets = torch.from_numpy(y)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i].unsqueeze(0), self.targets[i]


def _upscale(image: np.ndarray, size: int = 32) -> np.ndarray:
    t = torch.from_numpy(image)[None, None]
    return torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear")[0, 0].numpy()


def _shift(image: np.ndarray, dx: float, dy: float, sensor: int) -> np.ndarray:
    """Place ``image`` on the sensor at (1 + dx, 1 + dy) pixels (dx, dy >= 0), bilinear."""
    if dx < 0 or dy < 0:
        raise ValueError(f"saccade offsets must be >= 0, got ({dx}, {dy})")
    h, w = image.shape
    ix, iy = int(np.floor(dx)), int(np.floor(dy))
    fx, fy = dx - ix, dy - iy
    canvas = np.zeros((max(sensor, h + iy + 2), max(sensor, w + ix + 2)), dtype=np.float32)
    for oy, ox, weight in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)),
                           (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):  # fmt: skip
        y0, x0 = 1 + iy + oy, 1 + ix + ox
        canvas[y0 : y0 + h, x0 : x0 + w] += weight * image
    return canvas[:sensor, :sensor]


def saccade_events(
    image: np.ndarray,
    threshold: float = 0.15,
    step_us: int = 1000,
    amplitude: float = 1.5,
) -> np.ndarray:
    """Events of one 8x8 image seen by a 34x34 event sensor during three saccades."""
    frame = _upscale(image)
    sensor = DIGITS_SENSOR[0]
    # Triangle path as in N-MNIST: three 100 ms saccades returning to the start.
    corners = np.array([[0.0, 0.0], [amplitude, amplitude * 2], [amplitude * 2, 0.0], [0.0, 0.0]])
    steps = 100_000 // step_us
    eps = 0.05
    reference = np.log(_shift(frame, 0.0, 0.0, sensor) + eps)
    out = []
    for s in range(3):
        for k in range(1, steps + 1):
            dx, dy = corners[s] + (corners[s + 1] - corners[s]) * k / steps
            level = np.log(_shift(frame, dx, dy, sensor) + eps)
            diff = level - reference
            n = np.floor(np.abs(diff) / threshold).astype(np.int64)
            ys, xs = np.nonzero(n)
            if len(xs) == 0:
                continue
            counts = n[ys, xs]
            polarity = (diff[ys, xs] > 0).astype(np.int64)
            t = (s * steps + k) * step_us
            ev = np.empty(int(counts.sum()), dtype=EVENT_DTYPE)
            ev["x"], ev["y"] = np.repeat(xs, counts), np.repeat(ys, counts)
            ev["p"], ev["t"] = np.repeat(polarity, counts), t
            out.append(ev)
            reference[ys, xs] += np.sign(diff[ys, xs]) * counts * threshold
    return np.concatenate(out) if out else np.empty(0, dtype=EVENT_DTYPE)


class DigitsEvents(Dataset):
    """Saccade event streams of the digits as frames ``(x [T, 2, 34, 34], y)``."""

    sensor_size = DIGITS_SENSOR
    classes = tuple(str(d) for d in range(10))

    def __init__(self, train: bool = True, spec: FrameSpec | None = None):
        x, y = digits_split(train)
        self.images = x
        self.targets = torch.from_numpy(y)
        self.spec = spec or FrameSpec()
        self._frames: dict[int, torch.Tensor] = {}

    def events(self, i: int) -> np.ndarray:
        """The simulated events of sample ``i`` (deterministic)."""
        return saccade_events(self.images[i])

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if i not in self._frames:  # converted once per process
            frames = to_frames(self.events(i), self.spec, DIGITS_SENSOR)
            self._frames[i] = torch.from_numpy(frames)
        return self._frames[i], self.targets[i]
