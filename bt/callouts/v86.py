"""Virtual-8086 mode: IRET into it, interrupts out of it, and the IOPL-sensitive instructions.

The guest's V86 code runs as its real-mode code does (bt/realsegments.py): the real CPU is in
real mode, 16-bit code is translated, and loads of DS/ES/FS/GS give base = selector * 16
natively, with the 64 KiB limits V86 mode has. The virtual CPL is 3 (bt/vcpu.py), so the
privileged instructions' callouts raise #GP(0) and the paging checks are the user's.
CLI, STI, PUSHF, POPF, INT n and IRET are IOPL-sensitive (#GP(0) below IOPL 3); IN/OUT are
always checked against the TSS's I/O permission bitmap (bt/callouts/io.py).

CR4.VME (virtual interrupt flag, interrupt redirection through the TSS bitmap) and CR4.PVI
follow the Intel SDM (vol. 3, 20.3 and 20.4): QEMU 7.2 reports VME in CPUID but implements
none of it (its CLI/STI/PUSHF/POPF/INT n fault below IOPL 3 whatever CR4 says).
"""

from __future__ import annotations

from bt.callouts import realmode
from bt.callouts.context import CalloutContext
from bt.exits import Fault, Goto, VcpuExit
from bt.translator.insn import GuestInsn
from bt.vcpu import AC, ID, IF, IOPL, NT, RF, TF, VIF, VIP, VM, SegmentCache

CR4_VME, CR4_PVI = 1, 2
# A V86 segment register: base = selector * 16, limit 64 KiB, a present writable data
# segment of DPL 3 (QEMU's load_seg_vm).
_V86_ATTR = 0xF300
_IRET_MASK = TF | AC | ID | IF | IOPL | VM | NT | VIF | VIP  # what IRETD to V86 loads
_VIF_SHIFT = 10  # VIF (bit 19) is IF (bit 9) moved up


def segment(selector: int) -> SegmentCache:
    """The cache a V86-mode segment load gives."""
    selector &= 0xFFFF
    return SegmentCache(selector, selector << 4, 0xFFFF, _V86_ATTR)


def enter(ctx: CalloutContext, size: int) -> Goto:
    """IRETD at CPL 0 with VM set in the popped EFLAGS: EIP, CS, EFLAGS, ESP, SS, ES, DS,
    FS, GS popped (QEMU's return_to_vm86), every segment loaded V86-style."""
    frame = [ctx.peek(4, 4 * i) for i in range(9)]
    eip, cs, eflags, esp, ss, es, ds, fs, gs = frame
    vcpu = ctx.vcpu
    vcpu.eflags_sys = (vcpu.eflags_sys & ~_IRET_MASK) | (eflags & _IRET_MASK)
    ctx.set_arith_flags(eflags)
    # VM is set first: selector 0 is no null selector in V86 mode (bt/vcpu.py `null`).
    for name, sel in (("ss", ss), ("es", es), ("ds", ds), ("fs", fs), ("gs", gs)):
        ctx.load_segment_cache(name, segment(sel))
    ctx.load_segment_cache("cs", segment(cs))
    ctx.set_reg("esp", esp)
    ctx.engine.segments.set_real(True, vcpu.segs)
    return Goto(eip & 0xFFFF)


def leave(ctx: CalloutContext) -> None:
    """An interrupt leaves V86 mode: the real CPU goes back to protected mode (the caller
    loads the handler's segments)."""
    ctx.vcpu.eflags_sys &= ~VM
    ctx.engine.segments.set_real(False, ctx.vcpu.segs)


def resume(ctx: CalloutContext, ss: SegmentCache) -> None:
    """A delivery out of V86 mode failed part-way: VM set again, SS as it was, and the real
    CPU back in real mode."""
    ctx.vcpu.eflags_sys |= VM
    ctx.load_segment_cache("ss", ss)
    ctx.engine.segments.set_real(True, ctx.vcpu.segs)


def _vme(ctx: CalloutContext) -> bool:
    """CR4.VME acts: in V86 mode below IOPL 3."""
    return bool(ctx.vcpu.cr4 & CR4_VME) and ctx.vcpu.iopl < 3


def _pvi(ctx: CalloutContext) -> bool:
    """CR4.PVI acts: protected mode at CPL 3 below IOPL 3."""
    v = ctx.vcpu
    return bool(v.cr4 & CR4_PVI) and not v.v86 and v.cpl == 3 and v.iopl < 3


def virtual_if(ctx: CalloutContext) -> bool:
    """CLI/STI act on VIF instead of IF (VME in V86 mode, PVI at CPL 3)."""
    return ctx.vcpu.v86 and _vme(ctx) or _pvi(ctx)


