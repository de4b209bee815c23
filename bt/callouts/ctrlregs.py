"""Callouts for control and debug registers: MOV CRn/DRn, SMSW/LMSW, CLTS, INVLPG, INVD/WBINVD."""

from __future__ import annotations

from bt.callouts.context import CalloutContext
from bt.callouts.faulting import gp0, need_cpl0, ud_fault
from bt.callouts.fpustate import sync_control
from bt.exits import Goto, VcpuExit
from bt.paging import BadPdpte
from bt.translator.insn import GuestInsn, MemOp, RegOp
from bt.types import PAGE_MASK
from bt.vcpu import CR0_ET, CR0_PE, CR0_PG, CR0_TS, CR0_WP


def _cr_operands(insn: GuestInsn) -> tuple[RegOp, RegOp]:
    a, b = insn.operands
    assert isinstance(a, RegOp) and isinstance(b, RegOp)
    return a, b


def mov_from_cr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """MOV r32, CRn: the virtual control register."""
    fault = need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    dst, src = _cr_operands(insn)
    value = {"cr0": ctx.vcpu.cr0, "cr2": ctx.vcpu.cr2, "cr3": ctx.vcpu.cr3, "cr4": ctx.vcpu.cr4}
    if src.name not in value:
        return ud_fault(insn)
    ctx.set_reg(dst.name, value[src.name])
    return None


CR4_DE = 0x08
DR6_FIXED = 0xFFFF0FF0
DR7_FIXED = 0x400
# VME..PCE (QEMU takes PCE: sysenter.asm), OSFXSR, OSXMMEXCPT, on every model bt offers: QEMU
# 7.2 takes PSE, PAE, PGE, DE, TSD... even where CPUID lacks the feature (guests/cpumodel.asm).
# The bits above are reserved on all of them (UMIP, FSGSBASE, PCIDE, OSXSAVE, SMEP...): #GP(0)
# as the SDM says, where QEMU 7.2 hangs at such a MOV (cpu_vmexit outside a guest).
_CR4_VALID = 0x0000_07FF
_CR4_OSFXSR = 1 << 9


def mov_to_cr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """MOV CRn, r32: CR0/CR3/CR4 are virtual; a change to paging (PG, WP, CR3, PSE, PAE, PGE)
    flushes the guest's TLB and goes on through the new mapping; a PE change goes on in a
    translation for the new mode."""
    fault = need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    dst, src = _cr_operands(insn)
    value = ctx.reg(src.name)
    vcpu = ctx.vcpu
    paging = vcpu.cr0 & CR0_PG
    if dst.name == "cr0":
        if value & CR0_PG and not value & CR0_PE or (value >> 29) & 3 == 1:
            return gp0(insn)  # PG without PE, or NW without CD
        old = vcpu.cr0
        vcpu.cr0 = value | CR0_ET  # ET is hardwired to 1 on the reference CPU
        remap = (old ^ vcpu.cr0) & (CR0_PG | CR0_WP)
        if remap and not _new_mapping(ctx):
            vcpu.cr0 = old
            return gp0(insn)  # PAE paging with a bad PDPTE
    elif dst.name == "cr2":
        vcpu.cr2 = value
        remap = 0
    elif dst.name == "cr3":
        old = vcpu.cr3
        vcpu.cr3 = value
        remap = paging
        if remap and not _new_mapping(ctx):
            vcpu.cr3 = old
            return gp0(insn)
    elif dst.name == "cr4":
        if value & ~_CR4_VALID:
            return gp0(insn)
        if not ctx.cpu.has("sse"):
            value &= ~_CR4_OSFXSR  # QEMU drops it silently (cpu_x86_update_cr4): SSE stays #UD
        old = vcpu.cr4
        vcpu.cr4 = value
        remap = (old ^ value) & _CR4_PAGING
        if remap and not _new_mapping(ctx):
            vcpu.cr4 = old
            return gp0(insn)
    else:
        return ud_fault(insn)
    sync_control(ctx.engine, vcpu)  # CR0.MP/EM/TS/NE, CR4.OSFXSR act on copied code
    if dst.name == "cr0" and (old ^ vcpu.cr0) & CR0_PE:
        ctx.engine.segments.set_real(vcpu.real_mode, vcpu.segs)
        # Into or out of protected mode: the next instruction decodes in another mode (the
        # CS cache, and with it the code size, stays until a far transfer reloads CS).
        return Goto(insn.next_eip)
    if remap and (paging or vcpu.cr0 & CR0_PG):
        return Goto(insn.next_eip)  # the next instruction is fetched through the new mapping
    return None


