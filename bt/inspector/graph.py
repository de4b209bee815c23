"""ChainGraph: blocks and their chain links as a weighted graph, with a layered layout.

Edges come from exit slots whose target is a saved block: a chained slot (the translated code
jumps straight to the target's translation) or an unchained one (execution leaves through the
monitor, `taken` times). Chained jumps are not counted by the engine, so a chained edge's
weight is an estimate: the smaller of its two blocks' hotness, which is exact for a path that
runs through both; an unchained edge's weight is its `taken` count.

The layout needs no Graphviz: linked blocks get layers by breadth-first depth from the roots
(blocks nothing leads to, in address order, then the lowest-address block left), and each layer
is ordered by the mean position of its blocks' predecessors (one barycentre sweep). A layer wider
than `MAX_ROW` blocks is cut into several rows, and blocks with no link to a shown block come
last, in rows of their own: most blocks of a kernel are roots (reached by a RET or an interrupt,
which are not chained), and one row of all of them made a picture too wide to read.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from bt.inspector.model import Block, CacheFile

MAX_ROW = 7


@dataclass(frozen=True, slots=True)
class Edge:
    """A link from block `src` to block `dst`."""

    src: int
    dst: int
    edge: str  # the slot's kind: jump, taken, fallthrough, next, ret-cache, ...
    chained: bool
    weight: int


@dataclass(frozen=True, slots=True)
class ChainGraph:
    """The blocks shown and the links between them."""

    nodes: dict[int, Block]
    edges: tuple[Edge, ...]
    omitted: int  # blocks left out to keep the picture readable

    @property
    def max_weight(self) -> int:
        """The heaviest edge's weight (at least 1)."""
        return max((e.weight for e in self.edges), default=1) or 1

    @property
    def max_hotness(self) -> int:
        """The hottest block's hotness (at least 1)."""
        return max((b.hotness for b in self.nodes.values()), default=1) or 1


def chain_graph(cf: CacheFile, max_nodes: int | None = None) -> ChainGraph:
    """The chain graph of `cf`, limited to the `max_nodes` hottest blocks when given."""
    blocks = cf.blocks(sort="hotness")
    shown = blocks if max_nodes is None else blocks[:max_nodes]
    nodes = {b.id: b for b in sorted(shown, key=lambda b: (b.linear, b.id))}
    by_eip: dict[int, int] = {}
    for b in sorted(blocks, key=lambda b: (b.max_insns != 64, b.id)):
        by_eip.setdefault(b.eip, b.id)
    edges: dict[tuple[int, int, str], Edge] = {}
    for lk in cf.links():
        dst = (
            lk.dst
            if lk.dst is not None
            else (by_eip.get(lk.target_eip) if lk.target_eip is not None else None)
        )
        if dst is None or lk.src not in nodes or dst not in nodes:
            continue
        weight = min(nodes[lk.src].hotness, nodes[dst].hotness) if lk.chained else lk.taken
        key = (lk.src, dst, lk.edge)
        old = edges.get(key)
        if old is None or old.weight < weight:
            edges[key] = Edge(lk.src, dst, lk.edge, lk.chained, weight)
    return ChainGraph(nodes, tuple(edges.values()), len(blocks) - len(nodes))


def heat(value: int, top: int) -> float:
    """0..1 on a log scale: how hot `value` is compared with `top`."""
    if value <= 0 or top <= 0:
        return 0.0
    return min(1.0, math.log1p(value) / math.log1p(top))


def heat_colour(h: float) -> str:
    """A colour from cool grey-blue (0) through amber to red (1)."""
    stops = ((0.0, (0x8A, 0x9B, 0xB0)), (0.5, (0xF0, 0xA0, 0x30)), (1.0, (0xD0, 0x20, 0x20)))
    for (h0, c0), (h1, c1) in zip(stops, stops[1:], strict=False):
        if h <= h1:
            t = (h - h0) / (h1 - h0) if h1 > h0 else 0.0
            r, g, b = (round(a + (z - a) * max(0.0, t)) for a, z in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#d02020"


def layers(graph: ChainGraph) -> list[list[int]]:
    """Block ids by row (see the module docstring), each row in drawing order."""
    succ: dict[int, list[int]] = {n: [] for n in graph.nodes}
    pred: dict[int, list[int]] = {n: [] for n in graph.nodes}
    for e in graph.edges:
        if e.src != e.dst:
            succ[e.src].append(e.dst)
            pred[e.dst].append(e.src)
    order = [n for n in graph.nodes if succ[n] or pred[n]]  # address order
    alone = [n for n in graph.nodes if not succ[n] and not pred[n]]
    rank = {n: i for i, n in enumerate(order)}
    depth: dict[int, int] = {}
    roots = [n for n in order if not pred[n]]
    pending = deque(roots)
    for r in roots:
        depth[r] = 0
    unplaced = iter(order)
    while len(depth) < len(order):
        while pending:
            n = pending.popleft()
            for m in sorted(succ[n], key=rank.__getitem__):
                if m not in depth:
                    depth[m] = depth[n] + 1
                    pending.append(m)
        for n in unplaced:
            if n not in depth:  # a cycle nothing outside leads to
                depth[n] = 0
                pending.append(n)
                break
    by_depth: list[list[int]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for n in order:
        by_depth[depth[n]].append(n)
    pos: dict[int, float] = {}
    rows: list[list[int]] = []
    for layer in by_depth:

        def bary(n: int) -> float:
            ps = [pos[p] for p in pred[n] if p in pos]
            return sum(ps) / len(ps) if ps else rank[n] / max(len(order), 1)

        layer.sort(key=bary)
        for i, n in enumerate(layer):
            pos[n] = i / max(len(layer), 1)
        rows += [layer[i : i + MAX_ROW] for i in range(0, len(layer), MAX_ROW)]
    rows += [alone[i : i + MAX_ROW] for i in range(0, len(alone), MAX_ROW)]
    return rows
