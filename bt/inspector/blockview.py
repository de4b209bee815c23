"""What the inspector's block view shows: each row's cells coloured by rule, the links panel."""

from __future__ import annotations

from rich.text import Text

from bt.inspector.align import Row, describe_link, link_target, times
from bt.inspector.model import CacheFile

RULE_STYLES = {
    "copy": "",
    "inline": "black on #8fd19e",
    "callout": "black on #e8c547",
    "callout-exit": "black on #e8913a",
    "branch": "black on #7fb2f0",
    "indirect": "black on #b896f0",
    "exit": "#9aa3b5",
}
"""How each rule is drawn; copied instructions stay plain so the rewritten ones stand out."""


def cell(text: str, rule: str) -> Text:
    """One table cell drawn in its rule's colours, never wrapped."""
    return Text(text, style=RULE_STYLES.get(rule, ""), no_wrap=True)


def side_cells(cf: CacheFile, r: Row) -> tuple[Text, ...]:
    """The block view's cells for row `r`, in SIDE_COLUMNS order (the caller picks)."""
    rule = r.rule
    if r.guest is not None:
        g = r.guest
        left = (cell(f"0x{g.eip:08x}", rule), cell(g.text, rule), cell(g.rule, rule))
    else:
        left = (cell("", rule), cell("", rule), cell("", rule))
    if r.translated is not None:
        t = r.translated
        right = (cell(f"0x{t.address:08x}", rule), cell(t.text, rule))
    else:
        right = (cell("", rule), cell("(nothing)", rule))
    if r.guest is not None and r.guest.rewritten:
        why = cell(f"{r.guest.kind}: {r.guest.reason}", rule)
    elif r.exit is not None:
        why = cell(f"[{r.exit.slot}] {describe_link(cf, r.exit)}", rule)
    else:
        why = cell("", rule)
    return (*left, Text("->", style="dim"), *right, why)


def links_text(cf: CacheFile, block_id: int, back: int | None) -> Text:
    """The links panel: the block's exit slots and where they lead, the blocks chained into
    it, and the block `b` goes back to."""
    outs = []
    for lk in cf.links_out(block_id):
        if lk.edge == "never":
            outs.append(f"[{lk.slot}] never (after a callout that redirects)")
            continue
        dst = link_target(cf, lk)
        to = f" #{dst}" if dst is not None else ""
        state = "chained" if lk.chained else f"unchained, via monitor {times(lk.taken)}"
        target = "monitor-computed" if lk.target_eip is None else f"0x{lk.target_eip:08x}"
        outs.append(f"[{lk.slot}] {lk.edge} {target}{to} ({state})")
    ins = [f"#{lk.src} {lk.edge}" for lk in cf.links_in(block_id)]
    return Text(
        "out (0-9 follow): " + ("  ".join(outs) or "none") + "\n"
        "in (p follows): "
        + (", ".join(ins) or "none, or not chained")
        + (f"\nback (b): #{back}" if back is not None else "")
    )
