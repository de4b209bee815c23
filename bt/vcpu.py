"""Vcpu: the guest-visible privileged state, kept virtual (the real CPU is the monitor's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bt.bootimage import BootImage
from bt.staterecord import check_record, require, require_range

# EFLAGS bits the real CPU computes for the guest: they live in Unicorn's EFLAGS.
ARITH_FLAGS = 0x0CD5  # CF PF AF ZF SF DF OF
# Bits of EFLAGS the guest sees from the virtual CPU (the real ones belong to the monitor).
TF, IF, IOPL, NT, RF, VM, AC, VIF, VIP, ID = (
    1 << 8,
    1 << 9,
    3 << 12,
    1 << 14,
    1 << 16,
    1 << 17,
    1 << 18,
    1 << 19,
    1 << 20,
    1 << 21,
)
SYSTEM_FLAGS = TF | IF | IOPL | NT | RF | VM | AC | VIF | VIP | ID
FIXED_ONE = 0x2
# The real EFLAGS besides the arithmetic bits: IF, which is the guest's virtual IF while
# translated code runs (CLI and STI run unchanged at the real CPL 0; the monitor copies IF to
# `Vcpu.eflags_sys` whenever it enters, and back before it returns). The real IOPL means
# nothing at CPL 0 (PUSHF's translation shows the virtual one); the real AC is always clear.

CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE = 1, 2, 4, 8, 0x10, 0x20
CR0_WP, CR0_AM, CR0_NW, CR0_CD, CR0_PG = 1 << 16, 1 << 18, 1 << 29, 1 << 30, 1 << 31

SEG_NAMES = ("es", "cs", "ss", "ds", "fs", "gs")
DR_COUNT = 8
U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class SegmentState:
    """A segment register's selector and hidden descriptor cache, as a state record."""

    selector: int
    base: int
    limit: int
    flags: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class VcpuState:
    """Every piece of virtual privileged state (general registers and arithmetic flags are the
    real CPU's, saved with the Unicorn context)."""

    segs: tuple[SegmentState, ...]  # in SEG_NAMES order
    eflags_sys: int
    cr0: int
    cr2: int
    cr3: int
    cr4: int
    gdtr: tuple[int, int]  # (base, limit)
    idtr: tuple[int, int]
    ldtr: SegmentState
    tr: SegmentState
    dr: tuple[int, ...]  # DR0-DR7
    msrs: tuple[tuple[int, int], ...]  # (index, value) the guest wrote, by index
    halted: bool
    shadow_eip: int | None
    version: int = 1


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
        """Current privilege level: the RPL of CS in protected mode, 3 in virtual-8086 mode."""
        if not self.cr0 & CR0_PE:
            return 0
        if self.eflags_sys & VM:
            return 3
        return self.segs["cs"].selector & 3

    @property
    def real_mode(self) -> bool:
        """Real mode: CR0.PE clear."""
        return not self.cr0 & CR0_PE

    @property
    def v86(self) -> bool:
        """Virtual-8086 mode: CR0.PE and EFLAGS.VM set."""
        return bool(self.cr0 & CR0_PE) and bool(self.eflags_sys & VM)

    @property
    def real_segments(self) -> bool:
        """Segment loads give base = selector * 16 (real and virtual-8086 mode)."""
        return not self.cr0 & CR0_PE or bool(self.eflags_sys & VM)

    def native_load(self, name: str, selector: int) -> None:
        """The guest loaded data segment register `name` in real mode: base = selector * 16,
        the rest of the cache as it was."""
        old = self.segs[name]
        self.segs[name] = SegmentCache(selector, selector << 4, old.limit, old.flags)

    def null(self, selector: int) -> bool:
        """Whether `selector` is a null selector: only in protected mode (in real and V86
        mode selector 0 is the segment at base 0)."""
        return bool(self.cr0 & CR0_PE) and not self.eflags_sys & VM and selector & ~3 == 0

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

    # -- state ----------------------------------------------------------------------------------
    def save(self) -> VcpuState:
        """The virtual CPU's state record."""
        return VcpuState(
            segs=tuple(_seg_state(self.segs[n]) for n in SEG_NAMES),
            eflags_sys=self.eflags_sys,
            cr0=self.cr0,
            cr2=self.cr2,
            cr3=self.cr3,
            cr4=self.cr4,
            gdtr=self.gdtr,
            idtr=self.idtr,
            ldtr=_seg_state(self.ldtr),
            tr=_seg_state(self.tr),
            dr=tuple(self.dr),
            msrs=tuple(sorted(self.msrs.items())),
            halted=self.halted,
            shadow_eip=self.shadow_eip,
        )

    def restore(self, state: VcpuState) -> None:
        """Take the state `save` returned, in place (the run loop and callouts share this
        object). The real CPU's mirror of the segments is the Unicorn context's business."""
        state = check_record(state, VcpuState, "vcpu")
        require(len(state.segs) == len(SEG_NAMES), "vcpu", f"{len(state.segs)} segments")
        for name, seg in zip(
            (*SEG_NAMES, "ldtr", "tr"), (*state.segs, state.ldtr, state.tr), strict=True
        ):
            require_range(f"vcpu {name}", seg, "selector", 0, 0xFFFF)
            require_range(f"vcpu {name}", seg, "base limit flags", 0, U32)
        require(len(state.dr) == DR_COUNT, "vcpu", f"{len(state.dr)} debug registers")
        for i, value in enumerate(state.dr):
            require(0 <= value <= U32, "vcpu", f"dr{i} = {value:#x}")
        require_range("vcpu", state, "eflags_sys cr0 cr2 cr3 cr4", 0, U32)
        for name, (base, limit) in (("gdtr", state.gdtr), ("idtr", state.idtr)):
            require(
                0 <= base <= U32 and 0 <= limit <= 0xFFFF,
                "vcpu",
                f"{name} = ({base:#x}, {limit:#x})",
            )
        indexes = [index for index, _ in state.msrs]
        require(indexes == sorted(set(indexes)), "vcpu", "MSRs not unique and by index")
        for index, value in state.msrs:
            require(0 <= index <= U32 and 0 <= value < 1 << 64, "vcpu", f"MSR {index:#x}")
        require(state.shadow_eip is None or 0 <= state.shadow_eip <= U32, "vcpu", "shadow EIP")
        for name, seg in zip(SEG_NAMES, state.segs, strict=True):
            self.segs[name] = _seg_cache(seg)
        self.eflags_sys = state.eflags_sys
        self.cr0, self.cr2, self.cr3, self.cr4 = state.cr0, state.cr2, state.cr3, state.cr4
        self.gdtr, self.idtr = state.gdtr, state.idtr
        self.ldtr, self.tr = _seg_cache(state.ldtr), _seg_cache(state.tr)
        self.dr[:] = state.dr
        self.msrs.clear()
        self.msrs.update(state.msrs)
        self.halted, self.shadow_eip = state.halted, state.shadow_eip


def _seg_state(seg: SegmentCache) -> SegmentState:
    return SegmentState(seg.selector, seg.base, seg.limit, seg.flags)


def _seg_cache(seg: SegmentState) -> SegmentCache:
    return SegmentCache(seg.selector, seg.base, seg.limit, seg.flags)


def boot_vcpu(image: BootImage) -> Vcpu:
    """The vCPU at a boot image's entry: its segments, system flags, CR0 and tables."""
    segs = {
        n: SegmentCache(s.selector, s.base, s.limit, s.flags)
        for n, s in zip(SEG_NAMES, image.segments, strict=True)
    }
    return Vcpu(
        segs=segs,
        eflags_sys=image.eflags & SYSTEM_FLAGS,
        cr0=image.cr0,
        gdtr=image.gdtr,
        idtr=image.idtr,
        ldtr=SegmentCache(image.ldtr.selector, image.ldtr.base, image.ldtr.limit, image.ldtr.flags),
        tr=SegmentCache(image.tr.selector, image.tr.base, image.tr.limit, image.tr.flags),
    )