_CR4_PAGING = 0x10 | 0x20 | 0x80  # PSE, PAE, PGE


def _new_mapping(ctx: CalloutContext) -> bool:
    """Hand the new CR0/CR3/CR4 to the guest's MMU (its TLB is flushed); False when PAE's
    PDPTEs cannot be loaded (the write raises #GP(0) and does not happen)."""
    mmu = ctx.mem.mmu
    if mmu is None:
        return True
    try:
        mmu.set_mode()
    except BadPdpte:
        return False
    return True


def clts(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """CLTS: clear the virtual CR0.TS."""
    fault = need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    ctx.vcpu.cr0 &= ~CR0_TS
    sync_control(ctx.engine, ctx.vcpu)
    return None


def mov_dr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """MOV to/from DRn: virtual debug registers (the exit dispatcher arms what DR7 enables).
    As QEMU 7.2 keeps them: DR6 and DR7 hold every bit written, with DR6's fixed ones
    (0xffff0ff0) and DR7's bit 10; DR4/DR5 alias DR6/DR7 while CR4.DE is clear and are #UD
    while it is set; DR7.GD is stored but not acted on (no general-detect #DB on QEMU)."""
    fault = need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    a, b = _cr_operands(insn)
    n = int((a if a.name.startswith("dr") else b).name[2:])
    if n in (4, 5):
        if ctx.vcpu.cr4 & CR4_DE:
            return ud_fault(insn)
        n += 2
    if a.name.startswith("dr"):
        value = ctx.reg(b.name)
        if n == 6:
            value |= DR6_FIXED
        elif n == 7:
            value |= DR7_FIXED
        ctx.vcpu.dr[n] = value
    else:
        ctx.set_reg(a.name, ctx.vcpu.dr[n])
    return None


def invlpg(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """INVLPG: the guest's TLB forgets the page (all of it here: Unicorn's binding flushes
    only whole); when it is the page this instruction is on, the next one is fetched anew."""
    fault = need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    mmu = ctx.mem.mmu
    if mmu is None or not mmu.enabled:
        return None
    op = insn.operands[0]
    page = ctx.linear(op) & PAGE_MASK if isinstance(op, MemOp) else -1
    mmu.invalidate(page)
    cs = ctx.seg("cs").base
    if page not in ((cs + insn.eip) & PAGE_MASK, (cs + insn.next_eip - 1) & PAGE_MASK):
        return None  # not the page this code is on: the block goes on as it is
    return Goto(insn.next_eip)


def cache(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """INVD/WBINVD: caches are not modelled; privileged all the same."""
    return need_cpl0(ctx, insn)


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
    fault = need_cpl0(ctx, insn)
    if fault is not None:
        return fault
    value = ctx.read_op(insn.operands[0], 2) & 0xF
    cr0 = ctx.vcpu.cr0
    ctx.vcpu.cr0 = (cr0 & ~0xE) | (value & 0xE) | (cr0 & CR0_PE) | (value & CR0_PE)
    sync_control(ctx.engine, ctx.vcpu)  # MP, EM, TS act on the copied x87/SSE code
    if (cr0 ^ ctx.vcpu.cr0) & CR0_PE:
        ctx.engine.segments.set_real(False, ctx.vcpu.segs)
        return Goto(insn.next_eip)  # into protected mode: decoded anew
    return None
