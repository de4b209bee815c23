"""Callouts for control flow the monitor computes: RET, indirect branches, far transfers, INT."""

from __future__ import annotations

from bt import descriptors as D
from bt.callouts import callgate, realmode, taskswitch, v86
from bt.callouts.context import CalloutContext
from bt.exits import Fault, Goto, SoftInt, Unsupported, VcpuExit
from bt.translator.insn import GuestInsn, ImmOp, MemOp
from bt.vcpu import AC, ID, IF, IOPL, NT, RF, TF, VIF, VIP, VM, SegmentCache

_OF = 1 << 11


def _eip_mask(ctx: CalloutContext) -> int:
    return 0xFFFFFFFF if ctx.vcpu.segs["cs"].big else 0xFFFF


def ret(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """RET / RET imm16: pop the guest return address."""
    size = insn.opsize
    target = ctx.pop(size)
    if insn.operands and isinstance(insn.operands[0], ImmOp):
        ctx.adjust_sp(insn.operands[0].value & 0xFFFF)
    return Goto(target & (0xFFFF if size == 2 else 0xFFFFFFFF))


def jmp_indirect(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """JMP r/m32."""
    return Goto(ctx.read_op(insn.operands[0], insn.opsize) & _eip_mask(ctx))


def call_indirect(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """CALL r/m32: the target is read before the return address is pushed (ESP-relative)."""
    target = ctx.read_op(insn.operands[0], insn.opsize)
    ctx.push(insn.next_eip, insn.opsize)
    return Goto(target & (0xFFFF if insn.opsize == 2 else 0xFFFFFFFF))


def branch16(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """Near JMP/CALL/Jcc/LOOP with a 16-bit operand size: EIP is truncated to 16 bits."""
    op = insn.operands[0]
    target = ctx.read_op(op, 2) if not isinstance(op, ImmOp) else op.value
    if insn.mnemonic == "call":
        ctx.push(insn.next_eip & 0xFFFF, 2)
    elif insn.mnemonic != "jmp":
        return Unsupported(f"16-bit conditional branch {insn.text()}", insn.eip)
    return Goto(target & 0xFFFF)


def _real(ctx: CalloutContext) -> bool:
    """Real or V86 mode: far transfers load CS as selector * 16, no descriptors, no privilege."""
    return ctx.vcpu.real_segments


def _far_pointer(ctx: CalloutContext, insn: GuestInsn) -> tuple[int, int] | Fault:
    ops = insn.operands
    if len(ops) == 2 and isinstance(ops[0], ImmOp) and isinstance(ops[1], ImmOp):
        return ops[0].value & 0xFFFF, ops[1].value
    op = ops[0]
    if not isinstance(op, MemOp):
        return Fault(6, None, insn.eip)
    size = insn.opsize
    offset = ctx.mem.read_u(ctx.linear(op), size)
    sel = ctx.mem.read_u(ctx.linear(op, size), 2)
    return sel, offset


def _load_cs(
    ctx: CalloutContext, sel: int, eip: int, insn: GuestInsn
) -> Fault | Unsupported | None:
    desc, fault = D.check_code_far_transfer(ctx, sel, ctx.vcpu.cpl)
    if fault is not None:
        return Fault(fault.vector, fault.error_code, insn.eip)
    if desc is None:  # a gate or TSS: RETF and IRET do not go through them
        return Fault(13, sel & ~3, insn.eip)
    # QEMU does not set the accessed bit of a code segment on far transfers (measured).
    cpl = ctx.vcpu.cpl
    ctx.load_segment_cache("cs", SegmentCache((sel & ~3) | cpl, desc.base, desc.limit, desc.attr))
    return None


def _system(ctx: CalloutContext, sel: int) -> D.Descriptor | None:
    """The system descriptor (gate or TSS) a far JMP/CALL names, else None."""
    if D.is_null(sel):
        return None
    desc = D.fetch_descriptor(ctx, sel)
    return desc if desc is not None and not desc.s else None


def far_jmp(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """JMP ptr16:32 / JMP m16:32 to a code segment at the same privilege level, or through
    a call gate, task gate or TSS (bt/callouts/callgate.py)."""
    ptr = _far_pointer(ctx, insn)
    if isinstance(ptr, Fault):
        return ptr
    sel, offset = ptr
    if _real(ctx):
        return realmode.far_jmp(ctx, insn, sel, offset)
    system = _system(ctx, sel)
    if system is not None:
        return callgate.far_system(ctx, insn, sel, system, False)
    err = _load_cs(ctx, sel, offset, insn)
    if err is not None:
        return err
    return Goto(offset & _eip_mask(ctx))


def far_call(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """CALL ptr16:32 / CALL m16:32: pushes CS (zero-extended, as QEMU) and the return EIP."""
    ptr = _far_pointer(ctx, insn)
    if isinstance(ptr, Fault):
        return ptr
    sel, offset = ptr
    if _real(ctx):
        return realmode.far_call(ctx, insn, sel, offset)
    system = _system(ctx, sel)
    if system is not None:
        return callgate.far_system(ctx, insn, sel, system, True)
    old_cs = ctx.vcpu.segs["cs"].selector
    err = _load_cs(ctx, sel, offset, insn)
    if err is not None:
        return err
    ctx.push(old_cs, insn.opsize)
    ctx.push(insn.next_eip, insn.opsize)
    return Goto(offset & _eip_mask(ctx))


def _outer_return(
    ctx: CalloutContext,
    insn: GuestInsn,
    sel: int,
    offset: int,
    ss_at: int,
    outer_release: int = 0,
) -> Fault | Unsupported | None:
    """A return to an outer privilege level: CS from `sel`, then SS:ESP from the stack at
    `ss_at` bytes above ESP; data segments the new level may not use become null."""
    size = insn.opsize
    new_cpl = sel & 3
    desc, fault = D.check_code_far_transfer(ctx, (sel & ~3) | ctx.vcpu.cpl, ctx.vcpu.cpl)
    if desc is None or fault is not None:
        desc = D.fetch_descriptor(ctx, sel)
        if desc is None or not desc.is_code:
            return Fault(13, sel & ~3, insn.eip)
        if not desc.conforming and desc.dpl != new_cpl or desc.conforming and desc.dpl > new_cpl:
            return Fault(13, sel & ~3, insn.eip)
        if not desc.present:
            return Fault(11, sel & ~3, insn.eip)
    # RETF imm16 releases the parameters on the outer stack too (SDM RET; QEMU).
    new_esp = ctx.peek(size, ss_at) + outer_release
    new_ss = ctx.peek(size, ss_at + size) & 0xFFFF
    sdesc = D.fetch_descriptor(ctx, new_ss)
    if (new_ss & 3) != new_cpl or sdesc is None or not sdesc.writable or sdesc.dpl != new_cpl:
        return Fault(13, new_ss & ~3, insn.eip)
    if not sdesc.present:
        return Fault(12, new_ss & ~3, insn.eip)
    ctx.load_segment_cache("cs", SegmentCache(sel, desc.base, desc.limit, desc.attr))
    ctx.load_segment_cache("ss", SegmentCache(new_ss, sdesc.base, sdesc.limit, sdesc.attr))
    ctx.set_reg("esp", new_esp)
    for name in ("es", "ds", "fs", "gs"):
        seg = ctx.vcpu.segs[name]
        dpl = (seg.flags >> 13) & 3
        is_data_or_nc_code = not (seg.flags & 0x800) or not (seg.flags & 0x400)
        if seg.selector & ~3 and is_data_or_nc_code and dpl < new_cpl:
            ctx.load_segment_cache(name, SegmentCache(0, 0, 0, 0))
    return None


def far_ret(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """RETF / RETF imm16, to the same or an outer privilege level."""
    size = insn.opsize
    offset = ctx.peek(size)
    sel = ctx.peek(size, size) & 0xFFFF
    imm = (
        insn.operands[0].value & 0xFFFF
        if insn.operands and isinstance(insn.operands[0], ImmOp)
        else 0
    )
    if _real(ctx):
        return realmode.far_ret(ctx, insn, imm)
    if (sel & 3) > ctx.vcpu.cpl:
        err2 = _outer_return(ctx, insn, sel, offset, 2 * size + imm, imm)
        if err2 is not None:
            return err2
        return Goto(offset & _eip_mask(ctx))
    if (sel & 3) < ctx.vcpu.cpl:
        return Fault(13, sel & ~3, insn.eip)
    err = _load_cs(ctx, sel, offset, insn)
    if err is not None:
        return err
    ctx.adjust_sp(2 * size + imm)
    return Goto(offset & _eip_mask(ctx))


def iret(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """IRET/IRETD to the same privilege level, with QEMU's rules for IF and IOPL."""
    vcpu = ctx.vcpu
    if vcpu.v86:
        return v86.iret(ctx, insn)
    if _real(ctx):
        return realmode.iret(ctx, insn)
    size = insn.opsize
    if vcpu.eflags_sys & NT:
        return _task_return(ctx, insn)
    offset = ctx.peek(size)
    sel = ctx.peek(size, size) & 0xFFFF
    flags = ctx.peek(size, 2 * size)
    cpl = vcpu.cpl
    # Back to V86 mode only from CPL 0, as the Intel SDM says; QEMU 7.2 takes VM from the
    # popped EFLAGS at any CPL (helper_ret_protected), which the SDM's pseudo-code does not.
    if size == 4 and flags & VM and cpl == 0:
        return v86.enter(ctx, size)
    if (sel & 3) > cpl:
        err2 = _outer_return(ctx, insn, sel, offset, 3 * size)
        if err2 is not None:
            return err2
    elif (sel & 3) < cpl:
        return Fault(13, sel & ~3, insn.eip)
    else:
        err = _load_cs(ctx, sel, offset, insn)
        if err is not None:
            return err
        ctx.adjust_sp(3 * size)
    mask = TF | AC | ID | RF | NT
    if cpl == 0:
        mask |= IOPL | VIF | VIP
    if cpl <= vcpu.iopl:
        mask |= IF
    if size == 2:
        mask &= 0xFFFF
    vcpu.eflags_sys = (vcpu.eflags_sys & ~mask) | (flags & mask)
    vcpu.eflags_sys &= ~VM
    ctx.set_arith_flags(flags)
    return Goto(offset & _eip_mask(ctx))


def _task_return(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit:
    """IRET with NT: back to the task in the TSS's back link, which must be busy (QEMU)."""
    link = ctx.mem.read_u(ctx.vcpu.tr.base, 2, True)
    if link & 4:
        return Fault(13, link & 0xFFFC, insn.eip)
    desc = D.fetch_descriptor(ctx, link)
    if desc is None:
        return Fault(13, link & 0xFFFC, insn.eip)
    if desc.s or desc.type not in (D.TSS16_BUSY, D.TSS32_BUSY):
        return Fault(10, link & 0xFFFC, insn.eip)
    return taskswitch.switch(ctx, link, desc, taskswitch.Source.IRET, insn.next_eip, insn.eip)


def int_n(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """INT imm8: delivered by the run loop through the virtual IDT (in V86 mode after the
    IOPL and CR4.VME checks, bt/callouts/v86.py)."""
    op = insn.operands[0]
    assert isinstance(op, ImmOp)
    if ctx.vcpu.v86:
        done = v86.int_n(ctx, insn, op.value & 0xFF)
        if done is not None:
            return done
    return SoftInt(op.value & 0xFF, insn.eip, insn.next_eip, True)


def int3(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """INT3: vector 3, a trap (returns after the instruction)."""
    return SoftInt(3, insn.eip, insn.next_eip, True)


def into(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """INTO: vector 4 when OF is set, else nothing."""
    if ctx.guest_eflags() & _OF:
        return SoftInt(4, insn.eip, insn.next_eip, True)
    return Goto(insn.next_eip)


def int1(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """INT1 (ICEBP): vector 1 without the gate DPL check."""
    return SoftInt(1, insn.eip, insn.next_eip, False)
