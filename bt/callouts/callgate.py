"""Far CALL and JMP through a system descriptor: call gates (286 and 386), task gates and TSSs.

The reference is QEMU 7.2's helper_lcall_protected and helper_ljmp_protected (seg_helper.c),
the Intel SDM (vol. 3, 5.8) where they agree. Where QEMU differs and we follow it: a JMP
through a gate to a code segment not present gives #GP (the SDM: #NP), an inner stack not
present gives #TS (the SDM: #SS), and the gate's offset is not checked against the new limit.
"""

from __future__ import annotations

from bt import descriptors as D
from bt.callouts import taskswitch
from bt.callouts.context import CalloutContext
from bt.exits import Fault, Goto, VcpuExit
from bt.paging import PageFault
from bt.translator.insn import GuestInsn
from bt.vcpu import SegmentCache

_TASK_TYPES = (D.TSS16_AVAIL, D.TSS32_AVAIL, D.TASK_GATE)
_GATE_TYPES = (D.CALL_GATE16, D.CALL_GATE32)


def _gp(sel: int, insn: GuestInsn) -> Fault:
    return Fault(13, sel & 0xFFFC, insn.eip)


def far_system(
    ctx: CalloutContext, insn: GuestInsn, sel: int, desc: D.Descriptor, call: bool
) -> VcpuExit:
    """A far CALL (`call`) or JMP whose selector names a system descriptor."""
    cpl = ctx.vcpu.cpl
    if desc.type not in _TASK_TYPES + _GATE_TYPES or desc.dpl < cpl or desc.dpl < sel & 3:
        return _gp(sel, insn)
    if desc.type in _TASK_TYPES:
        source = taskswitch.Source.CALL if call else taskswitch.Source.JMP
        return taskswitch.switch(ctx, sel, desc, source, insn.next_eip, insn.eip)
    if not desc.present:
        return Fault(11, sel & 0xFFFC, insn.eip)
    gate_cs = (desc.raw >> 16) & 0xFFFF
    big = desc.type == D.CALL_GATE32
    hi = desc.raw >> 32
    offset = (desc.raw & 0xFFFF) | (hi & 0xFFFF0000 if big or call else 0)
    if gate_cs & 0xFFFC == 0 and call:
        return Fault(13, 0, insn.eip)
    code = D.fetch_descriptor(ctx, gate_cs)
    if code is None or not code.is_code:
        return _gp(gate_cs, insn)
    if call:
        return _call(ctx, insn, gate_cs, code, offset, big, hi & 0x1F)
    if code.dpl > cpl if code.conforming else code.dpl != cpl:
        return _gp(gate_cs, insn)
    if not code.present:
        return _gp(gate_cs, insn)
    if offset > code.limit:
        return Fault(13, 0, insn.eip)
    ctx.load_segment_cache(
        "cs", SegmentCache((gate_cs & 0xFFFC) | cpl, code.base, code.limit, code.attr)
    )
    return Goto(offset)


def _call(
    ctx: CalloutContext,
    insn: GuestInsn,
    gate_cs: int,
    code: D.Descriptor,
    offset: int,
    big: bool,
    params: int,
) -> VcpuExit:
    """CALL through a call gate: to an inner level on the stack the TSS names (with `params`
    words or dwords copied from the caller's stack), else on the same stack."""
    vcpu = ctx.vcpu
    cpl = vcpu.cpl
    if code.dpl > cpl:
        return _gp(gate_cs, insn)
    if not code.present:
        return Fault(11, gate_cs & 0xFFFC, insn.eip)
    size = 4 if big else 2
    old_ss, old_esp = vcpu.segs["ss"], ctx.reg("esp")
    old_cs = vcpu.segs["cs"].selector
    new_cpl = cpl
    frame: list[int] = []
    if not code.conforming and code.dpl < cpl:
        new_cpl = code.dpl
        stack = inner_stack(ctx, new_cpl, insn.eip)
        if isinstance(stack, Fault):
            return stack
        ss_sel, esp, sdesc = stack
        copied = [ctx.peek(size, i * size) for i in range(params)]
        frame = [old_ss.selector, old_esp, *reversed(copied)]
        ctx.load_segment_cache("ss", SegmentCache(ss_sel, sdesc.base, sdesc.limit, sdesc.attr))
        ctx.set_reg("esp", esp)
    try:
        for value in (*frame, old_cs, insn.next_eip):
            ctx.push(value & (0xFFFFFFFF if big else 0xFFFF), size, new_cpl < 3)
    except PageFault:
        if vcpu.segs["ss"] is not old_ss:
            ctx.load_segment_cache("ss", old_ss)
        ctx.set_reg("esp", old_esp)
        raise
    ctx.load_segment_cache(
        "cs", SegmentCache((gate_cs & 0xFFFC) | new_cpl, code.base, code.limit, code.attr)
    )
    return Goto(offset)


def inner_stack(ctx: CalloutContext, dpl: int, at: int) -> tuple[int, int, D.Descriptor] | Fault:
    """SSn:ESPn for level `dpl` from the current TSS (286 or 386 layout), checked as QEMU's
    lcall: every problem, not-present included, is #TS(SS)."""
    tr = ctx.vcpu.tr
    big = bool((tr.flags >> 8) & 8)
    index = (dpl * 4 + 2) << big
    if index + (4 << big) - 1 > tr.limit:
        return Fault(10, tr.selector & 0xFFFC, at)
    if big:
        esp = ctx.mem.read_u(tr.base + index, 4, True)
        ss = ctx.mem.read_u(tr.base + index + 4, 2, True)
    else:
        esp = ctx.mem.read_u(tr.base + index, 2, True)
        ss = ctx.mem.read_u(tr.base + index + 2, 2, True)
    ts = Fault(10, ss & 0xFFFC, at)
    if ss & 0xFFFC == 0 or ss & 3 != dpl:
        return ts
    sdesc = D.fetch_descriptor(ctx, ss)
    if sdesc is None or sdesc.dpl != dpl or not sdesc.writable or not sdesc.present:
        return ts
    return ss, esp, sdesc
