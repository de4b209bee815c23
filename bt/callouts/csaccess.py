"""Data accesses through CS the translated code cannot check itself: CS limit and type, writes."""

from __future__ import annotations

from bt.callouts.context import CalloutContext
from bt.exits import Fault, VcpuExit
from bt.translator.insn import GuestInsn, ImmOp, MemOp

_READ = 0x200  # type bit R of a code segment in SegmentCache.flags (descriptor dword 2)
_DF = 0x400


def gp0(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """A write through CS in protected mode, or an instruction over 15 bytes: #GP(0)."""
    return Fault(13, 0, insn.eip)


def cs_check(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """Before a read through a CS that is not 4 GiB and readable: #GP(0) when CS is
    execute-only or the bytes read pass its limit (Intel SDM vol. 3 5.3, 5.4; QEMU 7.2 checks
    neither on data accesses). The read itself runs in translated code after this returns;
    `insn` describes it (translator/csaccess.py, `check_insn`); a REP form through such a CS
    is performed by `string` instead."""
    op = insn.operands[0]
    if not isinstance(op, MemOp):
        return None
    cs = ctx.seg("cs")
    if not cs.flags & _READ or ctx.ea(op) + max(op.size, 1) - 1 > cs.limit:
        return Fault(13, 0, insn.eip)
    return None


def cs_patch(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """Before a read through CS with 16-bit addressing by registers: the checks of `cs_check`,
    then the linear address goes into the disp32 of the copy that follows this callout (its
    offset is the record's last operand)."""
    fault = cs_check(ctx, insn)
    op, field = insn.operands[0], insn.operands[-1]
    if fault is not None or not isinstance(op, MemOp) or not isinstance(field, ImmOp):
        return fault
    linear = (ctx.seg("cs").base + ctx.ea(op)) & 0xFFFFFFFF
    resume = ctx.engine.snapshot[0]  # the address after the callout: the copy starts there
    ctx.engine.write_code(resume + field.value, linear.to_bytes(4, "little"))
    return None


def string(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """XLAT, LODS, MOVS and CMPS reading through CS, performed here element by element with
    the limit and type checks: with 16-bit SI/BX (they wrap at 64 KiB, which the translated
    code's bias LEAs on ESI/EBX cannot give), and REP forms through a limited CS (a fault at
    the element that crosses the limit leaves the registers with the progress before it)."""
    name = insn.mnemonic.split()[-1]
    a16 = 0x67 in insn.prefixes
    cs = ctx.seg("cs")
    if not cs.flags & _READ:
        return Fault(13, 0, insn.eip)
    if name == "xlatb":
        off = (ctx.reg("bx" if a16 else "ebx") + ctx.reg("al")) & (0xFFFF if a16 else 0xFFFFFFFF)
        if off > cs.limit:
            return Fault(13, 0, insn.eip)
        ctx.set_reg("al", ctx.mem.read_u((cs.base + off) & 0xFFFFFFFF, 1))
        return None
    si, di, cx = ("si", "di", "cx") if a16 else ("esi", "edi", "ecx")
    size = {"b": 1, "w": 2, "d": 4}[name[-1]]
    kind = name[:4]
    rep = 0xF3 in insn.prefixes or 0xF2 in insn.prefixes
    until_zf = 0x40 if 0xF3 in insn.prefixes else 0  # REPE stops at ZF 0, REPNE at ZF 1
    count = ctx.reg(cx) if rep else 1
    step = -size if ctx.guest_eflags() & _DF else size
    es = ctx.seg("es").base
    while count:
        src_off = ctx.reg(si)
        if src_off + size - 1 > cs.limit:
            return Fault(13, 0, insn.eip)  # the elements before it are done, as on a PC
        src = ctx.mem.read_u((cs.base + src_off) & 0xFFFFFFFF, size)
        ctx.set_reg(si, src_off + step)
        if kind == "lods":
            ctx.set_reg({1: "al", 2: "ax", 4: "eax"}[size], src)
        else:
            dst_off = ctx.reg(di)
            ctx.set_reg(di, dst_off + step)
            if kind == "movs":
                ctx.mem.write_u((es + dst_off) & 0xFFFFFFFF, size, src)
            else:
                dst = ctx.mem.read_u((es + dst_off) & 0xFFFFFFFF, size)
                ctx.set_arith_flags(_sub_flags(src, dst, size) | (_DF if step < 0 else 0))
        if not rep:
            break
        count -= 1
        ctx.set_reg(cx, count)
        if kind == "cmps" and (ctx.guest_eflags() & 0x40) != until_zf:
            break
    return None


def _sub_flags(a: int, b: int, size: int) -> int:
    """CF PF AF ZF SF OF of a - b (CMP) at `size` bytes."""
    bits = 8 * size
    res = (a - b) & ((1 << bits) - 1)
    flags = int(a < b)
    flags |= 0x04 if bin(res & 0xFF).count("1") % 2 == 0 else 0
    flags |= (a ^ b ^ res) & 0x10
    flags |= 0x40 if res == 0 else 0
    flags |= 0x80 if res >> (bits - 1) else 0
    flags |= 0x800 if ((a ^ b) & (a ^ res)) >> (bits - 1) & 1 else 0
    return flags
