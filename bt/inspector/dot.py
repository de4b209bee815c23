"""Graphviz (DOT) text of a cache file's chain graph: `bt inspect FILE --dot OUT`.

One box per block (guest address, instruction count, hotness; filled hotter = redder), one
arrow per link to a saved block: solid when chained, dashed when execution went through the
monitor; wider and redder arrows carry more executions (see bt/inspector/graph.py).
"""

from __future__ import annotations

from bt.inspector.graph import ChainGraph, chain_graph, heat, heat_colour
from bt.inspector.model import CacheFile


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot_text(graph: ChainGraph, title: str) -> str:
    """The DOT text of `graph`."""
    lines = [
        f"digraph {_q('bt-cache')} {{",
        f"  graph [rankdir=TB, label={_q(title)}, labelloc=t, fontname=monospace];",
        '  node [shape=box, style="filled,rounded", fontname=monospace, fontsize=10];',
        "  edge [fontname=monospace, fontsize=8];",
    ]
    top = graph.max_hotness
    for b in graph.nodes.values():
        label = f"#{b.id} 0x{b.eip:08x}\\n{b.insn_count} insns, {b.code_size} B\\nx{b.hotness}"
        if b.callouts:
            label += f", {b.callouts} callouts"
        colour = heat_colour(heat(b.hotness, top))
        lines.append(f'  b{b.id} [label="{label}", fillcolor={_q(colour)}];')
    wtop = graph.max_weight
    for e in graph.edges:
        h = heat(e.weight, wtop)
        style = "solid" if e.chained else "dashed"
        lines.append(
            f"  b{e.src} -> b{e.dst} [label={_q(e.edge)}, penwidth={0.6 + 4.4 * h:.2f}, "
            f"color={_q(heat_colour(h))}, style={style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_dot(cf: CacheFile, out: str) -> None:
    """Write the chain graph of every block of `cf` to `out`."""
    s = cf.summary()
    title = f"{s.guest}: {s.blocks} blocks, {s.chained_links} chained links"
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(dot_text(chain_graph(cf), title))
