"""Vcpu: the guest-visible privileged state, kept virtual (the real CPU is the monitor's)."""

from __future__ import annotations

from dataclasses import dataclass, field

# EFLAGS bits the real CPU computes for the guest: they live in Unicorn's EFLAGS.
ARITH_FLAGS = 0x0CD5  # CF PF AF ZF SF DF OF
# Bits of EFLAGS the guest sees from the virtual CPU (the real ones belong to the monitor).
TF, IF, IOPL, NT, RF, VM, AC, VIF, VIP, ID = (
    1 << 8, 1 << 9, 3 << 12, 1 << 14, 1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 20, 1 << 21,
)
SYSTEM_FLAGS = TF | IF | IOPL | NT | RF | VM | AC | VIF | VIP | ID
FIXED_ONE = 0x2
# The real EFLAGS besides the arithmetic bits: IOPL 3, so that CLI and STI run unchanged at the
# real CPL 3, and IF, which is the guest's virtual IF while translated code runs (the monitor
# copies it to `Vcpu.eflags_sys` whenever it enters, and back before it returns).
REAL_IOPL = IOPL

CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE = 1, 2, 4, 8, 0x10, 0x20
CR0_WP, CR0_AM, CR0_NW, CR0_CD, CR0_PG = 1 << 16, 1 << 18, 1 << 29, 1 << 30, 1 << 31

SEG_NAMES = ("es", "cs", "ss", "ds", "fs", "gs")


@dataclass(slots=True)
class SegmentCache:
    """A segment register as the guest sees it: selector and its hidden descriptor cache."""

    selector: int
    base: int
    limit: int
    flags: int  # descriptor dword 2 masked with 0x00F0FF00, as QEMU logs it

    @property
    def dpl(self) -> int:
        """Descriptor privilege level."""
        return (self.flags >> 13) & 3

    @property
    def big(self) -> bool:
        """D/B bit: 32-bit code segment or 32-bit stack."""
        return bool(self.flags & (1 << 22))


@dataclass(slots=True)
class Vcpu:
    """Virtual privileged state; general registers and arithmetic flags stay in the real CPU."""

    segs: dict[str, SegmentCache]
    eflags_sys: int  # the guest's system flags (IF, IOPL, ...); arithmetic bits are ignored
    cr0: int
    cr2: int = 0
    cr3: int = 0
    cr4: int = 0
    gdtr: tuple[int, int] = (0, 0xFFFF)
    idtr: tuple[int, int] = (0, 0xFFFF)
    ldtr: SegmentCache = field(default_factory=lambda: SegmentCache(0, 0, 0xFFFF, 0x8200))
    tr: SegmentCache = field(default_factory=lambda: SegmentCache(0, 0, 0xFFFF, 0x8B00))
    dr: list[int] = field(
        default_factory=lambda: [0, 0, 0, 0, 0xFFFF0FF0, 0x400, 0xFFFF0FF0, 0x400]
    )
    msrs: dict[int, int] = field(default_factory=dict)
    halted: bool = False
    # STI, MOV SS and POP SS hold interrupts off until the next instruction has run: the
    # guest address of that instruction while the shadow lasts.
    shadow_eip: int | None = None

    @property
    def cpl(self) -> int:
        """Current privilege level: the RPL of CS in protected mode."""
        if not self.cr0 & CR0_PE:
            return 0
        return self.segs["cs"].selector & 3

    @property
    def interrupts_enabled(self) -> bool:
        """The guest's virtual IF."""
        return bool(self.eflags_sys & IF)

    @property
    def iopl(self) -> int:
        """The guest's virtual IOPL."""
        return (self.eflags_sys >> 12) & 3

    def eflags(self, real: int) -> int:
        """EFLAGS as the guest sees it, given the real CPU's EFLAGS."""
        return (real & ARITH_FLAGS) | (self.eflags_sys & SYSTEM_FLAGS) | FIXED_ONE

    def code32(self) -> bool:
        """Whether the guest runs 32-bit code."""
        return self.segs["cs"].big
