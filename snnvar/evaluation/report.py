"""The evaluation report: JSON (the record), CSV (one row per level), Markdown
(laid out like the WVAT paper's tables) and the plots' data.

``report.json`` holds ``snnvar_version``, ``seed``, ``dataset``, ``model``,
``models`` (method -> model name, parameters, spiking), ``config`` (draws,
encoder, time steps, ...), ``results`` (the rows of
:func:`~snnvar.evaluation.evaluate`) and, when computed, ``landscape`` and
``histograms``. Accuracies are fractions; the Markdown table shows percent.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["REQUIRED_ROW_KEYS", "Report", "prepare_out_dir"]

REQUIRED_ROW_KEYS = (
    "method",
    "sigma",
    "mode",
    "draws",
    "accuracy_mean",
    "accuracy_std",
    "accuracy_min",
    "spikes",
)
"""Keys every row of ``results`` has."""

_CSV_KEYS = (
    "method",
    "model",
    "sigma",
    "mode",
    "redraw",
    "draws",
    "accuracy_mean",
    "accuracy_std",
    "accuracy_min",
    "accuracy_max",
    "loss_mean",
    "spikes_per_sample",
    "synops_per_sample",
)


def _version() -> str:
    from .. import __version__

    return __version__


def prepare_out_dir(path: str | Path, overwrite: bool = False) -> Path:
    """Create ``path`` for a run's outputs; an existing non-empty one needs ``overwrite``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(
            f"output directory {path} already holds files; choose another or pass "
            "overwrite=True (--overwrite on the command line) to replace them"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Report:
    """What an evaluation found (see the module docstring for the layout)."""

    results: list[dict[str, Any]]
    """One row per (method, variation level)."""
    seed: int
    """Root seed of the chips and the input encoding."""
    dataset: str | None = None
    """The data set's name."""
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Method -> model name, parameter count, spiking."""
    config: dict[str, Any] = field(default_factory=dict)
    """Draws, encoder, time steps, batch size, samples, and anything a caller adds."""
    landscape: list[dict[str, Any]] = field(default_factory=list)
    """Rows of :func:`~snnvar.evaluation.loss_landscape`, if computed."""
    histograms: dict[str, Any] = field(default_factory=dict)
    """:func:`~snnvar.evaluation.weight_histograms`, if computed."""
    snnvar_version: str = field(default_factory=_version)
    """The snnvar that wrote it."""

    # -- access -----------------------------------------------------------------------

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(r["method"] for r in self.results))

    @property
    def modes(self) -> list[str]:
        return list(dict.fromkeys(_mode_label(r) for r in self.results))

    def row(self, method: str, sigma: float, mode: str = "static") -> dict[str, Any]:
        """The row of ``method`` at ``sigma`` in ``mode`` (``"dynamic/step"`` or
        ``"dynamic/pass"`` to tell dynamic rows apart)."""
        for r in self.results:
            if (
                r["method"] == method
                and math.isclose(r["sigma"], sigma, abs_tol=1e-12)
                and mode in (r["mode"], _mode_label(r))
            ):
                return r
        raise KeyError(
            f"no row for method={method!r}, sigma={sigma}, mode={mode!r}; methods: "
            f"{self.methods}, sigmas: {sorted({r['sigma'] for r in self.results})}, "
            f"modes: {self.modes}"
        )

    def merge(self, other: Report) -> Report:
        """This report's rows followed by ``other``'s (same seed required: paired chips)."""
        if other.seed != self.seed:
            raise ValueError(
                f"reports of seeds {self.seed} and {other.seed} did not see the same chips"
            )
        return Report(
            results=self.results + other.results,
            seed=self.seed,
            dataset=self.dataset or other.dataset,
            models={**self.models, **other.models},
            config={**other.config, **self.config},
            landscape=self.landscape + other.landscape,
            histograms={**self.histograms, **other.histograms},
        )

    # -- JSON ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        names = sorted({m["model"] for m in self.models.values()})
        out["model"] = names[0] if len(names) == 1 else names
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        missing = [k for k in ("results", "seed", "snnvar_version") if k not in data]
        if missing:
            raise ValueError(f"not an snnvar report: missing {missing}")
        for i, row in enumerate(data["results"]):
            lacking = [k for k in REQUIRED_ROW_KEYS if k not in row]
            if lacking:
                raise ValueError(f"report row {i} lacks {lacking}")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=True)

    @classmethod
    def load(cls, path: str | Path) -> Report:
        """Read ``report.json`` (or the directory holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / "report.json"
        if not path.is_file():
            raise FileNotFoundError(f"no report at {path}")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
        return cls.from_dict(data)

    # -- tables -------------------------------------------------------------------------

    def csv(self) -> str:
        """One line per row; spikes and SynOps per layer as ``spikes:<layer>`` columns."""
        layers = list(dict.fromkeys(k for r in self.results for k in r.get("spikes") or {}))
        syn = list(dict.fromkeys(k for r in self.results for k in r.get("synops") or {}))
        header = [*_CSV_KEYS, *(f"spikes:{k}" for k in layers), *(f"synops:{k}" for k in syn)]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for r in self.results:
            writer.writerow(
                [r.get(k) for k in _CSV_KEYS]
                + [(r.get("spikes") or {}).get(k) for k in layers]
                + [(r.get("synops") or {}).get(k) for k in syn]
            )
        return buf.getvalue()

    def markdown(self, sigmas: tuple[float, ...] | None = (0.0, 0.05, 0.10)) -> str:
        """The paper's layout: one line per method (and mode), accuracy mean ± std in %
        at each σ; then the worst chip at the largest σ. ``sigmas=None``: all levels."""
        levels = sorted({r["sigma"] for r in self.results}) if sigmas is None else list(sigmas)
        present = [s for s in levels if any(_same(r["sigma"], s) for r in self.results)]
        if not present:
            raise ValueError(
                f"the report has no rows at sigma {levels}; it has "
                f"{sorted({r['sigma'] for r in self.results})}"
            )
        several = len(self.modes) > 1
        head = ["method", *(["variation"] if several else [])]
        head += [f"σ = {100 * s:g} %" for s in present] + [
            f"worst chip, σ = {100 * present[-1]:g} %"
        ]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for mode in self.modes:
            for method in self.methods:
                rows = {
                    s: r
                    for r in self.results
                    for s in present
                    if r["method"] == method and _mode_label(r) == mode and _same(r["sigma"], s)
                }
                if not rows:
                    continue
                cells = [method, *([mode] if several else [])]
                for s in present:
                    r = rows.get(s)
                    cells.append(
                        "-"
                        if r is None
                        else f"{100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f}"
                    )
                last = rows.get(present[-1])
                cells.append("-" if last is None else f"{100 * last['accuracy_min']:.2f}")
                lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def spike_table(self) -> str:
        """Spikes and synaptic operations per sample per method and σ (SNN rows only)."""
        rows = [r for r in self.results if r.get("spikes")]
        if not rows:
            return ""
        lines = [
            "| method | variation | σ | spikes / sample | SynOps / sample |",
            "|---|---|---|---|---|",
        ]
        for r in rows:
            syn = r.get("synops_per_sample")
            lines.append(
                f"| {r['method']} | {_mode_label(r)} | {100 * r['sigma']:g} % | "
                f"{r['spikes_per_sample']:.1f} | {'-' if syn is None else f'{syn:.3g}'} |"
            )
        return "\n".join(lines) + "\n"

    # -- files --------------------------------------------------------------------------

    def save(self, out_dir: str | Path, overwrite: bool = False, plots: bool = True) -> Path:
        """Write report.json, results.csv, results.md and (``plots``) the PNGs to ``out_dir``.

        A directory that already holds files needs ``overwrite=True``.
        """
        out = prepare_out_dir(out_dir, overwrite)
        self.write(out, plots)
        return out

    def write(self, out: Path, plots: bool = True) -> list[Path]:
        """Write the files into an existing directory (no overwrite check); their paths."""
        written = [out / "report.json", out / "results.csv", out / "results.md"]
        written[0].write_text(self.to_json())
        written[1].write_text(self.csv())
        md = self.markdown(sigmas=None) + "\n" + self.spike_table()
        written[2].write_text(md)
        if plots:
            from . import plots as _plots

            written += _plots.save_all(self, out)
        return written


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, abs_tol=1e-12)


def _mode_label(row: dict[str, Any]) -> str:
    if row["mode"] == "dynamic" and row.get("redraw"):
        return f"dynamic/{row['redraw']}"
    return row["mode"]
