"""Hardware task switches: JMP/CALL to a TSS or task gate, IRET with NT, task-gate deliveries.

The reference is QEMU 7.2's switch_tss_ra and tss_load_seg (target/i386/tcg/seg_helper.c),
which follow the Intel SDM (vol. 3, 7.3) in the order of their checks: the new TSS is checked
and read, the old task's state saved, then the new state loaded; a fault in the new task's
segment loads is raised in the new task's context (its EIP; QEMU 7.2 saves a wrong one). As
QEMU, the I/O map base is not checked and the accessed bits of the segments loaded are not set.
The T bit of a 386 TSS raises #DB (DR6.BT) before the new task's first instruction, as the SDM
(7.2.1) and Bochs do; QEMU 7.2 ignores it. DR7's local enables stay (QEMU clears them; the
breakpoints the engine armed would have to follow). A 386 TSS whose EFLAGS has VM set starts
a virtual-8086 task: its segments are loaded as V86 mode loads them and the real CPU goes
into real mode (bt/callouts/v86.py); a switch out of one puts it back in protected mode first.
"""

from __future__ import annotations

import struct
from enum import Enum

from bt import descriptors as D
from bt.callouts import v86
from bt.callouts.context import CalloutContext
from bt.callouts.fpustate import sync_control
from bt.exits import Fault, Goto, Unsupported
from bt.paging import BadPdpte
from bt.vcpu import AC, CR0_PG, CR0_TS, ID, IF, IOPL, NT, RF, TF, VM, SegmentCache

BUSY = 0x200  # the B bit of a TSS descriptor's dword 2
# Segment registers in the TSS's order (ES CS SS DS FS GS), and the order the new task's are
# checked (CS and SS first, as QEMU).
TSS_SEGS = ("es", "cs", "ss", "ds", "fs", "gs")
LOAD_ORDER = ("cs", "ss", "es", "ds", "fs", "gs")
GPRS = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")
_EFLAGS_LOADED = TF | AC | ID | IF | IOPL | VM | RF | NT
_TS = 10
DR6_BT = 0x8000  # DR6: the #DB came from a task switch (the new TSS's T bit)


class Source(Enum):
    """What started the switch: it decides the busy bits, NT and the back link."""

    JMP = "jmp"
    CALL = "call"  # CALL, and interrupts and exceptions through a task gate
    IRET = "iret"


def _fault(vector: int, sel: int, at: int) -> Fault:
    return Fault(vector, sel & 0xFFFC, at)


def switch(
    ctx: CalloutContext,
    sel: int,
    desc: D.Descriptor,
    source: Source,
    next_eip: int,
    at: int,
    gate_err: int | None = None,
) -> Goto | Fault | Unsupported:
    """Switch to the task `desc` names (a TSS, or a task gate naming one). `next_eip` is saved
    as the old task's EIP; a fault before the switch points at `at`; `gate_err` is the error
    code of a task gate not present (an IDT entry's, else the selector)."""
    if desc.type == D.TASK_GATE:
        if not desc.present:
            return Fault(11, (sel & 0xFFFC) if gate_err is None else gate_err, at)
        sel = (desc.raw >> 16) & 0xFFFF
        if sel & 4:
            return _fault(_TS, sel, at)
        found = D.fetch_descriptor(ctx, sel)
        if found is None or found.s or found.type & 7 != 1:
            return _fault(13, sel, at)
        desc = found
    if not desc.present:
        return _fault(11, sel, at)
    big = bool(desc.type & 8)
    if sel & 4 or desc.limit < (103 if big else 43):
        return _fault(_TS, sel, at)
    new = _read_tss(ctx, desc.base, big)
    new_eflags = new[2]
    _save_old(ctx, source, next_eip)
    if source is Source.CALL:
        ctx.mem.write_u(desc.base, 2, ctx.vcpu.tr.selector, True)
        new_eflags |= NT
    if source is not Source.IRET:
        _set_busy(ctx, sel, True)
    return _enter(ctx, sel, desc, new, new_eflags, big)


