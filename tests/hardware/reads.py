"""Helpers of the device tests: one chip read once, and a PCM that does not drift."""

from __future__ import annotations

import torch

from snnvar.hardware import DeviceModel, DeviceRead

QUIET = {"drift": False, "read_noise": False}
"""PCM settings without drift and without accumulated read noise."""


def read_once(device: DeviceModel, w: torch.Tensor, seed: int = 0) -> DeviceRead:
    """One chip of ``device`` for the weights ``w``, programmed and read once."""
    return device.program_and_read(w, torch.Generator().manual_seed(seed))
