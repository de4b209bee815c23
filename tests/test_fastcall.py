"""SYSENTER/SYSEXIT (bt/callouts/fastcall.py): the descriptor caches and CPL they leave, the real
CPU untouched, and the cases guests/sysenter.asm cannot compare with QEMU (QEMU 7.2 differs from
the Intel SDM, or bt does not run the mode)."""

from __future__ import annotations

from pathlib import Path

import keystone
from capstone.x86_const import X86_INS_SYSENTER, X86_INS_SYSEXIT
from unicorn import x86_const as R

from bt.callouts.fastcall import sysenter, sysexit
from bt.exits import Fault, Goto
from bt.layout import MON_LINEAR
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig
from bt.realsegments import SEL_CODE
from bt.translator.insn import GuestInsn
from bt.vcpu import CR0_ET, CR0_PE, IF, VM, SegmentCache, Vcpu
from tools.isolation_check import MonitorWatch

BASE = 0x100000
_KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)

# Flat CPL 0 set-up: the GDT of guests/sysenter.asm, #GP (vector 13) reports its error code at
# the exit port (status (err + 0x40) * 2 + 1), IOPL 3 so that CPL 3 code can reach port 0xf4.
_PROLOGUE = """
    lgdt [gdtr]
    lidt [idtr]
    mov eax, gp
    mov [idt + 13 * 8], ax
    mov word ptr [idt + 13 * 8 + 2], 0x08
    mov word ptr [idt + 13 * 8 + 4], 0x8E00
    shr eax, 16
    mov [idt + 13 * 8 + 6], ax
    pushfd
    or dword ptr [esp], 0x3000
    popfd
    xor edx, edx
    mov ecx, 0x175
    mov eax, 0x180000
    wrmsr
    mov ecx, 0x176
    mov eax, kentry
    wrmsr
    mov ecx, 0x174
    mov eax, MSR_CS
    wrmsr
"""
_EPILOGUE = """
gp:
    pop eax
    add al, 0x40
    out 0xf4, al
gdtr:
    .word 39
    .long gdt
idtr:
    .word 255
    .long idt
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF
    .quad 0x00CF92000000FFFF
    .quad 0x00CFFA000000FFFF
    .quad 0x00CFF2000000FFFF
idt:
"""


def _machine(body: str, msr_cs: int, tmp_path: Path) -> tuple[Machine, MonitorWatch]:
    text = _PROLOGUE.replace("MSR_CS", hex(msr_cs)) + body + _EPILOGUE
    path = tmp_path / "guest.bin"
    path.write_bytes(bytes(_KS.asm(text, BASE)[0]))
    image = load_guest(str(path), 128 << 20, "", BASE, None)
    m = Machine(MachineConfig(128 << 20), image, lambda _b: None)
    return m, MonitorWatch(m)


def _real_cpu_is_the_monitors(m: Machine, watch: MonitorWatch) -> None:
    assert m.engine.uc.reg_read(R.UC_X86_REG_GDTR)[1] == MON_LINEAR
    assert m.engine.read_reg(R.UC_X86_REG_CS) == SEL_CODE  # still the monitor's CS (real CPL 0)
    assert m.engine.read_reg(R.UC_X86_REG_EFLAGS) & 0x64100 == 0  # no real AC, TF, NT or VM
    assert watch.cache
    assert watch.violations() == []


def test_sysenter_loads_flat_cpl0_caches_and_clears_if(tmp_path: Path) -> None:
    m, watch = _machine(
        """
    sti
    sysenter
    mov al, 0x11
    out 0xf4, al
kentry:
    mov al, 0x22
    out 0xf4, al
""",
        0x0B,  # RPL bits in the MSR: SYSENTER masks them
        tmp_path,
    )
    result = m.run(max_insns=100_000)
    assert (result.kind, result.status) == ("exit-port", 0x22 * 2 + 1)
    v = m.vcpu
    assert v.segs["cs"] == SegmentCache(0x08, 0, 0xFFFFFFFF, 0x00C09B00)
    assert v.segs["ss"] == SegmentCache(0x10, 0, 0xFFFFFFFF, 0x00C09300)
    assert v.cpl == 0
    assert not v.eflags_sys & IF and v.eflags_sys & 0x3000 == 0x3000
    assert m.engine.read_reg(R.UC_X86_REG_ESP) == 0x180000
    assert not m.engine.read_reg(R.UC_X86_REG_EFLAGS) & IF  # the real IF is the guest's
    _real_cpu_is_the_monitors(m, watch)


