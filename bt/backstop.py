"""Backstop: stops the CPU, on its own thread, after a budget of executed blocks, without Python.

Translated code may run for ever without entering the monitor (a guest spinning until an
interrupt arrives), so the run loop needs a way back in that does not depend on the guest.
Unicorn's own way, emu_start's timeout, is unusable for a run that goes on afterwards: its
timer thread calls uc_emu_stop, Unicorn checks for a stop request after every memory access,
not only between blocks, and on such a mid-block exit it leaves EIP where the block started
when a timeout is set. The instructions already run are run again when the CPU resumes: a
loop of ADD [m], 1 / XCHG ECX, [m] / INC EAX goes inconsistent within the first few timeout
stops (tools/backstop_check.py), and the stress guest went astray on a loaded host.

The backstop is a UC_HOOK_BLOCK hook over the translation cache whose callback is a few bytes
of host machine code: it decrements a counter and, at zero, tail-calls uc_emu_stop. A stop
asked for by a block hook is honoured before the block's first instruction (Unicorn checks
for it right after the block hooks, and later hooks of the same block are skipped), so the
CPU stops at a block start with nothing half done, on its own thread. It costs a native call
per executed block (about 1.3 ns; no Python), and the count is exact, so where a run is
stopped does not depend on the host's speed.

Host code exists for x86-64 with the System V calling convention (Linux, macOS on Intel).
Elsewhere, or where the host refuses executable memory, emu_start's `count` does the job
synchronously instead (Unicorn's per-instruction counting hook, about twice as slow).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
import sys

from unicorn import UC_HOOK_BLOCK, Uc
from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib  # the binding's handle (unicorn 2.1)

# Instructions per block, for the fallback's instruction budget (translated blocks average
# four to eight).
_FALLBACK_INSNS_PER_BLOCK = 6


def _sysv_x86_64(stop: int) -> bytes:
    """void hook(uc_engine *uc, uint64_t address, uint32_t size, int64_t *budget):
    if (--*budget <= 0) uc_emu_stop(uc);  (uc is still in RDI for the tail call)."""
    return (
        b"\x48\xff\x09"  # dec qword [rcx]
        b"\x7e\x01"  # jle stop
        b"\xc3"  # ret
        b"\x48\xb8"
        + struct.pack("<Q", stop)  # stop: mov rax, uc_emu_stop
        + b"\xff\xe0"
    )  # jmp rax


def sysv_x86_64_host() -> bool:
    """Whether host code for x86-64 with the System V calling convention can run here."""
    # os.uname, not the platform module (~15 ms of bt's start-up): the same answer on POSIX.
    if sys.platform == "win32" or os.uname().machine.lower() not in ("x86_64", "amd64"):
        return False
    return ctypes.sizeof(ctypes.c_void_p) == 8


def _host_code() -> bytes | None:
    """The hook's machine code for this host, or None if there is none."""
    if not sysv_x86_64_host():
        return None
    stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
    return _sysv_x86_64(stop) if stop else None


def executable(code: bytes) -> tuple[mmap.mmap, int] | None:
    """A page holding `code`, made read+execute after it was written (never W+X)."""
    libc = ctypes.CDLL(None, use_errno=True)
    mprotect = libc.mprotect
    mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    mprotect.restype = ctypes.c_int
    page = mmap.mmap(
        -1,
        mmap.PAGESIZE,
        flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
        prot=mmap.PROT_READ | mmap.PROT_WRITE,
    )
    page.write(code)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
    if mprotect(addr, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
        return None
    return page, addr


class Backstop:
    """A budget of executed blocks starting in [begin, end] after which the CPU stops."""

    def __init__(self, uc: Uc, begin: int, end: int, native: bool = True) -> None:
        self._budget = ctypes.c_int64(0)
        self._page: mmap.mmap | None = None  # keeps the hook's code mapped
        self.native = False
        code = _host_code() if native else None
        try:
            placed = executable(code) if code is not None else None
        except (OSError, ValueError, AttributeError):  # no anonymous mmap or mprotect here
            placed = None
        if placed is not None:
            handle = uc_hook_h()
            err = uclib.uc_hook_add(
                uc._uch,
                ctypes.byref(handle),
                UC_HOOK_BLOCK,
                ctypes.c_void_p(placed[1]),
                ctypes.c_void_p(ctypes.addressof(self._budget)),
                ctypes.c_uint64(begin),
                ctypes.c_uint64(end),
            )
            if err == 0:
                self._page = placed[0]
                self.native = True
        self.mode = "native block hook" if self.native else "emu_start instruction count"

    def arm(self, blocks: int) -> int:
        """Stop the CPU at the start of the `blocks`-th block from now; returns the `count`
        to give emu_start (0 with the native hook, an instruction budget without it)."""
        if blocks <= 0:
            raise ValueError("a backstop budget must be positive")
        self._budget.value = blocks
        return 0 if self.native else blocks * _FALLBACK_INSNS_PER_BLOCK

    def left(self) -> int:
        """Blocks left of the budget (with the native hook; without it, 1)."""
        return int(self._budget.value) if self.native else 1

    def trip(self) -> None:
        """Make the next block start stop the CPU (safe from another thread: the native hook
        stops on the CPU's own thread; a racing decrement may lose one write, so callers
        repeat it until the run loop has seen the stop). No effect on the fallback."""
        self._budget.value = 0

    def expired(self) -> bool:
        """Whether the budget ran out (the native hook stopped the CPU). Without the native
        hook the run loop knows it by emu_start returning with no other reason."""
        return self.native and self._budget.value <= 0
