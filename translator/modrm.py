"""ModR/M, SIB and displacement bytes for a 32-bit memory operand (re-encoding an operand)."""

from __future__ import annotations

import struct

from bt.translator.insn import MemOp

REG32 = {"eax": 0, "ecx": 1, "edx": 2, "ebx": 3, "esp": 4, "ebp": 5, "esi": 6, "edi": 7}
_SCALE = {1: 0, 2: 1, 4: 2, 8: 3}
SEG_PREFIX = {0x26: "es", 0x2E: "cs", 0x36: "ss", 0x3E: "ds", 0x64: "fs", 0x65: "gs"}


def encodable(op: MemOp) -> bool:
    """Whether `op` uses 32-bit addressing with registers this encoder knows."""
    return (
        op.addr_size == 4
        and (op.base is None or op.base in REG32)
        and (op.index is None or (op.index in REG32 and op.index != "esp"))
        and op.scale in _SCALE
    )


def modrm(reg: int, op: MemOp, extra: int = 0) -> bytes:
    """ModR/M (with `reg` in its reg field), SIB and displacement addressing `op` + `extra`."""
    disp = (op.disp + extra) & 0xFFFFFFFF
    sdisp = disp - (1 << 32) if disp & 0x80000000 else disp
    d32 = struct.pack("<I", disp)
    r = (reg & 7) << 3
    if op.base is None and op.index is None:
        return bytes((r | 5,)) + d32
    if op.base is None:
        assert op.index is not None
        sib = _SCALE[op.scale] << 6 | REG32[op.index] << 3 | 5
        return bytes((r | 4, sib)) + d32
    base = REG32[op.base]
    if op.index is None and base != 4:
        rm, sib_b = base, b""
    else:
        index = REG32[op.index] if op.index is not None else 4
        rm, sib_b = 4, bytes((_SCALE[op.scale] << 6 | index << 3 | base,))
    if sdisp == 0 and base != 5:
        return bytes((r | rm,)) + sib_b
    if -128 <= sdisp <= 127:
        return bytes((0x40 | r | rm,)) + sib_b + bytes((sdisp & 0xFF,))
    return bytes((0x80 | r | rm,)) + sib_b + d32
