"""Callouts for MONITOR and MWAIT, on the CPU models that report them (n270, coreduo).

As QEMU 7.2 TCG: #UD without the MONITOR feature or above CPL 0; #GP(0) when ECX (extensions
or hints) is not 0; MONITOR arms nothing (no address is watched), and MWAIT on a single CPU
waits as HLT does (helper_mwait: "not complete but not completely erroneous").
"""

from __future__ import annotations

from bt.callouts.context import CalloutContext
from bt.callouts.faulting import gp0, ud_fault
from bt.exits import Fault, Halt, VcpuExit
from bt.translator.insn import GuestInsn


def _check(ctx: CalloutContext, insn: GuestInsn) -> Fault | None:
    if not ctx.cpu.has("monitor") or ctx.vcpu.cpl > 0:
        return ud_fault(insn)
    if ctx.reg("ecx") != 0:
        return gp0(insn)
    return None


def monitor(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """MONITOR: checked, then nothing to arm."""
    return _check(ctx, insn)


def mwait(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """MWAIT: checked, then the vCPU waits for an interrupt."""
    fault = _check(ctx, insn)
    return fault if fault is not None else Halt(insn.next_eip)