def _read_tss(ctx: CalloutContext, base: int, big: bool) -> tuple[int, ...]:
    """(CR3, EIP, EFLAGS, 8 GPRs, 6 selectors, LDT, T) of a 32-bit or 286 TSS."""
    raw = ctx.mem.read(base, 104 if big else 44, system=True)
    if big:
        cr3, eip, eflags = struct.unpack_from("<III", raw, 0x1C)
        regs = struct.unpack_from("<8I", raw, 0x28)
        segs = struct.unpack_from("<6I", raw, 0x48)
        (ldt,), (trap,) = struct.unpack_from("<H", raw, 0x60), struct.unpack_from("<H", raw, 0x64)
        return (cr3, eip, eflags, *regs, *(s & 0xFFFF for s in segs), ldt, trap & 1)
    eip, flags = struct.unpack_from("<HH", raw, 0x0E)
    regs16 = struct.unpack_from("<8H", raw, 0x12)
    es, cs, ss, ds, ldt = struct.unpack_from("<5H", raw, 0x22)
    return (0, eip, flags, *regs16, es, cs, ss, ds, 0, 0, ldt, 0)


def _set_busy(ctx: CalloutContext, sel: int, busy: bool) -> None:
    addr = (ctx.gdt_base + (sel & ~7) + 4) & 0xFFFFFFFF
    hi = ctx.mem.read_u(addr, 4, True)
    ctx.mem.write_u(addr, 4, hi | BUSY if busy else hi & ~BUSY, True)


def _save_old(ctx: CalloutContext, source: Source, next_eip: int) -> None:
    """Clear the old TSS's busy bit (JMP, IRET) and store the old task's state in it."""
    vcpu = ctx.vcpu
    if source is not Source.CALL:
        _set_busy(ctx, vcpu.tr.selector, False)
    eflags = ctx.guest_eflags()
    if source is Source.IRET:
        eflags &= ~NT
    base = vcpu.tr.base
    regs = [ctx.reg(r) for r in GPRS]
    sels = [vcpu.segs[s].selector for s in TSS_SEGS]
    if (vcpu.tr.flags >> 8) & 8:
        blob = struct.pack("<II8I", next_eip, eflags, *regs)
        ctx.mem.write(base + 0x20, blob, True)
        for i, s in enumerate(sels):
            ctx.mem.write_u(base + 0x48 + 4 * i, 2, s, True)
    else:
        blob = struct.pack("<HH8H4H", next_eip & 0xFFFF, eflags & 0xFFFF,
                           *(r & 0xFFFF for r in regs), *sels[:4])  # fmt: skip
        ctx.mem.write(base + 0x0E, blob, True)


