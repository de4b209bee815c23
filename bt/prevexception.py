"""Unicorn's "previous exception": found in a saved context at start-up, cleared after each CPU
exception the monitor takes over (unicorn issue #1883, DESIGN.md fact 2)."""

from __future__ import annotations

import ctypes

from unicorn import UC_ARCH_X86, UC_HOOK_INTR, UC_MODE_32, Uc

from bt.errors import InternalError


def forget_previous_exception(uc: Uc) -> None:
    """Clear Unicorn's memory of the CPU exception just taken, which would otherwise turn the
    next one into a double fault (about 15 us)."""
    global _OLD_EXCEPTION_OFFSET
    if _OLD_EXCEPTION_OFFSET is None:
        _OLD_EXCEPTION_OFFSET = _find_old_exception_offset()
    ctx = uc.context_save()
    base = ctypes.cast(ctx.context, ctypes.c_void_p).value or 0
    ctypes.memmove(base + _OLD_EXCEPTION_OFFSET, b"\xff\xff\xff\xff", 4)
    uc.context_restore(ctx)


class ExceptionMemory:
    """`forget_previous_exception` for a hot path: one saved context reused (about 5 us)."""

    def __init__(self, uc: Uc) -> None:
        global _OLD_EXCEPTION_OFFSET
        if _OLD_EXCEPTION_OFFSET is None:
            _OLD_EXCEPTION_OFFSET = _find_old_exception_offset()
        self._uc = uc
        self._ctx = uc.context_save()
        base = ctypes.cast(self._ctx.context, ctypes.c_void_p).value or 0
        self._field = base + _OLD_EXCEPTION_OFFSET

    def forget(self) -> None:
        """Clear the previous exception (from inside a hook too: the context is the live CPU)."""
        self._uc.context_update(self._ctx)
        ctypes.memmove(self._field, b"\xff\xff\xff\xff", 4)
        self._uc.context_restore(self._ctx)


def _find_old_exception_offset() -> int:
    """Where Unicorn keeps the "previous exception" in a saved context: found by diffing two
    contexts of a scratch CPU around a caught #DE (DESIGN.md, fact 2)."""
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 0x2000)
    uc.mem_write(0x1000, b"\x31\xc9\xf7\xf1")  # xor ecx, ecx; div ecx
    uc.hook_add(UC_HOOK_INTR, lambda u, _n, _d: u.emu_stop())
    before = uc.context_save()
    uc.emu_start(0x1000, 0x1004)
    after = uc.context_save()
    a = ctypes.string_at(before.context, before.size)
    b = ctypes.string_at(after.context, after.size)
    hits = [
        i
        for i in range(0, len(a) - 3, 4)
        if a[i : i + 4] == b"\xff\xff\xff\xff" and b[i : i + 4] == b"\0\0\0\0"
    ]
    if len(hits) != 1:
        raise InternalError(
            f"cannot find Unicorn's previous-exception field ({len(hits)} candidates)"
        )
    return hits[0]


_OLD_EXCEPTION_OFFSET: int | None = None