def test_sysexit_then_sysenter_round_trip(tmp_path: Path) -> None:
    # CPL 0 -> SYSEXIT -> CPL 3 at EDX on ECX -> SYSENTER -> CPL 0 -> SYSEXIT -> CPL 3 again.
    m, watch = _machine(
        """
    mov edx, user
    mov ecx, 0x170000
    sysexit
user:
    cmp esi, 1
    je done
    mov esi, 1
    sysenter
done:
    mov al, 0x33
    out 0xf4, al
kentry:
    mov edx, user
    mov ecx, 0x160000
    sysexit
""",
        0x08,
        tmp_path,
    )
    result = m.run(max_insns=100_000)
    assert (result.kind, result.status) == ("exit-port", 0x33 * 2 + 1)
    v = m.vcpu
    assert v.segs["cs"] == SegmentCache(0x1B, 0, 0xFFFFFFFF, 0x00C0FB00)
    assert v.segs["ss"] == SegmentCache(0x23, 0, 0xFFFFFFFF, 0x00C0F300)
    assert v.cpl == 3
    assert m.engine.read_reg(R.UC_X86_REG_ESP) == 0x160000
    _real_cpu_is_the_monitors(m, watch)


def test_msr_cs_with_only_rpl_bits_faults_as_the_sdm_says(tmp_path: Path) -> None:
    # Intel SDM vol. 2B (SYSENTER, SYSEXIT) and Bochs: #GP(0) when IA32_SYSENTER_CS[15:2] = 0.
    # QEMU 7.2 faults only when the whole MSR is 0 and with 1-3 enters CS 0 at CPL 0: not a
    # machine to follow, so guests/sysenter.asm writes no such value.
    for insn in ("sysenter", "sysexit"):
        m, watch = _machine(
            f"    {insn}\nkentry:\n    mov al, 0x11\n    out 0xf4, al\n", 3, tmp_path
        )
        result = m.run(max_insns=100_000)
        assert (result.kind, result.status) == ("exit-port", 0x40 * 2 + 1), (insn, result)
        assert m.vcpu.segs["cs"].selector == 0x08
        _real_cpu_is_the_monitors(m, watch)


class _Ctx:
    """The part of CalloutContext SYSENTER/SYSEXIT use."""

    def __init__(self, vcpu: Vcpu) -> None:
        self.vcpu = vcpu
        self.regs = {"ecx": 0x5000, "edx": 0x6000, "esp": 0x7000}
        self.engine = self  # SYSENTER from V86 mode puts the real CPU back in protected mode
        self.segments = self
        self.real_cpu = bool(vcpu.real_segments)

    def set_real(self, on: bool, _segs: object) -> None:
        self.real_cpu = on

    def reg(self, name: str) -> int:
        return self.regs[name]

    def set_reg(self, name: str, value: int) -> None:
        self.regs[name] = value

    def load_segment_cache(self, name: str, cache: SegmentCache) -> None:
        self.vcpu.segs[name] = cache


def _vcpu(cr0: int, cs: int, eflags: int = 0x2) -> Vcpu:
    segs = {
        n: SegmentCache(0x10, 0, 0xFFFFFFFF, 0x00CF9300) for n in ("es", "ss", "ds", "fs", "gs")
    }
    segs["cs"] = SegmentCache(cs, 0, 0xFFFFFFFF, 0x00CF9A00)
    vcpu = Vcpu(segs=segs, eflags_sys=eflags, cr0=cr0)
    vcpu.msrs.update({0x174: 0x08, 0x175: 0x9000, 0x176: 0xA000})
    return vcpu


def _insn(mnemonic: str, insn_id: int, raw: bytes) -> GuestInsn:
    return GuestInsn(0x4000, 0x4000, raw, insn_id, mnemonic, "", (), (), 4)


def test_real_mode_and_virtual_8086_mode_fault() -> None:
    # SDM: SYSENTER and SYSEXIT #GP(0) with CR0.PE = 0; SYSEXIT also in virtual-8086 mode
    # (CPL 3); SYSENTER from V86 mode leaves it (guests/v86.asm runs V86 code).
    enter = _insn("sysenter", X86_INS_SYSENTER, b"\x0f\x34")
    leave = _insn("sysexit", X86_INS_SYSEXIT, b"\x0f\x35")
    real = _vcpu(CR0_ET, 0)
    assert sysenter(_Ctx(real), enter) == Fault(13, 0, enter.eip)
    assert sysexit(_Ctx(real), leave) == Fault(13, 0, leave.eip)
    v86 = _vcpu(CR0_ET | CR0_PE, 0, 0x2 | VM)
    assert sysexit(_Ctx(v86), leave) == Fault(13, 0, leave.eip)
    ctx = _Ctx(v86)
    assert sysenter(ctx, enter) == Goto(0xA000)
    assert not v86.eflags_sys & VM and ctx.regs["esp"] == 0x9000
    assert not ctx.real_cpu  # the real CPU left real mode before CS and SS were loaded
