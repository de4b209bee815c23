"""Callouts for MSRs, counters and CPUID: RDMSR/WRMSR, RDPMC, RDTSC, CPUID."""

from __future__ import annotations

from bt.callouts.context import CalloutContext
from bt.callouts.cpuid import cpuid_leaf
from bt.callouts.faulting import gp0, need_cpl0, ud_fault
from bt.exits import VcpuExit
from bt.translator.insn import GuestInsn

_MSR_DEFAULTS = {
    0x1B: 0xFEE00900,  # IA32_APIC_BASE: BSP, enabled, at 0xFEE00000
    0x174: 0,  # IA32_SYSENTER_CS
    0x175: 0,  # IA32_SYSENTER_ESP
    0x176: 0,  # IA32_SYSENTER_EIP
    0x277: 0x0007040600070406,  # IA32_PAT reset value
}
# DEBUGCTL and the last-branch/last-exception records: QEMU keeps none, reads 0 and ignores
# writes (measured: guests/channels.asm); they never show where the real CPU branched.
_MSR_LBR = frozenset({0x1D9, 0x1DB, 0x1DC, 0x1DD, 0x1DE})


def rdmsr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """RDMSR: the virtual MSRs the reference CPU has; #GP for the others."""
    fault = need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    index = ctx.reg("ecx")
    if index == 0x10:
        value = ctx.tsc.value
    elif index in _MSR_DEFAULTS:
        value = ctx.vcpu.msrs.get(index, _MSR_DEFAULTS[index])
    elif index in _MSR_LBR:
        value = 0
    else:
        return gp0(insn)
    ctx.set_reg("eax", value & 0xFFFFFFFF)
    ctx.set_reg("edx", value >> 32)
    return None


def wrmsr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """WRMSR: stores into the virtual MSRs; #GP for MSRs the reference CPU lacks."""
    fault = need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    index = ctx.reg("ecx")
    value = (ctx.reg("edx") << 32) | ctx.reg("eax")
    if index == 0x10:
        ctx.tsc.write(value)
    elif index in _MSR_DEFAULTS:
        if index in (0x174,):
            value &= 0xFFFF
        elif index in (0x175, 0x176):
            value &= 0xFFFFFFFF
        ctx.vcpu.msrs[index] = value
    elif index not in _MSR_LBR:
        return gp0(insn)
    return None


def rdpmc(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """RDPMC: #GP above CPL 0 unless CR4.PCE; then #UD, as QEMU has no counters (measured)."""
    if ctx.vcpu.cpl > 0 and not ctx.vcpu.cr4 & 0x100:
        return gp0(insn)
    return ud_fault(insn)


def cpuid(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """CPUID: the reference CPU model (QEMU's qemu32)."""
    a, b, c, d = cpuid_leaf(ctx.reg("eax"), ctx.reg("ecx"))
    ctx.set_reg("eax", a)
    ctx.set_reg("ebx", b)
    ctx.set_reg("ecx", c)
    ctx.set_reg("edx", d)
    return None


def rdtsc(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """RDTSC: deterministic virtual time that only moves forward; #GP(0) above CPL 0 while
    CR4.TSD is set (QEMU, the SDM)."""
    if ctx.vcpu.cr4 & 4 and ctx.vcpu.cpl > 0:
        return gp0(insn)
    value = ctx.tsc.rdtsc()
    ctx.set_reg("eax", value & 0xFFFFFFFF)
    ctx.set_reg("edx", value >> 32)
    return None
