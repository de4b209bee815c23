"""Callouts for the fast system calls: SYSENTER and SYSEXIT, from the virtual SYSENTER MSRs.

They run on every CPU model, as under QEMU 7.2, which does not check CPUID.SEP (measured with
guests/cpumodel.asm: `-cpu pentium` gives SYSENTER's #GP(0), not #UD).
"""

from __future__ import annotations

from bt.callouts import v86
from bt.callouts.context import CalloutContext
from bt.callouts.faulting import gp0
from bt.exits import Goto, VcpuExit
from bt.translator.insn import GuestInsn
from bt.vcpu import CR0_PE, IF, RF, VM, SegmentCache

SYSENTER_CS, SYSENTER_ESP, SYSENTER_EIP = 0x174, 0x175, 0x176
_FLAT_LIMIT = 0xFFFFFFFF
# The flat descriptor caches both instructions load without reading the GDT (Intel SDM vol. 2B;
# QEMU's flags: G, D/B, P, S and an accessed type; a DPL of 3 for SYSEXIT's).
_CODE_FLAGS = 0x00C09B00  # execute/read code, accessed
_STACK_FLAGS = 0x00C09300  # read/write data, accessed


def _msr_cs(ctx: CalloutContext) -> int:
    return ctx.vcpu.msrs.get(SYSENTER_CS, 0) & 0xFFFF


def _no_target(cs: int) -> bool:
    # IA32_SYSENTER_CS[15:2] = 0 faults (SDM, Bochs); QEMU 7.2 faults only on 0 itself and with
    # 1-3 enters a null CS instead: the SDM decides (tests/test_fastcall.py).
    return cs & 0xFFFC == 0


def _load_flat(ctx: CalloutContext, cs: int, ss: int, dpl: int) -> None:
    """CS and SS become the flat segments the instruction names; the CPL becomes `dpl` (the
    RPL of CS), and the next block's key follows the new CS, SS and CPL as after an IRET."""
    ctx.load_segment_cache("cs", SegmentCache(cs | dpl, 0, _FLAT_LIMIT, _CODE_FLAGS | dpl << 13))
    ctx.load_segment_cache("ss", SegmentCache(ss | dpl, 0, _FLAT_LIMIT, _STACK_FLAGS | dpl << 13))


def sysenter(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """SYSENTER: CPL 0 at IA32_SYSENTER_CS:EIP with SS = CS + 8 and ESP from IA32_SYSENTER_ESP;
    VM, IF and RF cleared. #GP(0) in real mode or with a null IA32_SYSENTER_CS."""
    vcpu = ctx.vcpu
    cs = _msr_cs(ctx)
    if not vcpu.cr0 & CR0_PE or _no_target(cs):
        return gp0(insn)
    if vcpu.v86:
        v86.leave(ctx)  # the real CPU back to protected mode before CS and SS are loaded
    vcpu.eflags_sys &= ~(VM | IF | RF)
    _load_flat(ctx, cs & 0xFFFC, (cs + 8) & 0xFFFC, 0)
    ctx.set_reg("esp", vcpu.msrs.get(SYSENTER_ESP, 0))
    return Goto(vcpu.msrs.get(SYSENTER_EIP, 0) & 0xFFFFFFFF)


def sysexit(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """SYSEXIT: CPL 3 at EDX with ESP = ECX, CS = IA32_SYSENTER_CS + 16 and SS = + 24 (RPL 3);
    EFLAGS unchanged. #GP(0) in real mode, above CPL 0 or with a null IA32_SYSENTER_CS."""
    vcpu = ctx.vcpu
    cs = _msr_cs(ctx)
    # Virtual-8086 code runs at CPL 3 whatever its CS holds.
    if not vcpu.cr0 & CR0_PE or vcpu.eflags_sys & VM or vcpu.cpl != 0 or _no_target(cs):
        return gp0(insn)
    eip, esp = ctx.reg("edx"), ctx.reg("ecx")
    _load_flat(ctx, (cs + 16) & 0xFFFC, (cs + 24) & 0xFFFC, 3)
    ctx.set_reg("esp", esp)
    return Goto(eip)
