"""DebugCon: the Bochs/QEMU debug console on port 0xE9 (byte writes go to a sink)."""

from __future__ import annotations

from collections.abc import Callable

from bt.devices.records import DebugConState
from bt.staterecord import check_record

READBACK = 0xE9  # QEMU's isa-debugcon default: lets a guest detect the console


class DebugCon:
    """Byte accesses only, as QEMU 7.2 behaves (measured with a probe guest): a byte read
    answers 0xE9, a wider read answers 0, and a wider write prints nothing."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self._sink = sink

    def read(self, offset: int, size: int) -> int:
        """The readback byte for a byte read; 0 for a word or dword read."""
        return READBACK if size == 1 else 0

    def write(self, offset: int, size: int, value: int) -> None:
        """Print the byte; QEMU drops word and dword writes."""
        if size == 1:
            self._sink(bytes((value & 0xFF,)))

    def transmitted(self, data: bytes) -> None:
        """Byte writes the native port hook buffered (bt/portfast.py): printed in one go."""
        if data:
            self._sink(data)

    def save(self) -> DebugConState:
        """Nothing but the version: every access stands alone."""
        return DebugConState()

    def restore(self, state: DebugConState) -> None:
        """Check `state` (there is nothing to take from it)."""
        check_record(state, DebugConState, "debugcon")
