"""Callouts for system instructions: descriptor-table registers, CRn/DRn, MSRs, LAR/LSL/VERR/VERW,
HLT, CPUID, RDTSC and the instructions that only raise exceptions."""

from __future__ import annotations

from bt import descriptors as D
from bt.callouts.context import CalloutContext
from bt.callouts.cpuid import cpuid_leaf
from bt.callouts.fpustate import sync_control
from bt.exits import Fault, Halt, Unsupported, VcpuExit
from bt.vcpu import CR0_ET, CR0_PE, CR0_PG, CR0_TS, SegmentCache
from translator.insn import GuestInsn, MemOp, RegOp

_ZF = 1 << 6


def _gp0(insn: GuestInsn) -> Fault:
    return Fault(13, 0, insn.eip)


def _need_cpl0(ctx: CalloutContext, insn: GuestInsn) -> Fault | None:
    return _gp0(insn) if ctx.vcpu.cpl != 0 else None


def _ud(insn: GuestInsn) -> Fault:
    return Fault(6, None, insn.eip)


# -- descriptor-table registers -----------------------------------------------------------------
def _store_table_reg(ctx: CalloutContext, insn: GuestInsn, reg: tuple[int, int]) -> None:
    op = insn.operands[0]
    assert isinstance(op, MemOp)
    base, limit = reg
    if insn.opsize == 2:
        base &= 0xFFFFFF  # 16-bit operand size stores a 24-bit base (QEMU and the SDM agree)
    addr = ctx.linear(op)
    ctx.mem.write_u(addr, 2, limit)
    ctx.mem.write_u((addr + 2) & 0xFFFFFFFF, 4, base)


def sgdt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """SGDT m: the guest's virtual GDTR."""
    if not isinstance(insn.operands[0], MemOp):
        return _ud(insn)
    _store_table_reg(ctx, insn, ctx.vcpu.gdtr)
    return None


def sidt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """SIDT m: the guest's virtual IDTR."""
    if not isinstance(insn.operands[0], MemOp):
        return _ud(insn)
    _store_table_reg(ctx, insn, ctx.vcpu.idtr)
    return None


def _load_table_reg(ctx: CalloutContext, insn: GuestInsn) -> tuple[int, int] | Fault:
    op = insn.operands[0]
    if not isinstance(op, MemOp):
        return _ud(insn)
    fault = _need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    addr = ctx.linear(op)
    limit = ctx.mem.read_u(addr, 2)
    base = ctx.mem.read_u((addr + 2) & 0xFFFFFFFF, 4)
    if insn.opsize == 2:
        base &= 0xFFFFFF
    return base, limit


def lgdt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LGDT m: only the virtual GDTR changes; the real GDT stays the monitor's."""
    got = _load_table_reg(ctx, insn)
    if isinstance(got, Fault):
        return got
    ctx.vcpu.gdtr = got
    return None


def lidt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LIDT m: the monitor delivers interrupts through this virtual IDTR."""
    got = _load_table_reg(ctx, insn)
    if isinstance(got, Fault):
        return got
    ctx.vcpu.idtr = got
    return None


def _store_selector(ctx: CalloutContext, insn: GuestInsn, value: int) -> None:
    op = insn.operands[0]
    if isinstance(op, RegOp):
        ctx.set_reg(op.name, value)  # zero-extended into a 32-bit register, as QEMU does
    else:
        ctx.write_op(op, value, 2)


def sldt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """SLDT r/m16: the virtual LDTR selector."""
    _store_selector(ctx, insn, ctx.vcpu.ldtr.selector)
    return None


def str_(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """STR r/m16: the virtual task register selector."""
    _store_selector(ctx, insn, ctx.vcpu.tr.selector)
    return None


def smsw(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """SMSW: a 32-bit register gets all of CR0 (QEMU, current CPUs); memory gets 16 bits."""
    op = insn.operands[0]
    if isinstance(op, RegOp):
        ctx.set_reg(op.name, ctx.vcpu.cr0)
    else:
        ctx.write_op(op, ctx.vcpu.cr0 & 0xFFFF, 2)
    return None


def lmsw(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LMSW: loads PE, MP, EM, TS; it can set PE but never clear it."""
    fault = _need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    value = ctx.read_op(insn.operands[0], 2) & 0xF
    cr0 = ctx.vcpu.cr0
    ctx.vcpu.cr0 = (cr0 & ~0xE) | (value & 0xE) | (cr0 & CR0_PE) | (value & CR0_PE)
    sync_control(ctx.engine, ctx.vcpu)  # MP, EM, TS act on the copied x87/SSE code
    return None


