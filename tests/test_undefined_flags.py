"""The undefined-flags table (tools/undefined_flags.py) against the Intel SDM's "Flags Affected"
for each instruction class, with the operand conditions that change them."""

from __future__ import annotations

import sys
from pathlib import Path

import capstone
import keystone

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

from undefined_flags import (  # noqa: E402
    AF,
    ARITH,
    CF,
    OF,
    PF,
    SF,
    ZF,
    FlagEffect,
    UndefinedState,
    effect,
    flags_read,
)

_KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
_CS = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
_CS.detail = True


def insn(text: str) -> capstone.CsInsn:
    return next(_CS.disasm(bytes(_KS.asm(text, 0x1000)[0]), 0x1000))


def of(text: str, *values: int) -> FlagEffect:
    """The effect of `text` with its operands holding `values` (by operand index)."""
    return effect(insn(text), lambda i: values[i])


def test_shifts_depend_on_the_masked_count() -> None:
    assert of("shl eax, cl", 0, 0) == FlagEffect(0)  # no flag written
    assert of("shl eax, cl", 0, 32) == FlagEffect(0)  # 32 & 0x1F == 0
    assert of("shl eax, cl", 0, 1) == FlagEffect(ARITH, AF)  # OF defined for 1-bit shifts
    assert of("sar eax, 5", 0, 5) == FlagEffect(ARITH, AF | OF)
    assert of("shl ax, cl", 0, 16) == FlagEffect(ARITH, AF | OF | CF)  # count >= size
    assert of("sar ax, cl", 0, 16) == FlagEffect(ARITH, AF | OF)  # SAR's CF stays defined


def test_rotates_and_double_shifts() -> None:
    assert of("rol eax, cl", 0, 0) == FlagEffect(0)
    assert of("rcr eax, 1", 0, 1) == FlagEffect(CF | OF)
    assert of("ror eax, 7", 0, 7) == FlagEffect(CF | OF, OF)
    assert of("shld eax, ecx, 1", 0, 0, 1) == FlagEffect(ARITH, AF)
    assert of("shrd ax, cx, 20", 0, 0, 20) == FlagEffect(ARITH, ARITH, dest_undefined=True)


def test_multiply_divide_scan_test_adjust() -> None:
    assert of("imul eax, ecx") == of("mul ecx") == FlagEffect(ARITH, SF | ZF | AF | PF)
    assert of("div ecx") == of("idiv ecx") == FlagEffect(ARITH, ARITH)
    assert of("bsf eax, ecx", 0, 8) == FlagEffect(ARITH, CF | OF | SF | AF | PF)
    assert of("bsr eax, ecx", 0, 0).dest_undefined
    assert of("bt eax, 3") == FlagEffect(CF | OF | SF | AF | PF, OF | SF | AF | PF)  # ZF kept
    assert of("daa").undefined == OF and of("aas").undefined == OF | SF | ZF | PF
    assert of("aam").undefined == of("aad").undefined == OF | AF | CF
    assert of("and eax, ecx").undefined == AF and of("add eax, ecx") == FlagEffect(ARITH)
    assert of("inc eax") == FlagEffect(ARITH & ~CF)  # INC leaves CF alone


def test_reads() -> None:
    assert flags_read(insn("pushfd")) == ARITH
    assert flags_read(insn("cmovbe eax, ecx")) == CF | ZF
    assert flags_read(insn("setl al")) == SF | OF
    assert flags_read(insn("jg 0x1040")) == ZF | SF | OF
    assert flags_read(insn("jz 0x1002")) == 0  # to the next instruction: either way the same
    assert flags_read(insn("adc eax, 1")) == CF and flags_read(insn("mov eax, 1")) == 0


def test_state_tracks_the_last_writer_of_each_flag() -> None:
    state = UndefinedState()
    assert state.step(insn("imul eax, ecx"), lambda i: 1) is None
    assert state.flags == SF | ZF | AF | PF
    assert state.step(insn("shl edx, cl"), lambda i: 0) is None  # count 0: still undefined
    assert state.flags == SF | ZF | AF | PF
    assert state.step(insn("add esi, 1"), lambda i: 1) is None
    assert state.flags == 0
    assert state.step(insn("bsf eax, ecx"), lambda i: 0) is None
    assert state.regs == {"eax"} and state.flags == CF | OF | SF | AF | PF
    assert state.step(insn("jc 0x1040"), lambda i: 0) == "jb 0x1040 reads undefined CF"
    assert state.step(insn("mov ecx, eax"), lambda i: 0) == "mov ecx, eax reads undefined eax"
    assert state.step(insn("mov eax, 5"), lambda i: 5) is None
    assert state.regs == set()
