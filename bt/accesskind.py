"""AccessKind: whether a faulting instruction's memory access is a read or a write, from its bytes.

Unicorn's #PF under its own page walker does not report the W/R bit of the error code (the
shadow tables need it to give the guest its fault, and to set the accessed bit only where the
hardware would). For the common forms the instruction says it: one explicit memory operand,
read, written, or read then written (QEMU loads first, so a read-modify-write faults as a read
unless the load passes). Anything with implicit or several accesses, a LOCK prefix or atomic
semantics is left unknown: the engine then runs it under the TLB-fill hook, which is told.
"""

from __future__ import annotations

from capstone import CS_ARCH_X86, CS_MODE_32, Cs, CsError
from capstone.x86 import X86_OP_MEM

READ, WRITE = 0, 1

# Mnemonics whose single memory operand Capstone 5 marks correctly (it does not for x87
# stores or CMPXCHG: measured), and whose QEMU translation makes that one access.
_PLAIN = frozenset(
    [
        "mov",
        "movzx",
        "movsx",
        "add",
        "sub",
        "and",
        "or",
        "xor",
        "adc",
        "sbb",
        "cmp",
        "test",
        "inc",
        "dec",
        "neg",
        "not",
        "shl",
        "shr",
        "sar",
        "sal",
        "rol",
        "ror",
        "rcl",
        "rcr",
        "imul",
        "mul",
        "div",
        "idiv",
        "bt",
        "bts",
        "btr",
        "btc",
        "seto",
        "setno",
        "setb",
        "setae",
        "sete",
        "setne",
        "setbe",
        "seta",
        "sets",
        "setns",
        "setp",
        "setnp",
        "setl",
        "setge",
        "setle",
        "setg",
        "cmovo",
        "cmovno",
        "cmovb",
        "cmovae",
        "cmove",
        "cmovne",
        "cmovbe",
        "cmova",
        "cmovs",
        "cmovns",
        "cmovp",
        "cmovnp",
        "cmovl",
        "cmovge",
        "cmovle",
        "cmovg",
        "movd",
        "movq",
        "movdqa",
        "movdqu",
        "movaps",
        "movups",
        "movapd",
        "movupd",
        "movss",
        "movlps",
        "movhps",
        "movlpd",
        "movhpd",
    ]
)
_LOCK = 0xF0
_CACHE_BOUND = 4096


class AccessKind:
    """READ, WRITE or None (unknown) for the instruction starting at some bytes."""

    def __init__(self) -> None:
        self._cs = Cs(CS_ARCH_X86, CS_MODE_32)
        self._cs.detail = True
        self._known: dict[bytes, int | None] = {}

    def of(self, code: bytes) -> int | None:
        """The access of the instruction at the start of `code` (up to 15 bytes)."""
        kind = self._known.get(code, -1)
        if kind != -1:
            return kind
        kind = self._decode(code)
        if len(self._known) >= _CACHE_BOUND:
            self._known.clear()
        self._known[code] = kind
        return kind

    def _decode(self, code: bytes) -> int | None:
        try:
            insn = next(self._cs.disasm(code, 0, 1), None)
        except CsError:
            return None
        if insn is None or insn.mnemonic not in _PLAIN or _LOCK in insn.prefix:
            return None
        mem = [op for op in insn.operands if op.type == X86_OP_MEM]
        if len(mem) != 1:
            return None
        access = mem[0].access
        if access & 1:  # read, or read then written: the load comes first
            return READ
        return WRITE if access & 2 else None
