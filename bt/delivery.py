"""Delivers interrupts and exceptions through the guest's virtual IDT (and out of V86 mode)."""

from __future__ import annotations

import struct

from bt import descriptors as D
from bt.callouts import realmode, taskswitch, v86
from bt.callouts.context import CalloutContext
from bt.exits import Fault, Goto, Unsupported
from bt.paging import PageFault
from bt.vcpu import CR0_PE, IF, NT, RF, TF, VM, SegmentCache

CONTRIBUTORY = frozenset({0, 10, 11, 12, 13})


def deliver(
    ctx: CalloutContext,
    vector: int,
    error_code: int | None,
    return_eip: int,
    software: bool,
    check_dpl: bool,
    fault_eip: int | None = None,
) -> Goto | Fault | Unsupported:
    """Push the interrupt frame and enter the handler; a problem with the IDT gives a Fault.

    `fault_eip` is where such a fault points: the INT instruction itself for a software
    interrupt (which returns after it), else the same address the frame would hold. A page
    fault on the way (the IDT, GDT, TSS or the new stack not mapped) leaves the stack as it
    was and is the Fault returned.
    """
    ss, esp = ctx.vcpu.segs["ss"], ctx.reg("esp")
    from_v86 = ctx.vcpu.v86
    try:
        return _deliver(ctx, vector, error_code, return_eip, software, check_dpl, fault_eip)
    except PageFault as fault:
        if from_v86 and not ctx.vcpu.v86:
            v86.resume(ctx, ss)
        elif ctx.vcpu.segs["ss"] is not ss:
            ctx.load_segment_cache("ss", ss)
        ctx.set_reg("esp", esp)
        ctx.vcpu.cr2 = fault.linear
        return Fault(14, fault.error_code, return_eip if fault_eip is None else fault_eip)


def _deliver(
    ctx: CalloutContext,
    vector: int,
    error_code: int | None,
    return_eip: int,
    software: bool,
    check_dpl: bool,
    fault_eip: int | None,
) -> Goto | Fault | Unsupported:
    vcpu = ctx.vcpu
    at = return_eip if fault_eip is None else fault_eip
    if not vcpu.cr0 & CR0_PE:
        return realmode.deliver(ctx, vector, return_eip, at)
    ext = 0 if software else 1
    idt_base, idt_limit = vcpu.idtr
    gate_err = vector * 8 + 2 + ext
    if vector * 8 + 7 > idt_limit:
        return Fault(13, gate_err, at)
    lo, hi = struct.unpack("<II", ctx.mem.read(idt_base + vector * 8, 8, system=True))
    gtype = (hi >> 8) & 0x1F  # S bit and type
    dpl = (hi >> 13) & 3
    if gtype not in (0x05, 0x06, 0x07, 0x0E, 0x0F):
        return Fault(13, gate_err, at)
    if software and check_dpl and dpl < vcpu.cpl:
        return Fault(13, gate_err, at)
    if not (hi >> 15) & 1:
        return Fault(11, gate_err, at)
    if gtype == 0x05:
        return _task_gate(ctx, vector, lo | hi << 32, error_code, return_eip, at)
    selector = lo >> 16
    gate32 = bool(gtype & 0x08)
    # A 16-bit gate holds a 16-bit offset (Intel SDM; QEMU 7.2 also takes the upper bits).
    offset = (lo & 0xFFFF) | (hi & 0xFFFF0000) if gate32 else lo & 0xFFFF
    if selector & ~3 == 0:
        return Fault(13, ext, at)
    desc = D.fetch_descriptor(ctx, selector)
    if desc is None or not desc.is_code:
        return Fault(13, (selector & ~3) + ext, at)
    if desc.dpl > vcpu.cpl:
        return Fault(13, (selector & ~3) + ext, at)
    if not desc.present:
        return Fault(11, (selector & ~3) + ext, at)
    size = 4 if gate32 else 2
    cs = vcpu.segs["cs"].selector
    eflags = ctx.guest_eflags()
    new_cpl = vcpu.cpl
    from_v86 = vcpu.v86
    if desc.dpl < vcpu.cpl and not desc.conforming:
        # Inner privilege: switch to the stack the guest's TSS names for the new level.
        new_cpl = desc.dpl
        if from_v86:
            v86.leave(ctx)  # the real CPU back in protected mode for the new SS
        switched = _switch_stack(ctx, new_cpl, ext, at)
        if not isinstance(switched, tuple):
            if from_v86:
                v86.resume(ctx, vcpu.segs["ss"])
            return switched
        old_ss, old_esp = switched
        if from_v86:  # the V86 task's data segments, then null ones for the handler
            for name in ("gs", "fs", "ds", "es"):
                ctx.push(vcpu.segs[name].selector, size, True)
        ctx.push(old_ss, size, new_cpl < 3)
        ctx.push(old_esp, size, new_cpl < 3)
    elif from_v86:
        return Fault(13, (selector & ~3) + ext, at)  # V86 mode leaves only to CPL 0
    # The frame is written with the handler's privilege (supervisor for an inner level).
    ctx.push(eflags, size, new_cpl < 3)
    ctx.push(cs, size, new_cpl < 3)
    ctx.push(return_eip, size, new_cpl < 3)
    if error_code is not None:
        ctx.push(error_code, size, new_cpl < 3)
    vcpu.eflags_sys &= ~(TF | NT | RF | VM)
    if not gtype & 0x01:  # interrupt gate
        vcpu.eflags_sys &= ~IF
    if from_v86:
        for name in ("es", "ds", "fs", "gs"):
            ctx.load_segment_cache(name, SegmentCache(0, 0, 0, 0))
    # As on far transfers, QEMU leaves the code descriptor's accessed bit alone.
    ctx.load_segment_cache(
        "cs", SegmentCache((selector & ~3) | new_cpl, desc.base, desc.limit, desc.attr)
    )
    return Goto(offset)


