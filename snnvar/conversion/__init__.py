"""ANN-to-SNN hybrid conversion (Rathi et al., ICLR 2020): BatchNorm fusion,
threshold balancing on calibration data, integrate-and-fire neurons with soft
reset; the converted SNN is fine-tuned with any method of
:mod:`snnvar.training` and evaluated with :func:`snnvar.evaluate`."""

from .convert import ConversionConfig, ConvertedSNN, convert
from .fuse import SUPPORTED, flatten_layers, fuse_batchnorm

__all__ = [
    "SUPPORTED",
    "ConversionConfig",
    "ConvertedSNN",
    "convert",
    "flatten_layers",
    "fuse_batchnorm",
]
