"""Callouts for port I/O: IN, OUT, INS, OUTS (with REP), checked against IOPL and the TSS bitmap."""

from __future__ import annotations

from bt.callouts.context import CalloutContext
from bt.callouts.stringio import block_target, ins_run, outs_run
from bt.exits import Fault, Goto, VcpuExit
from bt.translator.insn import GuestInsn, ImmOp, RegOp
from bt.vcpu import SegmentCache

_DF = 1 << 10


def _port_allowed(ctx: CalloutContext, port: int, size: int) -> bool:
    vcpu = ctx.vcpu
    if vcpu.cpl <= vcpu.iopl and not vcpu.v86:  # V86 mode: always the bitmap (Intel SDM 20.2.8.1)
        return True
    tr: SegmentCache = vcpu.tr
    # A 32-bit TSS (type 9/11) with an I/O map base at offset 0x66 (Intel SDM 19.5.2).
    if (tr.flags >> 8) & 0x7 not in (1, 3) or tr.limit < 0x67:
        return False
    io_base = ctx.mem.read_u(tr.base + 0x66, 2, system=True)
    byte = io_base + port // 8
    if byte + 1 > tr.limit:
        return False
    bits = ctx.mem.read_u(tr.base + byte, 2, system=True)
    want = ((1 << size) - 1) << (port & 7)
    return not bits & want


def _watched(ctx: CalloutContext, port: int, size: int) -> None:
    """Tell the I/O breakpoints of a port access (bt/watchpoints.py)."""
    if ctx.watch is not None:
        ctx.watch.port(port, size)


def _stop_after(ctx: CalloutContext, rep: bool) -> bool:
    """Whether a REP INS/OUTS stops after this iteration: a breakpoint matched it, and the
    trap comes after the iteration that hit (SDM 17.3.1.2), with EIP still at the REP."""
    return rep and ctx.watch is not None and ctx.watch.pending != 0


def _port_and_size(ctx: CalloutContext, insn: GuestInsn) -> tuple[int, int, str]:
    """(port, access size, accumulator name) for IN/OUT."""
    ops = insn.operands
    if insn.mnemonic == "in":
        acc, src = ops[0], ops[1]
        port_op = src
    else:
        port_op, acc = ops[0], ops[1]
    assert isinstance(acc, RegOp)
    port = port_op.value & 0xFF if isinstance(port_op, ImmOp) else ctx.reg("dx")
    return port, acc.size, acc.name


def port_in(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """IN acc, imm8/DX."""
    port, size, acc = _port_and_size(ctx, insn)
    if not _port_allowed(ctx, port, size):
        return Fault(13, 0, insn.eip)
    ctx.set_reg(acc, ctx.io.read(port, size))
    _watched(ctx, port, size)
    return None


def port_out(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """OUT imm8/DX, acc."""
    port, size, acc = _port_and_size(ctx, insn)
    if not _port_allowed(ctx, port, size):
        return Fault(13, 0, insn.eip)
    ctx.io.write(port, size, ctx.reg(acc))
    _watched(ctx, port, size)
    return None


def _string_size(insn: GuestInsn) -> int:
    return {"b": 1, "w": 2, "d": 4}[insn.mnemonic.split()[-1][-1]]


def _count(ctx: CalloutContext, insn: GuestInsn) -> tuple[bool, int, str]:
    rep = any(p in (0xF2, 0xF3) for p in insn.prefixes)
    creg = "cx" if 0x67 in insn.prefixes else "ecx"
    return rep, (ctx.reg(creg) if rep else 1), creg


def ins(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """INS/REP INS: port DX into ES:[EDI]."""
    size = _string_size(insn)
    port = ctx.reg("dx")
    if not _port_allowed(ctx, port, size):
        return Fault(13, 0, insn.eip)
    rep, count, creg = _count(ctx, insn)
    ireg = "di" if 0x67 in insn.prefixes else "edi"
    step = -size if ctx.guest_eflags() & _DF else size
    es = ctx.seg("es").base
    ctx.keep_progress = rep  # a page fault part-way leaves the registers where it stopped
    target = block_target(ctx, port, rep)
    if target is not None and count:
        count = ins_run(ctx, target, size, count, es, ireg, creg)
    for _ in range(count):
        ctx.mem.write_u(es + ctx.reg(ireg), size, ctx.io.read(port, size))
        _watched(ctx, port, size)
        ctx.set_reg(ireg, ctx.reg(ireg) + step)
        if rep:
            ctx.set_reg(creg, ctx.reg(creg) - 1)
        if _stop_after(ctx, rep):
            return Goto(insn.eip) if ctx.reg(creg) else None
    return None


def outs(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """OUTS/REP OUTS: DS:[ESI] (or the override segment) to port DX."""
    size = _string_size(insn)
    port = ctx.reg("dx")
    if not _port_allowed(ctx, port, size):
        return Fault(13, 0, insn.eip)
    rep, count, creg = _count(ctx, insn)
    ireg = "si" if 0x67 in insn.prefixes else "esi"
    step = -size if ctx.guest_eflags() & _DF else size
    segname = "ds"
    for p in insn.prefixes:
        segname = {0x2E: "cs", 0x36: "ss", 0x3E: "ds", 0x26: "es", 0x64: "fs", 0x65: "gs"}.get(
            p, segname
        )
    base = ctx.seg(segname).base
    ctx.keep_progress = rep  # a page fault part-way leaves the registers where it stopped
    target = block_target(ctx, port, rep)
    if target is not None and count:
        count = outs_run(ctx, target, size, count, base, ireg, creg)
    for _ in range(count):
        ctx.io.write(port, size, ctx.mem.read_u(base + ctx.reg(ireg), size))
        _watched(ctx, port, size)
        ctx.set_reg(ireg, ctx.reg(ireg) + step)
        if rep:
            ctx.set_reg(creg, ctx.reg(creg) - 1)
        if _stop_after(ctx, rep):
            return Goto(insn.eip) if ctx.reg(creg) else None
    return None
