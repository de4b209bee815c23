"""DebugCon: the Bochs/QEMU debug console on port 0xE9 (byte writes go to a sink)."""

from __future__ import annotations

from collections.abc import Callable


class DebugCon:
    """Reads answer 0xE9 to a byte read (QEMU's readback) and 0 to wider reads (measured)."""

    READBACK = 0xE9

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self._sink = sink

    def read(self, offset: int, size: int) -> int:
        """The readback byte that lets a guest detect the console."""
        return self.READBACK if size == 1 else 0

    def write(self, offset: int, size: int, value: int) -> None:
        """Only the low byte is printed, as QEMU does."""
        self._sink(bytes((value & 0xFF,)))
