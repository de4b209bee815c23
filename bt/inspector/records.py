"""The records a bt-cache file is read into: blocks, instructions, links, exits, the summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bt.inspector.disasm import TranslatedInsn


@dataclass(frozen=True, slots=True)
class Block:
    """One translation block as saved: its key, where its translation lives, its counters."""

    id: int
    eip: int
    cs_base: int
    mode: str
    max_insns: int
    code_addr: int
    code_size: int
    guest_size: int
    insn_count: int
    valid: bool
    entries: int
    executions: int | None
    callouts: int
    links_out: int
    chained_out: int

    @property
    def linear(self) -> int:
        """The block's guest-linear start address (CS base + EIP)."""
        return (self.cs_base + self.eip) & 0xFFFFFFFF

    @property
    def end(self) -> int:
        """The guest EIP just after the block's last instruction."""
        return self.eip + self.guest_size

    @property
    def hotness(self) -> int:
        """Executions when counted, otherwise entries by the monitor."""
        return self.executions if self.executions is not None else self.entries

    @property
    def size(self) -> int:
        """The block's size in the cache: bytes of translated code."""
        return self.code_size


@dataclass(frozen=True, slots=True)
class Insn:
    """One guest instruction of a block, the rule applied to it and its translation."""

    block_id: int
    index: int
    eip: int
    raw: bytes
    text: str
    rule: str
    kind: str
    reason: str
    tc_offset: int
    tc_size: int
    translated: tuple[TranslatedInsn, ...]

    @property
    def mnemonic(self) -> str:
        """The first word of the instruction text (prefixes included, as Capstone prints)."""
        return self.text.split(" ", 1)[0]

    @property
    def rewritten(self) -> bool:
        """Whether the translator did anything but copy the instruction."""
        return self.rule != "copy"


@dataclass(frozen=True, slots=True)
class Link:
    """An exit slot of `src`: the guest EIP it leads to, the block it is chained to."""

    src: int
    slot: int
    slot_addr: int
    target_eip: int | None
    edge: str
    dst: int | None  # the block it is chained to, None when unchained
    taken: int  # times execution left through it into the monitor (unchained)

    @property
    def chained(self) -> bool:
        """Whether the slot jumps straight to another block's translation."""
        return self.dst is not None


@dataclass(frozen=True, slots=True)
class ExitCode:
    """Translated code after a block's last instruction: one exit slot and its link."""

    link: Link | None  # None for code after the last slot
    code: tuple[TranslatedInsn, ...]  # the code leading to the slot, then the slot

    def is_slot(self, insn: TranslatedInsn) -> bool:
        """Whether `insn` is the exit slot itself (the 5 bytes the cache patches to chain)."""
        return self.link is not None and insn.address == self.link.slot_addr


@dataclass(frozen=True, slots=True)
class Invalidation:
    """One entry of the cache's invalidation history."""

    seq: int
    reason: str
    page: int | None
    eip: int
    code_addr: int


@dataclass(frozen=True, slots=True)
class Summary:
    """The cache at a glance: occupancy, hit rate, callouts and invalidations."""

    guest: str
    blocks: int
    guest_insns_translated: int
    code_bytes: int
    capacity: int
    lookups: int
    hits: int
    translations: int
    chains: int
    links: int
    chained_links: int
    invalidations: int
    invalidations_saved: int
    flushes: int
    executions_counted: bool
    guest_insns: int | None
    callouts_by_kind: dict[str, int] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)

    @property
    def occupancy(self) -> float:
        """Fraction of the translation cache's capacity holding translated code."""
        return self.code_bytes / self.capacity if self.capacity else 0.0

    @property
    def hit_rate(self) -> float:
        """Fraction of the monitor's lookups that found a translation."""
        return self.hits / self.lookups if self.lookups else 0.0

    @property
    def callouts(self) -> int:
        """Callouts made, all kinds together."""
        return sum(self.callouts_by_kind.values())


def link_from_row(r: tuple[Any, ...]) -> Link:
    """A Link from a `links` row: block_id, slot, slot_addr, target_eip, edge, dst_block, taken."""
    src, slot, addr, target, edge, dst, taken = r
    return Link(
        int(src),
        int(slot),
        int(addr),
        None if target is None else int(target),
        str(edge),
        None if dst is None else int(dst),
        int(taken),
    )


def block_from_row(r: tuple[Any, ...]) -> Block:
    """A Block from a row of the fields of Block in order (`blocks` columns, the guest size
    and the counts of instructions, links and chained links)."""
    bid, eip, cs_base, mode, max_insns, code_addr, code_size, gsize, n = r[:9]
    valid, entries, executions, callouts, nlinks, nchained = r[9:]
    return Block(
        int(bid),
        int(eip),
        int(cs_base),
        str(mode),
        int(max_insns),
        int(code_addr),
        int(code_size),
        int(gsize),
        int(n),
        bool(valid),
        int(entries),
        None if executions is None else int(executions),
        int(callouts),
        int(nlinks),
        int(nchained),
    )
