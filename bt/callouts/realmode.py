"""Control transfers in real mode: far JMP/CALL/RET, IRET and interrupts through the IVT.

A real-mode CS load sets the selector and base = selector * 16 and keeps the rest of the
descriptor cache (limit, attributes and the D bit a guest's own PE toggling left), as the CPU
and QEMU do. Interrupts and IRET use a 16-bit SP whatever SS's B bit says (QEMU 7.2's
do_interrupt_real and helper_iret_real; the Intel SDM's pseudo-code pushes with the stack
size, which in real mode is 16 bits unless a guest left a 32-bit SS behind).
"""

from __future__ import annotations

from bt.callouts.context import CalloutContext
from bt.exits import Fault, Goto, VcpuExit
from bt.translator.insn import GuestInsn
from bt.vcpu import AC, ID, IF, IOPL, NT, RF, TF, SegmentCache

_SP16 = 0xFFFF


def load_cs(ctx: CalloutContext, selector: int) -> None:
    """CS = `selector` as real mode loads it."""
    old = ctx.vcpu.segs["cs"]
    ctx.load_segment_cache("cs", SegmentCache(selector, selector << 4, old.limit, old.flags))


def _eip_mask(ctx: CalloutContext) -> int:
    return 0xFFFFFFFF if ctx.vcpu.segs["cs"].big else 0xFFFF


def far_jmp(ctx: CalloutContext, insn: GuestInsn, selector: int, offset: int) -> VcpuExit:
    """JMP ptr16:16/32 or m16:16/32."""
    load_cs(ctx, selector)
    return Goto(offset & _eip_mask(ctx))


def far_call(ctx: CalloutContext, insn: GuestInsn, selector: int, offset: int) -> VcpuExit:
    """CALL ptr16:16/32 or m16:16/32: CS and the return IP pushed with the operand size."""
    ctx.push(ctx.vcpu.segs["cs"].selector, insn.opsize)
    ctx.push(insn.next_eip, insn.opsize)
    load_cs(ctx, selector)
    return Goto(offset & _eip_mask(ctx))


def far_ret(ctx: CalloutContext, insn: GuestInsn, imm: int) -> VcpuExit:
    """RETF / RETF imm16."""
    size = insn.opsize
    offset = ctx.peek(size)
    selector = ctx.peek(size, size) & 0xFFFF
    ctx.adjust_sp(2 * size + imm)
    load_cs(ctx, selector)
    return Goto(offset & _eip_mask(ctx))


def _peek16(ctx: CalloutContext, size: int, offset: int) -> int:
    sp = (ctx.reg("sp") + offset) & _SP16
    return ctx.mem.read_u(ctx.vcpu.segs["ss"].base + sp, size)


def iret(ctx: CalloutContext, insn: GuestInsn, keep_iopl: bool = False) -> VcpuExit:
    """IRET / IRETD: IP, CS and FLAGS from a 16-bit SP (QEMU's helper_iret_real; in V86
    mode, `keep_iopl`, the same with IOPL unchanged)."""
    size = insn.opsize
    offset = _peek16(ctx, size, 0)
    selector = _peek16(ctx, size, size) & 0xFFFF
    flags = _peek16(ctx, size, 2 * size)
    ctx.set_reg("sp", ctx.reg("sp") + 3 * size)
    load_cs(ctx, selector)
    mask = TF | AC | ID | IF | RF | NT | (0 if keep_iopl else IOPL)
    if size == 2:
        mask &= 0xFFFF
    vcpu = ctx.vcpu
    vcpu.eflags_sys = (vcpu.eflags_sys & ~mask) | (flags & mask)
    ctx.set_arith_flags(flags)
    return Goto(offset & (0xFFFF if size == 2 else 0xFFFFFFFF))


def deliver(ctx: CalloutContext, vector: int, return_eip: int, fault_eip: int) -> Goto | Fault:
    """Enter the IVT's handler for `vector`: FLAGS, CS, IP pushed (no error code in real
    mode), IF, TF, AC and RF cleared. A vector beyond the IDTR limit is #GP(vector * 8 + 2)."""
    vcpu = ctx.vcpu
    base, limit = vcpu.idtr
    if vector * 4 + 3 > limit:
        return Fault(13, vector * 8 + 2, fault_eip)
    entry = ctx.mem.read_u(base + vector * 4, 4)
    ss_base = vcpu.segs["ss"].base
    sp = ctx.reg("sp")
    for value in (ctx.guest_eflags(), vcpu.segs["cs"].selector, return_eip):
        sp = (sp - 2) & _SP16
        ctx.mem.write_u(ss_base + sp, 2, value)
    ctx.set_reg("sp", sp)
    vcpu.eflags_sys &= ~(IF | TF | AC | RF)
    load_cs(ctx, entry >> 16)
    return Goto(entry & 0xFFFF)
