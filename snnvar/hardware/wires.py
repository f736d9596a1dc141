"""The wires' resistance (IR drop) of a crossbar array, to first order, and the exact
nodal solve it is checked against.

The array (CrossSim's "non-interleaved, input source" topology; Sandia CrossSim,
``simulator/circuits/array``): input ``j`` drives row wire ``j`` from its left end
at voltage ``V_j``; the row wire passes the cells of columns ``0 … m−1``, with a
wire segment of resistance ``r`` before each; column wire ``i`` collects the
cells' currents from rows ``0 … n−1`` and leaves through one more segment below
row ``n−1`` into the ADC, held at virtual ground. Cell ``(j, i)`` has conductance
``G_ji``; positive and negative weights sit on two such arrays (a differential
pair subtracted in the periphery), each device at ``G = g_max · |W| / max|W|`` of
the tile. Resistances are relative to the device's lowest resistance ``1/g_max``
(CrossSim normalises by ``Rmin``): ``ρ = r · g_max``, ``g = G / g_max``.

The network is linear, so its column currents are a linear map of the inputs:
the IR drop turns each tile's conductances into effective ones. To first order
in ``ρ`` (one step from the ideal currents ``g_ji V_j``): the row wire ``j``
carries, in its segment ``k``, the currents of cells ``k … m−1``, and the column
wire ``i`` carries, in its segment ``s`` (below row ``s``), the currents of rows
``0 … s``, so

    V_row(j, i) = V_j (1 − ρ A_ji),   A_ji = Σ_m g_jm (min(i, m) + 1)
    V_col(j, i) = ρ Σ_q g_qi V_q (n − max(j, q))
    I_i = Σ_j g_ji (V_row − V_col) = Σ_q V_q g_qi (1 − ρ (A_qi + K_qi)),
    K_qi = Σ_j g_ji (n − max(j, q)),

both ``A`` and ``K`` two cumulative sums of ``g``. The error is of order ρ²
(:func:`nodal_currents` solves the network exactly; ``tests/hardware/test_wires.py``
bounds the difference). aihwkit (``IOParameters.ir_drop``, its C++
``applyIrDrop``) instead scales ``Σ_j W_ij x_j (1 − (1 − j/n)²)`` by a cubic
polynomial fit of the input current; CrossSim iterates the node voltages to the
exact solution. This first order is the exact solution's slope at ``ρ = 0``,
differentiable, and costs two cumulative sums per tile; it holds while the
drop stays small (``ρ·n·m`` well below 1; the table in the hardware guide).
"""

from __future__ import annotations

import itertools

import torch

__all__ = [
    "MAX_DROP",
    "MAX_NODES",
    "drop",
    "first_order",
    "layer_through_wires",
    "nodal_currents",
    "through_wires",
]

MAX_NODES = 8192
"""The largest network :func:`nodal_currents` solves (a dense solve: 2·rows·cols nodes)."""

MAX_DROP = 0.25
"""The largest first-order drop ``ρ (A + K)`` of any cell a restricted layer accepts:
beyond it the first order misses a growing share of the drop (about the drop itself:
the table in the hardware guide) and, past 1, flips a conductance's sign."""


def drop(g: torch.Tensor, rho: float) -> torch.Tensor:
    """Every cell's first-order relative drop ``ρ (A_qi + K_qi)`` in one array of
    conductances ``g`` (``[..., rows, cols]``, relative to ``g_max``; see the module
    docstring) whose wire segments are ``ρ = r·g_max``."""
    a = g.flip(-1).cumsum(-1).flip(-1).cumsum(-1)  # Σ_{k ≤ i} Σ_{m ≥ k} g_jm
    k = g.cumsum(-2).flip(-2).cumsum(-2).flip(-2)  # Σ_{s ≥ q} Σ_{j ≤ s} g_ji
    return rho * (a + k)


def first_order(g: torch.Tensor, rho: float) -> torch.Tensor:
    """The effective conductances ``g_qi (1 − ρ (A_qi + K_qi))`` of one array (see
    :func:`drop`)."""
    return g * (1.0 - drop(g, rho))


