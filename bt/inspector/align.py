"""Side-by-side rows of a block: each guest instruction beside the translated code made from it.

A guest instruction takes as many rows as its translation has instructions (at least one; a
guest instruction translated to nothing shows an empty right side). After the last guest
instruction come the block's exits: translated code only, the code leading to each exit slot (the
hit path of a RET inline cache, for one) and then the slot, whose row carries the link it
implements. Both the terminal interface and the HTML report draw these rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from bt.inspector.disasm import TranslatedInsn
from bt.inspector.model import CacheFile, Insn, Link


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the block view."""

    guest: Insn | None  # set on the first row of each guest instruction
    insn: Insn | None  # the guest instruction this row belongs to (None for exit slots)
    translated: TranslatedInsn | None
    exit: Link | None = None  # set on the row of an exit slot itself

    @property
    def rule(self) -> str:
        """The rule of the guest instruction, "exit" for exit-slot rows."""
        return self.insn.rule if self.insn is not None else "exit"


def block_rows(cf: CacheFile, block_id: int) -> list[Row]:
    """The aligned rows of block `block_id`."""
    rows: list[Row] = []
    for insn in cf.insns(block_id):
        if not insn.translated:
            rows.append(Row(insn, insn, None))
        for n, t in enumerate(insn.translated):
            rows.append(Row(insn if n == 0 else None, insn, t))
    for ex in cf.exits(block_id):
        for t in ex.code:
            rows.append(Row(None, None, t, ex.link if ex.is_slot(t) else None))
    return rows


def times(n: int) -> str:
    """ "once", "5 times"."""
    return "once" if n == 1 else f"{n} times"


def link_target(cf: CacheFile, link: Link) -> int | None:
    """The block a link leads to: the one it is chained to, else a saved block starting at its
    target (the monitor would find it on the next exit), else None."""
    if link.dst is not None:
        return link.dst
    if link.target_eip is None:
        return None
    known = [b for b in cf.blocks_at(link.target_eip) if b.eip == link.target_eip]
    return known[0].id if known else None


def describe_link(cf: CacheFile, link: Link) -> str:
    """A link in words: "taken -> 0x00100043, chained to #3" or "..., unchained (block #7):
    left via the monitor 5 times"."""
    if link.edge == "never":
        return "never reached: the monitor redirects execution after the callout"
    if link.target_eip is None:
        return f"{link.edge} -> target computed by the monitor, left via it {times(link.taken)}"
    head = f"{link.edge} -> 0x{link.target_eip:08x}"
    if link.dst is not None:
        return f"{head}, chained to #{link.dst}"
    dst = link_target(cf, link)
    known = f" (block #{dst})" if dst is not None else " (no saved block there)"
    return f"{head}, unchained{known}: left via the monitor {times(link.taken)}"
