"""The translated-code region: a bump allocator whose retired blocks' space is reused by size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

CodeAddr = NewType("CodeAddr", int)
"""An address inside the translation cache, as the real CPU fetches translated code."""


@dataclass(frozen=True, slots=True)
class CodeBufferStats:
    """Occupancy of the code region."""

    capacity: int
    used: int  # bytes in live allocations
    high_water: int  # bytes of the region ever handed out since the last flush
    flushes: int


class CodeBuffer:
    """Hands out code space in [base, base + size).

    Space comes from the top (a bump pointer) or, first, from a retired block of the same
    rounded size: a guest that rewrites and re-runs the same code (self-modifying loops, a JIT)
    then reuses the same few addresses instead of filling the region, so host memory does not
    grow with invalidations. Other holes wait for the next full flush; first-fit splitting
    would make Unicorn drop its compiled copies of reused addresses piecemeal for little gain.
    """

    ALIGN = 16

    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self.size = size
        self._next = base
        self._flushes = 0
        self._free: dict[int, list[int]] = {}  # rounded size -> start addresses of holes
        self._used = 0

    def _round(self, nbytes: int) -> int:
        return (nbytes + self.ALIGN - 1) & ~(self.ALIGN - 1)

    def alloc(self, nbytes: int) -> CodeAddr | None:
        """Start address of `nbytes` of code space, or None when the region is full."""
        rounded = self._round(max(nbytes, 1))
        holes = self._free.get(rounded)
        if holes:
            addr = holes.pop()
            if not holes:
                del self._free[rounded]
            self._used += rounded
            return CodeAddr(addr)
        addr = self._next
        if addr + rounded > self.base + self.size:
            return None
        self._next = addr + rounded
        self._used += rounded
        return CodeAddr(addr)

    def free(self, addr: int, nbytes: int) -> None:
        """Give back the space of a retired block (reused by the next block of its size)."""
        rounded = self._round(max(nbytes, 1))
        if addr + rounded == self._next:
            self._next = addr  # the newest allocation: back onto the bump pointer
        else:
            self._free.setdefault(rounded, []).append(addr)
        self._used -= rounded

    def reset(self) -> None:
        """Forget every allocation (after the cache flushed every block)."""
        self._next = self.base
        self._free.clear()
        self._used = 0
        self._flushes += 1

    def contains(self, addr: int) -> bool:
        """Whether `addr` lies in the region."""
        return self.base <= addr < self.base + self.size

    def stats(self) -> CodeBufferStats:
        """Capacity, bytes in use, the high-water mark and the flush count."""
        return CodeBufferStats(self.size, self._used, self._next - self.base, self._flushes)
