"""The combinatorial half of a layered (Sugiyama) layout, on integer vertices.

Four classic steps, each deterministic (ties always break on the listed order):

1. :func:`break_cycles` — a depth-first search from the entries marks the edges that
   close a cycle; they are laid out reversed (the designer may hold a cyclic graph).
2. :func:`assign_layers` — longest path from the entries.
3. :func:`build_hierarchy` — edges spanning several layers get a chain of dummy
   vertices, one per crossed layer, so they can be ordered and routed like nodes.
4. :func:`order_layers` — barycenter sweeps, down then up, keeping the ordering with
   the fewest crossings (counted exactly, O(E log V) per layer pair).

:func:`place_x` then assigns columns: for each layer, the positions closest (least
squares) to the neighbours' centres that keep the boxes apart — an isotonic
regression solved exactly by pool-adjacent-violators.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

SWEEP_ITERATIONS = 4
PLACEMENT_PASSES = 6


def break_cycles(n: int, edges: Sequence[tuple[int, int]]) -> list[bool]:
    """Which edges to reverse so that ``edges`` over ``range(n)`` form a DAG.

    Self loops are never reversed (callers leave them out of the layering).  The
    search starts from vertices without incoming edges, in index order, so the
    reversed edges are the ones that point back towards an entry.
    """
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    indegree = [0] * n
    for index, (u, v) in enumerate(edges):
        if u != v:
            adj[u].append((v, index))
            indegree[v] += 1
    reverse = [False] * len(edges)
    state = [0] * n  # 0 unseen, 1 on the stack, 2 finished
    roots = [v for v in range(n) if indegree[v] == 0] + list(range(n))
    for root in roots:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(adj[root]))]
        while stack:
            vertex, successors = stack[-1]
            for target, index in successors:
                if state[target] == 1:
                    reverse[index] = True
                elif state[target] == 0:
                    state[target] = 1
                    stack.append((target, iter(adj[target])))
                    break
            else:
                state[vertex] = 2
                stack.pop()
    return reverse


def assign_layers(n: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Longest-path layer of each vertex of a DAG given as ``(upper, lower)`` edges."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indegree = [0] * n
    for u, v in edges:
        succ[u].append(v)
        indegree[v] += 1
    layer = [0] * n
    ready = [v for v in range(n) if indegree[v] == 0]
    heapq.heapify(ready)
    while ready:
        u = heapq.heappop(ready)
        for v in succ[u]:
            layer[v] = max(layer[v], layer[u] + 1)
            indegree[v] -= 1
            if indegree[v] == 0:
                heapq.heappush(ready, v)
    return layer


@dataclass(slots=True)
class Hierarchy:
    """Vertices ``0..real-1`` are nodes, the rest dummies; ``order`` lists each layer."""

    real: int
    layer: list[int]
    chains: list[list[int]]
    """Per input edge, its vertices from the upper end to the lower; empty for self loops."""
    reversed: list[bool]
    order: list[list[int]]
    preds: list[list[int]]
    succs: list[list[int]]

    def is_dummy(self, vertex: int) -> bool:
        """Whether ``vertex`` is a bend point of a long edge rather than a node."""
        return vertex >= self.real


def build_hierarchy(
    n: int, edges: Sequence[tuple[int, int]], layers: Sequence[int] | None = None
) -> Hierarchy:
    """Break cycles, assign layers and insert dummy vertices; layers keep index order.

    ``layers`` fixes each vertex's layer instead (a drawing's rows): every edge must
    then point to a lower layer, and none is reversed.
    """
    if layers is None:
        reverse = break_cycles(n, edges)
        oriented = [
            (v, u) if rev else (u, v) for (u, v), rev in zip(edges, reverse, strict=True) if u != v
        ]
        layer = assign_layers(n, oriented)
    else:
        if any(layers[u] >= layers[v] for u, v in edges):
            raise ValueError("with fixed layers every edge must point to a lower layer")
        reverse, layer = [False] * len(edges), list(layers)
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    chains: list[list[int]] = []
    for (u, v), rev in zip(edges, reverse, strict=True):
        if u == v:
            chains.append([])
            continue
        upper, lower = (v, u) if rev else (u, v)
        chain = [upper]
        for level in range(layer[upper] + 1, layer[lower]):
            dummy = len(layer)
            layer.append(level)
            preds.append([])
            succs.append([])
            chain.append(dummy)
        chain.append(lower)
        for a, b in itertools.pairwise(chain):
            succs[a].append(b)
            preds[b].append(a)
        chains.append(chain)
    depth = max(layer, default=0) + 1
    order: list[list[int]] = [[] for _ in range(depth)]
    for vertex, level in enumerate(layer):
        order[level].append(vertex)
    return Hierarchy(n, layer, chains, reverse, order, preds, succs)


def count_crossings(upper: Sequence[int], lower_pos: dict[int, int], succs: list[list[int]]) -> int:
    """Edge crossings between two adjacent layers (inversions, via a Fenwick tree)."""
    size = len(lower_pos)
    targets: list[int] = []
    for u in upper:
        targets.extend(sorted(lower_pos[v] for v in succs[u]))
    tree = [0] * (size + 1)
    crossings = 0
    for seen, pos in enumerate(targets):
        # Edges seen so far that land strictly to the right of this one cross it.
        i, not_right = pos + 1, 0
        while i > 0:
            not_right += tree[i]
            i -= i & -i
        crossings += seen - not_right
        i = pos + 1
        while i <= size:
            tree[i] += 1
            i += i & -i
    return crossings


def _total_crossings(h: Hierarchy) -> int:
    total = 0
    for upper, lower in zip(h.order, h.order[1:], strict=False):
        total += count_crossings(upper, {v: i for i, v in enumerate(lower)}, h.succs)
    return total


def _sweep(h: Hierarchy, downward: bool) -> None:
    levels = range(1, len(h.order)) if downward else range(len(h.order) - 2, -1, -1)
    neighbours = h.preds if downward else h.succs
    for level in levels:
        ref = h.order[level - 1] if downward else h.order[level + 1]
        ref_pos = {v: i for i, v in enumerate(ref)}
        current = h.order[level]
        keys: dict[int, tuple[float, int]] = {}
        for i, v in enumerate(current):
            near = neighbours[v]
            bary = sum(ref_pos[u] for u in near) / len(near) if near else float(i)
            keys[v] = (bary, v)
        current.sort(key=keys.__getitem__)


def order_layers(h: Hierarchy) -> int:
    """Reorder ``h.order`` in place by barycenter sweeps; return the crossings left."""
    best = [list(level) for level in h.order]
    best_crossings = _total_crossings(h)
    for _ in range(SWEEP_ITERATIONS):
        if best_crossings == 0:
            break
        for downward in (True, False):
            _sweep(h, downward)
            crossings = _total_crossings(h)
            if crossings < best_crossings:
                best, best_crossings = [list(level) for level in h.order], crossings
    h.order = best
    return best_crossings


def isotonic(targets: Sequence[float], weights: Sequence[float]) -> list[float]:
    """The non-decreasing sequence closest to ``targets`` in weighted least squares."""
    values: list[float] = []
    totals: list[float] = []
    counts: list[int] = []
    for target, weight in zip(targets, weights, strict=True):
        values.append(target)
        totals.append(weight)
        counts.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            weight_sum = totals[-2] + totals[-1]
            merged = (values[-2] * totals[-2] + values[-1] * totals[-1]) / weight_sum
            count = counts[-2] + counts[-1]
            del values[-1], totals[-1], counts[-1]
            values[-1], totals[-1], counts[-1] = merged, weight_sum, count
    out: list[float] = []
    for value, count in zip(values, counts, strict=True):
        out.extend([value] * count)
    return out


def place_x(
    h: Hierarchy,
    widths: Sequence[int],
    anchors: Sequence[int],
    gap: int,
    dummy_gap: int,
) -> list[int]:
    """Left column of every vertex: aligned with its neighbours, never overlapping.

    ``anchors[v]`` is the column (relative to the vertex's left) where its edges attach;
    neighbours' anchors are pulled into line so that edges run straight where they can.
    """
    left = [0] * len(h.layer)
    offsets: list[list[int]] = []
    for level in h.order:
        acc, offs = 0, []
        for i, v in enumerate(level):
            offs.append(acc)
            if i + 1 < len(level):
                nxt = level[i + 1]
                spacing = gap if not (h.is_dummy(v) or h.is_dummy(nxt)) else dummy_gap
                acc += widths[v] + spacing
        offsets.append(offs)
        for v, off in zip(level, offs, strict=True):
            left[v] = off
    weights = [1.0 if v < h.real else 2.0 for v in range(len(h.layer))]
    levels = list(range(len(h.order)))
    for step in range(PLACEMENT_PASSES):
        downward = step % 2 == 0
        both = step == PLACEMENT_PASSES - 1
        for index in levels if downward else reversed(levels):
            level = h.order[index]
            targets = []
            for v in level:
                near = h.preds[v] + h.succs[v] if both else (h.preds[v] if downward else h.succs[v])
                if near:
                    centre = sum(left[u] + anchors[u] for u in near) / len(near)
                else:
                    centre = float(left[v] + anchors[v])
                targets.append(centre - anchors[v])
            offs = offsets[index]
            fitted = isotonic(
                [t - o for t, o in zip(targets, offs, strict=True)], [weights[v] for v in level]
            )
            for v, z, off in zip(level, fitted, offs, strict=True):
                # floor keeps the sequence non-decreasing, so the gaps survive rounding
                left[v] = math.floor(z + 0.5) + off
    lowest = min(left, default=0)
    return [x - lowest for x in left]
