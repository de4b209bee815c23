"""Callout for LZCNT and TZCNT on CPU models without ABM or BMI1: there they are BSR and BSF.

F3 0F BD / F3 0F BC decode as REP BSR / REP BSF on a CPU that lacks LZCNT / TZCNT, and QEMU 7.2
runs them so (measured: guests/cpumodel.asm's trace); the real CPU (Unicorn's) has both
instructions, so a copy would count instead. The callout does what BSR/BSF do in QEMU: the index
of the highest / lowest set bit, the destination left as it was for a zero source, ZF from the
source being 0, SF and PF from the source, CF, OF and AF clear.
"""

from __future__ import annotations

from bt.callouts.context import CalloutContext
from bt.exits import VcpuExit
from bt.translator.insn import GuestInsn, RegOp

_ZF, _SF, _PF = 0x40, 0x80, 0x04


def rep_bitscan(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LZCNT as BSR, TZCNT as BSF (by the mnemonic Capstone gives the F3 form)."""
    dst, src = insn.operands
    assert isinstance(dst, RegOp)
    bits = 8 * dst.size
    value = ctx.read_op(src) & ((1 << bits) - 1)
    if value:
        index = (
            value.bit_length() - 1
            if insn.mnemonic == "lzcnt"
            else (value & -value).bit_length() - 1
        )
        ctx.set_reg(dst.name, index)
    flags = _ZF if value == 0 else 0
    if value >> (bits - 1) & 1:
        flags |= _SF
    if bin(value & 0xFF).count("1") % 2 == 0:
        flags |= _PF
    ctx.set_arith_flags(flags)
    return None
