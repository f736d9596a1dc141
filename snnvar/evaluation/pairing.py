"""Whether two evaluation reports saw the same chips (:meth:`Report.merge
<snnvar.evaluation.Report.merge>` refuses them otherwise)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .report import Report

__all__ = ["unpaired"]


def unpaired(a: Report, b: Report) -> list[str]:
    """Why two reports' chips are not paired (empty: they are)."""
    problems = []
    if a.seed != b.seed:
        problems.append(f"seeds {a.seed} and {b.seed}")
    for name, r in (("the first", a), ("the second", b)):
        if r.config.get("paired") is False:
            problems.append(f"{name} report's own models do not share device weights")
        lacking = [k for k, m in r.models.items() if "device_weights" not in m]
        if "chips" not in r.config or lacking or not r.models:
            problems.append(
                f"{name} report does not record its chips (chip scheme and each model's "
                "device weights; not written by evaluate): evaluate again"
            )
    if problems:
        return problems
    if a.config["chips"] != b.config["chips"]:
        problems.append(f"chip schemes {a.config['chips']!r} and {b.config['chips']!r}")
    if a.config.get("samples") != b.config.get("samples"):
        problems.append(f"{a.config.get('samples')} and {b.config.get('samples')} test samples")
    rate = [k for r in (a, b) for k, m in r.models.items() if m.get("encoder") == "rate"]
    if rate and a.config.get("batch_size") != b.config.get("batch_size"):
        problems.append(
            f"batch sizes {a.config.get('batch_size')} and {b.config.get('batch_size')} with "
            f"rate-encoded models {rate} (their input spikes are seeded per batch)"
        )
    if a.dataset and b.dataset and a.dataset != b.dataset:
        problems.append(f"data sets {a.dataset!r} and {b.dataset!r}")
    both = sorted(set(a.models) & set(b.models))
    if both:
        problems.append(f"method names {both} in both (rename one)")
    ref_name, ref = next(iter(a.models.items()))
    for k, m in {**a.models, **b.models}.items():
        if m["device_weights"] != ref["device_weights"]:
            mine, theirs = set(ref["device_weights"]), set(m["device_weights"])
            diff = sorted(mine ^ theirs) or sorted(
                n for n in mine if ref["device_weights"][n] != m["device_weights"][n]
            )
            problems.append(
                f"{k!r} and {ref_name!r} hold different device weights (differ in {diff[:4]})"
            )
    return problems
