"""Unicorn's "previous exception" and error code: found in a saved context at start-up; the one
cleared after each CPU exception the monitor takes over (unicorn issue #1883, DESIGN.md fact
2), the other read for the shadow tables' faults (bt/shadowpaging.py) and the bare runner."""

from __future__ import annotations

import ctypes
import struct

from unicorn import UC_ARCH_X86, UC_HOOK_INTR, UC_MODE_32, Uc
from unicorn import x86_const as R

from bt.errors import InternalError


def forget_previous_exception(uc: Uc) -> None:
    """Clear Unicorn's memory of the CPU exception just taken, which would otherwise turn the
    next one into a double fault (about 15 us)."""
    old_at = exception_offsets()[1]
    ctx = uc.context_save()
    base = ctypes.cast(ctx.context, ctypes.c_void_p).value or 0
    ctypes.memmove(base + old_at, b"\xff\xff\xff\xff", 4)
    uc.context_restore(ctx)


class ExceptionMemory:
    """For a hot path: one saved context reused, its error code and previous-exception fields
    reached through pointers (about 3 us a fault)."""

    def __init__(self, uc: Uc) -> None:
        error_at, old_at = exception_offsets()
        self._uc = uc
        self._ctx = uc.context_save()
        base = ctypes.cast(self._ctx.context, ctypes.c_void_p).value or 0
        self._error = ctypes.c_uint32.from_address(base + error_at)
        self._old = ctypes.c_int32.from_address(base + old_at)

    def take(self) -> int:
        """The error code of the exception just raised, and Unicorn's memory of it cleared
        (from inside the interrupt hook: the context is the live CPU's)."""
        self._uc.context_update(self._ctx)
        error = int(self._error.value)
        self._old.value = -1
        self._uc.context_restore(self._ctx)
        return error


def exception_offsets() -> tuple[int, int]:
    """Offsets of Unicorn's error code and "previous exception" in a saved context: the dword
    holding 0, 2, 3 after three known page faults on a scratch CPU, and the one going from -1
    to 14 in each (DESIGN.md fact 2; Unicorn has no register for either)."""
    global _OFFSETS
    if _OFFSETS is not None:
        return _OFFSETS
    before: list[bytes] = []
    after: list[bytes] = []
    for code in ("a100400000", "a300400000", "a300300000"):  # mov eax, [4000h] / mov [..], eax
        b, a = _scratch_fault(bytes.fromhex(code))
        before.append(b)
        after.append(a)

    def dword(raw: bytes, at: int) -> int:
        return int(struct.unpack_from("<i", raw, at)[0])

    size = len(after[0])
    errors = [i for i in range(0, size - 3, 4) if [dword(a, i) for a in after] == [0, 2, 3]]
    olds = [
        i
        for i in range(0, size - 3, 4)
        if all(dword(b, i) == -1 and dword(a, i) == 14 for b, a in zip(before, after, strict=True))
    ]
    if len(errors) != 1 or len(olds) != 1:
        raise InternalError(f"Unicorn's exception fields not found ({errors}, {olds})")
    _OFFSETS = errors[0], olds[0]
    return _OFFSETS


def _scratch_fault(code: bytes) -> tuple[bytes, bytes]:
    """Contexts before and after `code` faults on a scratch CPU with paging on: page 3 is
    read-only (CR0.WP set), page 4 not present."""
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 0x10000)
    ptes = [(i << 12) | 3 for i in range(16)]
    ptes[3], ptes[4] = 0x3001, 0
    uc.mem_write(0x1000, struct.pack("<I", 0x2000 | 7))
    uc.mem_write(0x2000, struct.pack("<16I", *ptes))
    uc.mem_write(0x5000, code)
    uc.reg_write(R.UC_X86_REG_CR3, 0x1000)
    uc.reg_write(R.UC_X86_REG_CR0, uc.reg_read(R.UC_X86_REG_CR0) | 0x8001_0001)
    uc.hook_add(UC_HOOK_INTR, lambda u, _n, _d: u.emu_stop())
    ctx = uc.context_save()
    raw_before = ctypes.string_at(ctx.context, ctx.size)
    uc.emu_start(0x5000, 0x5000 + len(code))
    if uc.reg_read(R.UC_X86_REG_CR2) != int.from_bytes(code[1:5], "little"):
        raise InternalError("Unicorn's page walker did not set CR2")
    ctx = uc.context_save()
    return raw_before, ctypes.string_at(ctx.context, ctx.size)


_OFFSETS: tuple[int, int] | None = None
