"""Callouts for segment registers: MOV, PUSH, POP, LDS/LES/LFS/LGS/LSS (selectors are virtual)."""

from __future__ import annotations

from bt import descriptors as D
from bt.callouts.context import CalloutContext
from bt.exits import Fault, VcpuExit
from bt.translator.insn import GuestInsn, MemOp, RegOp
from bt.vcpu import CR0_PE, VM, SegmentCache


def mark_accessed(ctx: CalloutContext, selector: int, desc: D.Descriptor) -> int:
    """Set the descriptor's accessed bit in guest memory, as the CPU does; returns the attrs."""
    attr = desc.attr
    if attr & 0x100:
        return attr
    table = ctx.ldt_base if selector & 4 else ctx.gdt_base
    addr = (table + (selector & ~7) + 5) & 0xFFFFFFFF
    ctx.mem.write_u(addr, 1, ctx.mem.read_u(addr, 1, True) | 1, True)
    return attr | 0x100


def load_segment(ctx: CalloutContext, name: str, selector: int, eip: int) -> Fault | None:
    """Load guest segment register `name` (not CS) with the protected-mode checks; in real
    and V86 mode the base is selector * 16 and the rest of the cache stays (unreal mode)."""
    vcpu = ctx.vcpu
    if not vcpu.cr0 & CR0_PE or vcpu.eflags_sys & VM:
        old = vcpu.segs[name]
        ctx.load_segment_cache(name, SegmentCache(selector, selector << 4, old.limit, old.flags))
        return None
    desc, fault = D.check_segment_load(ctx, selector, name, ctx.vcpu.cpl)
    if fault is not None:
        return Fault(fault.vector, fault.error_code, eip)
    if desc is None:  # a null selector in DS/ES/FS/GS
        ctx.load_segment_cache(name, SegmentCache(selector, 0, 0, 0))
        return None
    attr = mark_accessed(ctx, selector, desc)
    ctx.load_segment_cache(name, SegmentCache(selector, desc.base, desc.limit, attr))
    return None


def mov_from_seg(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """MOV r/m, Sreg: the virtual selector (a 32-bit register is zero-extended, as QEMU)."""
    dst, src = insn.operands
    assert isinstance(src, RegOp)
    sel = ctx.vcpu.segs[src.name].selector
    if isinstance(dst, RegOp):
        ctx.set_reg(dst.name, sel)
    else:
        ctx.write_op(dst, sel, 2)
    return None


def mov_to_seg(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """MOV Sreg, r/m16."""
    dst, src = insn.operands
    assert isinstance(dst, RegOp)
    if dst.name == "cs":
        return Fault(6, None, insn.eip)
    fault = load_segment(ctx, dst.name, ctx.read_op(src, 2) & 0xFFFF, insn.eip)
    if fault is None and dst.name == "ss":
        ctx.vcpu.shadow_eip = insn.next_eip  # the next instruction sets ESP to match
    return fault


def push_seg(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """PUSH Sreg: QEMU stores the selector zero-extended to the operand size."""
    op = insn.operands[0]
    assert isinstance(op, RegOp)
    ctx.push(ctx.vcpu.segs[op.name].selector, insn.opsize)
    return None


def pop_seg(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """POP Sreg: ESP moves only when the load succeeds."""
    op = insn.operands[0]
    assert isinstance(op, RegOp)
    sel = ctx.peek(insn.opsize) & 0xFFFF
    if op.name == "ss":
        # The new SS is checked before ESP moves; ESP then moves in the new stack.
        fault = load_segment(ctx, "ss", sel, insn.eip)
        if fault is None:
            ctx.adjust_sp(insn.opsize)
            ctx.vcpu.shadow_eip = insn.next_eip
        return fault
    fault = load_segment(ctx, op.name, sel, insn.eip)
    if fault is None:
        ctx.adjust_sp(insn.opsize)
    return fault


def load_far_ptr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LDS/LES/LFS/LGS/LSS r, m16:16/32."""
    dst, src = insn.operands
    if not isinstance(src, MemOp) or not isinstance(dst, RegOp):
        return Fault(6, None, insn.eip)
    size = dst.size
    offset = ctx.mem.read_u(ctx.linear(src), size)
    sel = ctx.mem.read_u(ctx.linear(src, size), 2)
    fault = load_segment(ctx, insn.mnemonic[1:] + "", sel, insn.eip)
    if fault is not None:
        return fault
    ctx.set_reg(dst.name, offset)
    return None
