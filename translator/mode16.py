"""16-bit guest code as 32-bit code: the operand- and address-size prefixes toggled.

Translated code always runs in a 32-bit real code segment. A guest instruction decoded in a
16-bit code segment does the same thing there once its 0x66 and 0x67 prefixes are toggled
(present becomes absent, absent becomes present): the sizes are what the prefixes select
against the code segment's default. Two exceptions: 0x66 is part of the opcode of SSE/MMX
instructions (`66 0F 6F` is MOVDQA in both modes, `0F 6F` MOVQ), so it is left alone there;
0x67 matters only to instructions that address memory or use an address-size register
(strings, XLAT, LOOP, JCXZ), so only they get it toggled. Every conversion is checked by
decoding the result in 32-bit mode: the same mnemonic and operands, the same instruction.
The stack size is the SS descriptor's B bit in both modes, never the code segment's.
"""

from __future__ import annotations

import re
from functools import lru_cache

import capstone

from bt.translator.errors import TranslationError

_PREFIX_BYTES = frozenset((0xF0, 0xF2, 0xF3, 0x66, 0x67, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65))
MAX_INSN_LEN = 15

# Second opcode bytes after 0x0F whose 0x66 is a mandatory prefix (SSE) or means nothing
# (MMX, whose operands have one size): 10-1F, 28-2F, 38/3A (three-byte maps, but MOVBE and
# CRC32 at 38 F0/F1), 50-7F, C2 and C4-C6, D0-FF.
_SSE = frozenset(
    (
        *range(0x10, 0x18),
        *range(0x18, 0x20),  # hint NOPs and MPX: no operand size either
        *range(0x28, 0x30),
        0x3A,
        *range(0x50, 0x80),
        0xC2,
        0xC4,
        0xC5,
        0xC6,
        *range(0xD0, 0x100),
    )
)
# Mnemonics (as Capstone prints them) whose address size matters without a bracketed operand.
_ADDRESS_USERS = ("xlat", "loop", "jcxz", "jecxz", "maskmov")

_CS32 = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
# Capstone's 16-bit mode names these by their 32-bit forms (its bug: 98 is CBW there).
_NAMES16 = {"cbw": "cwde", "cwd": "cdq"}
# Its 32-bit mode prints a 16-bit address's [disp16] sign-extended; the same address.
_DISP16 = re.compile(r"\[0xffff([0-9a-f]{4})\]")


def _sse_66(raw: bytes, i: int) -> bool:
    """Whether 0x66 is part of the opcode (or ignored) for the instruction at raw[i:]."""
    if i + 1 >= len(raw) or raw[i] != 0x0F:
        return False
    op2 = raw[i + 1]
    if op2 == 0x38:
        return not (i + 2 < len(raw) and raw[i + 2] in (0xF0, 0xF1))
    return op2 in _SSE


def _uses_address(mnemonic: str, op_str: str) -> bool:
    return "[" in op_str or any(mnemonic.endswith(m) or m in mnemonic for m in _ADDRESS_USERS)


@lru_cache(maxsize=8192)
def to32(raw: bytes, mnemonic: str, op_str: str, branch: bool = False) -> bytes:
    """The 32-bit-mode encoding of the 16-bit-mode instruction `raw` (Capstone's text of it:
    `mnemonic`, `op_str`), checked by decoding it again. `branch`: a direct branch, whose
    printed target depends on the length: compared by mnemonic only."""
    n = 0
    while n < len(raw) and raw[n] in _PREFIX_BYTES:
        n += 1
    prefixes = list(raw[:n])
    toggles = []
    if not _sse_66(raw, n) and raw[n : n + 1] != b"\x90":  # NOP and PAUSE have no size
        toggles.append(0x66)
    if _uses_address(mnemonic, op_str):
        toggles.append(0x67)
    added = bytearray()
    for p in toggles:
        if p in prefixes:
            prefixes = [q for q in prefixes if q != p]
        else:
            added.append(p)
    out = bytes(added) + bytes(prefixes) + raw[n:]
    if len(out) > MAX_INSN_LEN:
        raise TranslationError(
            f"16-bit instruction {mnemonic} {op_str} is {len(out)} bytes long as 32-bit code"
        )
    got = next(_CS32.disasm_lite(out, 0, 1), None)
    sse = _sse_66(raw, n)
    same = got is not None and got[1] == len(out)
    if same and got is not None and not sse:
        # (Capstone's 16-bit mode treats an SSE instruction's 66 as an operand size and
        # prints a 32-bit address's disp32 cut to 16 bits: only the length is compared.)
        same = _NAMES16.get(got[2], got[2]) == mnemonic
        if same and not branch and 0x67 not in raw[:n]:
            same = _DISP16.sub(r"[0x\1]", got[3]) == op_str
    if not same:
        seen = "nothing" if got is None else f"{got[2]} {got[3]}"
        raise TranslationError(
            f"16-bit instruction {raw.hex()} ({mnemonic} {op_str}) has no 32-bit form (got {seen})"
        )
    return out
