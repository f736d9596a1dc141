"""The evaluation report: JSON (the record), CSV (one row per level), Markdown
(laid out like the WVAT paper's tables) and the plots' data. The plots
themselves are drawn by :mod:`snnvar.evaluation.plots` (which reads reports);
:meth:`Report.save` writes the files and the plots together.

``report.json`` holds ``snnvar_version``, ``seed``, ``dataset``, ``model``,
``models`` (method -> model name, parameters, spiking, encoder, time steps,
device weights), ``config`` (draws, encoder and time steps where shared, the
chip scheme, whether the models' chips are paired, ...), ``results`` (the rows
of :func:`~snnvar.evaluation.evaluate`, each with its ``variation_label``: the
fields of :class:`Row`) and, when computed, ``landscape`` and ``histograms``.
The JSON is strict: a number that is not finite (a diverged loss) is written
as ``null``. Accuracies are fractions; the Markdown table shows percent, with a
variation column whenever more than one variation is present.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..files import prepare_out_dir, write_text
from ..hardware.times import format_time
from ..version import package_version
from . import tables
from .pairing import unpaired

__all__ = ["REPORT_FILES", "REQUIRED_ROW_KEYS", "Report", "Row", "prepare_out_dir"]

REPORT_FILES = (
    "report.json",
    "results.csv",
    "results.md",
    "accuracy.png",
    "accuracy_time.png",
    "landscape.png",
    "histograms.png",
    "yield.png",
)
"""Every file :meth:`Report.save` writes; an overwritten report's are replaced together."""

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
"""Keys every row of ``results`` has (the fields of :class:`Row` without a default)."""

_CSV_KEYS = (
    "method",
    "model",
    "sigma",
    "time",
    "mode",
    "redraw",
    "variation_label",
    "draws",
    "accuracy_mean",
    "accuracy_std",
    "accuracy_min",
    "accuracy_max",
    "loss_mean",
    "spikes_per_sample",
    "synops_per_sample",
    "calibration",
    "calibration_seconds",
    "clean_accuracy",
    "yield_target",
    "yield_fraction",
)


