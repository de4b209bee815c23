"""The x87 pointers a save shows (FIP, FCS, FDP, FDS) are the guest's, never the monitor's:
the translation of the save instructions, the freeze that makes the guest values, and the
cases that could make them stale (a cache flush, an interrupt at the save's callout).
guests/fpu.asm checks the saved images against QEMU (tests/test_guests.py)."""

from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace

import capstone
import keystone
from limits import HANG_GUARD
from test_guests import EXPECTED, run_bt
from test_platform import IDT_SETUP, pit_rate
from unicorn import UC_ARCH_X86, UC_MODE_32, Uc
from unicorn import x86_const as R

from bt.bootimage import BootImage
from bt.callouts.fpustate import FpuPointers, real_cr4
from bt.layout import TC_LINEAR
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig
from bt.realsegments import SEL_CODE, SHADOW_SEL
from bt.translator.assembler import Assembler
from bt.translator.bake import Bake
from bt.translator.rewriter import CALLOUT_VECTOR, Rewriter
from bt.translator.scanner import Scanner
from bt.translator.sensitive import Rule, classify
from bt.vcpu import SegmentCache, Vcpu

BASE = 0x100000
_KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
_POINTERS = (R.UC_X86_REG_FIP, R.UC_X86_REG_FCS, R.UC_X86_REG_FDP, R.UC_X86_REG_FDS)


class _Code:
    def __init__(self, code: bytes) -> None:
        self.code = code

    def fetch_code(self, linear: int, size: int) -> bytes:
        off = linear - BASE
        return self.code[off : off + size]


def _translate(text: str | bytes) -> tuple[bytes, bytes, list[str]]:
    raw = text if isinstance(text, bytes) else bytes(_KS.asm(text, BASE)[0])
    block = Scanner().scan(_Code(raw), BASE, 0)
    code = Rewriter(Assembler()).rewrite(block, 0)
    return raw, code.code, [s.kind for s in code.callouts]


def test_env_saves_call_out_before_the_copy_and_fxsave_after_it() -> None:
    int81 = bytes((0xCD, CALLOUT_VECTOR))
    o16_fnstenv = bytes.fromhex("66d93500200000f4")
    for text, size in (("fnstenv [0x2000]; hlt", 6), ("fnsave [0x2000]; hlt", 6), (o16_fnstenv, 7)):
        raw, code, kinds = _translate(text)
        assert kinds[0] == "fpu_env"
        assert code.startswith(int81 + raw[:size]), text
    raw, code, kinds = _translate("fxsave [0x2000]; hlt")
    assert kinds[0] == "fxsave" and code.startswith(raw[:7] + int81)
    # x87 arithmetic and the loads stay copied: no monitor entry.
    raw, code, kinds = _translate(
        "fld dword ptr [0x2000]; fldenv [0x2000]; frstor [0x2000]; fxrstor [0x2000]; fninit; hlt"
    )
    assert code.startswith(raw[:-1]) and kinds == ["hlt"]


def test_inline_fxsave_zeroes_the_fip_field_after_the_copy() -> None:
    bake = Bake(
        flags=True, iopl=0, cpl0=True, trap_if=False, cs_sel=0x08, cs_flat=True, ss_sel=0x10
    )
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    for text, mov in (
        ("fxsave [eax]", "mov dword ptr [eax + 8], 0"),
        ("fxsave gs:[esp + 0x7c]", "mov dword ptr gs:[esp + 0x84], 0"),
        ("fxsave [0x2000]", "mov dword ptr [0x2008], 0"),
    ):
        raw = bytes(_KS.asm(text + "; hlt", BASE)[0])
        block = Scanner().scan(_Code(raw), BASE, 0)
        code = Rewriter(Assembler()).rewrite(block, 0, bake)
        got = [f"{i.mnemonic} {i.op_str}" for i in md.disasm(code.code, 0)][:2]
        assert got[1] == mov, text
        assert code.code.startswith(raw[:-1])
        assert [s.kind for s in code.callouts] == ["hlt"]  # no monitor entry for FXSAVE


def test_save_rules_have_reasons() -> None:
    block = Scanner().scan(_Code(bytes(_KS.asm("fnstenv [0x2000]; hlt", BASE)[0])), BASE, 0)
    sens = classify(block.insns[0])
    assert sens.rule is Rule.INLINE and "translation-cache address" in sens.reason


