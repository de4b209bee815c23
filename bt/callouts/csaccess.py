"""Data accesses through CS the translated code cannot check itself: CS limit and type, writes."""

from __future__ import annotations

from bt.callouts.context import CalloutContext
from bt.exits import Fault, VcpuExit
from translator.insn import GuestInsn, ImmOp, MemOp, RegOp

_READ = 0x200  # type bit R of a code segment in SegmentCache.flags (descriptor dword 2)
_DF = 0x400


def gp0(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """A write through CS in protected mode, or an instruction over 15 bytes: #GP(0)."""
    return Fault(13, 0, insn.eip)


def cs_check(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """Before a read through a CS that is not 4 GiB and readable: #GP(0) when CS is
    execute-only or the bytes read pass its limit (Intel SDM vol. 3 5.3, 5.4; QEMU 7.2 checks
    neither on data accesses). The read itself runs in translated code after this returns;
    `insn` describes it (translator/csaccess.py, `check_insn`).

    A REP LODS/MOVS is checked over all ECX elements, a REPE/REPNE CMPS on its first one: a
    repetition that crosses the limit faults before its first element rather than at the one
    that crosses it (its registers then show no progress)."""
    op = insn.operands[0]
    if not isinstance(op, MemOp):
        return None
    count = 1
    if len(insn.operands) >= 3 and isinstance(insn.operands[1], RegOp):
        every = insn.operands[2]
        count = ctx.reg(insn.operands[1].name)
        if count == 0:
            return None  # no element is read
        if isinstance(every, ImmOp) and not every.value:
            count = 1
    cs = ctx.seg("cs")
    if not cs.flags & _READ:
        return Fault(13, 0, insn.eip)
    size = max(op.size, 1)
    first = ctx.ea(op)
    lo = first - size * (count - 1) if ctx.guest_eflags() & _DF else first
    if lo < 0 or lo + size * count - 1 > cs.limit:
        return Fault(13, 0, insn.eip)
    return None


def cs_patch(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """Before a read through CS with 16-bit addressing by registers: the checks of `cs_check`,
    then the linear address goes into the disp32 of the copy that follows this callout (its
    offset is the record's last operand)."""
    fault = cs_check(ctx, insn)
    op, field = insn.operands[0], insn.operands[-1]
    if fault is not None or not isinstance(op, MemOp) or not isinstance(field, ImmOp):
        return fault
    linear = (ctx.seg("cs").base + ctx.ea(op)) & 0xFFFFFFFF
    resume = ctx.engine.snapshot[0]  # the address after the callout: the copy starts there
    ctx.engine.write_code(resume + field.value, linear.to_bytes(4, "little"))
    return None