def nodal_currents(g: torch.Tensor, v: torch.Tensor, rho: float) -> torch.Tensor:
    """The exact column currents (relative to ``g_max``·volt) of one array of
    conductances ``g`` (``[rows, cols]``, ≥ 0) driven by ``v`` (``[batch, rows]``)
    with wire segments ``ρ`` (> 0): Kirchhoff's current law at every row and column
    node, solved densely (float64). The reference :func:`first_order` is checked
    against, for small arrays (at most :data:`MAX_NODES` nodes)."""
    if g.dim() != 2 or v.dim() != 2 or v.shape[1] != g.shape[0]:
        raise ValueError(
            f"g must be [rows, cols] and v [batch, rows], got {tuple(g.shape)} and {tuple(v.shape)}"
        )
    if not rho > 0:
        raise ValueError(f"rho must be > 0 (no wires: the currents are v @ g), got {rho!r}")
    n, m = g.shape
    if 2 * n * m > MAX_NODES:
        raise ValueError(f"a {n}×{m} array has {2 * n * m} nodes; nodal_currents solves at most "
                         f"{MAX_NODES} (a dense solve)")  # fmt: skip
    g64, w = g.double(), 1.0 / rho
    row = lambda j, i: j * m + i  # noqa: E731
    col = lambda j, i: n * m + j * m + i  # noqa: E731
    a = torch.zeros(2 * n * m, 2 * n * m, dtype=torch.float64)
    drive = torch.zeros(2 * n * m, n, dtype=torch.float64)  # b = drive @ v
    for j, i in itertools.product(range(n), range(m)):
        r, c, cell = row(j, i), col(j, i), float(g64[j, i])
        a[r, c] -= cell
        a[c, r] -= cell
        a[r, r] += cell
        a[c, c] += cell
        a[r, r] += w  # the segment on the left: to the driver or the previous cell
        if i == 0:
            drive[r, j] += w
        else:
            a[r, row(j, i - 1)] -= w
        if i < m - 1:
            a[r, r] += w
            a[r, row(j, i + 1)] -= w
        a[c, c] += w  # the segment below: to the next cell or the virtual ground
        if j < n - 1:
            a[c, col(j + 1, i)] -= w
        if j > 0:
            a[c, c] += w
            a[c, col(j - 1, i)] -= w
    nodes = torch.linalg.solve(a, drive @ v.double().T)  # [nodes, batch]
    bottom = torch.stack([nodes[col(n - 1, i)] for i in range(m)], dim=1)  # [batch, cols]
    return w * bottom  # the current into the virtual ground


def through_wires(
    w2d: torch.Tensor,
    rows: list[int],
    cols: list[int],
    rho: float,
    scale: torch.Tensor,
    bias_row: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The effective weights of ``w2d`` (``[out, in]``) programmed on tiles of ``rows`` ×
    ``cols`` blocks whose wires have ``ρ`` (:func:`first_order`, each tile's positive
    and negative weights on their own array), and of ``bias_row`` (``[out]``, a last
    row of the first row block; None: no bias row). ``scale`` (``[len(rows), out]``):
    the weight at ``g_max`` of each tile's columns (its programmed ``max|W′|``); an
    all-zero tile holds no current. Raises ``ValueError`` when a cell's drop exceeds
    :data:`MAX_DROP`."""
    out_rows, out_bias = [], None
    worst = 0.0
    starts = list(itertools.accumulate([0, *rows]))
    for r, (r0, r1) in enumerate(itertools.pairwise(starts)):
        block = w2d[:, r0:r1]
        with_bias = r == 0 and bias_row is not None
        if with_bias:
            block = torch.cat([block, bias_row.unsqueeze(1)], dim=1)  # type: ignore[union-attr]
        s = scale[r].unsqueeze(1).clamp(min=torch.finfo(block.dtype).tiny)  # [out, 1]
        g = (block / s).T  # [in, out]: rows are the inputs, columns the outputs
        parts = []
        for c0, c1 in itertools.pairwise(itertools.accumulate([0, *cols])):
            tile = g[:, c0:c1]  # its positive and negative weights on two arrays
            pos, neg = tile.clamp(min=0), (-tile).clamp(min=0)
            d_pos, d_neg = drop(pos, rho), drop(neg, rho)
            worst = max(worst, float(d_pos.detach().max()), float(d_neg.detach().max()))
            parts.append(pos * (1.0 - d_pos) - neg * (1.0 - d_neg))
        eff = torch.cat(parts, dim=1).T * s  # [out, in]
        if with_bias:
            eff, out_bias = eff[:, :-1], eff[:, -1]
        out_rows.append(eff)
    if worst > MAX_DROP:
        raise ValueError(
            f"wire_resistance {rho:g} drops a cell's current by {worst:.0%} to first order, "
            f"more than the model holds for ({MAX_DROP:.0%}; snnvar.hardware.wires): use "
            "smaller arrays (array_rows / array_cols) or a smaller wire_resistance"
        )
    return torch.cat(out_rows, dim=1), out_bias


def layer_through_wires(
    w: torch.Tensor, row_bias: torch.Tensor | None, rows: list[int], cols: list[int],
    rho: float, scale: torch.Tensor, x_max: float, name: str, bias: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:  # fmt: skip
    """A Linear / Conv2d weight ``w`` and its ``bias`` as the wires leave them: the
    effective weights of every tile (:func:`through_wires`), the bias a row
    ``row_bias/x_max`` driven at ``x_max``, the first array's last (``row_bias`` None: a
    digital bias, ``bias`` unchanged). Errors name the layer ``name``."""
    row = None if row_bias is None else row_bias / x_max
    try:
        w2d, b_eff = through_wires(w.reshape(w.shape[0], -1), rows, cols, rho, scale, row)
    except ValueError as err:
        raise ValueError(f"layer {name!r}: {err}") from None
    return w2d.view_as(w), (bias if row is None or b_eff is None else b_eff * x_max)
