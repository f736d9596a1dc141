"""The architectures of the WVAT paper's tables, as ANN and SNN.

- ``fc2``: 784-400-200-10 (WVAT Table 4, FC on MNIST / N-MNIST).
- ``spiking_cnn1``: 16C5-P2-concat(32C3, 8C1)-8C1-288 (WVAT Table 4, footnote 2).
- ``spiking_cnn2``: 15C5-P2-40C5-P2-300 (WVAT Table 4, footnote 3; TSSL-BP's MNIST net).
- ``fc4``: 784-512-256-128-10, four fully connected layers (HRAT's FC-4 on MNIST).
- ``lenet5``: 6C5-P2-16C5-P2-120-84 (LeCun et al. 1998; HRAT's LeNet-5 on MNIST).
- ``vgg5``, ``vgg11``, ``vgg16``: VGG for 32x32 input (WVAT Tables 1, 2; VGG-5 as in
  Rathi et al., ICLR 2020: 64C3-P2-128C3-128C3-P2 and a 1024-1024 classifier).

"nCk" is n k x k filters, "P2" a 2 x 2 pooling, a trailing number a hidden
fully connected layer before the classifier. Convolutions keep the spatial size
(padding k // 2) except the 5 x 5 ones of the MNIST CNNs, which are unpadded as
in TSSL-BP (28 -> 24 -> 12 -> 8 -> 4). Spiking-CNN1's "288" is read as a hidden
layer of 288 units, the same notation as Spiking-CNN2's "300".
"""

from __future__ import annotations

import functools
import math

from torch import nn

from .network import ACT, Concat, Network, NeuronConfig, build
from .registry import register
from .shapes import check_shape, hidden_widths

__all__ = ["VGG_CONFIGS", "fc2", "fc4", "lenet5", "spiking_cnn1", "spiking_cnn2", "vgg"]

VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg5": [64, "P", 128, 128, "P"],
    "vgg11": [64, "P", 128, "P", 256, 256, "P", 512, 512, "P", 512, 512, "P"],
    "vgg16": [
        64,
        64,
        "P",
        128,
        128,
        "P",
        256,
        256,
        256,
        "P",
        512,
        512,
        512,
        "P",
        512,
        512,
        512,
        "P",
    ],
}
"""Feature plans: channel counts of 3x3 convolutions, ``"P"`` for 2x2 pooling."""

VGG_HIDDEN = {"vgg5": (1024, 1024), "vgg11": (512, 512), "vgg16": (512, 512)}
"""Default hidden widths of the classifiers."""


def _pool(kind: str) -> nn.Module:
    if kind == "avg":
        return nn.AvgPool2d(2)
    if kind == "max":
        return nn.MaxPool2d(2)
    raise ValueError(f"unknown pooling {kind!r}; allowed: 'avg', 'max'")


