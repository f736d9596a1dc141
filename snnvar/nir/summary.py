"""What a NIR graph holds, as a dict and as text (``snnvar export`` prints it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .io import plain

__all__ = ["summary", "summary_text"]


def _shape(types: dict[str, Any] | None, key: str) -> list[int] | None:
    value = (types or {}).get(key)
    return None if value is None else [int(s) for s in np.asarray(value).reshape(-1)]


def _scalar_or_range(a: Any) -> Any:
    values = np.unique(np.asarray(a, dtype=np.float64))
    if values.size == 1:
        return float(values[0])
    return [float(values.min()), float(values.max())]


def summary(graph: Any) -> dict[str, Any]:
    """Per node: name, NIR type, output shape, the snnvar module it came from, and
    for neurons τ / θ / R (one value, or [min, max]); the graph's metadata and edges."""
    nodes = []
    for name, node in graph.nodes.items():
        row: dict[str, Any] = {
            "name": name,
            "type": type(node).__name__,
            "shape": _shape(getattr(node, "output_type", None), "output"),
        }
        meta = getattr(node, "metadata", None) or {}
        if "module" in meta:
            row["module"] = plain(meta["module"])
        for field in ("tau", "r", "v_threshold"):
            if hasattr(node, field):
                row[field] = _scalar_or_range(getattr(node, field))
        weight = getattr(node, "weight", None)
        if weight is not None:
            row["weights"] = int(np.asarray(weight).size)
        nodes.append(row)
    return {
        "metadata": {k: plain(v) for k, v in (graph.metadata or {}).items()},
        "nodes": nodes,
        "edges": [list(e) for e in graph.edges],
    }


def summary_text(info: dict[str, Any]) -> str:
    """A short table of :func:`summary`'s nodes, then the metadata."""
    lines = ["| node | NIR type | shape | from | parameters |", "|---|---|---|---|---|"]
    for n in info["nodes"]:
        params = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v[0]:g}..{v[1]:g}"
            for k, v in n.items()
            if k in ("tau", "r", "v_threshold")
        )
        if "weights" in n:
            params = f"{n['weights']} weights"
        shape = "x".join(map(str, n["shape"])) if n.get("shape") else ""
        lines.append(f"| {n['name']} | {n['type']} | {shape} | {n.get('module', '')} | {params} |")
    meta = ", ".join(f"{k}={v}" for k, v in info["metadata"].items())
    return "\n".join(lines) + f"\n\n{meta}"
