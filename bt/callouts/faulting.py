"""Callouts that halt or only raise exceptions (HLT, UD, BOUND), and the faults callouts share."""

from __future__ import annotations

from bt.callouts.context import CalloutContext
from bt.exits import Fault, Halt, VcpuExit
from bt.translator.insn import GuestInsn, MemOp, RegOp


def gp0(insn: GuestInsn) -> Fault:
    """#GP(0) at the instruction."""
    return Fault(13, 0, insn.eip)


def need_cpl0(ctx: CalloutContext, insn: GuestInsn) -> Fault | None:
    """#GP(0) unless the vCPU runs at CPL 0 (privileged instructions)."""
    return gp0(insn) if ctx.vcpu.cpl != 0 else None


def ud_fault(insn: GuestInsn) -> Fault:
    """#UD at the instruction."""
    return Fault(6, None, insn.eip)


def need_protected(ctx: CalloutContext, insn: GuestInsn) -> Fault | None:
    """#UD in real and virtual-8086 mode: the instructions that name selectors (LLDT, SLDT,
    LTR, STR, LAR, LSL, VERR, VERW) "are not recognized" there (SDM vol. 2), checked before
    the privilege level."""
    return ud_fault(insn) if ctx.vcpu.real_segments else None


def hlt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """HLT: the vCPU stops until an interrupt; privileged."""
    fault = need_cpl0(ctx, insn)
    return fault if fault is not None else Halt(insn.next_eip)


def ud(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """UD0/UD1/UD2, undecodable bytes and instructions the reference CPU lacks: #UD."""
    return ud_fault(insn)


def bound(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """BOUND r, m: #BR when the index is outside the pair of bounds in memory."""
    reg, mem = insn.operands
    if not isinstance(reg, RegOp) or not isinstance(mem, MemOp):
        return ud_fault(insn)
    size = reg.size
    bits = 8 * size

    def signed(v: int) -> int:
        return v - (1 << bits) if v & (1 << (bits - 1)) else v

    index = signed(ctx.reg(reg.name))
    lo = signed(ctx.mem.read_u(ctx.linear(mem), size))
    hi = signed(ctx.mem.read_u(ctx.linear(mem, size), size))
    if index < lo or index > hi:
        return Fault(5, None, insn.eip)
    return None
