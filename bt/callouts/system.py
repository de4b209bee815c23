"""Callouts for descriptor tables: SGDT/SIDT/LGDT/LIDT, SLDT/STR/LLDT/LTR, LAR/LSL/VERR/VERW."""

from __future__ import annotations

from bt import descriptors as D
from bt.callouts.context import CalloutContext
from bt.callouts.faulting import need_cpl0, need_protected, ud_fault
from bt.exits import Fault, VcpuExit
from bt.translator.insn import GuestInsn, MemOp, RegOp
from bt.vcpu import SegmentCache

_ZF = 1 << 6


# -- descriptor-table registers -----------------------------------------------------------------
def _store_table_reg(ctx: CalloutContext, insn: GuestInsn, reg: tuple[int, int]) -> None:
    op = insn.operands[0]
    assert isinstance(op, MemOp)
    base, limit = reg
    if insn.opsize == 2:
        base &= 0xFFFFFF  # 16-bit operand size stores a 24-bit base (QEMU and the SDM agree)
    addr = ctx.linear(op)
    ctx.mem.write_u(addr, 2, limit)
    ctx.mem.write_u((addr + 2) & 0xFFFFFFFF, 4, base)


def sgdt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """SGDT m: the guest's virtual GDTR."""
    if not isinstance(insn.operands[0], MemOp):
        return ud_fault(insn)
    _store_table_reg(ctx, insn, ctx.vcpu.gdtr)
    return None


def sidt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """SIDT m: the guest's virtual IDTR."""
    if not isinstance(insn.operands[0], MemOp):
        return ud_fault(insn)
    _store_table_reg(ctx, insn, ctx.vcpu.idtr)
    return None


def _load_table_reg(ctx: CalloutContext, insn: GuestInsn) -> tuple[int, int] | Fault:
    op = insn.operands[0]
    if not isinstance(op, MemOp):
        return ud_fault(insn)
    fault = need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    addr = ctx.linear(op)
    limit = ctx.mem.read_u(addr, 2)
    base = ctx.mem.read_u((addr + 2) & 0xFFFFFFFF, 4)
    if insn.opsize == 2:
        base &= 0xFFFFFF
    return base, limit


def lgdt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LGDT m: only the virtual GDTR changes; the real GDT stays the monitor's."""
    got = _load_table_reg(ctx, insn)
    if isinstance(got, Fault):
        return got
    ctx.vcpu.gdtr = got
    return None


def lidt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LIDT m: the monitor delivers interrupts through this virtual IDTR."""
    got = _load_table_reg(ctx, insn)
    if isinstance(got, Fault):
        return got
    ctx.vcpu.idtr = got
    return None


def _store_selector(ctx: CalloutContext, insn: GuestInsn, value: int) -> None:
    op = insn.operands[0]
    if isinstance(op, RegOp):
        ctx.set_reg(op.name, value)  # zero-extended into a 32-bit register, as QEMU does
    else:
        ctx.write_op(op, value, 2)


def sldt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """SLDT r/m16: the virtual LDTR selector."""
    fault = need_protected(ctx, insn)
    if fault is not None:
        return fault
    _store_selector(ctx, insn, ctx.vcpu.ldtr.selector)
    return None


def str_(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """STR r/m16: the virtual task register selector."""
    fault = need_protected(ctx, insn)
    if fault is not None:
        return fault
    _store_selector(ctx, insn, ctx.vcpu.tr.selector)
    return None


def _selector_op(ctx: CalloutContext, insn: GuestInsn) -> int:
    return ctx.read_op(insn.operands[0], 2) & 0xFFFF


def _to_fault(f: D.Fault, insn: GuestInsn) -> Fault:
    return Fault(f.vector, f.error_code, insn.eip)


def lldt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LLDT r/m16: loads the virtual LDTR from the guest's GDT."""
    fault = need_protected(ctx, insn) or need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    sel = _selector_op(ctx, insn)
    if sel & ~3 == 0:
        ctx.vcpu.ldtr = SegmentCache(sel, 0, 0, 0)
        return None
    if sel & 4:
        return Fault(13, sel & ~3, insn.eip)
    desc = D.fetch_descriptor(ctx, sel)
    if desc is None or desc.s or desc.type != 2:
        return Fault(13, sel & ~3, insn.eip)
    if not desc.present:
        return Fault(11, sel & ~3, insn.eip)
    ctx.vcpu.ldtr = SegmentCache(sel, desc.base, desc.limit, desc.attr)
    return None


def ltr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LTR r/m16: loads the virtual TR and marks the guest's TSS descriptor busy."""
    fault = need_protected(ctx, insn) or need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    sel = _selector_op(ctx, insn)
    if sel & ~3 == 0 or sel & 4:
        return Fault(13, sel & ~3, insn.eip)
    desc = D.fetch_descriptor(ctx, sel)
    if desc is None or desc.s or desc.type not in (1, 9):
        return Fault(13, sel & ~3, insn.eip)
    if not desc.present:
        return Fault(11, sel & ~3, insn.eip)
    addr = ctx.gdt_base + (sel & ~7) + 5
    ctx.mem.write_u(
        addr, 1, ctx.mem.read_u(addr, 1, True) | 0x2, True
    )  # busy bit, as the CPU writes it
    ctx.vcpu.tr = SegmentCache(sel, desc.base, desc.limit, desc.attr | 0x200)
    return None


# -- descriptor probes --------------------------------------------------------------------------
def _set_zf(ctx: CalloutContext, on: bool) -> None:
    flags = ctx.guest_eflags()
    ctx.set_arith_flags(flags | _ZF if on else flags & ~_ZF)


def lar(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LAR r, r/m16: access rights from the guest's tables."""
    fault = need_protected(ctx, insn)
    if fault is not None:
        return fault
    dst = insn.operands[0]
    assert isinstance(dst, RegOp)
    result = D.lar(ctx, ctx.read_op(insn.operands[1], 2) & 0xFFFF, ctx.vcpu.cpl)
    if result is not None:
        ctx.set_reg(dst.name, result)
    _set_zf(ctx, result is not None)
    return None


def lsl(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LSL r, r/m16: the segment limit from the guest's tables."""
    fault = need_protected(ctx, insn)
    if fault is not None:
        return fault
    dst = insn.operands[0]
    assert isinstance(dst, RegOp)
    result = D.lsl(ctx, ctx.read_op(insn.operands[1], 2) & 0xFFFF, ctx.vcpu.cpl)
    if result is not None:
        ctx.set_reg(dst.name, result)
    _set_zf(ctx, result is not None)
    return None


def verr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """VERR r/m16: readable from the current privilege level?"""
    fault = need_protected(ctx, insn)
    if fault is not None:
        return fault
    _set_zf(ctx, D.verr(ctx, ctx.read_op(insn.operands[0], 2) & 0xFFFF, ctx.vcpu.cpl))
    return None


def verw(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """VERW r/m16: writable from the current privilege level?"""
    fault = need_protected(ctx, insn)
    if fault is not None:
        return fault
    _set_zf(ctx, D.verw(ctx, ctx.read_op(insn.operands[0], 2) & 0xFFFF, ctx.vcpu.cpl))
    return None