def _tracker(segs: dict[str, int]) -> tuple[FpuPointers, Uc, Vcpu]:
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    vcpu = Vcpu({n: SegmentCache(s, 0, 0xFFFFFFFF, 0x00CF9300) for n, s in segs.items()}, 0x2, 0x11)
    sites = {TC_LINEAR + 0x100: 0x101000, TC_LINEAR + 0x200: 0x101010}
    fpu = FpuPointers(SimpleNamespace(uc=uc), vcpu, sites.get)  # type: ignore[arg-type]
    fpu.armed = True
    return fpu, uc, vcpu


def _real(uc: Uc) -> tuple[int, ...]:
    return tuple(uc.reg_read(r) for r in _POINTERS)


def _set(uc: Uc, *values: int) -> None:
    for r, v in zip(_POINTERS, values, strict=True):
        uc.reg_write(r, v)


def test_freeze_writes_the_guest_values_and_keeps_them_across_selector_changes() -> None:
    fpu, uc, vcpu = _tracker({"cs": 0x08, "ds": 0x10, "es": 0x18, "ss": 0x20, "fs": 0, "gs": 0})
    # A native FLD [ES:0x3000] at cache address +0x100: the monitor's CS and ES shadow.
    _set(uc, TC_LINEAR + 0x100, SEL_CODE, 0x3000, SHADOW_SEL["es"])
    fpu.freeze()
    assert _real(uc) == (0x101000, 0x08, 0x3000, 0x18)
    # The guest reloads CS and ES: the frozen values stay what they were at the FLD.
    vcpu.segs["cs"] = SegmentCache(0x28, 0, 0xFFFFFFFF, 0x00CF9B00)
    vcpu.segs["es"] = SegmentCache(0x10, 0, 0xFFFFFFFF, 0x00CF9300)
    fpu.freeze()
    assert _real(uc) == (0x101000, 0x08, 0x3000, 0x18)
    # A register-only instruction (FXCH) at +0x200: FIP/FCS move, FDP/FDS are the frozen ones
    # even though 0x18 is no real selector and could be mistaken for none.
    _set(uc, TC_LINEAR + 0x200, SEL_CODE, 0x3000, 0x18)
    assert fpu.guest_view(_real(uc)) == (0x101010, 0x28, 0x3000, 0x18)  # type: ignore[arg-type]
    # FNINIT's zeros are left alone.
    _set(uc, 0, 0, 0, 0)
    fpu.freeze()
    assert _real(uc) == (0, 0, 0, 0)


def test_freeze_is_armed_by_the_first_translated_x87_instruction(tmp_path: Path) -> None:
    m = _machine(tmp_path, "mov ax, 0x10\n mov ds, ax\n mov al, 0\n out 0xf4, al")
    assert m.run(timeout=HANG_GUARD).kind == "exit-port"
    assert not m.fpu.armed  # no x87 code: segment loads cost no register read
    m = _machine(tmp_path, "fldz\n mov ax, 0x10\n mov ds, ax\n mov al, 0\n out 0xf4, al")
    assert m.run(timeout=HANG_GUARD).kind == "exit-port"
    assert m.fpu.armed and m.fpu.freezes == 1


def test_real_cr4_follows_only_the_guests_fxsr_bits() -> None:
    assert real_cr4(0) == 0  # Unicorn's OSXSAVE and FSGSBASE never reach the real CPU
    assert real_cr4(0x600 | 0x10 | 0x80) == 0x600


def _machine(tmp_path: Path, text: str, mem: int = 16 << 20) -> Machine:
    path = tmp_path / "guest.bin"
    path.write_bytes(bytes(_KS.asm(text, BASE)[0]))
    image: BootImage = load_guest(str(path), mem, "", BASE, None)
    return Machine(MachineConfig(mem), image, lambda _b: None)


