"""Port92: the PS/2 system control port A at 0x92 (fast A20 gate and fast reset).

The reference is QEMU 7.2's hw/i386/port92.c: a read returns the byte last written (0 at power
on; SeaBIOS leaves 0x02, A20 on, measured at the boot sector's entry); a write stores the byte,
drives the A20 line with bit 1 and requests a reset on a rising edge of bit 0. Wider accesses
touch only the byte at offset 0 (the port is one byte wide), the rest reads 0xFF.
"""

from __future__ import annotations

from collections.abc import Callable

A20_BIT = 0x02
RESET_BIT = 0x01


class Port92:
    """System control port A; `on_a20(level)` follows bit 1, `on_reset()` a rising bit 0."""

    def __init__(
        self,
        on_a20: Callable[[int], None] | None = None,
        on_reset: Callable[[], None] | None = None,
    ) -> None:
        self._on_a20 = on_a20
        self._on_reset = on_reset
        self.outport = 0

    @property
    def a20(self) -> bool:
        """Whether bit 1 enables A20."""
        return bool(self.outport & A20_BIT)

    def read(self, offset: int, size: int) -> int:
        """The stored byte at offset 0; 0xFF for bytes past the port."""
        value = 0
        for i in range(size):
            byte = self.outport if offset + i == 0 else 0xFF
            value |= byte << (8 * i)
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        """Store the byte meant for offset 0 and act on its A20 and reset bits."""
        if offset != 0:
            return
        value &= 0xFF
        old, self.outport = self.outport, value
        if self._on_a20 is not None:
            self._on_a20((value >> 1) & 1)
        if value & RESET_BIT and not old & RESET_BIT and self._on_reset is not None:
            self._on_reset()

    def reset(self) -> None:
        """After a system reset the reset bit reads 0 again (QEMU's port92_reset)."""
        self.outport &= ~RESET_BIT
