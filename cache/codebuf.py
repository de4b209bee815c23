"""The translated-code region: a bump allocator over the cache's fixed address range."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CodeBufferStats:
    """Occupancy of the code region."""

    capacity: int
    used: int
    flushes: int


class CodeBuffer:
    """Hands out code space in [base, base + size); space comes back only on a full flush.

    Freeing single blocks would fragment the region and force Unicorn to drop its own cached
    translations of reused addresses one by one; QEMU's TCG makes the same choice.
    """

    ALIGN = 16

    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self.size = size
        self._next = base
        self._flushes = 0

    def alloc(self, nbytes: int) -> int | None:
        """Start address of `nbytes` of fresh code space, or None when the region is full."""
        addr = self._next
        end = addr + nbytes
        if end > self.base + self.size:
            return None
        self._next = (end + self.ALIGN - 1) & ~(self.ALIGN - 1)
        return addr

    def reset(self) -> None:
        """Forget every allocation (after the cache flushed every block)."""
        self._next = self.base
        self._flushes += 1

    def contains(self, addr: int) -> bool:
        """Whether `addr` lies in the region."""
        return self.base <= addr < self.base + self.size

    def stats(self) -> CodeBufferStats:
        """Capacity, bytes handed out, and flush count."""
        return CodeBufferStats(self.size, self._next - self.base, self._flushes)
