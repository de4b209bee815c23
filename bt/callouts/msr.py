"""Callouts for MSRs, counters and CPUID: RDMSR/WRMSR, RDPMC, RDTSC, CPUID."""

from __future__ import annotations

import contextlib

from bt import msrs
from bt.callouts.context import CalloutContext
from bt.callouts.cpuid import cpuid_leaf
from bt.callouts.faulting import gp0, need_cpl0, ud_fault
from bt.cpumodel import CpuModel
from bt.exits import VcpuExit
from bt.paging import BadPdpte
from bt.translator.insn import GuestInsn

CPUID_APIC = 1 << 9  # leaf 1, EDX


def rdmsr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """RDMSR: the virtual MSRs of the CPU model (bt/msrs.py); 0 for those QEMU lacks."""
    fault = need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    index = ctx.reg("ecx")
    if index == msrs.TSC:
        value = ctx.tsc.value
    elif index == msrs.TSC_ADJUST and has_tsc_adjust(ctx.cpu):
        value = ctx.tsc.adjust
    else:
        value = msrs.read(ctx.cpu, ctx.vcpu.msrs, index)
    ctx.set_reg("eax", value & 0xFFFFFFFF)
    ctx.set_reg("edx", value >> 32)
    return None


def wrmsr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """WRMSR: stored as QEMU keeps it (bt/msrs.py); a change of EFER reaches the page walker."""
    fault = need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    index = ctx.reg("ecx")
    value = (ctx.reg("edx") << 32) | ctx.reg("eax")
    if index == msrs.TSC:
        ctx.tsc.write(value)
    elif index == msrs.TSC_ADJUST and has_tsc_adjust(ctx.cpu):
        ctx.tsc.write_adjust(value)
    elif index == msrs.APIC_BASE:
        msrs.write(ctx.cpu, ctx.vcpu.msrs, index, value)
        if ctx.on_apic_base is not None:
            ctx.on_apic_base(msrs.read(ctx.cpu, ctx.vcpu.msrs, index))
    elif msrs.write(ctx.cpu, ctx.vcpu.msrs, index, value) and ctx.mem.mmu is not None:
        # EFER.NXE: the walker takes it and the guest TLB is flushed. WRMSR loads no PDPTEs: a bad
        # one (changed in memory since MOV CR3) leaves the walker as it was.
        with contextlib.suppress(BadPdpte):
            ctx.mem.mmu.set_mode()
    return None


def has_tsc_adjust(cpu: CpuModel) -> bool:
    """CPUID.(EAX=7,ECX=0):EBX bit 1 (a model without leaf 7 answers it as its top leaf)."""
    return cpu.max_basic >= 7 and bool(cpu.cpuid(7, 0)[1] & 2)


def rdpmc(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """RDPMC: #GP above CPL 0 unless CR4.PCE; then #UD, as QEMU has no counters (measured)."""
    if ctx.vcpu.cpl > 0 and not ctx.vcpu.cr4 & 0x100:
        return gp0(insn)
    return ud_fault(insn)


def cpuid(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """CPUID: the CPU model the guest sees (`--cpu`, QEMU's qemu32 by default)."""
    leaf = ctx.reg("eax")
    a, b, c, d = cpuid_leaf(ctx.cpu, leaf, ctx.reg("ecx"))
    if leaf == 1 and not msrs.apic_enabled(ctx.cpu, ctx.vcpu.msrs):
        d &= ~CPUID_APIC  # a globally disabled local APIC leaves CPUID, as under QEMU
    ctx.set_reg("eax", a)
    ctx.set_reg("ebx", b)
    ctx.set_reg("ecx", c)
    ctx.set_reg("edx", d)
    return None


def rdtsc(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """RDTSC: the machine's clock at the TSC rate (bt/timebase.py); #GP(0) above CPL 0 while
    CR4.TSD is set (QEMU, the SDM)."""
    if ctx.vcpu.cr4 & 4 and ctx.vcpu.cpl > 0:
        return gp0(insn)
    value = ctx.tsc.rdtsc()
    ctx.set_reg("eax", value & 0xFFFFFFFF)
    ctx.set_reg("edx", value >> 32)
    return None
