"""Callouts around the copied x87/SSE state saves: what they store of the last x87 instruction.

FNSTENV and FNSAVE (and FSTENV/FSAVE, which are WAIT plus these) store FIP, FCS, FDP and FDS;
FNSAVE then clears them. Their callout runs just before the copied instruction and puts the
guest's values in the real registers (bt/callouts/fpustate.py), so the instruction stores them
in every operand size and format. FXSAVE's callout runs just after it: QEMU 7.2 stores zeros for all
four pointers (its fxsave writes no pointer state), Unicorn the real FIP.
"""

from __future__ import annotations

from bt.callouts.context import CalloutContext
from bt.exits import VcpuExit
from bt.translator.insn import GuestInsn, MemOp

FXSAVE_POINTERS = 8  # offset of FIP, FCS, FDP, FDS in the FXSAVE image (16 bytes)


def fpu_env(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """Before FNSTENV/FNSAVE: the real pointers become the guest's."""
    if ctx.fpu is not None:
        ctx.fpu.freeze()
    return None


def fxsave(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """After FXSAVE (which succeeded: the image is writable): zero the pointers, as QEMU."""
    op = insn.operands[0] if insn.operands else None
    if isinstance(op, MemOp):
        ctx.mem.write(ctx.linear(op, FXSAVE_POINTERS), bytes(16))
    return None