def cli(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """CLI below IOPL: VIF cleared under VME/PVI, else #GP(0)."""
    if not virtual_if(ctx):
        return Fault(13, 0, insn.eip)
    ctx.vcpu.eflags_sys &= ~VIF
    return None


def sti(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """STI below IOPL: VIF set under VME/PVI (#GP(0) if VIP is set: the monitor has an
    interrupt for the task), else #GP(0)."""
    vcpu = ctx.vcpu
    if not virtual_if(ctx) or vcpu.eflags_sys & VIP:
        return Fault(13, 0, insn.eip)
    vcpu.eflags_sys |= VIF
    return None


def pushf(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """PUSHF in V86 mode below IOPL 3: under VME the 16-bit image with VIF as IF and IOPL
    3; PUSHFD, or no VME: #GP(0)."""
    if not _vme(ctx) or insn.opsize != 2:
        return Fault(13, 0, insn.eip)
    flags = ctx.guest_eflags()
    value = (flags & ~(IF | IOPL)) | IOPL | ((flags & VIF) >> _VIF_SHIFT)
    ctx.push(value & 0xFFFF, 2)
    return None


def popf(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """POPF in V86 mode below IOPL 3: under VME the 16-bit image's IF goes to VIF and IOPL
    stays (#GP(0) if it sets TF, or IF while VIP is set); POPFD, or no VME: #GP(0)."""
    if not _vme(ctx) or insn.opsize != 2:
        return Fault(13, 0, insn.eip)
    value = ctx.peek(2)
    vcpu = ctx.vcpu
    if value & TF or value & IF and vcpu.eflags_sys & VIP:
        return Fault(13, 0, insn.eip)
    ctx.adjust_sp(2)
    mask = (TF | NT) & 0xFFFF
    sysf = (vcpu.eflags_sys & ~(mask | VIF)) | (value & mask)
    vcpu.eflags_sys = sysf | (value & IF) << _VIF_SHIFT
    ctx.set_arith_flags(value)
    return None


def iret(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit:
    """IRET in V86 mode: at IOPL 3 as in real mode but IOPL kept; below it, under VME and
    16-bit, IF goes to VIF (#GP(0) for TF, or IF with VIP); otherwise #GP(0)."""
    vcpu = ctx.vcpu
    if vcpu.iopl == 3:
        return realmode.iret(ctx, insn, keep_iopl=True)
    if not _vme(ctx) or insn.opsize != 2:
        return Fault(13, 0, insn.eip)
    ip, cs, flags = (ctx.peek(2, 2 * i) for i in range(3))
    if flags & TF or flags & IF and vcpu.eflags_sys & VIP:
        return Fault(13, 0, insn.eip)
    ctx.adjust_sp(6)
    realmode.load_cs(ctx, cs)
    mask = TF | NT
    sysf = (vcpu.eflags_sys & ~(mask | VIF)) | (flags & mask)
    vcpu.eflags_sys = sysf | (flags & IF) << _VIF_SHIFT
    ctx.set_arith_flags(flags)
    return Goto(ip)


def int_n(ctx: CalloutContext, insn: GuestInsn, vector: int) -> VcpuExit | None:
    """INT n in V86 mode: None when it goes through the IDT as in protected mode (IOPL 3,
    or VME with the vector's redirection bit set and IOPL 3), a real-mode delivery through
    the V86 task's own IVT under VME when the bit is clear, else #GP(0)."""
    vcpu = ctx.vcpu
    if not vcpu.cr4 & CR4_VME:
        return None if vcpu.iopl == 3 else Fault(13, 0, insn.eip)
    redirected = _redirected(ctx, vector)
    if redirected is None:
        return Fault(13, 0, insn.eip)  # the bitmap lies beyond the TSS's limit
    if not redirected:
        return None if vcpu.iopl == 3 else Fault(13, 0, insn.eip)
    return _deliver_v86(ctx, vector, insn.next_eip)


def _redirected(ctx: CalloutContext, vector: int) -> bool | None:
    """Whether the TSS's interrupt redirection bitmap (the 32 bytes below the I/O map base)
    sends `vector` through the V86 task's IVT (its bit clear); None: not readable (#GP)."""
    tr = ctx.vcpu.tr
    if (tr.flags >> 8) & 0x7 not in (1, 3) or tr.limit < 0x67:
        return None
    io_base = ctx.mem.read_u(tr.base + 0x66, 2, system=True)
    byte = io_base - 32 + vector // 8
    if byte < 0 or byte > tr.limit:
        return None
    bits = ctx.mem.read_u(tr.base + byte, 1, system=True)
    return not bits >> (vector & 7) & 1


def _deliver_v86(ctx: CalloutContext, vector: int, return_ip: int) -> Goto:
    """A redirected software interrupt: FLAGS (IOPL 3 in the image; below IOPL 3 VIF as
    IF), CS, IP pushed on the V86 stack, CS:IP from the IVT at linear 0; IF (VIF below
    IOPL 3), TF and RF cleared."""
    vcpu = ctx.vcpu
    entry = ctx.mem.read_u(vector * 4, 4)
    flags = ctx.guest_eflags() | IOPL
    below = vcpu.iopl < 3
    if below:
        flags = (flags & ~IF) | ((flags & VIF) >> _VIF_SHIFT)
    ctx.push(flags & 0xFFFF, 2)
    ctx.push(vcpu.segs["cs"].selector, 2)
    ctx.push(return_ip & 0xFFFF, 2)
    vcpu.eflags_sys &= ~(TF | RF | (VIF if below else IF))
    realmode.load_cs(ctx, entry >> 16)
    return Goto(entry & 0xFFFF)
