"""CMPXCHG8B's flags: Unicorn's helper reads a stale cc_op unless its block starts at it.

Found booting Linux (SLUB's this_cpu_cmpxchg_double under guest paging): Unicorn 2.1.4, on its
own page walker, gives CMPXCHG8B's EFLAGS as the operand an earlier ADD left in CC_SRC (a
kernel pointer: TF among its bits, so the kernel single-stepped forever). Ending Unicorn's
block right before the instruction stores cc_op; the translator does that with `jmp $+2`.
"""

from __future__ import annotations

from unicorn import UC_ARCH_X86, UC_MODE_32, Uc
from unicorn import x86_const as R

from bt.translator.assembler import Assembler
from bt.translator.rewriter import _TB_SPLIT, Rewriter
from bt.translator.scanner import Scanner

# mov esi,[ebp-0x10]; mov ebx,[edi+0x1c]; mov eax,[edi+0x78]; add ebx,esi; xor eax,[ebx];
# mov ecx,ebx; bswap ecx; xor eax,ecx; lea ecx,[edx+0x20]; mov ebx,eax; mov eax,esi;
# mov esi,[edi]; (split) cmpxchg8b fs:[esi]; jne +1; nop; hlt  (Linux 6.1's bytes)
HEAD = bytes.fromhex("8b75f08b5f1c8b477801f3330389d90fc931c88d4a2089c389f08b37")
TAIL = bytes.fromhex("640fc70e750190f4")
EDI, EBP = 0x200000, 0x280000


def _flags(split: bytes) -> int:
    uc = Uc(UC_ARCH_X86, UC_MODE_32)  # Unicorn's own TLB (UC_TLB_CPU), as under guest paging
    uc.mem_map(0, 0x400000)
    code = HEAD + split + TAIL
    uc.mem_write(0x1000, code)
    uc.mem_write(EBP - 0x10, (0x201140).to_bytes(4, "little"))  # ESI: a pointer
    uc.mem_write(EDI + 0x1C, (0x100).to_bytes(4, "little"))
    uc.mem_write(EDI, (0x300000).to_bytes(4, "little"))
    uc.mem_write(0x300000, (0x201140).to_bytes(4, "little") + (0x77).to_bytes(4, "little"))
    for reg, value in ((R.UC_X86_REG_EBP, EBP), (R.UC_X86_REG_EDI, EDI), (R.UC_X86_REG_EDX, 0x77)):
        uc.reg_write(reg, value)
    uc.emu_start(0x1000, 0x1000 + len(code) - 1)
    return int(uc.reg_read(R.UC_X86_REG_EFLAGS))


def test_unicorn_quirk_and_the_split_that_avoids_it() -> None:
    assert _flags(b"") & 0x100  # the quirk: TF (and more) from the ADD's operand
    assert _flags(_TB_SPLIT) == 0x46  # ZF from the match, PF from the XOR, nothing else


class _Code:
    """A CodeSource over the test's bytes at 0x1000."""

    def __init__(self, code: bytes) -> None:
        self.code = code + b"\x90" * 32

    def fetch_code(self, linear: int, size: int) -> bytes:
        return self.code[linear - 0x1000 : linear - 0x1000 + size]


def test_translator_splits_before_a_copied_cmpxchg8b() -> None:
    block = Scanner().scan(_Code(HEAD + TAIL), 0, 0x1000)
    code = Rewriter(Assembler()).rewrite(block, 0)
    at = next(r.offset for r in code.insns if r.insn.mnemonic == "cmpxchg8b")
    assert code.code[at - 2 : at] == _TB_SPLIT and code.code[at : at + 4] == TAIL[:4]
