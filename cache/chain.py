"""Block chaining: patch an exit slot into a direct jump to its target block, and undo it."""

from __future__ import annotations

import struct
from typing import Protocol

from bt.cache.block import TranslationBlock


class CodeWriter(Protocol):
    """Where the cache writes translated code (the engine's view of the code region)."""

    def write_code(self, addr: int, data: bytes) -> None:
        """Write `data` at code address `addr`, dropping any stale compiled copy of it."""
        ...

    def code_flushed(self, start: int) -> None:
        """Every block was retired; code space from `start` will be reused."""
        ...


def may_chain(
    src: TranslationBlock, dst: TranslationBlock, entry_checks: frozenset[int] = frozenset()
) -> bool:
    """Whether an exit of `src` may jump straight into `dst` and stay right until one of them
    is retired: both made for the same virtual state (variant), code segment and mode, and,
    under guest paging, `dst` starting on the linear page `src` starts on (as QEMU chains only
    within a page: a mapping change elsewhere would leave the jump aimed at stale code) and
    lying on that page alone. Never into a block at one of `entry_checks`, the linear
    addresses entered only through the monitor's lookup (instruction breakpoints,
    bt/breakpoints.py)."""
    a, b = src.key, dst.key
    if b.linear in entry_checks:
        return False
    if (a.variant, a.cs_base, a.mode) != (b.variant, b.cs_base, b.mode):
        return False
    if a.phys_page < 0 and b.phys_page < 0:
        return True
    # A block straddling into another page is entered only through a lookup, which checks
    # that page's mapping too (bt/blockmaker.py).
    return a.linear >> 12 == b.linear >> 12 and dst.second_page is None


def link(writer: CodeWriter, src: TranslationBlock, slot_no: int, dst: TranslationBlock) -> None:
    """Make exit slot `slot_no` of `src` jump straight to `dst`."""
    slot = src.exits[slot_no]
    rel = dst.code_addr - (slot.address + 5)
    writer.write_code(slot.address, b"\xe9" + struct.pack("<i", rel))
    if slot.branch is not None:
        # The Jcc that reaches the slot jumps straight to the target as well.
        writer.write_code(slot.branch, struct.pack("<i", dst.code_addr - (slot.branch + 4)))
    slot.linked = dst
    dst.incoming.add((src, slot_no))


def unlink(writer: CodeWriter, src: TranslationBlock, slot_no: int, unchained: bytes) -> None:
    """Restore exit slot `slot_no` of `src` to its unchained form (a return to the monitor)."""
    slot = src.exits[slot_no]
    if slot.linked is None:
        return
    slot.linked.incoming.discard((src, slot_no))
    slot.linked = None
    if slot.branch is not None:
        writer.write_code(slot.branch, struct.pack("<i", slot.address - (slot.branch + 4)))
    writer.write_code(slot.address, unchained)
