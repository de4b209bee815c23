"""The self-contained HTML report of a cache file: `bt inspect FILE --html OUT`.

One file, inline CSS, JavaScript and SVG, nothing fetched: a summary (occupancy, hit rate,
callouts by kind, invalidations), the graph of chained blocks (the hottest `GRAPH_NODES`
blocks, laid out by bt/inspector/graph.py; wider, redder arrows carry more executions, dashed
ones went through the monitor), the sortable, searchable list of every block, and a
side-by-side view of each block (the hottest `VIEWS` when there are more): guest instructions
on the left, their translation on the right, rewritten instructions coloured by rule with
their reason. Clicking a row of the list, a node of the graph or a link opens that block.
"""

from __future__ import annotations

import html

from bt.inspector.align import Row, block_rows, describe_link, link_target
from bt.inspector.graph import ChainGraph, chain_graph, heat, heat_colour, layers
from bt.inspector.model import Block, CacheFile, Summary

GRAPH_NODES = 80
VIEWS = 400
_NODE_W, _NODE_H, _GAP_X, _GAP_Y = 132, 34, 22, 46

_CSS = """
:root { --bg:#fbfbfd; --fg:#1d2330; --mut:#687085; --line:#d9dce5; --copy:#ffffff;
  --inline:#dcf5e3; --callout:#fff1c9; --exit:#ffd9b8; --branch:#dcebff; --indirect:#eadcff;
  --slot:#eef0f4; }
* { box-sizing: border-box; }
body { margin:0; font:13px/1.35 system-ui, sans-serif; color:var(--fg); background:var(--bg); }
header { padding:10px 16px; background:#1d2330; color:#fff; }
header h1 { font-size:17px; margin:0 0 2px 0; } header .sub { color:#b9c0d0; }
main { display:grid; grid-template-columns: 470px minmax(0, 1fr); gap:12px; padding:12px 16px; }
section { background:#fff; border:1px solid var(--line); border-radius:6px; padding:8px 10px;
  min-width:0; overflow:auto; }
h2 { font-size:14px; margin:0 0 6px 0; }
.mono, td.mono, .code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size:12px; }
.cards { display:flex; flex-wrap:wrap; gap:6px; margin-bottom:6px; }
.card { border:1px solid var(--line); border-radius:5px; padding:4px 8px; min-width:92px; }
.card b { display:block; font-size:16px; } .card span { color:var(--mut); font-size:11px; }
table { border-collapse:collapse; width:100%; }
th, td { padding:2px 6px; text-align:left; white-space:nowrap; }
th { position:sticky; top:0; background:#f1f3f8; cursor:pointer; user-select:none;
  border-bottom:1px solid var(--line); }
#list { max-height:520px; overflow:auto; }
#blocks tbody tr { cursor:pointer; } #blocks tbody tr:hover { background:#f3f6ff; }
#blocks tbody tr.sel { background:#dfe8ff; }
td.num, th.num { text-align:right; }
#graphbox { max-height:430px; overflow:auto; border:1px solid var(--line); border-radius:4px; }
#graph { max-width:100%; height:auto; display:block; margin:auto; }
svg .node rect { stroke:#39404f; stroke-width:1; rx:4; }
svg .node { cursor:pointer; } svg .node:hover rect { stroke-width:2.5; }
svg .node.sel rect { stroke:#1f5eff; stroke-width:3; }
svg text { font-family: ui-monospace, monospace; font-size:10px; pointer-events:none; }
.view { display:none; } .view.shown { display:block; }
.side td { vertical-align:top; border-bottom:1px solid #f0f1f5; }
.side td.sep { color:var(--mut); }
.side tr.r-copy td.g, .side tr.r-copy td.t { background:var(--copy); }
.side tr.r-inline td { background:var(--inline); }
.side tr.r-callout td { background:var(--callout); }
.side tr.r-callout-exit td { background:var(--exit); }
.side tr.r-branch td { background:var(--branch); }
.side tr.r-indirect td { background:var(--indirect); }
.side tr.r-exit td { background:var(--slot); color:#4a5266; }
.side td.why { white-space:normal; color:#5a4200; font-size:11.5px; min-width:220px; }
.side td { padding:1px 5px; }
.tag { display:inline-block; padding:0 5px; border-radius:3px; font-size:11px;
  border:1px solid #0002; }
.legend span { margin-right:8px; }
#filter { width:100%; padding:4px 6px; margin-bottom:6px; font:inherit; }
a { color:#1f4fd0; }
.kinds td { padding:1px 6px; }
"""