def _finite(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Row:
    """One row of a report: a method's accuracy over the chips of one variation level.

    Accuracies are fractions in [0, 1]; spikes, rates and SynOps are means over
    chips, per sample. Optional fields a row was written without are None.
    """

    method: str
    """The method's name: the key of the model in the dict given to ``evaluate``."""
    model: str | None = None
    """The model's name (its ``name`` attribute, else its class name)."""
    sigma: float | None
    """σ of the variation level (relative to the variation's reference); None for a
    device model (:mod:`snnvar.hardware`), whose noise is its own."""
    mode: str
    """``"static"`` (one draw per chip) or ``"dynamic"`` (read noise)."""
    redraw: str | None = None
    """When a dynamic variation redraws (``"step"`` or ``"pass"``); None for static."""
    variation_label: str | None = None
    """The variation's label (:meth:`~snnvar.Variation.label`, or the key it was given under)."""
    draws: int
    """Simulated chips the statistics are over."""
    accuracy_mean: float
    """Mean accuracy over the chips."""
    accuracy_std: float
    """Sample standard deviation of the accuracy over the chips (0 for one chip)."""
    accuracy_min: float
    """Accuracy of the worst chip."""
    accuracy_max: float | None = None
    """Accuracy of the best chip."""
    loss_mean: float | None = None
    """Mean loss over the chips (cross-entropy, per sample; ``null`` in JSON if not finite)."""
    spikes_per_sample: float | None = None
    """Spikes per sample over all neuron layers; None for an ANN."""
    spikes: dict[str, float | None]
    """Spikes per sample per neuron layer (empty for an ANN)."""
    rates: dict[str, float] | None = None
    """Firing rate (spikes per neuron per time step) per neuron layer."""
    synops_per_sample: float | None = None
    """Synaptic operations per sample over all layers; None for an ANN."""
    synops: dict[str, float] | None = None
    """Synaptic operations per sample per Linear / convolution layer."""
    accuracies: list[float] | None = None
    """Each chip's accuracy, in chip order."""
    seeds: list[int] | None = None
    """Each chip's seed (:func:`~snnvar.evaluation.chip_seed`), in chip order."""
    variation: dict[str, Any] | None = None
    """The variation of this level (:meth:`~snnvar.Variation.to_dict`, or a device model's)."""
    time: float | None = None
    """A device model's row: seconds after programming at which its chips were read
    (``evaluate(times=...)``); None for a :class:`~snnvar.Variation`."""
    ranks: list[int] | None = None
    """The torch.distributed rank that computed each chip, in chip order (all 0 in
    one process; a clean level's one pass repeated for every chip)."""
    energy: dict[str, Any] | None = None
    """A chip's inference, means over the chips (``evaluate(energy=...)``):
    ``energy_pj`` by event and ``total``, ``layers_pj``, ``latency_ns``, ``area_mm2``,
    ``events`` per layer (``snnvar.hardware.energy``); None: not priced."""
    calibration: str | None = None
    """The calibration every chip of this row had after programming (``"bn+threshold"``,
    :class:`~snnvar.evaluation.Calibration`); None: as programmed. A calibrated row's
    ``method`` is ``"<method> [<calibration>]"``, beside the uncalibrated row."""
    calibration_seconds: float | None = None
    """Mean wall-clock seconds of one chip's calibration."""
    clean_accuracy: float | None = None
    """The model's accuracy with clean weights (no chip; a chip with output noise reads
    its noise), the reference of the default yield target."""
    yield_target: float | None = None
    """The accuracy a chip must reach to count as good."""
    yield_fraction: float | None = None
    """The fraction of chips at or above ``yield_target``."""
    percentiles: dict[str, float] | None = None
    """The 5th, 50th and 95th percentile chip (``p5``, ``p50``, ``p95``), linearly
    interpolated."""

    @property
    def mode_label(self) -> str:
        """The mode, with a dynamic variation's redraw: ``"dynamic/step"``, ..."""
        if self.mode == "dynamic" and self.redraw:
            return f"dynamic/{self.redraw}"
        return self.mode

    @property
    def label(self) -> str:
        """The row's variation label (rows written before labels: :attr:`mode_label`)."""
        return self.variation_label or self.mode_label

    # -- JSON ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every field by name, numbers that are not finite as None (strict JSON)."""
        return {k: _finite(getattr(self, k)) for k in _ROW_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "report row") -> Row:
        """A row from :meth:`to_dict` or from a ``report.json`` row; keys it lacks
        (of :data:`REQUIRED_ROW_KEYS`) or does not know are refused, naming them
        (``name``: what the messages call the row)."""
        lacking = [k for k in REQUIRED_ROW_KEYS if k not in data]
        if lacking:
            raise ValueError(f"{name} lacks {lacking}")
        unknown = [k for k in data if k not in _ROW_FIELDS]
        if unknown:
            raise ValueError(f"{name} has unknown keys {unknown}; known: {list(_ROW_FIELDS)}")
        return cls(**data)


_ROW_FIELDS = tuple(f.name for f in fields(Row))


@dataclass
class Report:
    """What an evaluation found (see the module docstring for the layout)."""

    results: list[Row]
    """One row per (method, variation level); dicts given here become :class:`Row`."""
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
    worst_case: list[dict[str, Any]] = field(default_factory=list)
    """Worst-case chips (:func:`~snnvar.evaluation.worst_case_attack`), if computed:
    ``{method, zeta, steps, seed, objective, accuracy, clean_accuracy, loss}`` per
    method, ζ and objective (``"ce"`` or ``"kl"``)."""
    snnvar_version: str = field(default_factory=package_version)
    """The snnvar that wrote it."""

    def __post_init__(self) -> None:
        self.results = [
            r if isinstance(r, Row) else Row.from_dict(r, name=f"report row {i}")
            for i, r in enumerate(self.results)
        ]

    # -- access -----------------------------------------------------------------------

    @property
    def methods(self) -> list[str]:
        """The method names of the rows, in order of first appearance."""
        return list(dict.fromkeys(r.method for r in self.results))

    @property
    def modes(self) -> list[str]:
        """The variation modes of the rows (``static``, ``dynamic/step``, ...), in order."""
        return list(dict.fromkeys(r.mode_label for r in self.results))

    @property
    def labels(self) -> list[str]:
        """The variation labels of the rows, in order (:meth:`~snnvar.Variation.label`)."""
        return list(dict.fromkeys(r.label for r in self.results))

    def row(
        self,
        method: str,
        sigma: float | None = None,
        mode: str | None = "static",
        variation: str | None = None,
        time: float | None = None,
    ) -> Row:
        """The row of ``method`` at ``sigma`` (None: a device model's row), in ``mode``
        (``"static"``, ``"dynamic"``, ``"dynamic/step"``, ``"dynamic/pass"``; None: any),
        at ``time`` after programming (device rows; None: any) and, where several
        variations share a mode, of the variation labelled ``variation``. A query
        that matches more than one row is refused with the labels to choose from."""
        hits = [
            r
            for r in self.results
            if r.method == method
            and _same_or_none(r.sigma, sigma)
            and (time is None or (r.time is not None and _same(r.time, time)))
            and (mode is None or mode in (r.mode, r.mode_label))
            and (variation is None or r.label == variation)
        ]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise KeyError(
                f"{len(hits)} rows for method={method!r}, sigma={sigma}, mode={mode!r}, "
                f"time={time}: choose one with variation= (or time=) among "
                f"{[(r.label, r.time) if r.time is not None else r.label for r in hits]}"
            )
        raise KeyError(
            f"no row for method={method!r}, sigma={sigma}, mode={mode!r}, "
            f"variation={variation!r}, time={time}; methods: {self.methods}, sigmas: "
            f"{self.sigmas}, times: {self.times}, modes: {self.modes}, "
            f"variations: {self.labels}"
        )

    @property
    def sigmas(self) -> list[float]:
        """The σ levels of the variation rows, in increasing order."""
        return sorted({r.sigma for r in self.results if r.sigma is not None})

    @property
    def times(self) -> list[float]:
        """The read times (s) of the device rows, in increasing order."""
        return sorted({r.time for r in self.results if r.time is not None})

    def merge(self, other: Report) -> Report:
        """This report's rows followed by ``other``'s.

        Only reports whose chips are paired merge: the same seed, the same chip
        scheme, the same data (samples), distinct method names, the same batch size
        where a model is rate-encoded (its input spikes are seeded per batch), and
        the same device weights (key and shape) for every model of both, e.g. an
        ANN and its converted SNN. Settings that differ between the two (``draws``,
        T, ...) are kept per model in ``models[method]``, not lost.
        """
        problems = unpaired(self, other)
        if problems:
            raise ValueError("these reports did not see the same chips: " + "; ".join(problems))
        config: dict[str, Any] = {}
        models = {k: dict(v) for k, v in self.models.items()}
        models.update({k: dict(v) for k, v in other.models.items()})
        for key in dict.fromkeys([*self.config, *other.config]):
            mine, theirs = self.config.get(key), other.config.get(key)
            if mine == theirs:
                config[key] = mine
                continue
            for source, value in ((self, mine), (other, theirs)):
                for k in source.models:
                    models[k].setdefault(key, value)
            config[key] = None
        config["paired"] = True
        return Report(
            results=self.results + other.results,
            seed=self.seed,
            dataset=self.dataset or other.dataset,
            models=models,
            config=config,
            landscape=self.landscape + other.landscape,
            histograms={**self.histograms, **other.histograms},
            worst_case=self.worst_case + other.worst_case,
        )

    # -- JSON ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The ``report.json`` content (strict JSON: numbers that are not finite as None)."""
        out = {k: _finite(v) for k, v in asdict(self).items() if k != "results"}
        out["results"] = [r.to_dict() for r in self.results]
        names = sorted({m["model"] for m in self.models.values()})
        out["model"] = names[0] if len(names) == 1 else names
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """A report from :meth:`to_dict` (a loaded ``report.json``); refused if it is not one."""
        missing = [k for k in ("results", "seed", "snnvar_version") if k not in data]
        if missing:
            raise ValueError(f"not an snnvar report: missing {missing}")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})  # rows: Row.from_dict

    def to_json(self) -> str:
        """The report as strict JSON (no NaN or infinity), as ``report.json`` holds it."""
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)

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
        layers = list(dict.fromkeys(k for r in self.results for k in r.spikes))
        syn = list(dict.fromkeys(k for r in self.results for k in r.synops or {}))
        qs = list(dict.fromkeys(k for r in self.results for k in r.percentiles or {}))
        header = [*_CSV_KEYS, *qs, *(f"spikes:{k}" for k in layers),
                  *(f"synops:{k}" for k in syn)]  # fmt: skip
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for r in self.results:
            writer.writerow(
                [getattr(r, k) for k in _CSV_KEYS]
                + [(r.percentiles or {}).get(k) for k in qs]
                + [r.spikes.get(k) for k in layers]
                + [(r.synops or {}).get(k) for k in syn]
            )
        return buf.getvalue()

    def markdown(self, sigmas: tuple[float, ...] | None = (0.0, 0.05, 0.10)) -> str:
        """The paper's layout: one line per method (and mode), accuracy mean ± std in %
        at each σ; then the worst chip at the largest σ. ``sigmas=None``: all levels.
        Device-model rows follow in :meth:`time_table`."""
        devices = self.time_table()
        if not self.sigmas and devices:
            return devices
        levels = self.sigmas if sigmas is None else list(sigmas)
        present = [s for s in levels if any(_same_or_none(r.sigma, s) for r in self.results)]
        if not present:
            raise ValueError(f"the report has no rows at sigma {levels}; it has {self.sigmas}")
        several = len(self.labels) > 1
        head = ["method", *(["variation"] if several else [])]
        head += [f"σ = {100 * s:g} %" for s in present] + [
            f"worst chip, σ = {100 * present[-1]:g} %"
        ]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for label in self.labels:
            for method in self.methods:
                rows = {
                    s: r
                    for r in self.results
                    for s in present
                    if r.method == method and r.label == label and _same_or_none(r.sigma, s)
                }
                if not rows:
                    continue
                cells = [method, *([label] if several else [])]
                for s in present:
                    r = rows.get(s)
                    cells.append(
                        "-"
                        if r is None
                        else f"{100 * r.accuracy_mean:.2f} ± {100 * r.accuracy_std:.2f}"
                    )
                last = rows.get(present[-1])
                cells.append("-" if last is None else f"{100 * last.accuracy_min:.2f}")
                lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n" + ("\n" + devices if devices else "")

    def time_table(self) -> str:
        """Device-model rows: one line per method and device model, accuracy mean ± std
        in % at each read time after programming, then the worst chip at the last
        time ("" when the report has no device rows)."""
        rows = [r for r in self.results if r.sigma is None]
        if not rows:
            return ""
        times = sorted({r.time for r in rows if r.time is not None}) or [None]
        head = ["method", "device", *(f"t = {format_time(t)}" for t in times)]
        head.append(f"worst chip, t = {format_time(times[-1])}")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for label in dict.fromkeys(r.label for r in rows):
            for method in self.methods:
                found = {r.time: r for r in rows if r.method == method and r.label == label}
                if not found:
                    continue
                cells = [method, label]
                for t in times:
                    r = found.get(t)
                    cells.append(
                        "-" if r is None
                        else f"{100 * r.accuracy_mean:.2f} ± {100 * r.accuracy_std:.2f}"
                    )  # fmt: skip
                last = found.get(times[-1])
                cells.append("-" if last is None else f"{100 * last.accuracy_min:.2f}")
                lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def worst_case_table(self) -> str:
        """Accuracy (%) of each method's worst-case chip per ζ (and objective, where
        the cross-entropy and KL attacks are both present) beside its clean accuracy
        ("" when none was computed)."""
        if not self.worst_case:
            return ""

        def column(w: dict[str, Any]) -> tuple[float, str]:
            return (w["zeta"], w.get("objective", "ce"))

        columns = sorted({column(w) for w in self.worst_case})
        both = len({obj for _, obj in columns}) > 1
        head = ["method", "clean"] + [
            f"worst case, ζ = {100 * z:g} %" + (f" ({obj.upper()})" if both else "")
            for z, obj in columns
        ]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for method in dict.fromkeys(w["method"] for w in self.worst_case):
            found = {column(w): w for w in self.worst_case if w["method"] == method}
            clean = next(iter(found.values()))["clean_accuracy"]
            cells = [method, f"{100 * clean:.2f}"]
            cells += ["-" if c not in found else f"{100 * found[c]['accuracy']:.2f}"
                      for c in columns]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def spike_table(self) -> str:
        """Spikes and synaptic operations per sample per method and σ (SNN rows only)."""
        return tables.spike_table(self.results)

    def energy_table(self) -> str:
        """Accuracy beside the energy (by event), latency and area of one inference per
        method and condition (priced rows only: ``evaluate(energy=...)``)."""
        return tables.energy_table(self.results)

    def yield_table(self) -> str:
        """Yield and the percentile chips per method (calibrated rows beside their
        uncalibrated ones) and condition ("" when no row has a yield)."""
        return tables.yield_table(self.results)

    # -- files --------------------------------------------------------------------------

    def save(self, out_dir: str | Path, overwrite: bool = False, plots: bool = True) -> Path:
        """Write the report to ``out_dir`` (created if needed; one that already holds
        files needs ``overwrite=True``) and return it: ``report.json``, ``results.csv``,
        ``results.md`` and, with ``plots``, the PNGs (``accuracy.png``,
        ``accuracy_time.png``, ``landscape.png``, ``histograms.png``, ``yield.png``, each
        when the report has data for it; :func:`~snnvar.evaluation.plot_accuracy` and its siblings).

        The files are one unit: they are written into a hidden directory inside
        ``out_dir`` first and moved in when all are complete, replacing every file of a
        report already there (:data:`REPORT_FILES`: an old ``landscape.png`` does not
        stay beside a new report without one). A failure (a full disk) leaves the old
        files and no new or temporary one; the ``OSError`` names the file it could not
        write.
        """
        out = prepare_out_dir(out_dir, overwrite)
        staging = Path(tempfile.mkdtemp(prefix=".snnvar-report-", dir=out))
        try:
            try:
                staged = self._write_tables(staging)
                if plots:
                    from .plots import save_all  # lazy: the plots read reports, not back

                    staged += save_all(self, staging)
            except OSError as err:  # named by the staged file: name the file in ``out``
                if err.filename and Path(err.filename).parent == staging and err.errno:
                    name = str(out / Path(err.filename).name)
                    raise OSError(err.errno, err.strerror, name) from err
                raise
            for name in REPORT_FILES:
                (out / name).unlink(missing_ok=True)
            for path in staged:
                os.replace(path, out / path.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return out

    def _write_tables(self, out: Path) -> list[Path]:
        """report.json, results.csv and results.md in ``out``; their paths."""
        written = [out / "report.json", out / "results.csv", out / "results.md"]
        write_text(written[0], self.to_json())  # atomically: a full disk leaves no half file
        write_text(written[1], self.csv())
        md = self.markdown(sigmas=None)
        extras = (self.yield_table(), self.worst_case_table(), self.spike_table(),
                  self.energy_table())  # fmt: skip
        for extra in extras:
            if extra:
                md += "\n" + extra
        write_text(written[2], md)
        return written


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, abs_tol=1e-12)


def _same_or_none(a: float | None, b: float | None) -> bool:
    """Both None (device rows), or both numbers and equal."""
    if a is None or b is None:
        return a is None and b is None
    return _same(a, b)