def _selector_op(ctx: CalloutContext, insn: GuestInsn) -> int:
    return ctx.read_op(insn.operands[0], 2) & 0xFFFF


def _to_fault(f: D.Fault, insn: GuestInsn) -> Fault:
    return Fault(f.vector, f.error_code, insn.eip)


def lldt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LLDT r/m16: loads the virtual LDTR from the guest's GDT."""
    fault = _need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    sel = _selector_op(ctx, insn)
    if sel & ~3 == 0:
        ctx.vcpu.ldtr = SegmentCache(sel, 0, 0, 0)
        return None
    if sel & 4:
        return Fault(13, sel & ~3, insn.eip)
    desc = D.fetch_descriptor(ctx, sel)
    if desc is None or desc.s or desc.type != 2:
        return Fault(13, sel & ~3, insn.eip)
    if not desc.present:
        return Fault(11, sel & ~3, insn.eip)
    ctx.vcpu.ldtr = SegmentCache(sel, desc.base, desc.limit, desc.attr)
    return None


def ltr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LTR r/m16: loads the virtual TR and marks the guest's TSS descriptor busy."""
    fault = _need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    sel = _selector_op(ctx, insn)
    if sel & ~3 == 0 or sel & 4:
        return Fault(13, sel & ~3, insn.eip)
    desc = D.fetch_descriptor(ctx, sel)
    if desc is None or desc.s or desc.type not in (1, 9):
        return Fault(13, sel & ~3, insn.eip)
    if not desc.present:
        return Fault(11, sel & ~3, insn.eip)
    addr = ctx.gdt_base + (sel & ~7) + 5
    ctx.mem.write_u(addr, 1, ctx.mem.read_u(addr, 1) | 0x2)  # busy bit, as the CPU writes it
    ctx.vcpu.tr = SegmentCache(sel, desc.base, desc.limit, desc.attr | 0x200)
    return None


# -- control and debug registers ----------------------------------------------------------------
def _cr_operands(insn: GuestInsn) -> tuple[RegOp, RegOp]:
    a, b = insn.operands
    assert isinstance(a, RegOp) and isinstance(b, RegOp)
    return a, b


def mov_from_cr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """MOV r32, CRn: the virtual control register."""
    fault = _need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    dst, src = _cr_operands(insn)
    value = {"cr0": ctx.vcpu.cr0, "cr2": ctx.vcpu.cr2, "cr3": ctx.vcpu.cr3, "cr4": ctx.vcpu.cr4}
    if src.name not in value:
        return _ud(insn)
    ctx.set_reg(dst.name, value[src.name])
    return None


_CR4_VALID = 0x0000_07FF & ~0x0000_0100 | 0x600  # VME..PCE, OSFXSR, OSXMMEXCPT (no SMEP/SMAP)


