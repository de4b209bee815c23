"""Capstone (x86, 32-bit) disassembly of translated code for the inspector's views."""

from __future__ import annotations

from dataclasses import dataclass

import capstone


@dataclass(frozen=True, slots=True)
class TranslatedInsn:
    """One instruction of translated code: its translation-cache address, bytes and text."""

    address: int
    raw: bytes
    text: str


_CS = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)


def disassemble(code: bytes, address: int) -> tuple[TranslatedInsn, ...]:
    """The instructions of `code` placed at `address`; bytes Capstone cannot decode come out
    one at a time as `(bad)`, so a slice is always covered completely."""
    out: list[TranslatedInsn] = []
    pos = 0
    while pos < len(code):
        start = pos
        for addr, size, mnemonic, op_str in _CS.disasm_lite(code[pos:], address + pos):
            out.append(TranslatedInsn(addr, code[pos : pos + size], f"{mnemonic} {op_str}".strip()))
            pos += size
        if pos == start:  # Capstone stopped at an undecodable byte
            out.append(TranslatedInsn(address + pos, code[pos : pos + 1], "(bad)"))
            pos += 1
    return tuple(out)