_JS = """
(function () {
  const views = document.querySelectorAll('.view');
  function show(id, scroll) {
    let found = false;
    views.forEach(v => { const on = v.id === 'view-' + id; v.classList.toggle('shown', on);
      found = found || on; if (on && scroll) { v.scrollIntoView({block: 'nearest'}); } });
    document.querySelectorAll('#blocks tbody tr').forEach(r =>
      r.classList.toggle('sel', r.dataset.id === String(id)));
    document.querySelectorAll('svg .node').forEach(n =>
      n.classList.toggle('sel', n.dataset.id === String(id)));
    const none = document.getElementById('noview');
    if (none) { none.style.display = found ? 'none' : 'block'; }
  }
  window.btShow = show;
  document.querySelectorAll('#blocks tbody tr').forEach(r =>
    r.addEventListener('click', () => { location.hash = 'b' + r.dataset.id; }));
  document.querySelectorAll('svg .node').forEach(n =>
    n.addEventListener('click', () => { location.hash = 'b' + n.dataset.id; }));
  window.addEventListener('hashchange', () => {
    const m = /^#b(\\d+)$/.exec(location.hash); if (m) { show(m[1], true); } });
  const tbody = document.querySelector('#blocks tbody');
  document.querySelectorAll('#blocks th').forEach((th, col) => {
    th.addEventListener('click', () => {
      const rows = Array.from(tbody.rows);
      const num = th.classList.contains('num');
      const dir = th.dataset.dir === 'desc' ? 1 : -1; th.dataset.dir = dir > 0 ? 'asc' : 'desc';
      rows.sort((a, b) => {
        const x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        return num ? dir * (Number(x) - Number(y)) : dir * x.localeCompare(y);
      });
      rows.forEach(r => tbody.appendChild(r));
    });
  });
  const filter = document.getElementById('filter');
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    const hex = /^(0x)?[0-9a-f]{1,8}$/.test(q) ? parseInt(q.replace(/^0x/, ''), 16) : null;
    Array.from(tbody.rows).forEach(r => {
      let ok = !q;
      if (!ok && hex !== null) {
        ok = Number(r.dataset.start) <= hex && hex < Number(r.dataset.end); }
      if (!ok && !q.startsWith('0x')) {
        ok = r.dataset.mn.split(' ').some(m => m === q || m.startsWith(q + ' ')); }
      r.style.display = ok ? '' : 'none';
    });
  });
  const m = /^#b(\\d+)$/.exec(location.hash);
  show(m ? m[1] : document.body.dataset.first);
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _summary(s: Summary, cf: CacheFile) -> str:
    cards = [
        ("blocks", f"{s.blocks}"),
        ("guest insns translated", f"{s.guest_insns_translated}"),
        ("cache occupancy", f"{100 * s.occupancy:.3f}%"),
        ("code bytes", f"{s.code_bytes} / {s.capacity}"),
        ("hit rate", f"{100 * s.hit_rate:.2f}%"),
        ("lookups", f"{s.lookups}"),
        ("chained links", f"{s.chained_links} / {s.links}"),
        ("callouts", f"{s.callouts}"),
        ("invalidations", f"{s.invalidations}"),
        ("guest insns run", "not counted" if s.guest_insns is None else f"{s.guest_insns}"),
    ]
    out = ['<section id="summary"><h2>Summary</h2><div class="cards">']
    out += [f'<div class="card"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for k, v in cards]
    out.append("</div><h2>Callouts by kind</h2><table class='kinds mono'>")
    for kind, n in s.callouts_by_kind.items():
        out.append(f"<tr><td>{_e(kind)}</td><td class='num'>{n}</td></tr>")
    out.append("</table><h2>Rules applied</h2><table class='kinds mono'>")
    for rule, n in s.rules.items():
        out.append(
            f"<tr><td><span class='tag' style='background:var(--{_var(rule)})'>"
            f"{_e(rule)}</span></td><td class='num'>{n}</td></tr>"
        )
    out.append("</table>")
    invs = cf.invalidations()
    out.append(f"<h2>Invalidations ({s.invalidations} in the run, last {len(invs)} saved)</h2>")
    if invs:
        out.append(
            "<div style='max-height:140px;overflow:auto'><table class='mono'>"
            "<tr><th>#</th><th>reason</th><th>page</th><th>block eip</th></tr>"
        )
        for inv in invs[:200]:
            page = "-" if inv.page is None else f"0x{inv.page:08x}"
            out.append(
                f"<tr><td>{inv.seq}</td><td>{_e(inv.reason)}</td><td>{page}</td>"
                f"<td>0x{inv.eip:08x}</td></tr>"
            )
        out.append("</table></div>")
    else:
        out.append("<p>none</p>")
    out.append("</section>")
    return "".join(out)


def _var(rule: str) -> str:
    return {"callout-exit": "exit", "exit": "slot"}.get(rule, rule)


def graph_svg(graph: ChainGraph) -> str:
    """The chain graph as inline SVG (layout: bt/inspector/graph.py)."""
    rows = layers(graph)
    pos: dict[int, tuple[float, float]] = {}
    width = max((len(r) for r in rows), default=1)
    total_w = width * (_NODE_W + _GAP_X) + 60
    for li, layer in enumerate(rows):
        offset = (total_w - 60 - len(layer) * (_NODE_W + _GAP_X)) / 2
        for i, n in enumerate(layer):
            pos[n] = (20 + offset + i * (_NODE_W + _GAP_X), 14 + li * (_NODE_H + _GAP_Y))
    total_h = len(rows) * (_NODE_H + _GAP_Y) + 20
    out = [
        f'<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" '
        f'height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}">',
        "<defs>",
    ]
    for name, colour in (
        ("cool", heat_colour(0.1)),
        ("warm", heat_colour(0.55)),
        ("hot", heat_colour(1.0)),
    ):
        out.append(
            f'<marker id="arr-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" '
            f'orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    out.append("</defs><g class='edges'>")
    wtop = graph.max_weight
    for e in sorted(graph.edges, key=lambda e: e.weight):
        h = heat(e.weight, wtop)
        (x1, y1), (x2, y2) = pos[e.src], pos[e.dst]
        colour = heat_colour(h)
        arrow = "hot" if h > 0.75 else "warm" if h > 0.35 else "cool"
        sw = 0.8 + 5.2 * h
        if e.src == e.dst:
            sx, sy = x1 + _NODE_W, y1 + _NODE_H / 2
            d = (
                f"M{sx:.1f},{sy - 8:.1f} C{sx + 34:.1f},{sy - 30:.1f} {sx + 34:.1f},"
                f"{sy + 30:.1f} {sx:.1f},{sy + 8:.1f}"
            )
        elif y2 > y1:
            sx, sy, tx, ty = x1 + _NODE_W / 2, y1 + _NODE_H, x2 + _NODE_W / 2, y2
            my = (sy + ty) / 2
            d = f"M{sx:.1f},{sy:.1f} C{sx:.1f},{my:.1f} {tx:.1f},{my:.1f} {tx:.1f},{ty:.1f}"
        else:  # back edge or same layer: around the right side
            sx, sy, tx, ty = x1 + _NODE_W, y1 + _NODE_H / 2, x2 + _NODE_W, y2 + _NODE_H / 2
            bend = max(sx, tx) + 30 + abs(sy - ty) / 6
            d = f"M{sx:.1f},{sy:.1f} C{bend:.1f},{sy:.1f} {bend:.1f},{ty:.1f} {tx:.1f},{ty:.1f}"
        dash = "" if e.chained else ' stroke-dasharray="5,3"'
        out.append(
            f'<path class="edge" d="{d}" fill="none" stroke="{colour}" '
            f'stroke-width="{sw:.2f}" stroke-opacity="0.85"{dash} '
            f'marker-end="url(#arr-{arrow})"><title>#{e.src} -&gt; #{e.dst} '
            f"{_e(e.edge)} ({'chained' if e.chained else 'via monitor'}, "
            f"weight {e.weight})</title></path>"
        )
    out.append("</g><g class='nodes'>")
    top = graph.max_hotness
    for bid, b in graph.nodes.items():
        x, y = pos[bid]
        h = heat(b.hotness, top)
        fill = heat_colour(h)
        ink = "#fff" if h > 0.6 else "#111"
        out.append(
            f'<g class="node" data-id="{bid}"><title>block #{bid} 0x{b.eip:08x}: '
            f"{b.insn_count} insns, ran {b.hotness}x, {b.callouts} callouts</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{_NODE_W}" height="{_NODE_H}" '
            f'fill="{fill}"/>'
            f'<text x="{x + 6:.1f}" y="{y + 14:.1f}" fill="{ink}">#{bid} 0x{b.eip:08x}</text>'
            f'<text x="{x + 6:.1f}" y="{y + 27:.1f}" fill="{ink}">x{b.hotness} · '
            f"{b.insn_count} insns</text></g>"
        )
    out.append("</g></svg>")
    return "".join(out)


def _block_list(cf: CacheFile, viewed: set[int]) -> str:
    cols = [
        ("#", True),
        ("address", False),
        ("insns", True),
        ("guest B", True),
        ("cache B", True),
        ("hotness", True),
        ("entries", True),
        ("callouts", True),
        ("chained", True),
    ]
    out = [
        '<section id="listbox"><h2>Blocks</h2><input id="filter" '
        'placeholder="guest address (hex) or mnemonic, e.g. 0x100043 or cli">'
        '<div id="list"><table id="blocks" class="mono"><thead><tr>'
    ]
    out += [f"<th class='{'num' if num else ''}'>{_e(c)}</th>" for c, num in cols]
    out.append("</tr></thead><tbody>")
    mnemonics: dict[int, set[str]] = {}
    for bid, text in cf.insn_texts():
        mnemonics.setdefault(bid, set()).add(text.lower())
    for b in cf.blocks(sort="hotness"):
        mn = " ".join(sorted({t.split(" ", 1)[0] for t in mnemonics.get(b.id, ())}))
        cells = [
            (b.id, f"#{b.id}" + ("" if b.id in viewed else " ·")),
            (f"{b.linear:08x}", f"0x{b.eip:08x}"),
            (b.insn_count, b.insn_count),
            (b.guest_size, b.guest_size),
            (b.code_size, b.code_size),
            (b.hotness, b.hotness),
            (b.entries, b.entries),
            (b.callouts, b.callouts),
            (b.chained_out, f"{b.chained_out}/{b.links_out}"),
        ]
        tds = "".join(
            f"<td class='{'num' if num else ''}' data-v='{_e(v)}'>{_e(shown)}</td>"
            for (v, shown), (_, num) in zip(cells, cols, strict=True)
        )
        out.append(
            f"<tr data-id='{b.id}' data-start='{b.eip}' data-end='{b.end}' "
            f"data-mn='{_e(mn)}'>{tds}</tr>"
        )
    out.append("</tbody></table></div></section>")
    return "".join(out)


def _row_html(cf: CacheFile, r: Row) -> str:
    cls = f"r-{r.rule}"
    if r.guest is not None:
        g = r.guest
        left = (
            f"<td class='g mono'>0x{g.eip:08x}</td><td class='g mono'>{g.raw.hex(' ')}</td>"
            f"<td class='g mono'>{_e(g.text)}</td>"
            f"<td><span class='tag'>{_e(g.rule)}</span></td>"
        )
    else:
        left = "<td></td><td></td><td></td><td></td>"
    if r.translated is not None:
        t = r.translated
        right = f"<td class='t mono'>0x{t.address:08x}</td><td class='t mono'>{_e(t.text)}</td>"
    else:
        right = "<td class='t'></td><td class='t mono'>(nothing)</td>"
    if r.guest is not None and r.guest.rewritten:
        why = f"<td class='why'><b>{_e(r.guest.kind)}</b>: {_e(r.guest.reason)}</td>"
    elif r.exit is not None:
        lk = r.exit
        text = _e(describe_link(cf, lk))
        dst = link_target(cf, lk)
        if dst is not None:
            text = f"<a href='#b{dst}'>{text}</a>"
        why = f"<td class='why'>exit slot {lk.slot}: {text}</td>"
    else:
        why = "<td class='why'></td>"
    return f"<tr class='{cls}'>{left}<td class='sep'>&rarr;</td>{right}{why}</tr>"


def _view(cf: CacheFile, b: Block) -> str:
    # Not id='bN': the browser would jump to it on load and hide the summary and the graph.
    out = [
        f"<div class='view' id='view-{b.id}'><h2>Block #{b.id} at 0x{b.eip:08x} "
        f"(CS base 0x{b.cs_base:x}, {b.mode}) &rarr; cache 0x{b.code_addr:08x}</h2>"
        f"<p class='mono'>{b.insn_count} guest insns, {b.guest_size} guest bytes, "
        f"{b.code_size} translated bytes; ran {b.hotness}x "
        f"({'executions' if b.executions is not None else 'entries'}), "
        f"entered by the monitor {b.entries}x; callouts: "
    ]
    kinds = cf.callouts(b.id)
    out.append(_e(", ".join(f"{k} {n}" for k, n in kinds.items()) or "none"))
    out.append(
        "</p><table class='side'><thead><tr><th>guest eip</th><th>bytes</th>"
        "<th>guest instruction</th><th>rule</th><th></th><th>cache addr</th>"
        "<th>translation</th><th>why</th></tr></thead><tbody>"
    )
    out += [_row_html(cf, r) for r in block_rows(cf, b.id)]
    out.append("</tbody></table>")
    ins = cf.links_in(b.id)
    if ins:
        links = ", ".join(f"<a href='#b{lk.src}'>#{lk.src}</a> ({_e(lk.edge)})" for lk in ins)
        out.append(f"<p>Chained in from: {links}</p>")
    out.append("</div>")
    return "".join(out)


def render_html(cf: CacheFile) -> str:
    """The whole report as one HTML document."""
    s = cf.summary()
    hottest = cf.blocks(sort="hotness")
    viewed = hottest[:VIEWS]
    ids = {b.id for b in viewed}
    graph = chain_graph(cf, GRAPH_NODES)
    first = viewed[0].id if viewed else 0
    legend = "".join(
        f"<span><span class='tag' style='background:var(--{_var(r)})'>{r}</span></span>"
        for r in ("copy", "inline", "callout", "callout-exit", "branch", "indirect", "exit")
    )
    omitted = f" (the {len(graph.nodes)} hottest of {s.blocks} blocks)" if graph.omitted else ""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>bt translation cache: {_e(s.guest)}</title><style>{_CSS}</style></head>",
        f"<body data-first='{first}'><header><h1>Translation cache of {_e(s.guest)}</h1>",
        f"<div class='sub'>{_e(cf.path)} &middot; {s.blocks} blocks &middot; "
        f"hit rate {100 * s.hit_rate:.2f}% &middot; {s.callouts} callouts</div></header><main>",
        _summary(s, cf),
        f"<section id='graphsec'><h2>Chained blocks{_e(omitted)}</h2><p class='legend'>"
        "node colour and arrow width/colour: executions (log scale); solid: chained, "
        f"dashed: through the monitor</p><div id='graphbox'>{graph_svg(graph)}</div></section>",
        _block_list(cf, ids),
        "<section id='viewsec'><h2>Block view</h2>"
        f"<p class='legend'>{legend}</p>"
        "<p id='noview' style='display:none'>This block has no view in the report "
        f"(only the {VIEWS} hottest do); its row in the list has its counters.</p>",
    ]
    parts += [_view(cf, b) for b in viewed]
    parts.append("</section></main>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "".join(parts)


def write_html(cf: CacheFile, out: str) -> None:
    """Write the report of `cf` to `out`."""
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(render_html(cf))
