"""Named presets are the documented variations."""

from __future__ import annotations

import json

import pytest

from snnvar import Variation, preset
from snnvar.variation import PRESETS, buchel_mismatch, hasgd_programming, wvat_hsv


def test_wvat_hsv_is_the_default_variation() -> None:
    assert preset("wvat_hsv_10") == Variation(sigma=0.10) == wvat_hsv()
    assert preset("wvat_hsv_5") == Variation(sigma=0.05)


def test_buchel_and_hasgd_presets() -> None:
    assert preset("buchel_mismatch_20") == Variation(0.2, relative_to="weight")
    assert buchel_mismatch(0.3).sigma == 0.3
    assert preset("hasgd_programming_5") == Variation(0.05, relative_to="max")
    assert hasgd_programming(0.05, mean=0.02).mean == 0.02


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_cite_their_source_and_serialise(name: str) -> None:
    v = preset(name)
    assert json.loads(json.dumps(v.to_dict()))["sigma"] == v.sigma
    source = {"wvat": wvat_hsv, "buchel": buchel_mismatch, "hasgd": hasgd_programming}
    doc = source[name.split("_")[0]].__doc__ or ""
    assert "Source:" in doc
