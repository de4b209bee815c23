"""Self-checking translations: a prologue that finds a block's guest bytes changed.

A guest page that holds code and is written often (a boot sector's stack below its code at
0x7C00, variables next to the code that uses them) cannot stay write-protected: every push
would fault. Such a page is left writable ("mixed", bt/smc.py) and the blocks made from it
check, each time they are entered, that their guest bytes are still the ones they were
translated from, as VMware's translator did for such pages (Adams & Agesen, ASPLOS 2006).

The check touches no flags and writes no memory: ECX is kept in the real DR0 (unused: the
guest's debug registers are virtual), each 4, 2 or 1 bytes of the block are loaded through
the real CS (base 0: the guest's linear view), the expected value subtracted by LEA, and
BOUND against the monitor's zero pair raises #BR unless the difference is 0. The monitor
takes that #BR as "stale": ECX comes back from DR0, the block is retired and translated again
from the bytes now there. No Jcc: Unicorn would end a block at each.
"""

from __future__ import annotations

import struct

_DR0_ECX = b"\x0f\x23\xc1"  # mov dr0, ecx
_ECX_DR0 = b"\x0f\x21\xc1"  # mov ecx, dr0
_LOAD = {
    4: b"\x2e\x8b\x0d",  # mov ecx, cs:[disp32]
    2: b"\x2e\x0f\xb7\x0d",  # movzx ecx, word cs:[disp32]
    1: b"\x2e\x0f\xb6\x0d",  # movzx ecx, byte cs:[disp32]
}
_LEA = b"\x8d\x89"  # lea ecx, [ecx + disp32]
_BOUND = b"\x2e\x62\x0d"  # bound ecx, cs:[disp32]


def _chunks(start: int, data: bytes) -> list[tuple[int, int, int]]:
    """(linear address, size, value) pieces covering `data` at `start`: 4 bytes, then 2, 1."""
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(data):
        size = 4 if len(data) - i >= 4 else 2 if len(data) - i >= 2 else 1
        out.append((start + i, size, int.from_bytes(data[i : i + size], "little")))
        i += size
    return out


def prologue(ranges: list[tuple[int, bytes]], zero: int) -> bytes:
    """The check of guest bytes `ranges` ((linear address, bytes) pieces); `zero`: the
    linear address of 8 zero bytes translated code can read (the BOUND pair)."""
    code = bytearray(_DR0_ECX)
    bound = _BOUND + struct.pack("<I", zero)
    for start, data in ranges:
        for addr, size, value in _chunks(start, data):
            code += _LOAD[size] + struct.pack("<I", addr & 0xFFFFFFFF)
            code += _LEA + struct.pack("<I", -value & 0xFFFFFFFF)
            code += bound
    return bytes(code + _ECX_DR0)