def _conv(c_in: int, c_out: int, k: int, pad: int, bn: bool) -> list[nn.Module | str]:
    layers: list[nn.Module | str] = [nn.Conv2d(c_in, c_out, k, padding=pad, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(c_out))
    return [*layers, ACT]


def _classifier(
    features: int, hidden: tuple[int, ...], classes: int, dropout: float
) -> list[nn.Module | str]:
    layers: list[nn.Module | str] = [nn.Flatten()]
    for width in hidden_widths(hidden, classes):
        layers += [nn.Linear(features, width), ACT]
        if dropout:
            layers.append(nn.Dropout(dropout))
        features = width
    return [*layers, nn.Linear(features, classes)]


@register("fc2")
def fc2(
    spiking: bool,
    neuron: NeuronConfig,
    in_shape: tuple[int, ...] = (1, 28, 28),
    hidden: tuple[int, ...] = (400, 200),
    num_classes: int = 10,
    dropout: float = 0.0,
) -> Network:
    """Fully connected 784-400-200-10 (``hidden`` and ``in_shape`` configurable).

    Accepts ``[..., *in_shape]`` or the flattened ``[..., prod(in_shape)]``.
    """
    in_shape = check_shape("fc2", in_shape, len(tuple(in_shape)))
    plan = _classifier(math.prod(in_shape), tuple(hidden), num_classes, dropout)
    return build("fc2", plan, in_shape, num_classes, spiking, neuron, flat_ok=True)


def _dense(f_in: int, f_out: int, bn: bool) -> list[nn.Module | str]:
    """A hidden fully connected layer (with BatchNorm before its activation)."""
    layers: list[nn.Module | str] = [nn.Linear(f_in, f_out, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm1d(f_out))
    return [*layers, ACT]


@register("fc4")
def fc4(
    spiking: bool,
    neuron: NeuronConfig,
    in_shape: tuple[int, ...] = (1, 28, 28),
    hidden: tuple[int, ...] = (512, 256, 128),
    num_classes: int = 10,
    batch_norm: bool = False,
) -> Network:
    """Four fully connected layers, 784-512-256-128-10: HRAT's FC-4 on MNIST (the
    HRAT abstract does not give the widths; these are ours), with optional BatchNorm
    after each hidden layer, which HRAT fuses into the weights."""
    in_shape = check_shape("fc4", in_shape, len(tuple(in_shape)))
    plan: list[nn.Module | str] = [nn.Flatten()]
    features = math.prod(in_shape)
    for width in hidden_widths(hidden, num_classes):
        plan += _dense(features, width, batch_norm)
        features = width
    plan.append(nn.Linear(features, num_classes))
    return build("fc4", plan, in_shape, num_classes, spiking, neuron, flat_ok=True)


@register("lenet5")
def lenet5(
    spiking: bool,
    neuron: NeuronConfig,
    in_shape: tuple[int, ...] = (1, 28, 28),
    num_classes: int = 10,
    batch_norm: bool = False,
    pool: str = "avg",
) -> Network:
    """LeNet-5 (LeCun et al. 1998): 6C5 (padded, 28 -> 28)-P2-16C5-P2-120-84, HRAT's
    LeNet-5 on MNIST; ReLU (or spiking neurons) instead of tanh, average pooling."""
    c, h, w = check_shape("lenet5", in_shape, 3)
    h, w = _pool_out(_conv_out(h, 5, 2)), _pool_out(_conv_out(w, 5, 2))
    h, w = _pool_out(_conv_out(h, 5, 0)), _pool_out(_conv_out(w, 5, 0))
    plan: list[nn.Module | str] = [
        *_conv(c, 6, 5, 2, batch_norm),
        _pool(pool),
        *_conv(6, 16, 5, 0, batch_norm),
        _pool(pool),
        nn.Flatten(),
        *_dense(16 * h * w, 120, batch_norm),
        *_dense(120, 84, batch_norm),
        nn.Linear(84, num_classes),
    ]
    return build("lenet5", plan, (c, *in_shape[1:]), num_classes, spiking, neuron)


def _conv_out(size: int, k: int, pad: int) -> int:
    out = size + 2 * pad - k + 1
    if out < 1:
        raise ValueError(f"input of size {size} is too small for a {k}x{k} convolution")
    return out


def _pool_out(size: int) -> int:
    if size < 2:
        raise ValueError("input too small: a 2x2 pooling would leave no pixels")
    return size // 2


@register("spiking_cnn1")
def spiking_cnn1(
    spiking: bool,
    neuron: NeuronConfig,
    in_shape: tuple[int, ...] = (1, 28, 28),
    num_classes: int = 10,
    hidden: int = 288,
    batch_norm: bool = False,
    pool: str = "avg",
) -> Network:
    """16C5-P2-concat(32C3, 8C1)-8C1-288 (WVAT Table 4's Spiking-CNN1)."""
    c, h, w = check_shape("spiking_cnn1", in_shape, 3)
    h, w = _pool_out(_conv_out(h, 5, 0)), _pool_out(_conv_out(w, 5, 0))
    plan: list[nn.Module | str] = [*_conv(c, 16, 5, 0, batch_norm), _pool(pool)]
    plan.append(
        Concat(
            nn.Conv2d(16, 32, 3, padding=1, bias=not batch_norm),
            nn.Conv2d(16, 8, 1, bias=not batch_norm),
        )
    )
    if batch_norm:
        plan.append(nn.BatchNorm2d(40))
    plan += [ACT, *_conv(40, 8, 1, 0, batch_norm)]
    plan += _classifier(8 * h * w, (hidden,), num_classes, 0.0)
    return build("spiking_cnn1", plan, (c, *in_shape[1:]), num_classes, spiking, neuron)


@register("spiking_cnn2")
def spiking_cnn2(
    spiking: bool,
    neuron: NeuronConfig,
    in_shape: tuple[int, ...] = (1, 28, 28),
    num_classes: int = 10,
    channels: tuple[int, int] = (15, 40),
    hidden: int = 300,
    batch_norm: bool = False,
    pool: str = "avg",
) -> Network:
    """15C5-P2-40C5-P2-300 (WVAT Table 4's Spiking-CNN2)."""
    c, h, w = check_shape("spiking_cnn2", in_shape, 3)
    c1, c2 = channels
    for _ in range(2):
        h, w = _pool_out(_conv_out(h, 5, 0)), _pool_out(_conv_out(w, 5, 0))
    plan = [
        *_conv(c, c1, 5, 0, batch_norm),
        _pool(pool),
        *_conv(c1, c2, 5, 0, batch_norm),
        _pool(pool),
        *_classifier(c2 * h * w, (hidden,), num_classes, 0.0),
    ]
    return build("spiking_cnn2", plan, (c, *in_shape[1:]), num_classes, spiking, neuron)


def vgg(
    name: str,
    spiking: bool,
    neuron: NeuronConfig,
    in_shape: tuple[int, ...] = (3, 32, 32),
    num_classes: int = 10,
    width: float = 1.0,
    hidden: tuple[int, ...] | None = None,
    batch_norm: bool = True,
    pool: str = "avg",
    dropout: float = 0.2,
) -> Network:
    """VGG-5/11/16 for CIFAR-size input; ``width`` scales every conv's channels."""
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    c, h, w = check_shape(name, in_shape, 3)
    plan: list[nn.Module | str] = []
    for item in VGG_CONFIGS[name]:
        if item == "P":
            plan.append(_pool(pool))
            h, w = _pool_out(h), _pool_out(w)
        else:
            out = max(1, round(int(item) * width))
            plan += _conv(c, out, 3, 1, batch_norm)
            c = out
    hidden = VGG_HIDDEN[name] if hidden is None else tuple(hidden)
    plan += _classifier(c * h * w, hidden, num_classes, dropout)
    return build(name, plan, tuple(in_shape), num_classes, spiking, neuron)


for _name in VGG_CONFIGS:  # one builder per plan: vgg5, vgg11, vgg16
    register(_name, functools.partial(vgg, _name))