def test_fip_survives_a_cache_flush(tmp_path: Path) -> None:
    """The block that ran FLD is flushed and its code space reused before FNSTENV: the
    flush freezes the pointers first, so the save shows FLD's guest EIP."""
    hops = "\n".join(f"    jmp hop{i}\nhop{i}:\n    nop" for i in range(400))
    text = f"""
        fld dword ptr [0x300000]
    after_fld:
{hops}
        fnstenv [0x300100]
        mov al, 0
        out 0xf4, al
    """
    m = _machine(tmp_path, text)
    m.codebuf.size = 0x1000  # a small region: the hops fill it several times over
    res = m.run(timeout=HANG_GUARD)
    assert res.kind == "exit-port", res
    assert m.codebuf.stats().flushes >= 1  # FLD's block was the first: its space was reused
    env = struct.unpack("<7I", m.memory.read(0x300100, 28))
    assert (env[3], env[4] & 0xFFFF, env[5], env[6] & 0xFFFF) == (BASE, 0x08, 0x300000, 0x10)


# The end of the interrupt-at-the-save guests: exit, and a timer handler counting interrupts
# taken at `save` ([0x300000]) and in all ([0x300004]).
SAVE_TAIL = """
        cli
        mov al, 0
        out 0xf4, al
    handler:
        push eax
        mov eax, dword ptr [esp + 4]
        cmp eax, save
        jne other
        inc dword ptr [0x300000]
    other:
        inc dword ptr [0x300004]
        mov al, 0x20
        out 0x20, al
        pop eax
        iretd
"""


def test_an_interrupt_at_the_save_callout_runs_the_save_after_the_handler(tmp_path: Path) -> None:
    """The callout before FNSTENV is a monitor entry where a timer interrupt is taken; the
    guest must return to the FNSTENV itself (its EIP is pushed) and then run it."""
    n = 3000
    text = (
        IDT_SETUP
        + pit_rate(60)
        + f"""
        mov al, 0xfe
        out 0x21, al
        xor ebx, ebx
        mov ecx, {n}
        sti
    again:
        mov dword ptr [0x300100], 0
    save:
        fnstenv [0x300100]
        add ebx, dword ptr [0x300100]
        fldcw word ptr [0x300200]
        dec ecx
        jnz again
    """
        + SAVE_TAIL
    )
    m = _machine(tmp_path, text)
    m.memory.write(0x300200, (0x037F).to_bytes(2, "little"))
    m.count_instructions()
    res = m.run(timeout=HANG_GUARD)
    assert res.kind == "exit-port", res
    at_save, total = (
        int.from_bytes(m.memory.read(0x300000 + 4 * i, 4), "little") for i in range(2)
    )
    assert total >= 20 and at_save >= 10  # interrupts really arrived at the save's callout
    ebx = m.engine.read_reg(R.UC_X86_REG_EBX)
    assert ebx == n * 0x037F  # every FNSTENV ran (FCW is the first word stored)
    # Each guest instruction counted once: set-up 12 + 6 + 5, the loop, the end 3, the
    # handler 9 (10 when it counts an interrupt at the save): an interrupted save is not
    # counted as run before the handler.
    assert m.runloop.stats().guest_insns == 23 + 6 * n + 3 + 9 * total + at_save


def test_fpu_and_channels_guests_match_qemu_without_inline_code() -> None:
    """With --no-inline every save is a callout (FXSAVE's zeroing too): the same images."""
    for name in ("fpu", "channels"):
        proc = run_bt("run", f"{name}.elf", "--no-inline", "--timeout", str(HANG_GUARD))
        assert proc.returncode == int((EXPECTED / f"{name}.status").read_text()), proc.stderr
        assert proc.stdout == (EXPECTED / f"{name}.serial").read_bytes()


def test_no_interrupt_between_sti_and_the_save_it_shadows(tmp_path: Path) -> None:
    """STI (as a callout, or run as it is) holds interrupts off until the next instruction
    has run; the callout before that instruction must not take one."""
    text = (
        IDT_SETUP
        + pit_rate(40)
        + """
        mov al, 0xfe
        out 0x21, al
        mov ecx, 3000
    again:
        cli
        out 0x80, al
        sti
    save:
        fnstenv [0x300100]
        out 0x80, al
        dec ecx
        jnz again
    """
        + SAVE_TAIL
    )
    m = _machine(tmp_path, text)
    res = m.run(timeout=HANG_GUARD)
    assert res.kind == "exit-port", res
    in_shadow, total = (
        int.from_bytes(m.memory.read(0x300000 + 4 * i, 4), "little") for i in range(2)
    )
    assert total >= 50
    assert in_shadow == 0
