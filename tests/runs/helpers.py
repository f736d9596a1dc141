"""A small run spec shared by the run tests."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from snnvar import Empirical, Variation
from snnvar.runs import RunSpec
from snnvar.training import TrainConfig

LOOP = TrainConfig(epochs=2, batch_size=64, time_steps=2, encoder="direct", seed=3, progress=False)
MEASURED = Empirical.from_samples(np.random.default_rng(0).lognormal(0.0, 0.5, 200))


def spec_of(**changes) -> RunSpec:
    base = RunSpec(
        model="fc2", model_options={"hidden": (16,)}, method="wvat",
        method_options={"w_th": 0.5}, variation=Variation(0.1), train=LOOP,
    )  # fmt: skip
    return replace(base, **changes)
