"""Callouts for CLI, STI, PUSHF, POPF, STAC, CLAC: IF, IOPL and AC are virtual."""

from __future__ import annotations

from bt.callouts import v86
from bt.callouts.context import CalloutContext
from bt.exits import Fault, VcpuExit
from bt.translator.insn import GuestInsn
from bt.vcpu import AC, ID, IF, IOPL, NT, RF, TF, VM


def gp0(insn: GuestInsn) -> Fault:
    """#GP(0) raised by `insn`."""
    return Fault(13, 0, insn.eip)


def cli(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """CLI: clear the virtual IF (CPL > IOPL: VIF under CR4.VME/PVI, else #GP)."""
    if ctx.vcpu.cpl > ctx.vcpu.iopl:
        return v86.cli(ctx, insn)
    ctx.vcpu.eflags_sys &= ~IF
    return None


def sti(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """STI: set the virtual IF (CPL > IOPL: VIF under CR4.VME/PVI, else #GP)."""
    if ctx.vcpu.cpl > ctx.vcpu.iopl:
        return v86.sti(ctx, insn)
    ctx.vcpu.eflags_sys |= IF
    ctx.vcpu.shadow_eip = insn.next_eip  # as QEMU: the shadow follows every STI
    return None


def pushf(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """PUSHF/PUSHFD: the guest's EFLAGS, with VM and RF cleared in the image (as QEMU);
    IOPL-sensitive in V86 mode."""
    if ctx.vcpu.v86 and ctx.vcpu.iopl < 3:
        return v86.pushf(ctx, insn)
    value = ctx.guest_eflags() & ~(VM | RF)
    ctx.push(value & (0xFFFF if insn.opsize == 2 else 0xFFFFFFFF), insn.opsize)
    return None


def popf(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """POPF/POPFD with QEMU's masks: IOPL only at CPL 0, IF only when CPL <= IOPL;
    IOPL-sensitive in V86 mode."""
    if ctx.vcpu.v86 and ctx.vcpu.iopl < 3:
        return v86.popf(ctx, insn)
    value = ctx.pop(insn.opsize)
    vcpu = ctx.vcpu
    if vcpu.cpl == 0:
        mask = TF | AC | ID | NT | IF | IOPL
    elif vcpu.cpl <= vcpu.iopl:
        mask = TF | AC | ID | NT | IF
    else:
        mask = TF | AC | ID | NT
    if insn.opsize == 2:
        mask &= 0xFFFF
    vcpu.eflags_sys = (vcpu.eflags_sys & ~mask) | (value & mask)
    ctx.set_arith_flags(value)
    return None


def stac(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """STAC: #UD on the reference CPU (qemu32 has no SMAP)."""
    return Fault(6, None, insn.eip)


clac = stac