def _task_gate(
    ctx: CalloutContext, vector: int, raw: int, error_code: int | None, return_eip: int, at: int
) -> Goto | Fault | Unsupported:
    """A task gate in the IDT: switch tasks as a CALL would (NT, back link), then push the
    error code on the new task's stack, a word for a 286 TSS (QEMU do_interrupt_protected)."""
    gate = D.decode(raw.to_bytes(8, "little"))
    done = taskswitch.switch(ctx, vector * 8, gate, taskswitch.Source.CALL, return_eip, at)
    if isinstance(done, Goto) and error_code is not None:
        ctx.push(error_code, 4 if (ctx.vcpu.tr.flags >> 8) & 8 else 2, True)
    return done


def _switch_stack(
    ctx: CalloutContext, cpl: int, ext: int, eip: int
) -> tuple[int, int] | Fault | Unsupported:
    """Load SS:ESP for privilege level `cpl` from the guest's TSS (386 or 286 layout);
    returns the old ones."""
    vcpu = ctx.vcpu
    tr = vcpu.tr
    tss_type = (tr.flags >> 8) & 0xF
    if tss_type not in (0x1, 0x3, 0x9, 0xB):
        return Unsupported("interrupt to an inner privilege level without a TSS", eip)
    big = tss_type & 8 != 0
    size = 4 if big else 2
    slot = (2 + 4 * cpl) << big  # ESPn (SPn) then SSn
    if slot + 2 * size - 1 > tr.limit:
        return Fault(10, (tr.selector & ~3) + ext, eip)
    new_esp = ctx.mem.read_u(tr.base + slot, size, system=True)
    new_ss = ctx.mem.read_u(tr.base + slot + size, 2, system=True)
    err = (new_ss & ~3) + ext
    if new_ss & ~3 == 0 or new_ss & 3 != cpl:
        return Fault(10, err, eip)
    sdesc = D.fetch_descriptor(ctx, new_ss)
    if sdesc is None or not sdesc.writable or sdesc.dpl != cpl:
        return Fault(10, err, eip)
    if not sdesc.present:
        return Fault(12, err, eip)
    old_ss = vcpu.segs["ss"].selector
    old_esp = ctx.reg("esp")
    ctx.load_segment_cache("ss", SegmentCache(new_ss, sdesc.base, sdesc.limit, sdesc.attr))
    ctx.set_reg("esp", new_esp)
    return old_ss, old_esp


def merge(first: int, second: int) -> int | None:
    """The vector to deliver when `second` faults while delivering `first`; None: triple fault."""
    if first == 8:
        return None
    if first in CONTRIBUTORY and second in CONTRIBUTORY:
        return 8
    if first == 14 and (second == 14 or second in CONTRIBUTORY):
        return 8
    return second
