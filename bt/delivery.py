"""Delivers interrupts and exceptions through the guest's virtual IDT (same privilege level)."""

from __future__ import annotations

import struct

from bt import descriptors as D
from bt.callouts.context import CalloutContext
from bt.exits import Fault, Goto, Unsupported
from bt.vcpu import IF, NT, RF, TF, VM, SegmentCache

CONTRIBUTORY = frozenset({0, 10, 11, 12, 13})


def deliver(
    ctx: CalloutContext,
    vector: int,
    error_code: int | None,
    return_eip: int,
    software: bool,
    check_dpl: bool,
) -> Goto | Fault | Unsupported:
    """Push the interrupt frame and enter the handler; a problem with the IDT gives a Fault."""
    vcpu = ctx.vcpu
    ext = 0 if software else 1
    idt_base, idt_limit = vcpu.idtr
    gate_err = vector * 8 + 2 + ext
    if vector * 8 + 7 > idt_limit:
        return Fault(13, gate_err, return_eip)
    lo, hi = struct.unpack("<II", ctx.mem.read(idt_base + vector * 8, 8))
    gtype = (hi >> 8) & 0x1F  # S bit and type
    dpl = (hi >> 13) & 3
    if gtype not in (0x05, 0x06, 0x07, 0x0E, 0x0F):
        return Fault(13, gate_err, return_eip)
    if software and check_dpl and dpl < vcpu.cpl:
        return Fault(13, gate_err, return_eip)
    if not (hi >> 15) & 1:
        return Fault(11, gate_err, return_eip)
    if gtype == 0x05:
        return Unsupported(f"task gate for vector {vector}", return_eip)
    selector = lo >> 16
    gate32 = bool(gtype & 0x08)
    # A 16-bit gate holds a 16-bit offset (Intel SDM; QEMU 7.2 also takes the upper bits).
    offset = (lo & 0xFFFF) | (hi & 0xFFFF0000) if gate32 else lo & 0xFFFF
    if selector & ~3 == 0:
        return Fault(13, ext, return_eip)
    desc = D.fetch_descriptor(ctx, selector)
    if desc is None or not desc.is_code:
        return Fault(13, (selector & ~3) + ext, return_eip)
    if desc.dpl > vcpu.cpl:
        return Fault(13, (selector & ~3) + ext, return_eip)
    if not desc.present:
        return Fault(11, (selector & ~3) + ext, return_eip)
    if desc.dpl < vcpu.cpl and not desc.conforming:
        return Unsupported(f"vector {vector} to an inner privilege level", return_eip)
    size = 4 if gate32 else 2
    cs = vcpu.segs["cs"].selector
    ctx.push(ctx.guest_eflags(), size)
    ctx.push(cs, size)
    ctx.push(return_eip, size)
    if error_code is not None:
        ctx.push(error_code, size)
    vcpu.eflags_sys &= ~(TF | NT | RF | VM)
    if not gtype & 0x01:  # interrupt gate
        vcpu.eflags_sys &= ~IF
    # As on far transfers, QEMU leaves the code descriptor's accessed bit alone.
    vcpu.segs["cs"] = SegmentCache((selector & ~3) | vcpu.cpl, desc.base, desc.limit, desc.attr)
    return Goto(offset)


def merge(first: int, second: int) -> int | None:
    """The vector to deliver when `second` faults while delivering `first`; None: triple fault."""
    if first == 8:
        return None
    if first in CONTRIBUTORY and second in CONTRIBUTORY:
        return 8
    if first == 14 and (second == 14 or second in CONTRIBUTORY):
        return 8
    return second
