"""A run's SNN written as a NIR graph (:func:`export_run`, behind ``snnvar export``):
the trained weights, or one simulated chip of them exactly as ``snnvar evaluate``
draws it, with a JSON report of what was exported beside the graph."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import nir as snn_nir
from ..evaluation.montecarlo import MAX_DRAWS, chip_seed
from ..files import write_text
from ..nir.semantics import DEFAULT_DT
from ..variation import Variation
from .directory import load_run, on_chip

__all__ = ["export_run"]


def _chip_variation(
    chip: int | None, sigma: float | None, variation: Variation | None
) -> Variation | None:
    """The static variation of chip ``chip`` at ``sigma`` (None: no chip)."""
    if (chip is None) != (sigma is None):
        raise ValueError("chip and sigma go together (chip K of the variation at σ = S)")
    if chip is None:
        if variation is not None:
            raise ValueError("a variation sets the variation of a chip; give chip and sigma")
        return None
    if not 0 <= chip < MAX_DRAWS:
        raise ValueError(f"chip must lie in [0, {MAX_DRAWS - 1:,}] (evaluate's chips), got {chip}")
    if not 0 <= sigma <= 1:
        raise ValueError(f"sigma must lie in [0, 1] (as evaluate's sigmas), got {sigma:g}")
    chosen = replace(variation or Variation(sigma=0.0), sigma=sigma)
    if chosen.mode != "static":
        raise ValueError(
            "the variation is dynamic (noise redrawn at every read); a graph holds one "
            'static chip: set mode = "static"'
        )
    return chosen


def export_run(
    run: str | Path,
    path: str | Path,
    *,
    chip: int | None = None,
    sigma: float | None = None,
    variation: Variation | None = None,
    seed: int = 0,
    dt: float = DEFAULT_DT,
    omit_converters: bool = False,
    overwrite: bool = False,
    root: str | Path | None = None,
) -> dict[str, Any]:
    """Write the SNN of run directory ``run`` as the NIR graph ``path`` and its report
    as ``path + ".json"``; returns the report (:func:`snnvar.nir.summary` and ``file``).

    ``chip`` and ``sigma``: export simulated chip ``chip`` of ``variation`` (its σ
    set to ``sigma``; None: the default static variation) that ``evaluate`` draws
    with root seed ``seed``, instead of the trained weights. An HRAT run is exported
    as its programmed chip; ``omit_converters`` leaves out its input DAC and output
    swing / ADC (NIR has none). ``dt``: seconds per step for NIR's time constants.
    """
    path = Path(path)
    chosen = _chip_variation(chip, sigma, variation)
    if path.suffix == ".json":
        raise ValueError(f"the graph file is {path}: give the graph file (e.g. model.nir)")
    report_path = path.with_name(path.name + ".json")
    for p in (path, report_path):
        if p.exists() and not overwrite:
            raise FileExistsError(f"{p} exists; pass overwrite=True (--overwrite) to replace it")
    model, spec = on_chip(*load_run(run, root=root), run=run)
    draw = None if chosen is None else chosen.sample(model, seed=chip_seed(seed, chip))
    graph = snn_nir.to_nir(model, dt=dt, chip=draw, omit_converters=omit_converters)
    graph.metadata.update({
        "run": str(run), "method": spec.method, "encoder": spec.encoder,
        "time_steps": spec.time_steps,
    })  # fmt: skip
    if draw is not None:
        graph.metadata.update({
            "chip": chip, "chip_sigma": sigma, "chip_evaluation_seed": seed,
            "chip_seed": draw.seed, "chip_variation": chosen.label(),
        })  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    snn_nir.write(path, graph)
    info = snn_nir.summary(graph)
    info["file"] = str(path)
    write_text(report_path, json.dumps(info, indent=2) + "\n")
    return info