def mov_to_cr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """MOV CRn, r32: CR0/CR3/CR4 are virtual; paging and real mode are not virtualized yet."""
    fault = _need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    dst, src = _cr_operands(insn)
    value = ctx.reg(src.name)
    vcpu = ctx.vcpu
    if dst.name == "cr0":
        if value & CR0_PG and not value & CR0_PE or (value >> 29) & 3 == 1:
            return _gp0(insn)  # PG without PE, or NW without CD
        if value & CR0_PG:
            return Unsupported("guest paging (CR0.PG=1)", insn.eip)
        if not value & CR0_PE:
            return Unsupported("a return to real mode (CR0.PE=0)", insn.eip)
        vcpu.cr0 = value | CR0_ET  # ET is hardwired to 1 on the reference CPU
    elif dst.name == "cr2":
        vcpu.cr2 = value
    elif dst.name == "cr3":
        vcpu.cr3 = value
    elif dst.name == "cr4":
        if value & ~_CR4_VALID:
            return _gp0(insn)
        vcpu.cr4 = value
    else:
        return _ud(insn)
    sync_control(ctx.engine, vcpu)  # CR0.MP/EM/TS/NE, CR4.OSFXSR act on copied code
    return None


def clts(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """CLTS: clear the virtual CR0.TS."""
    fault = _need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    ctx.vcpu.cr0 &= ~CR0_TS
    sync_control(ctx.engine, ctx.vcpu)
    return None


def mov_dr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """MOV to/from DRn: virtual debug registers (breakpoints are not armed yet)."""
    fault = _need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    a, b = _cr_operands(insn)
    if a.name.startswith("dr"):
        n = int(a.name[2:])
        value = ctx.reg(b.name)
        if n in (4, 5):
            n += 2  # aliases of DR6/DR7 while CR4.DE is clear
        if n == 6:
            value = (value & 0xE00F) | 0xFFFF0FF0
        elif n == 7:
            value = (value & 0xFFFF2BFF) | 0x400
        ctx.vcpu.dr[n] = value
    else:
        n = int(b.name[2:])
        if n in (4, 5):
            n += 2
        ctx.set_reg(a.name, ctx.vcpu.dr[n])
    return None


def invlpg(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """INVLPG: no guest TLB to flush while guest paging is off."""
    return _need_cpl0(ctx, insn)


def cache(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """INVD/WBINVD: caches are not modelled; privileged all the same."""
    return _need_cpl0(ctx, insn)


# -- MSRs, counters, CPUID ----------------------------------------------------------------------
_MSR_DEFAULTS = {
    0x1B: 0xFEE00900,  # IA32_APIC_BASE: BSP, enabled, at 0xFEE00000
    0x174: 0,  # IA32_SYSENTER_CS
    0x175: 0,  # IA32_SYSENTER_ESP
    0x176: 0,  # IA32_SYSENTER_EIP
    0x277: 0x0007040600070406,  # IA32_PAT reset value
}
# DEBUGCTL and the last-branch/last-exception records: QEMU keeps none, reads 0 and ignores
# writes (measured: guests/channels.asm); they never show where the real CPU branched.
_MSR_LBR = frozenset({0x1D9, 0x1DB, 0x1DC, 0x1DD, 0x1DE})


def rdmsr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """RDMSR: the virtual MSRs the reference CPU has; #GP for the others."""
    fault = _need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    index = ctx.reg("ecx")
    if index == 0x10:
        value = ctx.tsc.value
    elif index in _MSR_DEFAULTS:
        value = ctx.vcpu.msrs.get(index, _MSR_DEFAULTS[index])
    elif index in _MSR_LBR:
        value = 0
    else:
        return _gp0(insn)
    ctx.set_reg("eax", value & 0xFFFFFFFF)
    ctx.set_reg("edx", value >> 32)
    return None


def wrmsr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """WRMSR: stores into the virtual MSRs; #GP for MSRs the reference CPU lacks."""
    fault = _need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    index = ctx.reg("ecx")
    value = (ctx.reg("edx") << 32) | ctx.reg("eax")
    if index == 0x10:
        ctx.tsc.write(value)
    elif index in _MSR_DEFAULTS:
        if index in (0x174,):
            value &= 0xFFFF
        elif index in (0x175, 0x176):
            value &= 0xFFFFFFFF
        ctx.vcpu.msrs[index] = value
    elif index not in _MSR_LBR:
        return _gp0(insn)
    return None


def rdpmc(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """RDPMC: #GP above CPL 0 unless CR4.PCE; then #UD, as QEMU has no counters (measured)."""
    if ctx.vcpu.cpl > 0 and not ctx.vcpu.cr4 & 0x100:
        return _gp0(insn)
    return _ud(insn)


def cpuid(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """CPUID: the reference CPU model (QEMU's qemu32)."""
    a, b, c, d = cpuid_leaf(ctx.reg("eax"), ctx.reg("ecx"))
    ctx.set_reg("eax", a)
    ctx.set_reg("ebx", b)
    ctx.set_reg("ecx", c)
    ctx.set_reg("edx", d)
    return None


def rdtsc(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """RDTSC: deterministic virtual time that only moves forward; #GP(0) above CPL 0 while
    CR4.TSD is set (QEMU, the SDM)."""
    if ctx.vcpu.cr4 & 4 and ctx.vcpu.cpl > 0:
        return _gp0(insn)
    value = ctx.tsc.rdtsc()
    ctx.set_reg("eax", value & 0xFFFFFFFF)
    ctx.set_reg("edx", value >> 32)
    return None


# -- descriptor probes --------------------------------------------------------------------------
def _set_zf(ctx: CalloutContext, on: bool) -> None:
    flags = ctx.guest_eflags()
    ctx.set_arith_flags(flags | _ZF if on else flags & ~_ZF)


def lar(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LAR r, r/m16: access rights from the guest's tables."""
    dst = insn.operands[0]
    assert isinstance(dst, RegOp)
    result = D.lar(ctx, ctx.read_op(insn.operands[1], 2) & 0xFFFF, ctx.vcpu.cpl)
    if result is not None:
        ctx.set_reg(dst.name, result)
    _set_zf(ctx, result is not None)
    return None


def lsl(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """LSL r, r/m16: the segment limit from the guest's tables."""
    dst = insn.operands[0]
    assert isinstance(dst, RegOp)
    result = D.lsl(ctx, ctx.read_op(insn.operands[1], 2) & 0xFFFF, ctx.vcpu.cpl)
    if result is not None:
        ctx.set_reg(dst.name, result)
    _set_zf(ctx, result is not None)
    return None


def verr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """VERR r/m16: readable from the current privilege level?"""
    _set_zf(ctx, D.verr(ctx, ctx.read_op(insn.operands[0], 2) & 0xFFFF, ctx.vcpu.cpl))
    return None


def verw(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """VERW r/m16: writable from the current privilege level?"""
    _set_zf(ctx, D.verw(ctx, ctx.read_op(insn.operands[0], 2) & 0xFFFF, ctx.vcpu.cpl))
    return None


# -- halting and faulting -------------------------------------------------------------------------
def hlt(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """HLT: the vCPU stops until an interrupt; privileged."""
    fault = _need_cpl0(ctx, insn)
    return fault if fault is not None else Halt(insn.next_eip)


def ud(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """UD0/UD1/UD2, undecodable bytes and instructions the reference CPU lacks: #UD."""
    return _ud(insn)


def bound(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """BOUND r, m: #BR when the index is outside the pair of bounds in memory."""
    reg, mem = insn.operands
    if not isinstance(reg, RegOp) or not isinstance(mem, MemOp):
        return _ud(insn)
    size = reg.size
    bits = 8 * size
    def signed(v: int) -> int:
        return v - (1 << bits) if v & (1 << (bits - 1)) else v
    index = signed(ctx.reg(reg.name))
    lo = signed(ctx.mem.read_u(ctx.linear(mem), size))
    hi = signed(ctx.mem.read_u(ctx.linear(mem, size), size))
    if index < lo or index > hi:
        return Fault(5, None, insn.eip)
    return None