def _enter(
    ctx: CalloutContext,
    sel: int,
    desc: D.Descriptor,
    new: tuple[int, ...],
    eflags: int,
    big: bool,
) -> Goto | Fault | Unsupported:
    """Load the new task: TR, CR0.TS, CR3, EFLAGS, registers, LDTR, then the segments."""
    vcpu = ctx.vcpu
    cr3, eip = new[0], new[1]
    regs, segs, ldt = new[3:11], dict(zip(TSS_SEGS, new[11:17], strict=True)), new[17]
    vcpu.cr0 |= CR0_TS
    sync_control(ctx.engine, vcpu)
    vcpu.tr = SegmentCache(sel, desc.base, desc.limit, desc.attr & ~BUSY)
    if big and vcpu.cr0 & CR0_PG and cr3 != vcpu.cr3:
        vcpu.cr3 = cr3
        mmu = ctx.mem.mmu
        if mmu is not None:
            try:
                mmu.set_mode()
            except BadPdpte:
                return Fault(13, 0, eip)
    mask = _EFLAGS_LOADED if big else _EFLAGS_LOADED & 0xFFFF
    vcpu.eflags_sys = (vcpu.eflags_sys & ~mask) | (eflags & mask)
    ctx.set_arith_flags(eflags if big else (ctx.guest_eflags() & ~0xFFFF) | eflags)
    for name, value in zip(GPRS, regs, strict=True):
        ctx.set_reg(name if big else name[1:], value)
    segments = ctx.engine.segments
    if vcpu.eflags_sys & VM:
        return _enter_v86(ctx, segs, ldt, eip, bool(new[18]))
    if segments.real:  # out of a V86 task: the real CPU back in protected mode first
        segments.set_real(False, vcpu.segs)
    # The selectors first, with empty caches: a fault below leaves the rest so (QEMU).
    for name in TSS_SEGS:
        ctx.load_segment_cache(name, SegmentCache(segs[name], 0, 0, 0))
    vcpu.ldtr = SegmentCache(ldt & ~4, 0, 0, 0)
    fault = _load_ldt(ctx, ldt, eip)
    if fault is not None:
        return fault
    cpl = segs["cs"] & 3
    for name in LOAD_ORDER:
        fault = _load_seg(ctx, name, segs[name], cpl, eip)
        if fault is not None:
            return fault
    if eip > vcpu.segs["cs"].limit:
        return Fault(13, 0, eip)
    if new[18]:
        vcpu.dr[6] |= DR6_BT
        return Fault(1, None, eip)  # a trap: the handler returns to the first instruction
    return Goto(eip)


def _enter_v86(
    ctx: CalloutContext, segs: dict[str, int], ldt: int, eip: int, trap: bool
) -> Goto | Fault:
    """A 386 TSS with VM set: every segment loaded V86-style (QEMU's load_seg_vm), the LDTR
    as for any task, the real CPU in real mode as for the guest's other V86 code."""
    vcpu = ctx.vcpu
    for name in TSS_SEGS:
        ctx.load_segment_cache(name, v86.segment(segs[name]))
    vcpu.ldtr = SegmentCache(ldt & ~4, 0, 0, 0)
    fault = _load_ldt(ctx, ldt, eip)
    ctx.engine.segments.set_real(True, vcpu.segs)
    if fault is not None:
        return fault
    if eip > 0xFFFF:
        return Fault(13, 0, eip)
    if trap:
        vcpu.dr[6] |= DR6_BT
        return Fault(1, None, eip)
    return Goto(eip)


def _load_ldt(ctx: CalloutContext, ldt: int, at: int) -> Fault | None:
    if ldt & 4:
        return _fault(_TS, ldt, at)
    if ldt & 0xFFFC == 0:
        return None
    desc = D.fetch_descriptor(ctx, ldt & ~4)
    if desc is None or desc.s or desc.type != D.LDT or not desc.present:
        return _fault(_TS, ldt, at)
    ctx.vcpu.ldtr = SegmentCache(ldt, desc.base, desc.limit, desc.attr)
    return None


def _load_seg(ctx: CalloutContext, name: str, sel: int, cpl: int, at: int) -> Fault | None:
    """One segment register of the new task, its faults #TS (#NP when not present)."""
    if sel & 0xFFFC == 0:
        return _fault(_TS, sel, at) if name in ("cs", "ss") else None
    desc = D.fetch_descriptor(ctx, sel)
    if desc is None or not desc.s:
        return _fault(_TS, sel, at)
    rpl = sel & 3
    if name == "cs":
        bad = not desc.is_code or desc.dpl != rpl
    elif name == "ss":
        bad = not desc.writable or desc.dpl != cpl or desc.dpl != rpl
    else:
        bad = not desc.readable or (not desc.conforming and (desc.dpl < cpl or desc.dpl < rpl))
    if bad:
        return _fault(_TS, sel, at)
    if not desc.present:
        return _fault(11, sel, at)
    ctx.load_segment_cache(name, SegmentCache(sel, desc.base, desc.limit, desc.attr))
    return None
