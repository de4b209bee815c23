"""TBKey (what shaped a translation) and TranslationBlock (the translation and its links)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from bt.cache.codebuf import CodeAddr
from bt.translator.insn import GuestAddr
from bt.translator.records import CalloutSite, InsnRecord


@dataclass(frozen=True, slots=True)
class CpuMode:
    """How the CPU decodes and addresses at a block: what its mode tells the translator."""

    name: str  # "pm32", "pm16", "real", "real32", "v86"
    code_bits: int  # default operand size (CS.D, or 16 outside protected mode)
    addr_bits: int  # default address size
    protected: bool  # protected mode (descriptors, privilege) rather than real-mode segments


MODES = {
    m.name: m
    for m in (
        CpuMode("pm32", 32, 32, True),
        CpuMode("pm16", 16, 16, True),
        CpuMode("real", 16, 16, False),
        # Real mode with a 32-bit CS left by the guest's own PE toggling (the D bit stays).
        CpuMode("real32", 32, 32, False),
        CpuMode("v86", 16, 16, False),
    )
}


# Single-stepping (the guest's EFLAGS.TF): blocks of one instruction each, never chained, whose
# variant carries this bit (or is STEP_UNBAKED when nothing is baked), so the monitor sees
# every instruction boundary and raises the #DB trap there (bt/hookexit.py).
STEP_BIT = 1 << 38
STEP_UNBAKED = -2


@dataclass(frozen=True, slots=True)
class TBKey:
    """Exactly what shaped a translation: compared on lookup, nothing else is."""

    eip: GuestAddr  # guest EIP (offset in CS)
    cs_base: int
    mode: str  # a key of MODES: code and address size, real / V86 / protected
    max_insns: int = 64  # 1 for the one-instruction blocks that follow a self-modifying write
    variant: int = -1  # the virtual state built into the code (translator/bake.py); -1: none
    # Guest-physical page of the block's first byte under guest paging; -1 while linear and
    # physical addresses are the same (paging off), so a mapping change cannot move the code.
    phys_page: int = -1

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown CPU mode {self.mode!r}")

    @property
    def single_step(self) -> bool:
        """Made while the guest's TF was set: its instruction ends in a #DB trap."""
        v = self.variant
        return v == STEP_UNBAKED or (v >= 0 and bool(v & STEP_BIT))

    @property
    def cpu_mode(self) -> CpuMode:
        """The mode's sizes and kind."""
        return MODES[self.mode]

    @property
    def linear(self) -> GuestAddr:
        """The guest-linear address of the block's first byte."""
        return GuestAddr((self.cs_base + self.eip) & 0xFFFFFFFF)

    @property
    def label(self) -> str:
        """The mode, variant and physical page as one string (cache files, the store)."""
        text = self.mode if self.variant < 0 else f"{self.mode}:{self.variant:x}"
        return text if self.phys_page < 0 else f"{text}@{self.phys_page:x}"


@dataclass(slots=True)
class ExitSlot:
    """A 5-byte exit of a block; `linked` is the block it jumps to when chained."""

    address: CodeAddr  # translation-cache address of the slot
    target: int | None  # guest EIP it leads to, None where the monitor computes it
    edge: str
    linked: TranslationBlock | None = field(default=None, repr=False)
    taken: int = 0  # times execution left through it into the monitor
    branch: int | None = None  # cache address of a Jcc rel32 chained along with the slot


@dataclass(eq=False, slots=True)
class TranslationBlock:
    """One translated guest block: where it lives, what guest bytes it came from, its links."""

    key: TBKey
    code_addr: CodeAddr
    size: int
    guest_ranges: tuple[tuple[int, int], ...]  # guest-linear byte ranges it was made from
    guest_pages: tuple[int, ...]  # guest-physical pages those bytes lie on
    insns: tuple[InsnRecord, ...]
    callouts: tuple[CalloutSite, ...]
    exits: list[ExitSlot]
    guest_bytes: bytes
    incoming: set[tuple[TranslationBlock, int]] = field(default_factory=set, repr=False)
    valid: bool = True
    entries: int = 0  # times the monitor started execution at this block
    callout_counts: dict[str, int] = field(default_factory=dict)
    ic_state: dict[int, list[int]] = field(default_factory=dict)  # RET site -> [P1, P2, next]
    assumes: tuple[tuple[str, int], ...] = ()  # virtual state built in (retired on change)
    prologue: int = 0  # bytes of self-check before the first instruction (0: none)

    @property
    def second_page(self) -> int | None:
        """The linear page its last instruction straddles into (under paging such a block
        is that one instruction), None when its code lies on one page."""
        if not self.guest_ranges:
            return None
        last = (self.guest_ranges[-1][1] - 1) & 0xFFFFF000
        return last if last != self.key.linear & 0xFFFFF000 else None

    @property
    def guest_insn_count(self) -> int:
        """How many guest instructions the block holds."""
        return len(self.insns)

    def guest_eip_at(self, code_addr: CodeAddr) -> GuestAddr:
        """The guest EIP of the instruction whose translation covers `code_addr`."""
        offs = [r.offset for r in self.insns]
        i = bisect.bisect_right(offs, code_addr - self.code_addr) - 1
        return GuestAddr(self.insns[max(i, 0)].insn.eip)

    def guest_eip_starting_at(self, offset: int) -> int | None:
        """The guest EIP whose translation starts exactly at `offset`, if one does."""
        offs = [r.offset for r in self.insns]
        i = bisect.bisect_left(offs, offset)
        if i < len(offs) and offs[i] == offset:
            return self.insns[i].insn.eip
        return None

    def insns_before(self, code_addr: CodeAddr) -> int:
        """Guest instructions whose translation starts before `code_addr` in this block."""
        offs = [r.offset for r in self.insns]
        return bisect.bisect_left(offs, code_addr - self.code_addr)

    def __hash__(self) -> int:
        return id(self)
