"""The texts the inspector's panes show: a block's list cells, its heading, a row's explanation."""

from __future__ import annotations

from rich.text import Text

from bt.inspector.align import Row, describe_link, link_target
from bt.inspector.model import Block, CacheFile


def hotness_text(b: Block) -> str:
    """The block's hotness; a `+` marks a lower bound (monitor entries, not executions)."""
    return f"{b.hotness}" if b.executions is not None else f"{b.hotness}+"


def list_cells(b: Block) -> dict[str, Text | str]:
    """The block's cells in the block list, by column name."""
    return {
        "#": Text(f"#{b.id}"),
        "guest addr": f"0x{b.linear:08x}",
        "insns": Text(str(b.insn_count), justify="right"),
        "size": Text(str(b.code_size), justify="right"),
        "hot": Text(hotness_text(b), justify="right"),
        "callouts": Text(str(b.callouts), justify="right"),
        "chained": f"{b.chained_out}/{b.links_out}",
    }


def block_heading(cf: CacheFile, b: Block) -> Text:
    """The two lines above the block view: where the block is and what it did."""
    kinds = ", ".join(f"{k} {n}" for k, n in cf.callouts(b.id).items()) or "none"
    ran = (
        f"ran {b.executions}x"
        if b.executions is not None
        else f"entered {b.entries}x by the monitor (chained entries not counted)"
    )
    return Text(
        f"Block #{b.id}  guest 0x{b.eip:08x}-0x{b.end:08x} (CS base 0x{b.cs_base:x}, "
        f"{b.mode})  ->  cache 0x{b.code_addr:08x}\n"
        f"{b.insn_count} insns, {b.guest_size} guest bytes -> {b.code_size} translated "
        f"bytes; {ran}; monitor entries {b.entries}; callouts: {kinds}"
    )


def explain(cf: CacheFile, r: Row, cache_addr_shown: bool) -> Text:
    """Say in full what row `r` of the block view is (its cache address when no column has it)."""
    where = ""
    if not cache_addr_shown and r.translated is not None:
        where = f"cache 0x{r.translated.address:08x}: "  # the column left out for room
    if r.insn is not None:
        g = r.insn
        if g.rewritten:
            text = f"{g.text}  [{g.rule}, callout kind {g.kind}]\nwhy: {g.reason}"
        else:
            text = f"{g.text}  [copy] copied unchanged"
            if g.reason:
                text += f": {g.reason}"
    elif r.exit is not None:
        text = f"exit slot {r.exit.slot}: {describe_link(cf, r.exit)}"
        if link_target(cf, r.exit) is not None:
            text += (
                f"  (enter or {r.exit.slot} follows it)"
                if r.exit.slot < 10
                else "  (enter follows it)"
            )
    else:
        text = "exit code: leads to the next exit slot"
    return Text(where + text)
